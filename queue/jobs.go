package queue

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
)

type scanner interface{ Scan(dest ...any) error }

// scanJob reads jobCols plus any extra destinations.
func scanJob(row scanner, extra ...any) (Job, error) {
	var (
		j                   Job
		state, class        string
		retry, meta         []byte
		claimed, finished   *time.Time
		priority, maxAtt    int32
		attempts, takeovers int32
		total, confirmed    int32
	)
	dest := []any{&j.ID, &j.IdempotencyKey, &state, &priority, &j.RunAt, &attempts, &maxAtt,
		&takeovers, &retry, &j.Destination, &j.CallerID, &j.Header, &j.Document, &j.CallbackURL,
		&j.Submitter, &meta, &total, &confirmed, &j.NodeID, &j.Token, &claimed,
		&j.CancelRequested, &class, &j.LastReason, &j.CreatedAt, &j.UpdatedAt, &finished}
	if err := row.Scan(append(dest, extra...)...); err != nil {
		return Job{}, err
	}
	j.State, j.LastClass = State(state), Class(class)
	j.Priority, j.MaxAttempts, j.Attempts, j.Takeovers = int(priority), int(maxAtt), int(attempts), int(takeovers)
	j.PagesTotal, j.PagesConfirmed = int(total), int(confirmed)
	if claimed != nil {
		j.ClaimedAt = *claimed
	}
	if finished != nil {
		j.FinishedAt = *finished
	}
	if len(retry) > 0 && !bytes.Equal(retry, []byte("null")) {
		if err := json.Unmarshal(retry, &j.Retry); err != nil {
			return Job{}, fmt.Errorf("queue: job %d retry policy: %w", j.ID, err)
		}
	}
	if len(meta) > 0 {
		if err := json.Unmarshal(meta, &j.Metadata); err != nil {
			return Job{}, fmt.Errorf("queue: job %d metadata: %w", j.ID, err)
		}
	}
	return j, nil
}

func collectJobs(rows pgx.Rows) ([]Job, error) {
	defer rows.Close()
	var out []Job
	for rows.Next() {
		j, err := scanJob(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, j)
	}
	return out, rows.Err()
}

func (r *Request) validate() error {
	bad := func(f string, a ...any) error {
		return fmt.Errorf("%w: %s", ErrInvalidRequest, fmt.Sprintf(f, a...))
	}
	switch {
	case r.Destination == "":
		return bad("destination is required")
	case len(r.Destination) > 64:
		return bad("destination longer than 64 characters")
	case r.Document == "":
		return bad("document is required")
	case r.Priority < -1000 || r.Priority > 1000:
		return bad("priority %d outside -1000..1000", r.Priority)
	case r.MaxAttempts < 0 || r.MaxAttempts > 100:
		return bad("max_attempts %d outside 0..100", r.MaxAttempts)
	case r.PagesTotal < 0:
		return bad("pages_total is negative")
	case r.KillAfter < 0:
		return bad("kill_after is negative")
	case !r.Deadline.IsZero() && r.KillAfter > 0:
		return bad("deadline and kill_after are exclusive")
	case len(r.IdempotencyKey) > 200:
		return bad("idempotency key longer than 200 characters")
	}
	return r.Retry.Validate()
}

// hash identifies the request's content, everything but the key.
func (r *Request) hash() ([]byte, error) {
	c := *r
	c.IdempotencyKey = ""
	if !c.SendAfter.IsZero() {
		c.SendAfter = c.SendAfter.UTC().Truncate(time.Microsecond)
	}
	b, err := json.Marshal(c)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidRequest, err)
	}
	sum := sha256.Sum256(b)
	return sum[:], nil
}

