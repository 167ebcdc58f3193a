package queue_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/faxd/faxd/internal/pgtest"
	"github.com/faxd/faxd/queue"
)

// TestDeadlineAtClaimAndExpiry: ExpireDeadlines fails a pending job past
// its deadline ("deadline passed") with history and an outbox record, so
// no claim takes it, and leaves jobs with a later or no deadline alone.
func TestDeadlineAtClaimAndExpiry(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dsn := pgtest.NewDSN(t)
	q := newQueue(t, dsn)
	pool := pgtest.Pool(t, dsn)
	n := register(t, q, "n1", queue.NodeConfig{})

	past := req("+4930100")
	past.Deadline = time.Now().Add(-time.Second)
	later := req("+4930101")
	later.Deadline = time.Now().Add(time.Hour)
	expired := enqueue(t, q, past)
	kept := enqueue(t, q, later)
	plain := enqueue(t, q, req("+4930102"))

	gone, err := q.ExpireDeadlines(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(gone) != 1 || gone[0].ID != expired.ID || gone[0].State != queue.Failed || gone[0].LastReason != queue.DeadlinePassed {
		t.Fatalf("expired %+v, want job %d failed with %q", gone, expired.ID, queue.DeadlinePassed)
	}
	if tr := lastTransition(t, q, expired.ID); tr.From != queue.Pending || tr.To != queue.Failed || tr.Reason != queue.DeadlinePassed {
		t.Errorf("last transition %+v", tr)
	}
	if c := outboxCount(t, pool, expired.ID); c != 1 {
		t.Errorf("outbox records of the expired job: %d, want 1", c)
	}
	if again, err := q.ExpireDeadlines(ctx); err != nil || len(again) != 0 {
		t.Errorf("second sweep expired %d jobs (%v), want none", len(again), err)
	}
	jobs, err := q.Claim(ctx, n.Lease(), 10)
	if err != nil {
		t.Fatal(err)
	}
	var ids []int64
	for _, j := range jobs {
		ids = append(ids, j.ID)
	}
	slices.Sort(ids)
	if !slices.Equal(ids, []int64{kept.ID, plain.ID}) {
		t.Fatalf("claimed %v, want %v and %v (not %d, past its deadline)", ids, kept.ID, plain.ID, expired.ID)
	}
}

// TestDeadlineStopsRetries: a failed attempt whose retry would start at or
// after the deadline ends the job (failed, "deadline passed"); with the
// deadline further away the same failure is retried.
func TestDeadlineStopsRetries(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	q := newQueue(t, pgtest.NewDSN(t))
	n := register(t, q, "n1", queue.NodeConfig{})

	soon := req("+4930200")
	soon.Deadline = time.Now().Add(30 * time.Second) // busy retries after a minute
	j := enqueue(t, q, soon)
	c := claimOne(t, q, n)
	if c.ID != j.ID {
		t.Fatalf("claimed %d, want %d", c.ID, j.ID)
	}
	got, err := q.Fail(ctx, c.ID, c.Token, queue.Failure{Class: queue.ClassBusy, Reason: "busy"})
	if err != nil {
		t.Fatal(err)
	}
	if got.State != queue.Failed || !strings.HasPrefix(got.LastReason, queue.DeadlinePassed) {
		t.Errorf("after a busy attempt 30 s before the deadline: %s %q, want failed %q", got.State, got.LastReason, queue.DeadlinePassed)
	}

	far := req("+4930201")
	far.Deadline = time.Now().Add(time.Hour)
	j = enqueue(t, q, far)
	c = claimOne(t, q, n)
	got, err = q.Fail(ctx, c.ID, c.Token, queue.Failure{Class: queue.ClassBusy, Reason: "busy"})
	if err != nil {
		t.Fatal(err)
	}
	if got.State != queue.Pending {
		t.Errorf("after a busy attempt an hour before the deadline: %s %q, want pending", got.State, got.LastReason)
	}
}

// TestKillAfter: kill_after counts from the enqueue by the database's
// clock, and a repeated submission with the same key and kill_after is the
// same job, not a conflict (the duration, not the instant, is hashed).
func TestKillAfter(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	q := newQueue(t, pgtest.NewDSN(t))
	r := req("+4930300")
	r.KillAfter = 90 * time.Minute
	r.IdempotencyKey = "k1"
	j := enqueue(t, q, r)
	again, created, err := q.Enqueue(ctx, r)
	if err != nil || created || again.ID != j.ID {
		t.Fatalf("repeat: job %d created=%v err=%v, want job %d again", again.ID, created, err, j.ID)
	}
	c, err := q.Controls(ctx, []int64{j.ID})
	if err != nil {
		t.Fatal(err)
	}
	if want := j.CreatedAt.Add(90 * time.Minute); !c[j.ID].Deadline.Equal(want) {
		t.Errorf("deadline %v, want created_at + 90m = %v", c[j.ID].Deadline, want)
	}
	both := req("+4930301")
	both.KillAfter, both.Deadline = time.Hour, time.Now().Add(time.Hour)
	if _, _, err := q.Enqueue(ctx, both); err == nil {
		t.Error("deadline and kill_after together accepted")
	}
}

// TestResend: only a finished job can be resent; the new job has the old
// one's document and settings (and a new destination when given), names
// the old one, and the old one lists it.
func TestResend(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	q := newQueue(t, pgtest.NewDSN(t))
	n := register(t, q, "n1", queue.NodeConfig{})
	r := req("+4930400")
	r.Header, r.Priority, r.MaxAttempts, r.Submitter = "ACME", 7, 2, "app"
	r.Metadata = map[string]any{"invoice": "4711"}
	old := enqueue(t, q, r)

	_, _, err := q.Resend(ctx, old.ID, queue.ResendOptions{})
	wantErr(t, "resend of a pending job", err, queue.ErrInvalidTransition)
	_, _, err = q.Resend(ctx, 999999, queue.ResendOptions{})
	wantErr(t, "resend of no job", err, queue.ErrNotFound)

	c := claimOne(t, q, n)
	if _, err := q.Complete(ctx, c.ID, c.Token, queue.Result{Pages: 3}); err != nil {
		t.Fatal(err)
	}
	first, created, err := q.Resend(ctx, old.ID, queue.ResendOptions{IdempotencyKey: "app\x1fr1"})
	if err != nil || !created {
		t.Fatalf("resend: %v created=%v", err, created)
	}
	if first.State != queue.Pending || first.Destination != r.Destination || first.Document != old.Document ||
		first.Header != "ACME" || first.Priority != 7 || first.MaxAttempts != 2 || first.Submitter != "app" ||
		first.Metadata["invoice"] != "4711" || first.PagesTotal != old.PagesTotal {
		t.Errorf("resent job %+v does not carry the old one's settings %+v", first, old)
	}
	dup, created, err := q.Resend(ctx, old.ID, queue.ResendOptions{IdempotencyKey: "app\x1fr1"})
	if err != nil || created || dup.ID != first.ID {
		t.Errorf("repeated resend with the same key: job %d created=%v %v, want %d", dup.ID, created, err, first.ID)
	}
	second, _, err := q.Resend(ctx, old.ID, queue.ResendOptions{Destination: "+4930499"})
	if err != nil || second.Destination != "+4930499" {
		t.Fatalf("resend to another number: %+v %v", second, err)
	}
	cs, err := q.Controls(ctx, []int64{old.ID, first.ID, second.ID})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(cs[old.ID].Resends, []int64{first.ID, second.ID}) || cs[old.ID].ResentFrom != 0 {
		t.Errorf("old job's controls %+v, want resends %d and %d", cs[old.ID], first.ID, second.ID)
	}
	if cs[first.ID].ResentFrom != old.ID || cs[second.ID].ResentFrom != old.ID || len(cs[first.ID].Resends) != 0 {
		t.Errorf("resent jobs' controls %+v %+v, want resent_from %d", cs[first.ID], cs[second.ID], old.ID)
	}
}
