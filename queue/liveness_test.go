package queue_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/faxd/faxd/internal/pgtest"
	"github.com/faxd/faxd/queue"
)

// A node whose liveness session ends while its process lives (the
// session was terminated, or PostgreSQL restarted) cannot prove its
// liveness any more: its lease is fenced at once (channels hang up), its
// job is taken over, and Run registers a new incarnation without waiting
// for the old lease to run out.
func TestLivenessSessionLostFencesAndReRegisters(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	q := newQueue(t, pgtest.NewDSN(t))
	n := register(t, q, "n", queue.NodeConfig{TTL: time.Hour, Interval: 50 * time.Millisecond})
	runDone := make(chan error, 1)
	go func() { runDone <- n.Run(ctx) }()
	defer func() { cancel(); <-runDone }()
	job := enqueue(t, q, req("1"))
	held := claimOne(t, q, n)
	old := n.Lease()

	// Quiet intervals are no failure: the session has waited out at least
	// one interval and checked its lock, and the lease holds.
	deadline := time.Now().Add(30 * time.Second)
	for {
		var checked bool
		if err := q.Pool().QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_stat_activity
			WHERE datname = current_database() AND application_name = 'faxd liveness n' AND query LIKE '%pg_backend_pid%')`).Scan(&checked); err != nil {
			t.Fatal(err)
		}
		if checked {
			break
		}
		if time.Now().After(deadline) || old.Err() != nil {
			t.Fatalf("the session never checked its lock; lease: %v", old.Err())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := old.Err(); err != nil {
		t.Fatalf("fenced while the session lives: %v", err)
	}

	if _, err := q.Pool().Exec(ctx, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'faxd liveness n'"); err != nil {
		t.Fatal(err)
	}
	<-old.Done() // a hang here is the failure: the lease must fence
	if err := old.Err(); !errors.Is(err, queue.ErrLeaseLost) || !strings.Contains(err.Error(), "liveness session") {
		t.Fatalf("fenced with %v", err)
	}
	_, err := q.Claim(ctx, old, 1)
	wantErr(t, "claim under the fenced lease", err, queue.ErrLeaseLost)

	taken := takeOverUntil(t, q, "other", nil)
	if len(taken) != 1 || taken[0].ID != job.ID {
		t.Fatalf("taken over %+v", taken)
	}
	_, err = q.Complete(ctx, job.ID, held.Token, queue.Result{Pages: 3})
	wantErr(t, "complete under the lost session", err, queue.ErrStaleToken)

	// A new incarnation with its own session, long before the hour-long
	// lease of the old one would have run out.
	deadline = time.Now().Add(30 * time.Second)
	for n.Lease() == old || n.Lease().Err() != nil {
		if time.Now().After(deadline) {
			t.Fatal("no new incarnation")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if cur := n.Lease(); cur.Incarnation <= old.Incarnation {
		t.Fatalf("incarnation %d after %d", cur.Incarnation, old.Incarnation)
	}
	if st := nodeStatus(t, q, "n"); !st.Live || !st.Liveness || st.ProcessGone {
		t.Fatalf("re-registered node: %+v", st)
	}
	if again := claimOne(t, q, n); again.ID != job.ID {
		t.Fatalf("claimed %d, want %d", again.ID, job.ID)
	}
}

// A lease-only node has no session: it never looks gone, whatever the
// lock table says, and is taken over only when its lease expired.
func TestLeaseOnlyNodeNeverLooksGone(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	q := newQueue(t, pgtest.NewDSN(t))
	n := register(t, q, "n", queue.NodeConfig{LeaseOnly: true})
	enqueue(t, q, req("1"))
	claimOne(t, q, n)
	if st := nodeStatus(t, q, "n"); !st.Live || st.Liveness || st.ProcessGone {
		t.Fatalf("lease-only node: %+v", st)
	}
	if taken, err := q.TakeOver(ctx, "other"); err != nil || len(taken) != 0 {
		t.Fatalf("lease-only node taken over while its lease runs: %+v %v", taken, err)
	}
	expire(t, q, "n")
	if taken, err := q.TakeOver(ctx, "other"); err != nil || len(taken) != 1 {
		t.Fatalf("after its lease: %+v %v", taken, err)
	}
}