// Enqueue adds a job. With an idempotency key that already names a job
// for the same request it returns that job and created=false; for another
// request it returns a *ConflictError.
func (q *Queue) Enqueue(ctx context.Context, r Request) (job Job, created bool, err error) {
	if err := r.validate(); err != nil {
		return Job{}, false, err
	}
	h, err := r.hash()
	if err != nil {
		return Job{}, false, err
	}
	args, err := q.enqueueArgs(r, h)
	if err != nil {
		return Job{}, false, err
	}
	// A concurrent submission with the same key may commit between the
	// insert and the look-up, or be purged: try a few times.
	for range 3 {
		job, err = scanJob(q.pool.QueryRow(ctx, sqlEnqueue, args...))
		if err == nil {
			if !job.RunAt.After(time.Now()) || r.SendAfter.IsZero() {
				q.ready.wake()
			}
			return job, true, nil
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return Job{}, false, fmt.Errorf("queue: enqueue: %w", err)
		}
		var existing []byte
		job, err = scanJob(q.pool.QueryRow(ctx, sqlByKey, r.IdempotencyKey), &existing)
		if errors.Is(err, pgx.ErrNoRows) {
			continue
		}
		if err != nil {
			return Job{}, false, fmt.Errorf("queue: enqueue: %w", err)
		}
		if !bytes.Equal(existing, h) {
			return Job{}, false, &ConflictError{Key: r.IdempotencyKey, Existing: job.ID}
		}
		return job, false, nil
	}
	return Job{}, false, fmt.Errorf("queue: enqueue: idempotency key %q kept vanishing", r.IdempotencyKey)
}

// enqueueArgs are sqlEnqueue's parameters for r; h is its hash (nil:
// computed here).
func (q *Queue) enqueueArgs(r Request, h []byte) ([]any, error) {
	if h == nil {
		var err error
		if h, err = r.hash(); err != nil {
			return nil, err
		}
	}
	var err error
	maxAtt := r.MaxAttempts
	if maxAtt == 0 {
		maxAtt = q.cfg.DefaultMaxAttempts
	}
	var retry, meta []byte
	if len(r.Retry) > 0 {
		if retry, err = json.Marshal(r.Retry); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrInvalidRequest, err)
		}
	}
	if meta, err = json.Marshal(r.Metadata); err != nil {
		return nil, fmt.Errorf("%w: metadata: %v", ErrInvalidRequest, err)
	}
	if r.Metadata == nil {
		meta = []byte("{}")
	}
	var sendAfter *time.Time
	if !r.SendAfter.IsZero() {
		sendAfter = &r.SendAfter
	}
	site := ""
	if q.cfg.Sites != nil {
		site = q.cfg.Sites.PreferredSite(r.Destination)
	}
	// Deadline, or KillAfter counted by the database's clock; neither: NULL.
	var deadline *time.Time
	var killAfter *int64
	var resentFrom *int64
	if !r.Deadline.IsZero() {
		deadline = &r.Deadline
	} else if r.KillAfter > 0 {
		us := r.KillAfter.Microseconds()
		killAfter = &us
	}
	if r.ResentFrom > 0 {
		resentFrom = &r.ResentFrom
	}
	return []any{r.IdempotencyKey, h, r.Priority, sendAfter,
		maxAtt, retry, r.Destination, r.CallerID, r.Header, r.Document, r.CallbackURL, r.Submitter,
		meta, r.PagesTotal, site, q.cfg.SiteWait.Seconds(), deadline, killAfter, resentFrom}, nil
}

