package queue

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// BroadcastRequest is one submission to many recipients: Jobs holds one
// request per recipient (each its own job, usually sharing one document).
type BroadcastRequest struct {
	IdempotencyKey string
	Submitter      string
	CallbackURL    string
	Metadata       map[string]any
	Jobs           []Request
}

// Broadcast is a broadcast and the states of its jobs.
type Broadcast struct {
	ID             int64
	IdempotencyKey string
	Submitter      string
	CallbackURL    string
	Metadata       map[string]any
	Recipients     int
	CreatedAt      time.Time
	DoneAt         time.Time // zero while a job is unfinished
	DoneJob        int64     // the job whose completion finished it
	Counts         map[State]int
}

// BroadcastFilter selects broadcasts for ListBroadcasts, newest first.
type BroadcastFilter struct {
	Submitter string
	BeforeID  int64 // keyset: only broadcasts with a smaller id
	Limit     int   // default 50, at most 1000
}

const broadcastCols = `id, coalesce(idempotency_key, ''), submitter, callback_url, metadata, recipients,
	created_at, done_at, coalesce(done_job, 0)`

func scanBroadcast(row scanner, extra ...any) (Broadcast, error) {
	var b Broadcast
	var meta []byte
	var done *time.Time
	var n int32
	dest := []any{&b.ID, &b.IdempotencyKey, &b.Submitter, &b.CallbackURL, &meta, &n, &b.CreatedAt, &done, &b.DoneJob}
	if err := row.Scan(append(dest, extra...)...); err != nil {
		return Broadcast{}, err
	}
	b.Recipients = int(n)
	if done != nil {
		b.DoneAt = *done
	}
	if len(meta) > 0 {
		if err := json.Unmarshal(meta, &b.Metadata); err != nil {
			return Broadcast{}, fmt.Errorf("queue: broadcast %d metadata: %w", b.ID, err)
		}
	}
	return b, nil
}

const (
	sqlBroadcastInsert = `INSERT INTO broadcasts (idempotency_key, request_hash, submitter, callback_url, metadata, recipients)
VALUES (NULLIF($1, ''), $2, $3, $4, $5, $6)
ON CONFLICT (idempotency_key) DO NOTHING
RETURNING ` + broadcastCols
	sqlBroadcastByKey  = `SELECT ` + broadcastCols + `, request_hash FROM broadcasts WHERE idempotency_key = $1`
	sqlBroadcastGet    = `SELECT ` + broadcastCols + ` FROM broadcasts WHERE id = $1`
	sqlBroadcastCounts = `SELECT state, count(*) FROM jobs WHERE broadcast_id = $1 GROUP BY state`
	sqlBroadcastJobs   = `SELECT ` + jobCols + ` FROM jobs WHERE broadcast_id = $1 AND id > $2 ORDER BY id LIMIT $3`
	sqlBroadcastOpen   = `SELECT id FROM jobs WHERE broadcast_id = $1 AND state IN ('pending', 'sending') ORDER BY id`
	sqlBroadcastList   = `SELECT ` + broadcastCols + ` FROM broadcasts
WHERE ($1 = '' OR submitter = $1) AND ($2 = 0 OR id < $2) ORDER BY id DESC LIMIT $3`
	sqlBroadcastList1 = `SELECT ` + broadcastCols + ` FROM broadcasts
WHERE submitter = $1 AND ($2 = 0 OR id < $2) ORDER BY id DESC LIMIT $3`
	sqlBroadcastClosedBy = `SELECT ` + broadcastCols + ` FROM broadcasts b
WHERE b.id = (SELECT broadcast_id FROM jobs WHERE id = $1) AND b.done_job = $1`
)

// sqlEnqueueBroadcast is sqlEnqueue with $20 the broadcast.
var sqlEnqueueBroadcast = strings.Replace(strings.Replace(sqlEnqueue,
	"deadline, resent_from)", "deadline, resent_from, broadcast_id)", 1),
	"$19)", "$19, $20)", 1)

