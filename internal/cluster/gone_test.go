package cluster

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/faxd/faxd/internal/notify"
	"github.com/faxd/faxd/internal/pgtest"
	"github.com/faxd/faxd/queue"
)

// goneProbe reports the primary's process gone once gone is set.
type goneProbe struct{ gone atomic.Bool }

func (p *goneProbe) Check(context.Context) error {
	if p.gone.Load() {
		return fmt.Errorf("%w: %w: session ended", ErrPrimaryDown, ErrPrimaryGone)
	}
	return nil
}

func (p *goneProbe) Gone(context.Context) bool { return p.gone.Load() }

// A dead primary process is acted on at the first failed check; a plain
// failure still needs consecutive_failures of them.
func TestStandbyPromotesAtOnceWhenPrimaryProcessGone(t *testing.T) {
	h := newHarness(t, nil)
	h.step()
	h.p.set(false)
	h.step() // one network-like failure: nothing yet
	if h.rec.count("promote") != 0 {
		t.Fatal("promoted after one failed heartbeat")
	}
	g := &goneProbe{}
	g.gone.Store(true)
	h.c.d.Probe = g
	h.step()
	if got := h.rec.list(); len(got) != 2 || got[0] != "promote" || !strings.Contains(got[1], "process is gone") {
		t.Fatalf("after the primary's process went: %q", got)
	}
	if st := h.c.Status(); st.Role != RolePrimary || st.ConsecutiveFailures != 2 {
		t.Fatalf("status %+v", st)
	}
}

// keep_standby still only notifies, once, when the process is gone.
func TestKeepStandbyWhenPrimaryProcessGone(t *testing.T) {
	h := newHarness(t, func(c *StandbyConfig) { c.OnFailure = OnFailureKeepStandby })
	g := &goneProbe{}
	g.gone.Store(true)
	h.c.d.Probe = g
	h.steps(5)
	if h.rec.count("promote") != 0 || h.rec.count("notice failure failover: primary fax-a's process is gone") != 1 {
		t.Fatalf("keep_standby: %q", h.rec.list())
	}
}

// Between heartbeats an hour apart, the watch brings the check forward
// as soon as the primary's process is gone.
func TestWatchBringsCheckForward(t *testing.T) {
	cfg := DefaultStandbyConfig()
	cfg.PrimaryID = "fax-a"
	cfg.HeartbeatInterval = time.Hour
	cfg.RecheckInterval = time.Hour
	rec := &recorder{}
	g := &goneProbe{}
	c := NewController(cfg, StandbyDeps{Self: "fax-b", Probe: g, Actions: rec, Notifier: rec, Log: quiet,
		Watch: g, WatchInterval: 5 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { c.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	for c.Status().LastCheck.IsZero() {
		time.Sleep(time.Millisecond)
	}
	g.gone.Store(true)
	deadline := time.Now().Add(30 * time.Second)
	for rec.count("promote") == 0 {
		if time.Now().After(deadline) {
			t.Fatal("not promoted: the watch did not bring the check forward")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if c.Role() != RolePrimary {
		t.Fatalf("role %s", c.Role())
	}
}

// The lease probe says the primary's process is gone when its liveness
// session ends, even though its lease still runs; Gone agrees.
func TestLeaseProbeProcessGone(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.NewDB(t)
	q, err := queue.New(pool, queue.Config{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	p := LeaseProbe{Nodes: q, Primary: "fax-a"}
	n, err := q.Register(ctx, queue.NodeInfo{ID: "fax-a"}, queue.NodeConfig{TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Check(ctx); err != nil || p.Gone(ctx) {
		t.Fatalf("live primary: %v gone=%v", err, p.Gone(ctx))
	}
	// Its session ends (as when its process dies).
	if _, err := pool.Exec(ctx, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'faxd liveness fax-a'"); err != nil {
		t.Fatal(err)
	}
	<-n.Lease().Done()
	deadline := time.Now().Add(30 * time.Second)
	for !p.Gone(ctx) {
		if time.Now().After(deadline) {
			t.Fatal("session ended but the primary is not reported gone")
		}
		time.Sleep(10 * time.Millisecond)
	}
	err = p.Check(ctx)
	if !errors.Is(err, ErrPrimaryGone) || !errors.Is(err, ErrPrimaryDown) || !strings.Contains(err.Error(), "lease live until") {
		t.Fatalf("check of a gone primary with a live lease: %v", err)
	}
}

// alerts records the membership watcher's notices.
type alerts struct{ down, up []string }

func (a *alerts) ServerDown(_ context.Context, e notify.ServerEvent) error {
	a.down = append(a.down, e.Node)
	return nil
}

func (a *alerts) ServerUp(_ context.Context, e notify.ServerEvent) error {
	a.up = append(a.up, e.Node)
	return nil
}

// A server whose process is gone is reported down at the next check,
// although its hour-long lease still runs.
func TestMembershipSeesGoneProcess(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.NewDB(t)
	q, err := queue.New(pool, queue.Config{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	b, err := q.Register(ctx, queue.NodeInfo{ID: "b"}, queue.NodeConfig{TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	a := &alerts{}
	w := NewWatcher(q, a, "a", quiet, nil)
	if err := w.Check(ctx); err != nil || len(a.down) != 0 {
		t.Fatalf("live b: down %v, %v", a.down, err)
	}
	if _, err := pool.Exec(ctx, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'faxd liveness b'"); err != nil {
		t.Fatal(err)
	}
	<-b.Lease().Done()
	deadline := time.Now().Add(30 * time.Second)
	for len(a.down) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("gone process never reported down")
		}
		time.Sleep(10 * time.Millisecond)
		if err := w.Check(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if len(a.down) != 1 || a.down[0] != "b" || len(w.Live()) != 0 {
		t.Fatalf("down %v, live %v", a.down, w.Live())
	}
}
