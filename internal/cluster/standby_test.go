package cluster

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/faxd/faxd/internal/notify"
	"github.com/faxd/faxd/internal/pgtest"
	"github.com/faxd/faxd/queue"
)

// fakeClock is advanced by the test by the delays Step returns.
type fakeClock struct{ t time.Time }

func (c *fakeClock) Now() time.Time { return c.t }

// primary is the probe's scripted health.
type primary struct {
	mu   sync.Mutex
	up   bool
	seen int
}

func (p *primary) set(up bool) { p.mu.Lock(); p.up = up; p.mu.Unlock() }

func (p *primary) Check(context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.seen++
	if p.up {
		return nil
	}
	return fmt.Errorf("%w: connection refused", ErrPrimaryDown)
}

// recorder is the node's actions and the administrators' inbox.
type recorder struct {
	mu         sync.Mutex
	calls      []string
	failPromos int
}

func (r *recorder) add(s string) { r.mu.Lock(); r.calls = append(r.calls, s); r.mu.Unlock() }

func (r *recorder) list() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.calls...)
}

func (r *recorder) count(prefix string) int {
	n := 0
	for _, c := range r.list() {
		if strings.HasPrefix(c, prefix) {
			n++
		}
	}
	return n
}

func (r *recorder) Promote(context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.failPromos > 0 {
		r.failPromos--
		r.calls = append(r.calls, "promote failed")
		return errors.New("database gone")
	}
	r.calls = append(r.calls, "promote")
	return nil
}

func (r *recorder) StepDown(context.Context) error { r.add("stepdown"); return nil }

func (r *recorder) BecamePrimary(_ context.Context, e notify.PrimaryEvent) error {
	r.add("notice primary " + e.Node + " replaces " + e.Previous + ": " + e.Reason)
	return nil
}

func (r *recorder) SteppedDown(_ context.Context, e StepDownEvent) error {
	r.add("notice standby " + e.Node + ": " + e.Reason)
	return nil
}

func (r *recorder) Failure(_ context.Context, e notify.FailureEvent) error {
	r.add("notice failure " + e.Component + ": " + e.Message)
	return nil
}

type harness struct {
	t     *testing.T
	clock *fakeClock
	p     *primary
	rec   *recorder
	c     *Controller
	t0    time.Time
}

func newHarness(t *testing.T, mutate func(*StandbyConfig)) *harness {
	cfg := DefaultStandbyConfig()
	cfg.PrimaryID = "fax-a"
	cfg.HeartbeatInterval = 5 * time.Second
	cfg.RecheckInterval = 2 * time.Second
	cfg.ConsecutiveFailures = 3
	if mutate != nil {
		mutate(&cfg)
	}
	if errs := cfg.Validate("fax-b"); len(errs) > 0 {
		t.Fatal(errs)
	}
	h := &harness{t: t, clock: &fakeClock{t: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)}, p: &primary{up: true}, rec: &recorder{}}
	h.t0 = h.clock.t
	h.c = NewController(cfg, StandbyDeps{Self: "fax-b", Probe: h.p, Actions: h.rec, Notifier: h.rec, Clock: h.clock, Log: quiet})
	return h
}

// step runs one check and advances the clock by the wait it asks for.
func (h *harness) step() time.Duration {
	w := h.c.Step(context.Background())
	h.clock.t = h.clock.t.Add(w)
	return w
}

func (h *harness) steps(n int) {
	for range n {
		h.step()
	}
}

func (h *harness) state() string { return h.c.Status().State }

// N consecutive failures, spaced by the re-check interval, promote; the
// promotion happens on the Nth failed check, at (N-1) re-check intervals
// after the first, and is acted on once.
func TestStandbyPromotesAfterConsecutiveFailures(t *testing.T) {
	h := newHarness(t, nil)
	if w := h.step(); w != 5*time.Second {
		t.Fatalf("wait after a success %v, want the heartbeat interval", w)
	}
	h.p.set(false)
	firstFail := h.clock.t
	var promotedAt time.Time
	for i := 1; i <= 3; i++ {
		at := h.clock.t
		if w := h.step(); w != 2*time.Second {
			t.Fatalf("wait after failure %d: %v, want the re-check interval", i, w)
		}
		if i < 3 && h.rec.count("promote") != 0 {
			t.Fatalf("promoted after %d failures", i)
		}
		if i == 3 {
			promotedAt = at
		}
	}
	if got := h.rec.list(); len(got) != 2 || got[0] != "promote" || !strings.HasPrefix(got[1], "notice primary fax-b replaces fax-a") {
		t.Fatalf("after 3 failures: %q", got)
	}
	if d := promotedAt.Sub(firstFail); d != 4*time.Second {
		t.Errorf("promoted %v after the first failure, want 2 re-check intervals", d)
	}
	st := h.c.Status()
	if st.State != StatePromoted || st.Role != RolePrimary || st.ChangedBy != ActorAutomatic || st.ConsecutiveFailures != 3 {
		t.Fatalf("status %+v", st)
	}
	h.steps(10) // still down: nothing more
	if n := len(h.rec.list()); n != 2 {
		t.Fatalf("more actions while the primary stays down: %q", h.rec.list())
	}
}

