// Package routing decides where a fax goes: which gateway carries an
// outbound call (least-cost routing by destination prefix over healthy
// gateways with free channels), and which live server takes work (by free
// capacity). It never sticks to a dead endpoint: an outcome that says a
// gateway is down takes it out of rotation at once, and only probing brings
// it back, after consecutive successes.
package routing

import (
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
	// Probe overrides the router's HealthPolicy for this gateway.
	Probe ProbePolicy
	// Sites that reach the gateway (none: every site); SiteCosts adds a
	// cost per site to every route through it.
	Sites     []string
	SiteCosts map[string]float64
}

// Route says that numbers starting with Prefix may go through Gateway at
// Cost (any unit, lower is cheaper). Among routes of equal cost, Weight
// shares the calls.
type Route struct {
	Prefix  string
	Gateway string
	Cost    float64
	Weight  int
	// Sites that may use the route (none: every site); SiteCosts adds a
	// cost per site; Windows change the cost by time of day and weekday.
	Sites     []string
	SiteCosts map[string]float64
	Windows   []Window
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
	onChange func(Transition)
	site     string         // this node's site; "" reaches everything
	loc      *time.Location // of cost windows; nil is UTC
}

type gwState struct {
	Gateway
	up        bool
	inUse     int
	okProbes  int
	badProbes int
	since     time.Time
	reason    string
	// probeOK: the gateway has answered a probe at least once; callOK: it
	// has carried a call. A gateway that carries calls but never answers
	// probes (many ignore or rate-limit OPTIONS) is judged by calls alone.
	probeOK, callOK bool
	lastProbe       time.Time
	lastProbeErr    string
	nextProbe       time.Time
	probing         bool
}

// New builds a router. Every route must name a configured gateway.
func New(gateways []Gateway, routes []Route, p HealthPolicy) (*Router, error) {
	p.setDefaults()
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
		if err := g.Probe.Validate(); err != nil {
			return fmt.Errorf("routing: gateway %q: %w", g.Name, err)
		}
		for s, c := range g.SiteCosts {
			if c < 0 {
				return fmt.Errorf("routing: gateway %q: site_costs %q: negative cost", g.Name, s)
			}
		}
		if _, dup := next[g.Name]; dup {
			return fmt.Errorf("routing: gateway %q configured twice", g.Name)
		}
		next[g.Name] = &gwState{Gateway: g, up: true, since: r.now()}
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
		for _, w := range rt.Windows {
			if err := w.validate(); err != nil {
				return fmt.Errorf("routing: route %q via %q: %w", rt.Prefix, rt.Gateway, err)
			}
		}
		for s, c := range rt.SiteCosts {
			if c < 0 {
				return fmt.Errorf("routing: route %q via %q: site_costs %q: negative cost", rt.Prefix, rt.Gateway, s)
			}
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for name, st := range next {
		if old, ok := r.gateways[name]; ok {
			g := st.Gateway
			*st = *old
			st.Gateway = g
			if g.Probe != old.Probe {
				st.nextProbe = time.Time{} // a changed policy takes effect at once
			}
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
	r.mu.Lock()
	defer r.mu.Unlock()
	best := r.matching(number)
	now, loc := r.now(), r.location()
	for gw, rt := range best {
		c, ok := siteCost(rt, r.gateways[rt.Gateway].Gateway, r.site, now, loc)
		if !ok {
			delete(best, gw) // not reachable from this node's site
			continue
		}
		rt.Cost = c
		best[gw] = rt
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
