package api

import (
	"context"
	"net/url"
	"testing"
	"time"

	"github.com/faxd/faxd/queue"
)

// GET /v1/queue-stats counts faxes by state, and the finished ones from
// since; submitters may not see the whole queue.
func TestQueueStats(t *testing.T) {
	e := newEnv(t, Config{})
	ctx := context.Background()
	var ids []int64
	for _, to := range []string{"+1001", "+1002", "+1003"} {
		j, _, err := e.api.queue.Enqueue(ctx, queue.Request{Destination: to, Document: "doc/" + to, PagesTotal: 1})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, j.ID)
	}
	if _, err := e.api.queue.Cancel(ctx, ids[0], "test"); err != nil {
		t.Fatal(err)
	}
	var got QueueStatsJSON
	r := e.do("GET", "/v1/queue-stats", e.admin, nil, "")
	r.json(t, &got)
	if r.status != 200 || got.States["pending"] != 2 || got.States["cancelled"] != 1 || got.States["sent"] != 0 ||
		got.FinishedSince["cancelled"] != 1 || len(got.States) != 5 || time.Since(got.Since) > 25*time.Hour {
		t.Fatalf("%d %s", r.status, r.body)
	}
	later := url.QueryEscape(time.Now().Add(time.Hour).Format(time.RFC3339))
	r = e.do("GET", "/v1/queue-stats?since="+later, e.admin, nil, "")
	r.json(t, &got)
	if r.status != 200 || got.FinishedSince["cancelled"] != 0 || got.States["cancelled"] != 1 {
		t.Fatalf("since an hour ahead: %d %s", r.status, r.body)
	}
	if r := e.do("GET", "/v1/queue-stats?since=yesterday", e.admin, nil, ""); r.status != 400 {
		t.Errorf("bad since: %d %s", r.status, r.body)
	}
	if r := e.do("GET", "/v1/queue-stats", e.sub, nil, ""); r.status != 403 {
		t.Errorf("submitter: %d", r.status)
	}
}
