package queue_test

import (
	"context"
	"testing"
	"time"

	"github.com/faxd/faxd/internal/pgtest"
	"github.com/faxd/faxd/queue"
)

// Counts has every state, and counts finished jobs only from the given time.
func TestCounts(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	q := newQueue(t, pgtest.NewDSN(t))
	a := enqueue(t, q, req("+1001"))
	enqueue(t, q, req("+1002"))
	enqueue(t, q, req("+1003"))
	if _, err := q.Cancel(ctx, a.ID, "test"); err != nil {
		t.Fatal(err)
	}
	c, err := q.Counts(ctx, time.Now().Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if c.ByState[queue.Pending] != 2 || c.ByState[queue.Cancelled] != 1 || c.ByState[queue.Sent] != 0 || len(c.ByState) != 5 {
		t.Errorf("by state %v", c.ByState)
	}
	if c.FinishedSince[queue.Cancelled] != 1 || len(c.FinishedSince) != 3 {
		t.Errorf("finished since an hour ago %v", c.FinishedSince)
	}
	if c, err = q.Counts(ctx, time.Now().Add(time.Hour)); err != nil || c.FinishedSince[queue.Cancelled] != 0 || c.ByState[queue.Cancelled] != 1 {
		t.Errorf("finished since an hour ahead %v (%v)", c.FinishedSince, err)
	}
}
