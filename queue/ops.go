package queue

import (
	"cmp"
	"context"
	"fmt"
	"slices"
)

// Claim takes up to n claimable jobs, highest priority first, for the
// lease's node. Each gets a fresh fencing token. It returns ErrLeaseLost
// when the lease is no longer guaranteed or no longer live in the database.
// Concurrent calls are merged into one statement (see runOps).
func (q *Queue) Claim(ctx context.Context, l *Lease, n int) ([]Job, error) {
	if n <= 0 {
		return nil, nil
	}
	if err := l.Err(); err != nil {
		return nil, err
	}
	c := &opCall{ctx: ctx, lease: l, want: n}
	q.ops.do(c)
	if c.err != nil {
		return nil, c.err
	}
	return c.next, c.claimErr
}

// SlotHint asks a claim to take, in the same statement, the call slot
// each claimed job will most likely need: a slot of Gateway (its
// max_channels GatewayLimit, 0 unlimited) and one of the job's number
// (NumberLimit, 0 unlimited), both or neither, as AcquireSlot would. A
// job whose slots were taken carries the gateway in Job.SlotGateway; the
// others are claimed all the same, without slots (the gateway or the
// number was full, or the gateway's slot rows do not exist yet): their
// worker calls AcquireSlot, which sweeps stale slots, as before.
type SlotHint struct {
	Gateway      string
	GatewayLimit int
	NumberLimit  int
}

func (h SlotHint) valid() error {
	if h.Gateway == "" || h.GatewayLimit < 0 || h.NumberLimit < 0 {
		return fmt.Errorf("%w: slot hint: gateway and non-negative limits required", ErrInvalidRequest)
	}
	return nil
}

// ClaimWithSlot is Claim that also takes each claimed job's call slot on
// h.Gateway in the same round trip (see SlotHint).
func (q *Queue) ClaimWithSlot(ctx context.Context, l *Lease, n int, h SlotHint) ([]Job, error) {
	if err := h.valid(); err != nil {
		return nil, err
	}
	if n <= 0 {
		return nil, nil
	}
	if err := l.Err(); err != nil {
		return nil, err
	}
	c := &opCall{ctx: ctx, lease: l, want: n, slot: h}
	q.ops.do(c)
	if c.err != nil {
		return nil, c.err
	}
	return c.next, c.claimErr
}

// CompleteAndClaimWithSlot is CompleteAndClaim whose claim also takes
// each claimed job's call slot on h.Gateway (see SlotHint).
func (q *Queue) CompleteAndClaimWithSlot(ctx context.Context, id, token int64, r Result, l *Lease, n int, h SlotHint) (done Job, next []Job, err error) {
	if err := h.valid(); err != nil {
		return Job{}, nil, err
	}
	return q.completeAndClaim(ctx, id, token, r, l, n, h)
}

// Complete marks the job sent. The final record goes to the outbox in the
// same transaction. Concurrent calls are merged into one statement, each
// still checked against its own token.
func (q *Queue) Complete(ctx context.Context, id, token int64, r Result) (Job, error) {
	if r.Pages < 0 {
		return Job{}, fmt.Errorf("%w: negative page count", ErrInvalidRequest)
	}
	c := &opCall{ctx: ctx, complete: true, id: id, token: token, r: r}
	q.ops.do(c)
	return c.done, c.err
}

// CompleteAndClaim is Complete followed by Claim(ctx, l, n), in one
// statement and one transaction: a channel hands in its finished fax and
// gets its next one in a single round trip.
//
// The claim happens only if the completion does: with a stale token (or
// any other completion error) nothing is completed, nothing is claimed,
// and err is the completion's error. When the job was completed but the
// lease refuses the claim, done is the completed job, next is empty and
// err wraps ErrLeaseLost (ErrInvalidRequest for a nil lease). Otherwise
// err is nil and next holds up to n jobs (none when nothing is
// claimable); with n <= 0 it is Complete.
func (q *Queue) CompleteAndClaim(ctx context.Context, id, token int64, r Result, l *Lease, n int) (done Job, next []Job, err error) {
	return q.completeAndClaim(ctx, id, token, r, l, n, SlotHint{})
}