// Get returns a job.
func (q *Queue) Get(ctx context.Context, id int64) (Job, error) {
	j, err := scanJob(q.pool.QueryRow(ctx, sqlGet, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return Job{}, fmt.Errorf("queue: job %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return Job{}, fmt.Errorf("queue: job %d: %w", id, err)
	}
	return j, nil
}

// History returns a job's transitions, oldest first.
func (q *Queue) History(ctx context.Context, id int64) ([]Transition, error) {
	rows, err := q.pool.Query(ctx, sqlHistory, id)
	if err != nil {
		return nil, fmt.Errorf("queue: history of job %d: %w", id, err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Transition, error) {
		var t Transition
		var from, to, class string
		var pages int32
		err := r.Scan(&t.At, &from, &to, &t.NodeID, &t.Token, &class, &t.Reason, &pages)
		t.From, t.To, t.Class, t.Pages = State(from), State(to), Class(class), int(pages)
		return t, err
	})
	if err != nil {
		return nil, fmt.Errorf("queue: history of job %d: %w", id, err)
	}
	if len(out) == 0 {
		if _, err := q.Get(ctx, id); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// diagnose turns a holder write that matched nothing into a typed error.
func (q *Queue) diagnose(ctx context.Context, op string, id, token int64) error {
	var state string
	var cur *int64
	err := q.pool.QueryRow(ctx, sqlDiagnose, id).Scan(&state, &cur)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return fmt.Errorf("queue: %s job %d: %w", op, id, ErrNotFound)
	case err != nil:
		return fmt.Errorf("queue: %s job %d: %w", op, id, err)
	case cur == nil || *cur != token:
		return fmt.Errorf("queue: %s job %d with token %d (%s): %w", op, id, token, state, ErrStaleToken)
	default:
		return fmt.Errorf("queue: %s job %d: job is %s: %w", op, id, state, ErrInvalidTransition)
	}
}

// Progress records the pages confirmed so far in the current attempt and
// reports whether a cancel has been requested (the holder should hang up
// and call AckCancel).
func (q *Queue) Progress(ctx context.Context, id, token int64, pages int) (cancelRequested bool, err error) {
	if pages < 0 {
		return false, fmt.Errorf("%w: negative page count", ErrInvalidRequest)
	}
	err = q.pool.QueryRow(ctx, sqlProgress, id, token, pages).Scan(&cancelRequested)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, q.diagnose(ctx, "progress", id, token)
	}
	if err != nil {
		return false, fmt.Errorf("queue: progress job %d: %w", id, err)
	}
	return cancelRequested, nil
}

// holderTransition runs sqlHolderTransition on db.
func (q *Queue) holderTransition(ctx context.Context, db interface {
	QueryRow(context.Context, string, ...any) pgx.Row
}, op string, id, token int64, to State, delay time.Duration, refund, pages int, class Class, reason string) (Job, error) {
	j, err := scanJob(db.QueryRow(ctx, sqlHolderTransition, id, token, string(to), delay.Seconds(), refund, pages, string(class), reason))
	if errors.Is(err, pgx.ErrNoRows) {
		return Job{}, q.diagnose(ctx, op, id, token)
	}
	if err != nil {
		return Job{}, fmt.Errorf("queue: %s job %d: %w", op, id, err)
	}
	return j, nil
}

// Release gives a job back without charging the attempt (a node draining
// or shutting down before the call began). Pages stay confirmed.
func (q *Queue) Release(ctx context.Context, id, token int64, reason string) (Job, error) {
	j, err := q.holderTransition(ctx, q.pool, "release", id, token, Pending, 0, 1, 0, "", reason)
	if err == nil {
		q.ready.wake()
	}
	return j, err
}

// ReleaseAfter gives a job back like Release, claimable again only after
// delay: a job whose number already has its calls in progress should not
// be claimed again at once ahead of the rest of the queue.
func (q *Queue) ReleaseAfter(ctx context.Context, id, token int64, delay time.Duration, reason string) (Job, error) {
	if delay < 0 {
		return Job{}, fmt.Errorf("%w: negative release delay", ErrInvalidRequest)
	}
	return q.holderTransition(ctx, q.pool, "release", id, token, Pending, delay, 1, 0, "", reason)
}

// AckCancel acknowledges a requested cancel: the holder has hung up.
func (q *Queue) AckCancel(ctx context.Context, id, token int64, pages int) (Job, error) {
	var out Job
	err := pgx.BeginFunc(ctx, q.pool, func(tx pgx.Tx) error {
		h, err := lockHeld(ctx, tx, id, token)
		if err != nil {
			return err
		}
		if !h.cancel {
			return fmt.Errorf("queue: ack cancel job %d: no cancel requested: %w", id, ErrInvalidTransition)
		}
		out, err = q.holderTransition(ctx, tx, "ack cancel", id, token, Cancelled, 0, 0, pages, "", "cancelled")
		return err
	})
	if err == nil {
		q.outbox.wake()
	}
	return out, q.txErr(ctx, "ack cancel", id, token, err)
}

var errDiagnose = errors.New("diagnose")

// heldRow is what Fail and AckCancel read of a job they hold.
type heldRow struct {
	attempts, maxAttempts int32
	retry                 []byte // the job's own retry policy (JSON)
	cancel                bool   // a cancel was requested
	destination           string
}

// lockHeld locks job id for a call that holds it under token; errDiagnose
// when the job is not sending under that token.
func lockHeld(ctx context.Context, tx pgx.Tx, id, token int64) (heldRow, error) {
	var h heldRow
	var state string
	var cur *int64
	if err := tx.QueryRow(ctx, sqlFailLock, id).Scan(&state, &cur, &h.attempts, &h.maxAttempts, &h.retry, &h.cancel, &h.destination); err != nil {
		return h, err
	}
	if cur == nil || *cur != token || state != string(Sending) {
		return h, errDiagnose
	}
	return h, nil
}

func (q *Queue) txErr(ctx context.Context, op string, id, token int64, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, pgx.ErrNoRows), errors.Is(err, errDiagnose):
		return q.diagnose(ctx, op, id, token)
	case errors.Is(err, ErrNotFound), errors.Is(err, ErrStaleToken), errors.Is(err, ErrInvalidTransition),
		errors.Is(err, ErrInvalidRequest):
		return err
	default:
		return fmt.Errorf("queue: %s job %d: %w", op, id, err)
	}
}