// keep_standby notifies the failure once per outage and never promotes.
func TestStandbyKeepStandbyNotifiesOnly(t *testing.T) {
	h := newHarness(t, func(c *StandbyConfig) { c.OnFailure = OnFailureKeepStandby })
	h.p.set(false)
	h.steps(10)
	if h.rec.count("promote") != 0 || h.state() != StateWatching {
		t.Fatalf("keep_standby promoted: %q, state %s", h.rec.list(), h.state())
	}
	if n := h.rec.count("notice failure failover: primary fax-a failed 3 consecutive heartbeats"); n != 1 {
		t.Fatalf("%d failure notices, want 1: %q", n, h.rec.list())
	}
	if got := h.rec.list()[0]; !strings.Contains(got, "keep_standby") {
		t.Errorf("notice does not say why it stays: %q", got)
	}
	// The primary comes back and fails again: a second outage, a second notice.
	h.p.set(true)
	h.step()
	h.p.set(false)
	h.steps(3)
	if n := h.rec.count("notice failure"); n != 2 {
		t.Fatalf("%d failure notices after a second outage, want 2", n)
	}
}

// A disabled standby never promotes itself; enabling it while the primary
// is still down promotes at the next failed check.
func TestStandbyDisabledNeverPromotes(t *testing.T) {
	h := newHarness(t, func(c *StandbyConfig) { c.Automatic = false })
	if h.state() != StateDisabled {
		t.Fatalf("state %s", h.state())
	}
	h.p.set(false)
	h.steps(20)
	if h.rec.count("promote") != 0 {
		t.Fatal("a disabled standby promoted itself")
	}
	if n := h.rec.count("notice failure"); n != 1 || !strings.Contains(h.rec.list()[0], "automatic failover is disabled") {
		t.Fatalf("notices %q", h.rec.list())
	}
	if err := h.c.Enable(context.Background(), "ops"); err != nil {
		t.Fatal(err)
	}
	if h.state() != StateWatching {
		t.Fatalf("state after enable %s", h.state())
	}
	h.step()
	if h.rec.count("promote") != 1 || h.state() != StatePromoted {
		t.Fatalf("enabled standby with the primary down did not promote: %q", h.rec.list())
	}
}

// A promoted standby steps down once the primary answers N consecutive
// heartbeats, and is watching again afterwards.
func TestStandbyStepsDownWhenPrimaryReturns(t *testing.T) {
	h := newHarness(t, nil)
	h.p.set(false)
	h.steps(3)
	if h.state() != StatePromoted {
		t.Fatal("not promoted")
	}
	h.p.set(true)
	for i := 1; i <= 3; i++ {
		if w := h.step(); w != 5*time.Second {
			t.Fatalf("wait after success %v", w)
		}
		if i < 3 && h.rec.count("stepdown") != 0 {
			t.Fatalf("stepped down after %d successes", i)
		}
	}
	if h.rec.count("stepdown") != 1 || h.rec.count("notice standby fax-b: primary fax-a answered 3") != 1 {
		t.Fatalf("actions %q", h.rec.list())
	}
	if st := h.c.Status(); st.State != StateWatching || st.Role != RoleStandby || st.ConsecutiveFailures != 0 {
		t.Fatalf("status after step-down %+v", st)
	}
	// And the next outage promotes again.
	h.p.set(false)
	h.steps(3)
	if h.rec.count("promote") != 2 {
		t.Fatalf("second outage: %q", h.rec.list())
	}
}

