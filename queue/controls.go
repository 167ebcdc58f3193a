package queue

import (
	"context"
	"fmt"
	"time"
)

// DeadlinePassed is the reason of a job given up at its deadline.
const DeadlinePassed = "deadline passed"

// Controls are a job's deadline and resend links.
type Controls struct {
	Deadline   time.Time // zero: none
	ResentFrom int64     // the job this one sends again; 0: none
	Resends    []int64   // the jobs that send this one again, oldest first
}

// Controls returns the controls of the jobs ids that exist.
func (q *Queue) Controls(ctx context.Context, ids []int64) (map[int64]Controls, error) {
	rows, err := q.pool.Query(ctx, sqlControls, ids)
	if err != nil {
		return nil, fmt.Errorf("queue: controls: %w", err)
	}
	defer rows.Close()
	out := make(map[int64]Controls, len(ids))
	for rows.Next() {
		var id int64
		var c Controls
		var deadline *time.Time
		if err := rows.Scan(&id, &deadline, &c.ResentFrom, &c.Resends); err != nil {
			return nil, fmt.Errorf("queue: controls: %w", err)
		}
		if deadline != nil {
			c.Deadline = *deadline
		}
		out[id] = c
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("queue: controls: %w", err)
	}
	return out, nil
}

// ExpireDeadlines gives up every pending job whose deadline has passed:
// it becomes failed with reason DeadlinePassed (and its notice is sent as
// for any failure). Any node may run it at any time; Node.Run does after
// each lease renewal. The claim statements do not test the deadline
// themselves: the test in their scan of the ready index made claims about
// half as fast under load, so a job may still be claimed within one
// heartbeat of its deadline.
func (q *Queue) ExpireDeadlines(ctx context.Context) ([]Job, error) {
	const batch = 500
	var all []Job
	for {
		rows, err := q.pool.Query(ctx, sqlExpireDeadlines, batch)
		if err != nil {
			return all, fmt.Errorf("queue: expire deadlines: %w", err)
		}
		jobs, err := collectJobs(rows)
		if err != nil {
			return all, fmt.Errorf("queue: expire deadlines: %w", err)
		}
		all = append(all, jobs...)
		if len(jobs) < batch {
			break
		}
	}
	if len(all) > 0 {
		q.outbox.wake()
		q.log.Info("queue: jobs given up at their deadline", "jobs", len(all))
	}
	return all, nil
}

// ResendOptions are the new job's destination (empty: the old one's), its
// idempotency key and deadline.
type ResendOptions struct {
	Destination    string
	IdempotencyKey string
	Deadline       time.Time
	KillAfter      time.Duration
}

// Resend sends a finished job again as a new job with the same document
// and settings, naming the old one (ResentFrom). A job not yet finished
// is ErrInvalidTransition.
func (q *Queue) Resend(ctx context.Context, id int64, o ResendOptions) (job Job, created bool, err error) {
	old, err := q.Get(ctx, id)
	if err != nil {
		return Job{}, false, err
	}
	if !old.State.Final() {
		return Job{}, false, fmt.Errorf("queue: resend job %d: job is %s: %w", id, old.State, ErrInvalidTransition)
	}
	r := Request{
		IdempotencyKey: o.IdempotencyKey, Destination: old.Destination, CallerID: old.CallerID,
		Header: old.Header, Document: old.Document, PagesTotal: old.PagesTotal, CallbackURL: old.CallbackURL,
		Submitter: old.Submitter, Metadata: old.Metadata, Priority: old.Priority, MaxAttempts: old.MaxAttempts,
		Retry: old.Retry, Deadline: o.Deadline, KillAfter: o.KillAfter, ResentFrom: old.ID,
	}
	if o.Destination != "" {
		r.Destination = o.Destination
	}
	return q.Enqueue(ctx, r)
}
