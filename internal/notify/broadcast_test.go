package notify_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/faxd/faxd/internal/notify"
	"github.com/faxd/faxd/internal/notify/notifytest"
	"github.com/faxd/faxd/internal/pgtest"
	"github.com/faxd/faxd/queue"
)

// TestBroadcastCallbackOnce finishes every fax of a broadcast and, as the
// server does for each finished fax, asks the queue whether that fax
// closed its broadcast and sends the callback then, each notice twice (a
// second node, a redelivered message): exactly one signed callback
// arrives, after the last fax, with the final counts.
func TestBroadcastCallbackOnce(t *testing.T) {
	t.Parallel()
	pool := pgtest.NewDB(t)
	hook := notifytest.StartWebhook(t, "cb-secret", nil)
	cfg := testConfig()
	cfg.CallbackSecret = "cb-secret"
	n := newNotifier(t, pool, cfg, nil)
	ctx := context.Background()
	q, err := queue.New(pool, queue.Config{})
	if err != nil {
		t.Fatal(err)
	}
	br := queue.BroadcastRequest{Submitter: "app", CallbackURL: hook.URL, IdempotencyKey: "app\x1fq3"}
	for _, to := range []string{"+4930111", "+4930222", "+4930333"} {
		br.Jobs = append(br.Jobs, queue.Request{Destination: to, Document: "doc/x", PagesTotal: 1})
	}
	b, _, err := q.EnqueueBroadcast(ctx, br)
	if err != nil {
		t.Fatal(err)
	}
	node, err := q.Register(ctx, queue.NodeInfo{ID: "n1", Capacity: 4}, queue.NodeConfig{})
	if err != nil {
		t.Fatal(err)
	}
	jobs, err := q.Claim(ctx, node.Lease(), 3)
	if err != nil || len(jobs) != 3 {
		t.Fatalf("claimed %d: %v", len(jobs), err)
	}
	notice := func(id int64) {
		t.Helper()
		for range 2 {
			cb, closed, err := q.BroadcastClosedBy(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			if closed {
				if err := n.BroadcastFinished(ctx, nil, notify.BroadcastNoticeFrom(cb)); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	if _, err := q.Complete(ctx, jobs[0].ID, jobs[0].Token, queue.Result{Pages: 1}); err != nil {
		t.Fatal(err)
	}
	notice(jobs[0].ID)
	if _, err := q.Fail(ctx, jobs[1].ID, jobs[1].Token, queue.Failure{Class: queue.ClassPermanent, Reason: "rejected"}); err != nil {
		t.Fatal(err)
	}
	notice(jobs[1].ID)
	if ds, _ := n.List(ctx, notify.Filter{}); len(ds) != 0 {
		t.Fatalf("%d deliveries before the last fax finished", len(ds))
	}
	if _, err := q.Complete(ctx, jobs[2].ID, jobs[2].Token, queue.Result{Pages: 1}); err != nil {
		t.Fatal(err)
	}
	for _, j := range jobs {
		notice(j.ID)
	}
	run(t, n)
	reqs := hook.Wait(t, 1, 10*time.Second)
	if reqs[0].VerifyErr != nil || reqs[0].Header.Get(notify.EventHeader) != notify.EventBroadcastCompleted {
		t.Fatalf("callback: signature %v, event %q", reqs[0].VerifyErr, reqs[0].Header.Get(notify.EventHeader))
	}
	var body struct {
		Data notify.BroadcastNotice `json:"data"`
	}
	if err := json.Unmarshal(reqs[0].Body, &body); err != nil {
		t.Fatal(err)
	}
	if d := body.Data; d.BroadcastID != b.ID || d.Counts["sent"] != 2 || d.Counts["failed"] != 1 || d.Recipients != 3 || d.IdempotencyKey != "q3" {
		t.Fatalf("callback data %+v", d)
	}
	if ds, _ := n.List(ctx, notify.Filter{}); len(ds) != 1 {
		t.Fatalf("%d deliveries, want exactly 1", len(ds))
	}
}