// A flapping primary never reaches N consecutive results: no promotion
// while it flaps, and a promoted standby does not step down while it flaps.
func TestStandbyFlappingPrimary(t *testing.T) {
	h := newHarness(t, nil)
	for i := range 40 {
		h.p.set(i%3 == 2) // down, down, up, ...
		h.step()
	}
	if h.rec.count("promote") != 0 {
		t.Fatalf("promoted on a flapping primary: %q", h.rec.list())
	}
	h.p.set(false)
	h.steps(3)
	if h.state() != StatePromoted {
		t.Fatal("not promoted after a real outage")
	}
	for i := range 40 {
		h.p.set(i%3 != 2) // up, up, down, ...
		h.step()
	}
	if h.rec.count("stepdown") != 0 || h.state() != StatePromoted {
		t.Fatalf("stepped down on a flapping primary: %q", h.rec.list())
	}
}

// Manual promotion holds whatever the primary does (automatic failover
// goes off); manual demotion holds too, even with the primary down.
func TestStandbyManualControls(t *testing.T) {
	h := newHarness(t, nil)
	ctx := context.Background()
	if err := h.c.Promote(ctx, "ops"); err != nil {
		t.Fatal(err)
	}
	st := h.c.Status()
	if st.State != StatePromoted || st.Automatic || st.ChangedBy != "ops" {
		t.Fatalf("after manual promote %+v", st)
	}
	if got := h.rec.list(); len(got) != 2 || !strings.Contains(got[1], "promoted by administrator ops") {
		t.Fatalf("actions %q", got)
	}
	h.steps(10) // primary healthy
	if h.rec.count("stepdown") != 0 {
		t.Fatal("a manual promotion was undone automatically")
	}
	if err := h.c.Promote(ctx, "ops"); err != nil || h.rec.count("promote") != 1 {
		t.Fatalf("promote twice: %v %q", err, h.rec.list())
	}
	if err := h.c.Demote(ctx, "ops"); err != nil {
		t.Fatal(err)
	}
	if h.state() != StateDisabled || h.rec.count("stepdown") != 1 {
		t.Fatalf("after demote: %s %q", h.state(), h.rec.list())
	}
	h.p.set(false)
	h.steps(10)
	if h.rec.count("promote") != 1 {
		t.Fatal("a demoted standby promoted itself")
	}
	if err := h.c.Disable(ctx, "ops"); err != nil {
		t.Fatal(err)
	}
	if err := h.c.Enable(ctx, "ops"); err != nil {
		t.Fatal(err)
	}
	h.step()
	if h.rec.count("promote") != 2 {
		t.Fatalf("enable with the primary down: %q", h.rec.list())
	}
	// With automatic failover back on, the primary's return steps it down.
	h.p.set(true)
	h.steps(3)
	if h.rec.count("stepdown") != 2 || h.state() != StateWatching {
		t.Fatalf("no step-down after enable: %q", h.rec.list())
	}
}

// A failed promotion leaves the node in standby, tells the
// administrators, and is tried again at the next failed check.
func TestStandbyPromotionFailureRetried(t *testing.T) {
	h := newHarness(t, nil)
	h.rec.failPromos = 1
	h.p.set(false)
	h.steps(3)
	if h.state() != StateWatching || h.rec.count("notice failure failover: promotion to primary failed") != 1 {
		t.Fatalf("after a failed promotion: %s %q", h.state(), h.rec.list())
	}
	h.step()
	if h.state() != StatePromoted || h.rec.count("promote") != 2 {
		t.Fatalf("promotion not retried: %q", h.rec.list())
	}
}

// Without a primary to watch the standby is manual only.
func TestStandbyWithoutPrimaryIsManual(t *testing.T) {
	c := NewController(DefaultStandbyConfig(), StandbyDeps{Self: "b", Actions: &recorder{}, Log: quiet})
	if c.Status().State != StateDisabled || c.Status().Automatic {
		t.Fatalf("status %+v", c.Status())
	}
	if err := c.Enable(context.Background(), "ops"); !errors.Is(err, ErrNoPrimary) {
		t.Fatalf("enable without a primary: %v", err)
	}
	if err := c.Promote(context.Background(), "ops"); err != nil || c.Role() != RolePrimary {
		t.Fatalf("manual promote: %v %s", err, c.Role())
	}
}

