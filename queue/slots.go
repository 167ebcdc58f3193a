package queue

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Call slots bound the calls of the whole cluster: a gateway's channel
// limit and the concurrent calls to one number hold across all nodes,
// because every call must own a slot row: one of the gateway's fixed rows
// 1..max_channels (gateway_slots, taken with SKIP LOCKED) and a numbered
// slot of its number, held on the job's own row (call_number and
// number_slot, unique over the jobs that hold one). Slots belong to the job's
// claim (its fencing token), so a node that dies loses its slots together
// with its jobs: a number's hold ends when its job leaves sending (and
// one left behind on a job that is no longer sending is stale); a
// gateway row is stale once its job is taken over or its holder's lease
// has expired, and the next acquirer that finds the limit reached frees
// it. Completion, failure, release and cancel free a claim's gateway slot
// in the statement that ends the claim; a completion that claims in the
// same statement hands its gateway slot to the claimed job. PostgreSQL
// rather than NATS KV: the count commits under the same fencing as the
// job and needs no second TTL to agree with the lease.

// SlotRequest asks for a call slot for a claimed job.
type SlotRequest struct {
	JobID, Token int64
	Gateway      string
	// GatewayLimit is the gateway's max_channels; 0 is unlimited.
	GatewayLimit int
	// Number is the destination; NumberLimit bounds concurrent calls to
	// it across the cluster, 0 is unlimited.
	Number      string
	NumberLimit int
}

// SlotVerdict says why AcquireSlot did not give a slot.
type SlotVerdict int

const (
	SlotAcquired    SlotVerdict = iota
	SlotGatewayFull             // the gateway's channels are all in use in the cluster
	SlotNumberBusy              // the number already has its limit of calls
	SlotNotHeld                 // the token no longer holds the job
)

func (v SlotVerdict) String() string {
	switch v {
	case SlotAcquired:
		return "acquired"
	case SlotGatewayFull:
		return "gateway at its channel limit across the cluster"
	case SlotNumberBusy:
		return "number already has its limit of calls in progress"
	default:
		return "job no longer held by this claim"
	}
}

// isNumberRace: err is the unique index of number holds refusing a
// second hold of one number slot (two claims took it at once).
func isNumberRace(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23505" && pe.ConstraintName == "jobs_number_slot"
}

// slotNumber is the key of the per-number limit: the digits as dialled,
// without a leading +, so that +4930... and 4930... count together.
func slotNumber(n string) string { return strings.TrimPrefix(strings.TrimSpace(n), "+") }

// AcquireSlot takes a call slot for the job, or says why none is free.
// A claim holds at most one call's slots at a time: release them before
// trying the next gateway. Completion, failure, release and cancel free
// them in the same statement; ReleaseSlot is for a call that never began.
func (q *Queue) AcquireSlot(ctx context.Context, r SlotRequest) (SlotVerdict, error) {
	if r.GatewayLimit < 0 || r.NumberLimit < 0 || r.Gateway == "" {
		return 0, fmt.Errorf("%w: slot for job %d: gateway and non-negative limits required", ErrInvalidRequest, r.JobID)
	}
	num := slotNumber(r.Number)
	swept := false
	// A race with another claim for the same number slot fails on the
	// unique index (the whole batch is rolled back); the next try sees
	// the winner's hold.
	for range 8 {
		c := &slotCall{ctx: ctx, r: r, num: num}
		q.slots.do(c)
		held, acquired, gwFree, numFree, err := c.held, c.acquired, c.gwFree, c.numFree, c.err
		if isNumberRace(err) {
			continue
		}
		if err != nil {
			return 0, fmt.Errorf("queue: slot for job %d on %s: %w", r.JobID, r.Gateway, err)
		}
		switch {
		case acquired:
			return SlotAcquired, nil
		case !held:
			return SlotNotHeld, nil
		case gwFree && numFree:
			continue // the job's row changed under the statement: the next try says why
		case swept && !gwFree:
			// SKIP LOCKED passes over free slots that a statement in
			// flight has locked (a claim taking slots, a completion
			// freeing them): only a gateway without a free slot is full.
			var lockedFree bool
			if err := q.pool.QueryRow(ctx, sqlSlotFreeLocked, r.Gateway, r.GatewayLimit).Scan(&lockedFree); err != nil {
				return 0, fmt.Errorf("queue: slot for job %d on %s: %w", r.JobID, r.Gateway, err)
			}
			if lockedFree {
				continue
			}
			return SlotGatewayFull, nil
		case swept:
			return SlotNumberBusy, nil
		}
		n, err := q.sweepSlots(ctx, r.Gateway, r.GatewayLimit, num)
		if err != nil {
			return 0, err
		}
		swept = true
		if n > 0 {
			q.log.Info("queue: stale call slots released", "gateway", r.Gateway, "number", num, "count", n)
		}
	}
	return SlotGatewayFull, nil
}

