// Package routing decides where a fax goes: which gateway carries an
// outbound call (least-cost routing by destination prefix over healthy
// gateways with free channels), and which live server takes work (by free
// capacity). It never sticks to a dead endpoint: an outcome that says a
// gateway is down takes it out of rotation at once, and only probing brings
// it back, after consecutive successes.
package routing

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"sync"
	"time"
)

// Gateway is an IP gateway faxd calls through.
type Gateway struct {
	Name        string
	Address     string // SIP URI host[:port]
	MaxChannels int    // simultaneous calls; 0 = unlimited
}

// Route says that numbers starting with Prefix may go through Gateway at
// Cost (any unit, lower is cheaper). Among routes of equal cost, Weight
// shares the calls.
type Route struct {
	Prefix  string
	Gateway string
	Cost    float64
	Weight  int
}

// Outcome is what one call attempt says about the gateway it used.
type Outcome int

const (
	// OK: the gateway carried the call (whatever the fax result was).
	OK Outcome = iota
	// CallFailed: busy, no answer, rejected number: the gateway is fine,
	// the call is retried later by the queue.
	CallFailed
	// GatewayDown: 503, timeout, connection refused, auth failure: the
	// gateway is taken out of rotation now and the call moves to the next
	// candidate at once.
	GatewayDown
)

// HealthPolicy tunes exclusion and re-admission.
type HealthPolicy struct {
	// ReadmitAfter consecutive successful probes bring a down gateway back.
	ReadmitAfter int
	// FailAfter consecutive failed probes take an up gateway out.
	FailAfter int
}

// ErrNoRoute means no configured route matches the number.
var ErrNoRoute = errors.New("routing: no route for this number")

// ErrNoGateway means routes match but every gateway is down or full.
var ErrNoGateway = errors.New("routing: every matching gateway is down or at its channel limit")

// Router holds the routing table and the live state of each gateway.
type Router struct {
	mu       sync.Mutex
	gateways map[string]*gwState
	routes   []Route
	policy   HealthPolicy
	rnd      *rand.Rand
	now      func() time.Time
}

type gwState struct {
	Gateway
	up        bool
	inUse     int
	okProbes  int
	badProbes int
	since     time.Time
	reason    string
}

// New builds a router. Every route must name a configured gateway.
func New(gateways []Gateway, routes []Route, p HealthPolicy) (*Router, error) {
	if p.ReadmitAfter <= 0 {
		p.ReadmitAfter = 3
	}
	if p.FailAfter <= 0 {
		p.FailAfter = 2
	}
	r := &Router{gateways: map[string]*gwState{}, policy: p, rnd: rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1)), now: time.Now}
	if err := r.Update(gateways, routes); err != nil {
		return nil, err
	}
	return r, nil
}