// Fail records a failed attempt. The job goes back to pending after the
// class's back-off, or to failed when the class is permanent or the
// attempts are used up, or to cancelled when a cancel was requested.
func (q *Queue) Fail(ctx context.Context, id, token int64, f Failure) (Job, error) {
	if !f.Class.valid() {
		return Job{}, fmt.Errorf("%w: unknown failure class %q", ErrInvalidRequest, f.Class)
	}
	if f.Pages < 0 {
		return Job{}, fmt.Errorf("%w: negative page count", ErrInvalidRequest)
	}
	var out Job
	err := pgx.BeginFunc(ctx, q.pool, func(tx pgx.Tx) error {
		h, err := lockHeld(ctx, tx, id, token)
		if err != nil {
			return err
		}
		att, maxAtt, cancel := h.attempts, h.maxAttempts, h.cancel
		policy := q.cfg.Retry
		if len(h.retry) > 0 && !bytes.Equal(h.retry, []byte("null")) {
			var own RetryPolicy
			if err := json.Unmarshal(h.retry, &own); err != nil {
				return err
			}
			policy = policy.merge(own)
		}
		to, delay, reason := Pending, time.Duration(0), f.Reason
		d, retryable := policy.Delay(f.Class, int(att))
		var late bool
		if retryable && !cancel && int(att) < int(maxAtt) {
			// A retry that could not start before the deadline is not made.
			if err := tx.QueryRow(ctx, sqlRetryLate, id, d.Seconds()).Scan(&late); err != nil {
				return err
			}
		}
		switch {
		case cancel:
			to = Cancelled
			reason = "cancelled; last attempt: " + f.Reason
		case !retryable:
			to = Failed
		case int(att) >= int(maxAtt):
			to = Failed
			reason = f.Reason + " (attempts exhausted: " + strconv.Itoa(int(att)) + ")"
		case late:
			to = Failed
			reason = DeadlinePassed + "; last attempt: " + f.Reason
		default:
			delay = d
		}
		out, err = q.holderTransition(ctx, tx, "fail", id, token, to, delay, 0, f.Pages, f.Class, reason)
		if err != nil || to != Pending || q.cfg.Sites == nil {
			return err
		}
		// The retry goes to the site preferred now: the failed attempt
		// may have taken the preferred site's gateways out of rotation,
		// and the job must not wait for a site that cannot send it. The
		// preferrer answers from memory (no I/O in the transaction).
		_, err = tx.Exec(ctx, sqlResite, id, q.cfg.Sites.PreferredSite(h.destination), q.cfg.SiteWait.Seconds())
		return err
	})
	switch {
	case err != nil:
	case out.State.Final():
		q.outbox.wake()
	case !out.RunAt.After(time.Now()):
		q.ready.wake()
	}
	return out, q.txErr(ctx, "fail", id, token, err)
}

