package routing

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"sync"
	"time"
)

// HealthPolicy is the router-wide default for judging gateways; a
// gateway's own ProbePolicy overrides each field it sets.
type HealthPolicy struct {
	// Interval between probes of a gateway in rotation.
	Interval time.Duration
	// DownInterval between probes of a gateway out of rotation: shorter,
	// so a gateway that was down at start-up or recovered returns quickly.
	DownInterval time.Duration
	// ReadmitAfter consecutive successful probes bring a down gateway back.
	ReadmitAfter int
	// FailAfter consecutive failed probes take an up gateway out.
	FailAfter int
}

// Defaults of HealthPolicy.
const (
	DefaultProbeInterval     = 30 * time.Second
	DefaultProbeDownInterval = 5 * time.Second
	DefaultReadmitAfter      = 2
	DefaultFailAfter         = 3
)

func (p *HealthPolicy) setDefaults() {
	if p.Interval <= 0 {
		p.Interval = DefaultProbeInterval
	}
	if p.DownInterval <= 0 {
		p.DownInterval = DefaultProbeDownInterval
	}
	if p.ReadmitAfter <= 0 {
		p.ReadmitAfter = DefaultReadmitAfter
	}
	if p.FailAfter <= 0 {
		p.FailAfter = DefaultFailAfter
	}
}

// ProbeMode says how a gateway's health is judged.
type ProbeMode string

const (
	// ProbeDefault follows the router's policy (probing on).
	ProbeDefault ProbeMode = ""
	// ProbeOptions probes with SIP OPTIONS.
	ProbeOptions ProbeMode = "options"
	// ProbeOff never probes: a call failure that says the gateway is down
	// takes it out, and it returns to rotation after its interval (a
	// hold-down), when calls try it again.
	ProbeOff ProbeMode = "off"
)

// ProbePolicy is one gateway's probing; zero fields take the router's.
type ProbePolicy struct {
	Mode         ProbeMode
	Interval     time.Duration
	FailAfter    int
	ReadmitAfter int
}

// Validate checks the policy; each message names the field.
func (p ProbePolicy) Validate() error {
	switch p.Mode {
	case ProbeDefault, ProbeOptions, ProbeOff:
	default:
		return fmt.Errorf(`probe %q: must be "options" or "off"`, string(p.Mode))
	}
	if p.Interval < 0 || (p.Interval > 0 && p.Interval < time.Second) {
		return fmt.Errorf("probe_interval %v: must be at least 1s (0 takes the default)", p.Interval)
	}
	if p.FailAfter < 0 || p.FailAfter > 100 || p.ReadmitAfter < 0 || p.ReadmitAfter > 100 {
		return fmt.Errorf("probe_fail_after %d, probe_readmit_after %d: each must be from 0 (the default) to 100", p.FailAfter, p.ReadmitAfter)
	}
	return nil
}

// effective merges a gateway's policy over the router's.
func (r *Router) effective(p ProbePolicy) (interval time.Duration, failAfter, readmitAfter int) {
	interval, failAfter, readmitAfter = r.policy.Interval, r.policy.FailAfter, r.policy.ReadmitAfter
	if p.Interval > 0 {
		interval = p.Interval
	}
	if p.FailAfter > 0 {
		failAfter = p.FailAfter
	}
	if p.ReadmitAfter > 0 {
		readmitAfter = p.ReadmitAfter
	}
	return
}

// Transition is a gateway going out of rotation or coming back.
type Transition struct {
	Gateway string
	Up      bool
	// Cause is what decided it: CauseProbe, CauseCall or CauseHoldDown.
	Cause  string
	Reason string
	At     time.Time
}

// Transition causes.
const (
	CauseProbe    = "probe"
	CauseCall     = "call"
	CauseHoldDown = "hold_down" // probing off: back after the interval
)

// OnTransition sets fn to be called (outside the router's lock, in the
// order they happen) for every gateway that goes down or comes back: the
// caller logs it and counts it.
func (r *Router) OnTransition(fn func(Transition)) {
	r.mu.Lock()
	r.onChange = fn
	r.mu.Unlock()
}

// setUp changes a gateway's state and returns the transition, if any.
// Called with r.mu held.
func (r *Router) setUp(st *gwState, up bool, cause, reason string) *Transition {
	if st.up == up {
		return nil
	}
	now := r.now()
	st.up, st.since, st.okProbes, st.badProbes = up, now, 0, 0
	st.reason = ""
	if !up {
		st.reason = reason
		st.nextProbe = now.Add(r.policy.DownInterval)
	} else {
		interval, _, _ := r.effective(st.Probe)
		st.nextProbe = now.Add(interval)
	}
	return &Transition{Gateway: st.Name, Up: up, Cause: cause, Reason: reason, At: now}
}

// emit calls the transition hook with r.mu released.
func (r *Router) emit(t *Transition) {
	if t == nil {
		return
	}
	r.mu.Lock()
	fn := r.onChange
	r.mu.Unlock()
	if fn != nil {
		fn(*t)
	}
}

// Report records a call's outcome. GatewayDown takes the gateway out now;
// OK brings a down gateway back at once (a real call is better evidence
// than any probe) and marks it as one that carries calls.
func (r *Router) Report(name string, o Outcome, reason string) {
	r.mu.Lock()
	st, ok := r.gateways[name]
	var t *Transition
	if ok {
		switch o {
		case GatewayDown:
			t = r.setUp(st, false, CauseCall, reason)
		case OK:
			st.callOK = true
			t = r.setUp(st, true, CauseCall, "a call got through")
		}
	}
	r.mu.Unlock()
	r.emit(t)
}