// Update replaces the configuration (an administrator edited gateways or
// routes), keeping the live state of gateways that remain.
func (r *Router) Update(gateways []Gateway, routes []Route) error {
	next := map[string]*gwState{}
	for _, g := range gateways {
		if g.Name == "" || g.Address == "" {
			return fmt.Errorf("routing: gateway %q: name and address are required", g.Name)
		}
		if g.MaxChannels < 0 {
			return fmt.Errorf("routing: gateway %q: negative channel limit", g.Name)
		}
		if _, dup := next[g.Name]; dup {
			return fmt.Errorf("routing: gateway %q configured twice", g.Name)
		}
		next[g.Name] = &gwState{Gateway: g, up: true, since: time.Now()}
	}
	for _, rt := range routes {
		if _, ok := next[rt.Gateway]; !ok {
			return fmt.Errorf("routing: route %q names unknown gateway %q", rt.Prefix, rt.Gateway)
		}
		if strings.Trim(strings.TrimPrefix(rt.Prefix, "+"), "0123456789") != "" {
			return fmt.Errorf("routing: route prefix %q: digits only, optionally after + (empty matches every number)", rt.Prefix)
		}
		if rt.Cost < 0 || rt.Weight < 0 {
			return fmt.Errorf("routing: route %q via %q: negative cost or weight", rt.Prefix, rt.Gateway)
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for name, st := range next {
		if old, ok := r.gateways[name]; ok {
			st.up, st.inUse, st.okProbes, st.badProbes, st.since, st.reason = old.up, old.inUse, old.okProbes, old.badProbes, old.since, old.reason
		}
	}
	r.gateways = next
	r.routes = append([]Route(nil), routes...)
	return nil
}

// Candidates returns the gateways for number, best first: for each gateway
// its longest matching prefix, cheapest first, equal costs shuffled by
// weight; down gateways and full ones are left out.
func (r *Router) Candidates(number string) ([]Gateway, error) {
	number = strings.TrimPrefix(number, "+")
	r.mu.Lock()
	defer r.mu.Unlock()
	best := map[string]Route{}
	for _, rt := range r.routes {
		p := strings.TrimPrefix(rt.Prefix, "+")
		if !strings.HasPrefix(number, p) {
			continue
		}
		if cur, ok := best[rt.Gateway]; !ok || len(p) > len(strings.TrimPrefix(cur.Prefix, "+")) {
			best[rt.Gateway] = rt
		}
	}
	if len(best) == 0 {
		return nil, ErrNoRoute
	}
	type cand struct {
		Route
		key float64
	}
	var cs []cand
	for _, rt := range best {
		st := r.gateways[rt.Gateway]
		if !st.up || (st.MaxChannels > 0 && st.inUse >= st.MaxChannels) {
			continue
		}
		// Weighted shuffle (Efraimidis-Spirakis): larger weight, smaller key.
		w := float64(rt.Weight)
		if w == 0 {
			w = 1
		}
		cs = append(cs, cand{rt, -r.rnd.ExpFloat64() / w})
	}
	if len(cs) == 0 {
		return nil, ErrNoGateway
	}
	sort.Slice(cs, func(i, j int) bool {
		if cs[i].Cost != cs[j].Cost {
			return cs[i].Cost < cs[j].Cost
		}
		return cs[i].key > cs[j].key
	})
	out := make([]Gateway, len(cs))
	for i, c := range cs {
		out[i] = r.gateways[c.Route.Gateway].Gateway
	}
	return out, nil
}

// Acquire takes a channel on the gateway; false when it is full or down.
// Release gives it back. The per-gateway limit holds across all channels
// of this server.
func (r *Router) Acquire(name string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	st, ok := r.gateways[name]
	if !ok || !st.up || (st.MaxChannels > 0 && st.inUse >= st.MaxChannels) {
		return false
	}
	st.inUse++
	return true
}

// Release returns a channel taken by Acquire.
func (r *Router) Release(name string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if st, ok := r.gateways[name]; ok && st.inUse > 0 {
		st.inUse--
	}
}

// Report records a call's outcome. GatewayDown takes the gateway out now.
func (r *Router) Report(name string, o Outcome, reason string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	st, ok := r.gateways[name]
	if !ok {
		return
	}
	if o == GatewayDown && st.up {
		st.up, st.okProbes, st.since, st.reason = false, 0, r.now(), reason
	}
}

// Probed records the result of a probe (SIP OPTIONS). A down gateway comes
// back after ReadmitAfter consecutive successes; an up one goes down after
// FailAfter consecutive failures.
func (r *Router) Probed(name string, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	st, ok := r.gateways[name]
	if !ok {
		return
	}
	if err == nil {
		st.badProbes = 0
		st.okProbes++
		if !st.up && st.okProbes >= r.policy.ReadmitAfter {
			st.up, st.since, st.reason = true, r.now(), ""
		}
		return
	}
	st.okProbes = 0
	st.badProbes++
	if st.up && st.badProbes >= r.policy.FailAfter {
		st.up, st.since, st.reason = false, r.now(), "probe: "+err.Error()
	}
}

// GatewayStatus is one gateway's live state, for the API, console and metrics.
type GatewayStatus struct {
	Gateway
	Up     bool
	InUse  int
	Since  time.Time
	Reason string
}

// Status lists every gateway's state, by name.
func (r *Router) Status() []GatewayStatus {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]GatewayStatus, 0, len(r.gateways))
	for _, st := range r.gateways {
		out = append(out, GatewayStatus{Gateway: st.Gateway, Up: st.up, InUse: st.inUse, Since: st.since, Reason: st.reason})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Prober checks whether a gateway answers (SIP OPTIONS in faxd).
type Prober interface {
	Probe(ctx context.Context, g Gateway) error
}

// ProbeAll probes every gateway once, concurrently, and records the results.
func (r *Router) ProbeAll(ctx context.Context, p Prober) {
	var wg sync.WaitGroup
	for _, st := range r.Status() {
		wg.Add(1)
		go func(g Gateway) {
			defer wg.Done()
			r.Probed(g.Name, p.Probe(ctx, g))
		}(st.Gateway)
	}
	wg.Wait()
}

// RunProber probes every interval until ctx ends.
func (r *Router) RunProber(ctx context.Context, p Prober, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		r.ProbeAll(ctx, p)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Server is a faxd node as the membership table shows it.
type Server struct {
	ID           string
	Address      string
	Role         string // active or standby
	FreeChannels int
	LeaseExpires time.Time
}

// LiveServers returns the active servers whose lease has not expired, most
// free channels first: where new work should go. A server whose lease ran
// out is down and gets nothing.
func LiveServers(servers []Server, now time.Time) []Server {
	var live []Server
	for _, s := range servers {
		if s.Role == "active" && now.Before(s.LeaseExpires) {
			live = append(live, s)
		}
	}
	sort.SliceStable(live, func(i, j int) bool { return live[i].FreeChannels > live[j].FreeChannels })
	return live
}
