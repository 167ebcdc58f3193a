package queue_test

import (
	"context"
	"testing"

	"github.com/faxd/faxd/internal/pgtest"
	"github.com/faxd/faxd/queue"
)

// The call in progress is kept under metadata "call" beside the
// submitter's metadata, only by the token holding the job, and the
// attempt's result replaces it.
func TestSetCallThenResult(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	q := newQueue(t, pgtest.NewDSN(t))
	n := register(t, q, "n1", queue.NodeConfig{})
	r := req("200")
	r.Metadata = map[string]any{"customer": "42"}
	j := enqueue(t, q, r)
	wantErr(t, "set call on a pending job", q.SetCall(ctx, j.ID, 1, map[string]any{"gateway": "g"}), queue.ErrStaleToken)

	c := claimOne(t, q, n)
	if err := q.SetCall(ctx, c.ID, c.Token, map[string]any{"gateway": "g1", "bit_rate": 14400}); err != nil {
		t.Fatal(err)
	}
	wantErr(t, "set call with a stale token", q.SetCall(ctx, c.ID, c.Token+1, map[string]any{"gateway": "x"}), queue.ErrStaleToken)
	got, err := q.Get(ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	call, _ := got.Metadata["call"].(map[string]any)
	if call["gateway"] != "g1" || call["bit_rate"] != float64(14400) || got.Metadata["customer"] != "42" {
		t.Fatalf("metadata during the call: %v", got.Metadata)
	}
	if err := q.SetResult(ctx, c.ID, c.Token, map[string]any{"gateway": "g1"}); err != nil {
		t.Fatal(err)
	}
	got, err = q.Get(ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if _, still := got.Metadata["call"]; still || got.Metadata["result"] == nil || got.Metadata["customer"] != "42" {
		t.Fatalf("metadata after the result: %v", got.Metadata)
	}
}
