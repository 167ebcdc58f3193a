package queue_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/faxd/faxd/internal/pgtest"
	"github.com/faxd/faxd/queue"
)

func broadcastReq(key string, n int) queue.BroadcastRequest {
	r := queue.BroadcastRequest{IdempotencyKey: key, Submitter: "app", CallbackURL: "https://example.com/cb"}
	for i := range n {
		r.Jobs = append(r.Jobs, queue.Request{Destination: fmt.Sprintf("+4930%06d", i), Document: "doc/shared", PagesTotal: 2, Submitter: "app"})
	}
	return r
}

func wantCounts(t *testing.T, q *queue.Queue, id int64, want map[queue.State]int) queue.Broadcast {
	t.Helper()
	b, err := q.GetBroadcast(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	for st, n := range want {
		if b.Counts[st] != n {
			t.Fatalf("broadcast %d: %s = %d, want %d (counts %v)", id, st, b.Counts[st], n, b.Counts)
		}
	}
	return b
}

// TestBroadcastLifecycle: one document for N recipients makes N jobs that
// share it; the counts follow the jobs' states; only the job that goes
// final last closes the broadcast.
func TestBroadcastLifecycle(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	q := newQueue(t, pgtest.NewDSN(t))
	b, created, err := q.EnqueueBroadcast(ctx, broadcastReq("k1", 4))
	if err != nil || !created {
		t.Fatalf("created=%v err=%v", created, err)
	}
	if b.Recipients != 4 {
		t.Fatalf("recipients = %d", b.Recipients)
	}
	jobs, err := q.BroadcastJobs(ctx, b.ID, 0, 3)
	if err != nil {
		t.Fatal(err)
	}
	more, err := q.BroadcastJobs(ctx, b.ID, jobs[len(jobs)-1].ID, 3)
	if err != nil {
		t.Fatal(err)
	}
	if len(jobs) != 3 || len(more) != 1 {
		t.Fatalf("pages of %d and %d jobs, want 3 and 1", len(jobs), len(more))
	}
	jobs = append(jobs, more...)
	seen := map[string]bool{}
	for _, j := range jobs {
		if j.Document != "doc/shared" || j.State != queue.Pending {
			t.Fatalf("job %d: document %q state %s", j.ID, j.Document, j.State)
		}
		seen[j.Destination] = true
	}
	if len(seen) != 4 {
		t.Fatalf("destinations %v", seen)
	}
	wantCounts(t, q, b.ID, map[queue.State]int{queue.Pending: 4})

	// The same key and request: the same broadcast, no new jobs.
	again, created, err := q.EnqueueBroadcast(ctx, broadcastReq("k1", 4))
	if err != nil || created || again.ID != b.ID {
		t.Fatalf("replay: id %d created %v err %v", again.ID, created, err)
	}
	var ce *queue.ConflictError
	if _, _, err := q.EnqueueBroadcast(ctx, broadcastReq("k1", 3)); !errors.As(err, &ce) || ce.Existing != b.ID {
		t.Fatalf("other request under the same key: %v", err)
	}

	n := register(t, q, "n1", queue.NodeConfig{})
	c1 := claimOne(t, q, n)
	c2 := claimOne(t, q, n)
	wantCounts(t, q, b.ID, map[queue.State]int{queue.Pending: 2, queue.Sending: 2})
	if _, err := q.Complete(ctx, c1.ID, c1.Token, queue.Result{Pages: 2}); err != nil {
		t.Fatal(err)
	}
	if _, err := q.Fail(ctx, c2.ID, c2.Token, queue.Failure{Class: queue.ClassPermanent, Reason: "no"}); err != nil {
		t.Fatal(err)
	}
	c3 := claimOne(t, q, n)
	got := wantCounts(t, q, b.ID, map[queue.State]int{queue.Pending: 1, queue.Sending: 1, queue.Sent: 1, queue.Failed: 1})
	if !got.DoneAt.IsZero() {
		t.Fatal("broadcast done with unfinished jobs")
	}
	// Cancel-all: the pending job is cancelled now, the sending one is
	// asked to stop.
	nc, err := q.CancelBroadcast(ctx, b.ID, "cancelled by test")
	if err != nil || nc != 2 {
		t.Fatalf("cancelled %d, err %v; want 2", nc, err)
	}
	wantCounts(t, q, b.ID, map[queue.State]int{queue.Cancelled: 1, queue.Sending: 1})
	for _, j := range jobs {
		if _, closed, err := q.BroadcastClosedBy(ctx, j.ID); err != nil || closed {
			t.Fatalf("job %d closed the broadcast early (%v)", j.ID, err)
		}
	}
	// The channel hangs up on the cancelled job: the last one final.
	if _, err := q.Fail(ctx, c3.ID, c3.Token, queue.Failure{Class: queue.ClassPermanent, Reason: "cancelled"}); err != nil {
		t.Fatal(err)
	}
	got = wantCounts(t, q, b.ID, map[queue.State]int{queue.Pending: 0, queue.Sending: 0, queue.Sent: 1, queue.Failed: 1})
	if got.DoneAt.IsZero() || got.DoneJob != c3.ID {
		t.Fatalf("done_at %v done_job %d, want set by job %d", got.DoneAt, got.DoneJob, c3.ID)
	}
	closers := 0
	for _, j := range jobs {
		cb, closed, err := q.BroadcastClosedBy(ctx, j.ID)
		if err != nil {
			t.Fatal(err)
		}
		if closed {
			closers++
			if cb.ID != b.ID || j.ID != c3.ID {
				t.Fatalf("job %d closed broadcast %d", j.ID, cb.ID)
			}
		}
	}
	if closers != 1 {
		t.Fatalf("%d jobs closed the broadcast, want exactly 1", closers)
	}
}

// TestBroadcastClosedOnceConcurrently finishes every job of a broadcast
// from concurrent goroutines: exactly one job closes it.
func TestBroadcastClosedOnceConcurrently(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	q := newQueue(t, pgtest.NewDSN(t))
	const n = 12
	b, _, err := q.EnqueueBroadcast(ctx, broadcastReq("", n))
	if err != nil {
		t.Fatal(err)
	}
	node := register(t, q, "n1", queue.NodeConfig{})
	jobs, err := q.Claim(ctx, node.Lease(), n)
	if err != nil || len(jobs) != n {
		t.Fatalf("claimed %d: %v", len(jobs), err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for _, j := range jobs {
		wg.Go(func() {
			_, err := q.Complete(ctx, j.ID, j.Token, queue.Result{Pages: 2})
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	closers := 0
	for _, j := range jobs {
		if _, closed, err := q.BroadcastClosedBy(ctx, j.ID); err != nil {
			t.Fatal(err)
		} else if closed {
			closers++
		}
	}
	if closers != 1 {
		t.Fatalf("%d jobs closed the broadcast, want exactly 1", closers)
	}
	wantCounts(t, q, b.ID, map[queue.State]int{queue.Sent: n})
}

// TestBroadcastAllOrNothing: a bad recipient refuses the whole broadcast.
func TestBroadcastAllOrNothing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	q := newQueue(t, pgtest.NewDSN(t))
	r := broadcastReq("", 3)
	r.Jobs[2].Document = ""
	if _, _, err := q.EnqueueBroadcast(ctx, r); !errors.Is(err, queue.ErrInvalidRequest) {
		t.Fatalf("err = %v, want ErrInvalidRequest", err)
	}
	if _, _, err := q.EnqueueBroadcast(ctx, queue.BroadcastRequest{}); !errors.Is(err, queue.ErrInvalidRequest) {
		t.Fatalf("empty: err = %v", err)
	}
	list, err := q.ListBroadcasts(ctx, queue.BroadcastFilter{})
	if err != nil || len(list) != 0 {
		t.Fatalf("listed %d broadcasts (%v), want none", len(list), err)
	}
	mine, _, err := q.EnqueueBroadcast(ctx, broadcastReq("", 1))
	if err != nil {
		t.Fatal(err)
	}
	other := broadcastReq("", 1)
	other.Submitter = "other"
	if _, _, err := q.EnqueueBroadcast(ctx, other); err != nil {
		t.Fatal(err)
	}
	list, err = q.ListBroadcasts(ctx, queue.BroadcastFilter{Submitter: "app"})
	if err != nil || len(list) != 1 || list[0].ID != mine.ID {
		t.Fatalf("own list %v (%v)", list, err)
	}
	all, err := q.ListBroadcasts(ctx, queue.BroadcastFilter{Limit: 1})
	if err != nil || len(all) != 1 {
		t.Fatalf("first page %v (%v)", all, err)
	}
	rest, err := q.ListBroadcasts(ctx, queue.BroadcastFilter{BeforeID: all[0].ID})
	if err != nil || len(rest) != 1 || rest[0].ID == all[0].ID {
		t.Fatalf("second page %v (%v)", rest, err)
	}
}

// BenchmarkEnqueueBroadcast1000 creates a broadcast of 1000 recipients
// (one transaction) per iteration.
func BenchmarkEnqueueBroadcast1000(b *testing.B) {
	q := newQueue(b, pgtest.NewDSN(b))
	ctx := context.Background()
	for b.Loop() {
		if _, _, err := q.EnqueueBroadcast(ctx, broadcastReq("", 1000)); err != nil {
			b.Fatal(err)
		}
	}
}
