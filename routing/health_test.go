package routing

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

// fakeClock is the router's clock in these tests: time moves only when a
// test says so.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// countingProber answers from a per-gateway switch and counts probes.
type countingProber struct {
	mu     sync.Mutex
	down   map[string]bool
	probes map[string]int
}

func newCountingProber() *countingProber {
	return &countingProber{down: map[string]bool{}, probes: map[string]int{}}
}

func (p *countingProber) Probe(_ context.Context, g Gateway) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.probes[g.Name]++
	if p.down[g.Name] {
		return errors.New("timeout")
	}
	return nil
}

func (p *countingProber) set(name string, down bool) {
	p.mu.Lock()
	p.down[name] = down
	p.mu.Unlock()
}

func (p *countingProber) count(name string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.probes[name]
}

func healthRouter(t *testing.T, gws []Gateway, pol HealthPolicy) (*Router, *fakeClock, *[]Transition) {
	t.Helper()
	clk := &fakeClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	r, err := New(nil, nil, pol)
	if err != nil {
		t.Fatal(err)
	}
	r.now = clk.now
	var routes []Route
	for _, g := range gws {
		routes = append(routes, Route{Gateway: g.Name})
	}
	if err := r.Update(gws, routes); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var seen []Transition
	r.OnTransition(func(tr Transition) { mu.Lock(); seen = append(seen, tr); mu.Unlock() })
	return r, clk, &seen
}

// step advances the clock by d one second at a time, probing what falls
// due, as RunProber does every tick.
func step(r *Router, clk *fakeClock, p Prober, d time.Duration) {
	for end := clk.now().Add(d); clk.now().Before(end); clk.add(time.Second) {
		r.ProbeDue(context.Background(), p)
	}
}

func TestProbeScheduleAndTransitions(t *testing.T) {
	r, clk, seen := healthRouter(t, []Gateway{{Name: "a", Address: "h1"}}, HealthPolicy{Interval: 30 * time.Second, DownInterval: 5 * time.Second, FailAfter: 3, ReadmitAfter: 2})
	p := newCountingProber()
	step(r, clk, p, 61*time.Second)
	if n := p.count("a"); n != 3 { // t=0, 30, 60
		t.Fatalf("healthy gateway probed %d times in 61s at a 30s interval, want 3", n)
	}
	p.set("a", true)
	// 90: first failure, then re-checks every 5 s: 95, 100 -> down at the third.
	step(r, clk, p, 40*time.Second)
	if st := status(r, "a"); st.Up || st.Reason != "probe: timeout" || !st.Since.Equal(time.Date(2026, 1, 1, 0, 1, 40, 0, time.UTC)) {
		t.Fatalf("after three failed probes: %+v", st)
	}
	if len(*seen) != 1 || (*seen)[0].Up || (*seen)[0].Cause != CauseProbe {
		t.Fatalf("transitions %+v, want one down by probe", *seen)
	}
	before := p.count("a")
	step(r, clk, p, 20*time.Second)
	if n := p.count("a") - before; n != 4 {
		t.Fatalf("down gateway probed %d times in 20s, want 4 (every 5s)", n)
	}
	p.set("a", false)
	step(r, clk, p, 11*time.Second)
	if st := status(r, "a"); !st.Up {
		t.Fatalf("two good probes should readmit: %+v", st)
	}
	if len(*seen) != 2 || !(*seen)[1].Up || (*seen)[1].Cause != CauseProbe {
		t.Fatalf("transitions %+v", *seen)
	}
}

func TestSuccessfulCallReadmitsAtOnce(t *testing.T) {
	r, _, seen := healthRouter(t, []Gateway{{Name: "a", Address: "h1"}}, HealthPolicy{})
	r.Report("a", GatewayDown, "503 Service Unavailable")
	if c, err := r.Candidates("1"); err == nil {
		t.Fatalf("down gateway offered: %v", names(c))
	}
	r.Report("a", OK, "")
	if c, err := r.Candidates("1"); err != nil || len(c) != 1 {
		t.Fatalf("a call that got through should readmit at once: %v %v", names(c), err)
	}
	want := []Transition{{Gateway: "a", Up: false, Cause: CauseCall, Reason: "503 Service Unavailable"}, {Gateway: "a", Up: true, Cause: CauseCall}}
	if len(*seen) != 2 {
		t.Fatalf("transitions %+v", *seen)
	}
	for i, w := range want {
		g := (*seen)[i]
		if g.Gateway != w.Gateway || g.Up != w.Up || g.Cause != w.Cause || (w.Reason != "" && g.Reason != w.Reason) {
			t.Errorf("transition %d = %+v, want %+v", i, g, w)
		}
	}
	r.Report("a", OK, "")
	if len(*seen) != 2 {
		t.Fatalf("no transition when nothing changes: %+v", *seen)
	}
}