// Cancel cancels a job: a pending one at once; for a sending one it sets
// cancel_requested and notifies the holder, which hangs up and calls
// AckCancel (or Complete, if the fax got through first). Cancelling a job
// already being cancelled is not an error; a finished one is.
func (q *Queue) Cancel(ctx context.Context, id int64, reason string) (Job, error) {
	if reason == "" {
		reason = "cancelled"
	}
	var out Job
	err := pgx.BeginFunc(ctx, q.pool, func(tx pgx.Tx) error {
		var state string
		var requested bool
		if err := tx.QueryRow(ctx, sqlCancelLock, id).Scan(&state, &requested); err != nil {
			return err
		}
		var err error
		switch State(state) {
		case Pending:
			out, err = scanJob(tx.QueryRow(ctx, sqlCancelPending, id, reason))
		case Sending:
			if requested {
				out, err = scanJob(tx.QueryRow(ctx, sqlGet, id))
				return err
			}
			var n int64
			out, err = scanJob(tx.QueryRow(ctx, sqlCancelSending, id, reason), &n)
		default:
			return fmt.Errorf("queue: cancel job %d: job is %s: %w", id, state, ErrInvalidTransition)
		}
		return err
	})
	if err == nil && out.State == Cancelled {
		q.outbox.wake()
	}
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return Job{}, fmt.Errorf("queue: cancel job %d: %w", id, ErrNotFound)
	case err != nil && !errors.Is(err, ErrInvalidTransition):
		return Job{}, fmt.Errorf("queue: cancel job %d: %w", id, err)
	}
	return out, err
}

// RetryNow makes a pending job (waiting for its next attempt or its
// scheduled time) claimable at once; reason goes to its history. A job in
// any other state is ErrInvalidTransition.
func (q *Queue) RetryNow(ctx context.Context, id int64, reason string) (Job, error) {
	if reason == "" {
		reason = "retry now"
	}
	j, err := scanJob(q.pool.QueryRow(ctx, sqlRetryNow, id, reason))
	if errors.Is(err, pgx.ErrNoRows) {
		cur, gerr := q.Get(ctx, id)
		if gerr != nil {
			return Job{}, gerr
		}
		return Job{}, fmt.Errorf("queue: retry job %d: job is %s: %w", id, cur.State, ErrInvalidTransition)
	}
	if err != nil {
		return Job{}, fmt.Errorf("queue: retry job %d: %w", id, err)
	}
	q.ready.wake()
	return j, nil
}

// TakeOver returns the sending jobs of dead nodes (lease expired, or
// replaced by a newer incarnation) to pending, confirmed pages kept; the
// interrupted attempt is not charged. by names the node doing it, for the
// history. Any number of nodes may run it at once.
func (q *Queue) TakeOver(ctx context.Context, by string) ([]Job, error) {
	rows, err := q.pool.Query(ctx, sqlTakeOver, by, q.cfg.MaxTakeovers)
	if err != nil {
		return nil, fmt.Errorf("queue: takeover: %w", err)
	}
	jobs, err := collectJobs(rows)
	if err != nil {
		return nil, fmt.Errorf("queue: takeover: %w", err)
	}
	for _, j := range jobs {
		if j.State == Pending {
			q.ready.wake()
		} else {
			q.outbox.wake()
		}
		q.log.Warn("queue: orphaned job taken over", "job", j.ID, "by", by, "state", j.State, "pages_confirmed", j.PagesConfirmed)
	}
	return jobs, nil
}

// Purge deletes finished jobs (and their history) finished more than age
// ago, and published outbox rows of the same age. It returns the number of
// jobs deleted.
func (q *Queue) Purge(ctx context.Context, age time.Duration) (int64, error) {
	if age < 0 {
		return 0, fmt.Errorf("%w: negative purge age", ErrInvalidRequest)
	}
	const batch = 1000
	var total int64
	for {
		var n int64
		if err := q.pool.QueryRow(ctx, sqlPurge, age.Seconds(), batch).Scan(&n); err != nil {
			return total, fmt.Errorf("queue: purge: %w", err)
		}
		total += n
		if n < batch {
			break
		}
	}
	if _, err := q.pool.Exec(ctx, sqlPurgeOutbox, age.Seconds()); err != nil {
		return total, fmt.Errorf("queue: purge outbox: %w", err)
	}
	return total, nil
}
