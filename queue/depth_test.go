package queue_test

import (
	"context"
	"testing"
	"time"

	"github.com/faxd/faxd/internal/pgtest"
	"github.com/faxd/faxd/queue"
)

// Depth counts due, scheduled and sending jobs apart, leaves final ones
// out, and ages the oldest due job from its run_at.
func TestDepth(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	q := newQueue(t, pgtest.NewDSN(t))
	if d, err := q.Depth(ctx); err != nil || d != (queue.Depth{}) {
		t.Fatalf("empty queue: %+v %v", d, err)
	}
	n := register(t, q, "n1", queue.NodeConfig{TTL: time.Minute})
	for _, dest := range []string{"+1", "+2", "+3", "+4"} {
		enqueue(t, q, req(dest))
	}
	later := req("+5")
	later.SendAfter = time.Now().Add(time.Hour)
	enqueue(t, q, later)
	sending := claimOne(t, q, n)
	done := claimOne(t, q, n)
	if _, err := q.Complete(ctx, done.ID, done.Token, queue.Result{Pages: 3, Reason: "MCF"}); err != nil {
		t.Fatal(err)
	}
	// Age the due jobs by moving their run_at back rather than waiting.
	if _, err := q.Pool().Exec(ctx, `UPDATE jobs SET run_at = now() - interval '90 seconds' WHERE state = 'pending' AND run_at <= now()`); err != nil {
		t.Fatal(err)
	}
	d, err := q.Depth(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if d.Due != 2 || d.Scheduled != 1 || d.Sending != 1 {
		t.Fatalf("depth %+v, want 2 due, 1 scheduled, 1 sending (job %d)", d, sending.ID)
	}
	if d.OldestDue < 90*time.Second || d.OldestDue > time.Hour {
		t.Fatalf("oldest due %v, want about 90s", d.OldestDue)
	}
}