func (r *BroadcastRequest) hash() ([]byte, error) {
	c := *r
	c.IdempotencyKey = ""
	hs := make([][]byte, 0, len(c.Jobs))
	for i := range c.Jobs {
		h, err := c.Jobs[i].hash()
		if err != nil {
			return nil, err
		}
		hs = append(hs, h)
	}
	c.Jobs = nil
	b, err := json.Marshal(struct {
		R BroadcastRequest
		J [][]byte
	}{c, hs})
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidRequest, err)
	}
	sum := sha256.Sum256(b)
	return sum[:], nil
}

// EnqueueBroadcast creates a broadcast and one job per recipient in one
// transaction: all of them or none. With an idempotency key that already
// names a broadcast of the same request it returns that broadcast and
// created=false; for another request a *ConflictError.
func (q *Queue) EnqueueBroadcast(ctx context.Context, r BroadcastRequest) (b Broadcast, created bool, err error) {
	if len(r.Jobs) == 0 {
		return Broadcast{}, false, fmt.Errorf("%w: a broadcast needs at least one recipient", ErrInvalidRequest)
	}
	for i := range r.Jobs {
		r.Jobs[i].IdempotencyKey = "" // the broadcast's key covers its jobs
		if err := r.Jobs[i].validate(); err != nil {
			return Broadcast{}, false, fmt.Errorf("recipient %d: %w", i, err)
		}
	}
	h, err := r.hash()
	if err != nil {
		return Broadcast{}, false, err
	}
	meta := []byte("{}")
	if r.Metadata != nil {
		if meta, err = json.Marshal(r.Metadata); err != nil {
			return Broadcast{}, false, fmt.Errorf("%w: metadata: %v", ErrInvalidRequest, err)
		}
	}
	err = pgx.BeginFunc(ctx, q.pool, func(tx pgx.Tx) error {
		b, err = scanBroadcast(tx.QueryRow(ctx, sqlBroadcastInsert, r.IdempotencyKey, h, r.Submitter, r.CallbackURL, meta, len(r.Jobs)))
		if errors.Is(err, pgx.ErrNoRows) {
			var existing []byte
			b, err = scanBroadcast(tx.QueryRow(ctx, sqlBroadcastByKey, r.IdempotencyKey), &existing)
			if err != nil {
				return err
			}
			if !bytes.Equal(existing, h) {
				return &ConflictError{Key: r.IdempotencyKey, Existing: b.ID}
			}
			return nil
		}
		if err != nil {
			return err
		}
		created = true
		// One round trip for every job: a broadcast of a thousand took
		// seconds one statement at a time.
		batch := &pgx.Batch{}
		for i := range r.Jobs {
			args, err := q.enqueueArgs(r.Jobs[i], nil)
			if err != nil {
				return err
			}
			batch.Queue(sqlEnqueueBroadcast, append(args, b.ID)...)
		}
		br := tx.SendBatch(ctx, batch)
		for i := range r.Jobs {
			if _, err := br.Exec(); err != nil {
				br.Close()
				return fmt.Errorf("recipient %d: %w", i, err)
			}
		}
		return br.Close()
	})
	var ce *ConflictError
	if errors.As(err, &ce) {
		return Broadcast{}, false, err
	}
	if err != nil {
		return Broadcast{}, false, fmt.Errorf("queue: enqueue broadcast: %w", err)
	}
	if created {
		q.ready.wake()
	}
	b, err = q.GetBroadcast(ctx, b.ID)
	return b, created, err
}