func (q *Queue) completeAndClaim(ctx context.Context, id, token int64, r Result, l *Lease, n int, h SlotHint) (done Job, next []Job, err error) {
	if r.Pages < 0 {
		return Job{}, nil, fmt.Errorf("%w: negative page count", ErrInvalidRequest)
	}
	c := &opCall{ctx: ctx, complete: true, id: id, token: token, r: r}
	switch {
	case n <= 0:
	case l == nil:
		c.claimErr = fmt.Errorf("%w: claim without a lease", ErrInvalidRequest)
	default:
		if c.claimErr = l.Err(); c.claimErr == nil {
			c.lease, c.want, c.slot = l, n, h
		}
	}
	q.ops.do(c)
	if c.err != nil {
		return Job{}, nil, c.err
	}
	return c.done, c.next, c.claimErr
}

// opCall is one Claim, Complete or CompleteAndClaim call waiting to be
// merged into a statement.
type opCall struct {
	ctx context.Context

	complete  bool // complete id under token
	id, token int64
	r         Result
	lease     *Lease // claim want jobs under lease (want > 0)
	want      int
	slot      SlotHint // with a gateway: take the claimed jobs' call slots

	done     Job   // the completed job
	next     []Job // the claimed jobs
	err      error // the completion's (or, for Claim, the statement's) error
	claimErr error // why nothing was claimed
	dup      bool  // the same completion is already in the statement
	ok       bool  // completed (or nothing to complete): may claim
}

// runOps runs a batch of merged calls: one statement per claiming lease
// and slot hint (normally there is one, this node's), completions riding
// with the first.
func (q *Queue) runOps(batch []*opCall) {
	for len(batch) > 0 {
		var l *Lease
		var h SlotHint
		for _, c := range batch {
			if c.want > 0 {
				l, h = c.lease, c.slot
				break
			}
		}
		var same, rest []*opCall
		for _, c := range batch {
			if c.want == 0 && (c.complete || l == nil) || c.lease == l && c.slot == h {
				same = append(same, c)
			} else {
				rest = append(rest, c)
			}
		}
		batch = rest
		q.runStatement(same, l, h)
	}
}

// hotStatement is the statement for a batch with the given number of
// completions that claims at most claims jobs under hint h (no gateway: no
// call slots). Its parameters are those of sqlClaim, sqlClaimSlots, sqlOps
// or sqlOpsSlots in the same cases. A batch of at most one job each way
// takes its job's slots in a smaller plan (claimOneWithSlot) unless
// generalOnly.
func hotStatement(completions, claims int, h SlotHint, generalOnly bool) string {
	one := completions <= 1 && claims <= 1 && h.NumberLimit <= 1 && !generalOnly
	switch {
	case completions == 0 && h.Gateway == "":
		return sqlClaim
	case completions == 0 && one:
		return sqlClaimSlot1
	case completions == 0:
		return sqlClaimSlots
	case h.Gateway == "":
		return sqlOps
	case one:
		return sqlOpsSlot1
	default:
		return sqlOpsSlots
	}
}