func TestGatewayIgnoringOptionsStaysUpWhileCallsWork(t *testing.T) {
	r, clk, seen := healthRouter(t, []Gateway{{Name: "quiet", Address: "h1"}, {Name: "dead", Address: "h2"}}, HealthPolicy{FailAfter: 2})
	p := newCountingProber()
	p.set("quiet", true)
	p.set("dead", true)
	r.Report("quiet", OK, "") // it carries calls, never answers OPTIONS
	step(r, clk, p, 5*time.Minute)
	if st := status(r, "quiet"); !st.Up || !st.IgnoresProbes {
		t.Fatalf("a gateway that carries calls but ignores OPTIONS must stay up: %+v", st)
	}
	if st := status(r, "dead"); st.Up {
		t.Fatalf("a gateway with neither calls nor probes must go down: %+v", st)
	}
	for _, tr := range *seen {
		if tr.Gateway == "quiet" {
			t.Fatalf("quiet gateway changed state: %+v", tr)
		}
	}
	// Once it has answered a probe, probes count again.
	p.set("quiet", false)
	step(r, clk, p, 31*time.Second)
	p.set("quiet", true)
	step(r, clk, p, 5*time.Minute)
	if st := status(r, "quiet"); st.Up {
		t.Fatalf("a gateway that answered probes and then stopped must go down: %+v", st)
	}
}

func TestProbeOffHoldDown(t *testing.T) {
	r, clk, seen := healthRouter(t, []Gateway{{Name: "a", Address: "h1", Probe: ProbePolicy{Mode: ProbeOff, Interval: 20 * time.Second}}}, HealthPolicy{})
	p := newCountingProber()
	step(r, clk, p, time.Minute)
	if n := p.count("a"); n != 0 {
		t.Fatalf("probing off, but probed %d times", n)
	}
	r.Report("a", GatewayDown, "connection refused")
	step(r, clk, p, 19*time.Second)
	if status(r, "a").Up {
		t.Fatal("back before the hold-down ended")
	}
	step(r, clk, p, 2*time.Second)
	if st := status(r, "a"); !st.Up || st.Probing {
		t.Fatalf("after the hold-down: %+v", st)
	}
	if len(*seen) != 2 || (*seen)[1].Cause != CauseHoldDown {
		t.Fatalf("transitions %+v", *seen)
	}
}

func TestProbePolicyPerGatewayAndValidation(t *testing.T) {
	r, clk, _ := healthRouter(t, []Gateway{
		{Name: "fast", Address: "h1", Probe: ProbePolicy{Interval: 10 * time.Second, FailAfter: 1}},
		{Name: "slow", Address: "h2"},
	}, HealthPolicy{Interval: time.Minute})
	p := newCountingProber()
	step(r, clk, p, 60*time.Second)
	if f, s := p.count("fast"), p.count("slow"); f != 6 || s != 1 {
		t.Fatalf("probes fast=%d slow=%d, want 6 and 1", f, s)
	}
	p.set("fast", true)
	step(r, clk, p, 10*time.Second)
	if status(r, "fast").Up {
		t.Fatal("fail_after 1: one failed probe should take it out")
	}
	for _, bad := range []ProbePolicy{{Mode: "ping"}, {Interval: time.Millisecond}, {FailAfter: -1}, {ReadmitAfter: 101}} {
		if err := r.Update([]Gateway{{Name: "x", Address: "h", Probe: bad}}, nil); err == nil {
			t.Errorf("accepted probe policy %+v", bad)
		}
	}
}