// GetBroadcast returns a broadcast with its jobs counted by state.
func (q *Queue) GetBroadcast(ctx context.Context, id int64) (Broadcast, error) {
	b, err := scanBroadcast(q.pool.QueryRow(ctx, sqlBroadcastGet, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return Broadcast{}, fmt.Errorf("queue: broadcast %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return Broadcast{}, fmt.Errorf("queue: broadcast %d: %w", id, err)
	}
	if err := q.countBroadcast(ctx, &b); err != nil {
		return Broadcast{}, err
	}
	return b, nil
}

func (q *Queue) countBroadcast(ctx context.Context, b *Broadcast) error {
	rows, err := q.pool.Query(ctx, sqlBroadcastCounts, b.ID)
	if err != nil {
		return fmt.Errorf("queue: broadcast %d counts: %w", b.ID, err)
	}
	b.Counts = map[State]int{Pending: 0, Sending: 0, Sent: 0, Failed: 0, Cancelled: 0}
	var st string
	var n int64
	_, err = pgx.ForEachRow(rows, []any{&st, &n}, func() error {
		b.Counts[State(st)] = int(n)
		return nil
	})
	if err != nil {
		return fmt.Errorf("queue: broadcast %d counts: %w", b.ID, err)
	}
	return nil
}

// ListBroadcasts returns broadcasts newest first, counted.
func (q *Queue) ListBroadcasts(ctx context.Context, f BroadcastFilter) ([]Broadcast, error) {
	if f.Limit <= 0 || f.Limit > 1000 {
		f.Limit = 50
	}
	stmt := sqlBroadcastList
	if f.Submitter != "" {
		stmt = sqlBroadcastList1 // its own plan: the submitter index
	}
	rows, err := q.pool.Query(ctx, stmt, f.Submitter, f.BeforeID, f.Limit)
	if err != nil {
		return nil, fmt.Errorf("queue: list broadcasts: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Broadcast, error) { return scanBroadcast(r) })
	if err != nil {
		return nil, fmt.Errorf("queue: list broadcasts: %w", err)
	}
	for i := range out {
		if err := q.countBroadcast(ctx, &out[i]); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// BroadcastJobs returns a page of a broadcast's jobs in id order, those
// after afterID (keyset pagination).
func (q *Queue) BroadcastJobs(ctx context.Context, id, afterID int64, limit int) ([]Job, error) {
	if limit <= 0 || limit > 1000 {
		limit = 50
	}
	rows, err := q.pool.Query(ctx, sqlBroadcastJobs, id, afterID, limit)
	if err != nil {
		return nil, fmt.Errorf("queue: broadcast %d jobs: %w", id, err)
	}
	jobs, err := collectJobs(rows)
	if err != nil {
		return nil, fmt.Errorf("queue: broadcast %d jobs: %w", id, err)
	}
	return jobs, nil
}

// CancelBroadcast cancels every unfinished job of a broadcast (a sending
// one once its channel hangs up, as Cancel does) and returns how many it
// asked to cancel. A job that finishes meanwhile is skipped.
func (q *Queue) CancelBroadcast(ctx context.Context, id int64, reason string) (int, error) {
	rows, err := q.pool.Query(ctx, sqlBroadcastOpen, id)
	if err != nil {
		return 0, fmt.Errorf("queue: cancel broadcast %d: %w", id, err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return 0, fmt.Errorf("queue: cancel broadcast %d: %w", id, err)
	}
	n := 0
	for _, jid := range ids {
		_, err := q.Cancel(ctx, jid, reason)
		if errors.Is(err, ErrInvalidTransition) || errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return n, fmt.Errorf("queue: cancel broadcast %d: %w", id, err)
		}
		n++
	}
	return n, nil
}

// BroadcastClosedBy returns the broadcast that job jobID finished (it was
// the last of its jobs to go final), and false for any other job. The
// database decides it once per broadcast, whichever node finished the job.
func (q *Queue) BroadcastClosedBy(ctx context.Context, jobID int64) (Broadcast, bool, error) {
	b, err := scanBroadcast(q.pool.QueryRow(ctx, sqlBroadcastClosedBy, jobID))
	if errors.Is(err, pgx.ErrNoRows) {
		return Broadcast{}, false, nil
	}
	if err != nil {
		return Broadcast{}, false, fmt.Errorf("queue: broadcast of job %d: %w", jobID, err)
	}
	if err := q.countBroadcast(ctx, &b); err != nil {
		return Broadcast{}, false, err
	}
	return b, true, nil
}