func TestHTTPProbe(t *testing.T) {
	t.Parallel()
	status := http.StatusOK
	var mu sync.Mutex
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		if r.URL.Path != "/readyz" {
			http.NotFound(w, r)
			return
		}
		w.WriteHeader(status)
		fmt.Fprintln(w, "queue_db down: refused")
	}))
	p := HTTPProbe{URL: srv.URL + "/"}
	ctx := context.Background()
	if err := p.Check(ctx); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	status = http.StatusServiceUnavailable
	mu.Unlock()
	if err := p.Check(ctx); !errors.Is(err, ErrPrimaryDown) || !strings.Contains(err.Error(), "queue_db down") {
		t.Fatalf("503: %v", err)
	}
	srv.Close()
	if err := p.Check(ctx); !errors.Is(err, ErrPrimaryDown) {
		t.Fatalf("closed: %v", err)
	}
	// Either source alive is alive.
	if err := (AnyProbe{p, ProbeFunc(func(context.Context) error { return nil })}).Check(ctx); err != nil {
		t.Fatal(err)
	}
	if err := (AnyProbe{p, p}).Check(ctx); err == nil {
		t.Fatal("two dead sources reported alive")
	}
	if NewProbe(DefaultStandbyConfig(), nil, nil) != nil {
		t.Fatal("a probe without a primary")
	}
}

// The lease probe follows the primary's row in the nodes table.
func TestLeaseProbe(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	q, err := queue.New(pgtest.NewDB(t), queue.Config{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	p := LeaseProbe{Nodes: q, Primary: "fax-a"}
	if err := p.Check(ctx); !errors.Is(err, ErrPrimaryDown) || !strings.Contains(err.Error(), "no lease") {
		t.Fatalf("no row: %v", err)
	}
	n, err := q.Register(ctx, queue.NodeInfo{ID: "fax-a"}, queue.NodeConfig{TTL: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Check(ctx); err != nil {
		t.Fatalf("live primary: %v", err)
	}
	if err := n.Deregister(ctx); err != nil {
		t.Fatal(err)
	}
	if err := p.Check(ctx); !errors.Is(err, ErrPrimaryDown) || !strings.Contains(err.Error(), "expired") {
		t.Fatalf("deregistered: %v", err)
	}
}

// One standby per primary: a second live standby is refused, a dead one is
// replaced; the administrator's choice outlives the controller.
func TestStandbyStorePairsAndRemembers(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.NewDB(t)
	q, err := queue.New(pool, queue.Config{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	s := NewStandbyStore(pool)
	b, err := q.Register(ctx, queue.NodeInfo{ID: "fax-b", Role: "standby"}, queue.NodeConfig{TTL: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Pair(ctx, "fax-b", "fax-a"); err != nil {
		t.Fatal(err)
	}
	if err := s.Pair(ctx, "fax-b", "fax-a"); err != nil {
		t.Fatalf("pairing again: %v", err)
	}
	if _, err := q.Register(ctx, queue.NodeInfo{ID: "fax-c", Role: "standby"}, queue.NodeConfig{TTL: time.Minute}); err != nil {
		t.Fatal(err)
	}
	if err := s.Pair(ctx, "fax-c", "fax-a"); !errors.Is(err, ErrPrimaryTaken) {
		t.Fatalf("second standby for fax-a: %v", err)
	}
	if err := b.Deregister(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.Pair(ctx, "fax-c", "fax-a"); err != nil {
		t.Fatalf("replacing a dead standby: %v", err)
	}

	rec := &recorder{}
	cfg := DefaultStandbyConfig()
	cfg.PrimaryID = "fax-a"
	deps := StandbyDeps{Self: "fax-c", Probe: &primary{up: true}, Actions: rec, Notifier: rec, Store: s, Log: quiet}
	c := NewController(cfg, deps)
	if err := c.Start(ctx); err != nil || !c.Status().Automatic {
		t.Fatalf("fresh start: %v %+v", err, c.Status())
	}
	if err := c.Disable(ctx, "ops"); err != nil {
		t.Fatal(err)
	}
	c2 := NewController(cfg, deps)
	if err := c2.Start(ctx); err != nil || c2.Status().State != StateDisabled {
		t.Fatalf("restart after disable: %v %+v", err, c2.Status())
	}
	if err := c2.Promote(ctx, "ops"); err != nil {
		t.Fatal(err)
	}
	evs, err := s.Events(ctx, "fax-c")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range evs {
		got = append(got, e.Event+"/"+e.Actor)
	}
	if strings.Join(got, " ") != "automatic_disabled/ops promoted/ops" {
		t.Fatalf("events %v", got)
	}
}