func (q *Queue) runStatement(calls []*opCall, l *Lease, h SlotHint) {
	ctx, cancel := calls[0].ctx, context.CancelFunc(func() {})
	if len(calls) > 1 {
		ctx, cancel = batchContext(ctx)
	}
	defer cancel()

	seen := make(map[opKey]bool)
	var (
		ids, tokens  []int64
		pages, wants []int32
		reasons      []string
		claims       int32
		node         string
		incarnation  int64
	)
	if l != nil {
		node, incarnation = l.NodeID, l.Incarnation
	}
	for _, c := range calls {
		if !c.complete {
			claims += int32(c.want)
			continue
		}
		k := opKey{c.id, c.token}
		if seen[k] {
			// A repeated call loses to the first (it is diagnosed below).
			c.dup = true
			continue
		}
		seen[k] = true
		ids, tokens = append(ids, c.id), append(tokens, c.token)
		pages, reasons = append(pages, int32(c.r.Pages)), append(reasons, c.r.Reason)
		wants = append(wants, int32(c.want))
	}

	claimsAtMost := int(claims)
	for _, w := range wants {
		claimsAtMost += int(w)
	}

	// The parameters of each form of the statement (see hotStatement).
	var args []any
	if len(ids) > 0 {
		args = []any{ids, tokens, pages, reasons, wants}
	}
	args = append(args, claims, node, incarnation)
	if h.Gateway != "" {
		args = append(args, h.Gateway, h.GatewayLimit, h.NumberLimit)
	}
	sql := hotStatement(len(ids), claimsAtMost, h, q.generalOnly)
	done := make(map[opKey]Job, len(ids))
	var claimed []Job
	var err error
	// A statement that gave one number's slot to a job while another
	// statement gave it to another fails whole on the unique index of
	// number holds; run again, it sees the other's hold. Races need two
	// claims of one number at the same moment, so a few runs suffice.
	for range 5 {
		if claimed, err = q.runOnce(ctx, sql, args, h.Gateway, done, claimed[:0]); !isNumberRace(err) {
			break
		}
		q.log.Debug("queue: number slot taken by a concurrent claim, running the statement again")
	}
	if err != nil {
		for _, c := range calls {
			if c.complete {
				c.err = fmt.Errorf("queue: complete job %d: %w", c.id, err)
			} else {
				c.err = fmt.Errorf("queue: claim: %w", err)
			}
		}
		return
	}
	if len(done) > 0 {
		q.outbox.wake()
	}

	// Completions first: only a caller whose completion went through may
	// be handed a claimed job.
	for _, c := range calls {
		if !c.complete {
			c.ok = true
			continue
		}
		if j, found := done[opKey{c.id, c.token}]; found && !c.dup {
			c.done, c.ok = j, true
			continue
		}
		c.err = q.diagnose(c.ctx, "complete", c.id, c.token)
	}

	// Claimed jobs go out in claim order to the callers in arrival order.
	slices.SortFunc(claimed, func(a, b Job) int {
		return cmp.Or(cmp.Compare(b.Priority, a.Priority), a.RunAt.Compare(b.RunAt), cmp.Compare(a.ID, b.ID))
	})
	wanted, got := 0, len(claimed)
	for _, c := range calls {
		if !c.ok || c.want == 0 {
			continue
		}
		wanted += c.want
		k := min(c.want, len(claimed))
		c.next, claimed = claimed[:k:k], claimed[k:]
	}
	for _, j := range claimed {
		// Cannot happen: the statement claims no more than the callers
		// whose completion went through asked for. Never strand a job.
		q.log.Error("queue: claimed job without a caller, releasing it", "job", j.ID)
		if _, err := q.Release(ctx, j.ID, j.Token, "claimed without a caller"); err != nil {
			q.log.Error("queue: release", "job", j.ID, "err", err)
		}
	}
	if wanted > 0 && got == 0 {
		// Nothing claimed: was it the lease?
		var live bool
		if err := q.pool.QueryRow(ctx, sqlLeaseLive, node, incarnation).Scan(&live); err != nil {
			q.setClaimErr(calls, fmt.Errorf("queue: claim: %w", err))
		} else if !live {
			l.fence(ErrLeaseLost)
			q.setClaimErr(calls, fmt.Errorf("queue: claim by %s/%d: %w", node, incarnation, ErrLeaseLost))
		}
	}
}

// opKey is a completion: a job under a fencing token.
type opKey struct{ id, token int64 }

// runOnce runs the hot statement once: done gets the completed jobs
// (cleared first), claimed the claimed ones appended.
func (q *Queue) runOnce(ctx context.Context, sql string, args []any, gateway string, done map[opKey]Job, claimed []Job) ([]Job, error) {
	clear(done)
	rows, err := q.pool.Query(ctx, sql, args...)
	if err != nil {
		return claimed, err
	}
	defer rows.Close()
	for rows.Next() {
		var isClaim, slotted bool
		j, err := scanJob(rows, &isClaim, &slotted)
		if err != nil {
			return claimed, err
		}
		if slotted {
			j.SlotGateway = gateway
		}
		if isClaim {
			claimed = append(claimed, j)
		} else {
			done[opKey{j.ID, j.Token}] = j
		}
	}
	return claimed, rows.Err()
}

func (q *Queue) setClaimErr(calls []*opCall, err error) {
	for _, c := range calls {
		if c.ok && c.want > 0 {
			c.claimErr = err
		}
	}
}