// Probed records the result of a probe (SIP OPTIONS). A down gateway comes
// back after ReadmitAfter consecutive successes; an up one goes down after
// FailAfter consecutive failures, unless it has never answered a probe
// but has carried calls: such a gateway ignores OPTIONS, and its calls
// decide.
func (r *Router) Probed(name string, err error) {
	r.mu.Lock()
	st, ok := r.gateways[name]
	var t *Transition
	if ok {
		t = r.probed(st, err)
	}
	r.mu.Unlock()
	r.emit(t)
}

func (r *Router) probed(st *gwState, err error) *Transition {
	now := r.now()
	interval, failAfter, readmitAfter := r.effective(st.Probe)
	st.lastProbe, st.probing = now, false
	if err == nil {
		st.probeOK, st.lastProbeErr = true, ""
		st.badProbes = 0
		st.okProbes++
		if !st.up && st.okProbes >= readmitAfter {
			return r.setUp(st, true, CauseProbe, "answered "+strconv.Itoa(st.okProbes)+" probes in a row")
		}
		st.nextProbe = now.Add(r.nextInterval(st, interval))
		return nil
	}
	st.lastProbeErr = err.Error()
	st.okProbes = 0
	st.badProbes++
	st.nextProbe = now.Add(r.nextInterval(st, interval))
	if st.up && st.badProbes >= failAfter && !ignoresProbes(st) {
		return r.setUp(st, false, CauseProbe, "probe: "+err.Error())
	}
	return nil
}

// nextInterval: a gateway in rotation is probed at its interval; one that
// is down, or just failed a probe, is re-checked sooner, so both going out
// and coming back take seconds rather than minutes.
func (r *Router) nextInterval(st *gwState, interval time.Duration) time.Duration {
	if st.up && (st.badProbes == 0 || ignoresProbes(st)) {
		return interval
	}
	return r.policy.DownInterval
}

func ignoresProbes(st *gwState) bool { return st.callOK && !st.probeOK }

// GatewayStatus is one gateway's live state on this node, for the API,
// console and metrics.
type GatewayStatus struct {
	Gateway
	Up     bool
	InUse  int
	Since  time.Time // when it last went down or came back
	Reason string    // why it is down
	// Probing is false for a gateway with probes off. LastProbe and
	// LastProbeError describe the latest probe; IgnoresProbes is true for
	// a gateway that has carried calls but never answered a probe.
	Probing        bool
	LastProbe      time.Time
	LastProbeError string
	IgnoresProbes  bool
}

// Status lists every gateway's state, by name.
func (r *Router) Status() []GatewayStatus {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]GatewayStatus, 0, len(r.gateways))
	for _, st := range r.gateways {
		out = append(out, GatewayStatus{
			Gateway: st.Gateway, Up: st.up, InUse: st.inUse, Since: st.since, Reason: st.reason,
			Probing: st.Probe.Mode != ProbeOff, LastProbe: st.lastProbe, LastProbeError: st.lastProbeErr,
			IgnoresProbes: ignoresProbes(st) && st.lastProbeErr != "",
		})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Prober checks whether a gateway answers (SIP OPTIONS in faxd).
type Prober interface {
	Probe(ctx context.Context, g Gateway) error
}

// ProbeAll probes every gateway that has probing on once, concurrently,
// and records the results.
func (r *Router) ProbeAll(ctx context.Context, p Prober) {
	r.probe(ctx, p, func(*gwState, time.Time) bool { return true })
}

// ProbeDue probes, concurrently, every gateway whose next probe is due by
// the router's clock (each on its own interval; a down one more often),
// waits for the answers and records them. A gateway with probes off is
// never probed; one whose probe is still running is not probed twice.
func (r *Router) ProbeDue(ctx context.Context, p Prober) {
	r.probe(ctx, p, func(st *gwState, now time.Time) bool { return !now.Before(st.nextProbe) })
}

func (r *Router) probe(ctx context.Context, p Prober, due func(*gwState, time.Time) bool) {
	r.mu.Lock()
	now := r.now()
	var todo []Gateway
	var back []*Transition
	for _, st := range r.gateways {
		if st.probing || !due(st, now) {
			continue
		}
		if st.Probe.Mode == ProbeOff {
			if interval, _, _ := r.effective(st.Probe); !st.up && !now.Before(st.since.Add(interval)) {
				back = append(back, r.setUp(st, true, CauseHoldDown, "probing off: back in rotation after "+interval.String()))
			}
			continue
		}
		st.probing = true
		todo = append(todo, st.Gateway)
	}
	r.mu.Unlock()
	for _, t := range back {
		r.emit(t)
	}
	var wg sync.WaitGroup
	for _, g := range todo {
		wg.Add(1)
		go func(g Gateway) {
			defer wg.Done()
			r.Probed(g.Name, p.Probe(ctx, g))
		}(g)
	}
	wg.Wait()
}

// RunProber probes gateways as they fall due until ctx ends, checking
// every tick (a second is fine: intervals are whole seconds).
func (r *Router) RunProber(ctx context.Context, p Prober, tick time.Duration) {
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		r.ProbeDue(ctx, p)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