// AcquireInboundSlot takes a slot of gateway (max_channels limit) for an
// inbound call it carries, answered under lease, so that the cluster's
// outbound calls leave that channel free. false: none is free (the call
// is the gateway's own business and goes ahead; it is not counted). The
// slot is freed by ReleaseInboundSlot, or is stale once the lease has
// expired and swept by the next acquirer that finds the gateway full.
func (q *Queue) AcquireInboundSlot(ctx context.Context, l *Lease, gateway string, limit int, callID string) (bool, error) {
	if gateway == "" || callID == "" || limit < 0 || l == nil {
		return false, fmt.Errorf("%w: inbound slot: gateway, call id, lease and a non-negative limit required", ErrInvalidRequest)
	}
	if limit == 0 {
		return true, nil // no limit, nothing to count
	}
	for swept := false; ; swept = true {
		var slot int32
		err := q.pool.QueryRow(ctx, sqlInboundSlot, gateway, limit, l.NodeID, l.Incarnation, callID).Scan(&slot)
		if err == nil {
			return true, nil
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return false, fmt.Errorf("queue: inbound slot on %s: %w", gateway, err)
		}
		if swept {
			return false, nil
		}
		// Full, or the rows do not exist yet: sweep stale holders and
		// create the rows, then try once more.
		if _, err := q.sweepSlots(ctx, gateway, limit, ""); err != nil {
			return false, err
		}
	}
}

// ReleaseInboundSlot frees an inbound call's slot (no error when it holds
// none).
func (q *Queue) ReleaseInboundSlot(ctx context.Context, gateway, callID string) error {
	if _, err := q.pool.Exec(ctx, sqlInboundRelease, gateway, callID); err != nil {
		return fmt.Errorf("queue: release inbound slot on %s: %w", gateway, err)
	}
	return nil
}

// ReleaseSlot gives back the slots of a claim (no error when it holds
// none).
func (q *Queue) ReleaseSlot(ctx context.Context, jobID, token int64) error {
	if _, err := q.pool.Exec(ctx, sqlSlotRelease, jobID, token); err != nil {
		return fmt.Errorf("queue: release slot of job %d: %w", jobID, err)
	}
	return nil
}

// sweepSlots frees the stale slots of a gateway and a number: those whose
// claim no longer holds its job (finished, taken over) or whose holder's
// lease has expired; and creates the gateway's slot rows up to limit.
func (q *Queue) sweepSlots(ctx context.Context, gateway string, limit int, number string) (int64, error) {
	var n, created int64
	if err := q.pool.QueryRow(ctx, sqlSlotSweep, gateway, limit, number).Scan(&n, &created); err != nil {
		return 0, fmt.Errorf("queue: sweep call slots: %w", err)
	}
	return n, nil
}

// NumberCalls counts the slots held for a number across the cluster.
func (q *Queue) NumberCalls(ctx context.Context, number string) (int, error) {
	var n int64
	if err := q.pool.QueryRow(ctx, sqlNumberSlotsInUse, slotNumber(number)).Scan(&n); err != nil {
		return 0, fmt.Errorf("queue: number slots: %w", err)
	}
	return int(n), nil
}

// SlotsInUse counts the call slots held per gateway with a channel limit
// across the cluster (stale ones included until swept).
func (q *Queue) SlotsInUse(ctx context.Context) (map[string]int, error) {
	rows, err := q.pool.Query(ctx, sqlSlotsInUse)
	if err != nil {
		return nil, fmt.Errorf("queue: call slots: %w", err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var gw string
		var n int64
		if err := rows.Scan(&gw, &n); err != nil {
			return nil, fmt.Errorf("queue: call slots: %w", err)
		}
		out[gw] = int(n)
	}
	return out, rows.Err()
}

// slotCall is one acquire attempt in a batch.
type slotCall struct {
	ctx context.Context
	r   SlotRequest
	num string

	held, acquired, gwFree, numFree bool
	err                             error
}

// runSlots sends a batch of acquire attempts in one round trip and one
// implicit transaction (group commit, like the claims): each statement
// sees the slots the earlier ones took, so they never pick the same one.
func (q *Queue) runSlots(calls []*slotCall) {
	ctx, cancel := calls[0].ctx, context.CancelFunc(func() {})
	if len(calls) > 1 {
		ctx, cancel = batchContext(ctx)
	}
	defer cancel()
	var b pgx.Batch
	for _, c := range calls {
		b.Queue(sqlSlotAcquire, c.r.JobID, c.r.Token, c.r.Gateway, c.r.GatewayLimit, c.num, c.r.NumberLimit)
	}
	res := q.pool.SendBatch(ctx, &b)
	for _, c := range calls {
		c.err = res.QueryRow().Scan(&c.held, &c.acquired, &c.gwFree, &c.numFree)
	}
	if err := res.Close(); err != nil {
		for _, c := range calls {
			if c.err == nil {
				c.err = err
				c.acquired = false
			}
		}
	}
}
