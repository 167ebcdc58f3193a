package cluster

import (
	"context"
	"encoding/json"
	"flag"
	"io"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/faxd/faxd/internal/notify"
	"github.com/faxd/faxd/internal/notify/notifytest"
	"github.com/faxd/faxd/internal/pgtest"
	"github.com/faxd/faxd/queue"
)

// TestMain leaves the helper primary process of the promotion benchmark
// out of ordinary runs: it is not a test, and excluding it is not a skip.
func TestMain(m *testing.M) {
	if os.Getenv(helperPrimaryDSN) == "" {
		flag.Set("test.skip", "^TestHelper")
	}
	pgtest.Main(m)
}

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// Server b dies and comes back while servers a and c both watch. The
// administrators' webhook gets exactly one "down" and one "up" notice, each
// signed, and the liveness metric follows.
func TestServerDownAndUpNotifiedOnce(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	pool := pgtest.NewDB(t)
	q, err := queue.New(pool, queue.Config{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	hook := notifytest.StartWebhook(t, "s3cret", func(int) int { return 200 })
	cfg := notify.DefaultConfig()
	cfg.AdminWebhooks = []notify.Webhook{{URL: hook.URL, Secret: "s3cret"}}
	cfg.OutboundAllow = []string{"127.0.0.1"} // the receiver is a local test server
	cfg.PollInterval = 50 * time.Millisecond
	n, err := notify.New(pool, cfg, notify.Options{Secrets: testSecrets, NodeID: "a", Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	go n.Run(ctx)

	ttl := time.Second
	register := func(id string) *queue.Node {
		node, err := q.Register(ctx, queue.NodeInfo{ID: id}, queue.NodeConfig{TTL: ttl, Interval: 200 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		return node
	}
	a, c := register("a"), register("c")
	runA, stopA := context.WithCancel(ctx)
	defer stopA()
	go a.Run(runA)
	go c.Run(runA)
	register("b") // b never renews: its lease runs out after ttl

	reg := prometheus.NewRegistry()
	wa := NewWatcher(q, n, "a", quiet, reg)
	wc := NewWatcher(q, n, "c", quiet, nil)
	check := func() {
		for _, w := range []*Watcher{wa, wc} {
			if err := w.Check(ctx); err != nil {
				t.Fatal(err)
			}
		}
	}
	check() // first sight of b: live, no notice
	if got := testutil.ToFloat64(wa.live.WithLabelValues("b")); got != 1 {
		t.Fatalf("b live metric %v before its lease ran out", got)
	}
	time.Sleep(ttl + 300*time.Millisecond)
	check()
	check() // seen dead again: no second notice
	reqs := hook.Wait(t, 1, 10*time.Second)
	if testutil.ToFloat64(wa.live.WithLabelValues("b")) != 0 {
		t.Fatal("b still reported live")
	}

	b := register("b") // b comes back
	defer b.Deregister(context.Background())
	check()
	reqs = hook.Wait(t, 2, 10*time.Second)
	time.Sleep(300 * time.Millisecond) // any duplicate would arrive by now
	reqs = hook.Requests()
	if len(reqs) != 2 {
		t.Fatalf("webhook got %d notices, want exactly 2 (down, up)", len(reqs))
	}
	for i, want := range []string{"down", "up"} {
		r := reqs[i]
		if r.VerifyErr != nil {
			t.Errorf("notice %d: bad signature: %v", i, r.VerifyErr)
		}
		var body map[string]any
		if err := json.Unmarshal(r.Body, &body); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(r.Body), `"b"`) || !strings.Contains(strings.ToLower(r.Header.Get("X-Faxd-Event")+string(r.Body)), want) {
			t.Errorf("notice %d is not server %s for b: %s %s", i, want, r.Header.Get("X-Faxd-Event"), r.Body)
		}
	}
	if live := wa.Live(); len(live) != 2 {
		t.Errorf("live seen by a: %v, want b and c", live)
	}
}
