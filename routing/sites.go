package routing

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"
)

// Sites: every node belongs to a site (a data centre, an office). A
// gateway or route may be reachable from some sites only (Sites) and may
// cost more from some than from others (SiteCosts, added to the route's
// cost). The router of a node uses only what its own site reaches, and
// PreferredSite tells the queue which site should send a number's fax.

// Window is a cost period of a route: from From to To (offsets from
// local midnight in the router's time zone; To at or before From runs
// past midnight) on Days (none: every day), the route costs Cost instead
// of its base cost. Cheap-rate periods are windows with a lower cost.
type Window struct {
	Days     []time.Weekday
	From, To time.Duration
	Cost     float64
}

func (w Window) validate() error {
	if w.From < 0 || w.From >= 24*time.Hour || w.To < 0 || w.To > 24*time.Hour {
		return fmt.Errorf("window %s-%s: times must lie within 00:00-24:00", clock(w.From), clock(w.To))
	}
	if w.Cost < 0 {
		return fmt.Errorf("window %s-%s: negative cost", clock(w.From), clock(w.To))
	}
	return nil
}

func (w Window) length() time.Duration {
	if w.To <= w.From {
		return w.To + 24*time.Hour - w.From
	}
	return w.To - w.From
}

func clock(d time.Duration) string {
	return fmt.Sprintf("%02d:%02d", int(d.Hours()), int(d.Minutes())%60)
}

// startOn is the window's start on the calendar day of day (in loc), or
// false when it does not run that day. Built with time.Date so that a
// daylight-saving change keeps wall-clock times.
func (w Window) startOn(day time.Time, loc *time.Location) (time.Time, bool) {
	if len(w.Days) > 0 && !slices.Contains(w.Days, day.Weekday()) {
		return time.Time{}, false
	}
	y, m, d := day.Date()
	return time.Date(y, m, d, int(w.From.Hours()), int(w.From.Minutes())%60, 0, 0, loc), true
}

// covers reports whether t lies in the window.
func (w Window) covers(t time.Time, loc *time.Location) bool {
	t = t.In(loc)
	for back := 0; back <= 1; back++ { // a window may have begun the day before
		if s, ok := w.startOn(t.AddDate(0, 0, -back), loc); ok && !t.Before(s) && t.Before(s.Add(w.length())) {
			return true
		}
	}
	return false
}

// nextStart is the first start of the window at or after t.
func (w Window) nextStart(t time.Time, loc *time.Location) (time.Time, bool) {
	t = t.In(loc)
	for ahead := 0; ahead <= 7; ahead++ {
		if s, ok := w.startOn(t.AddDate(0, 0, ahead), loc); ok && !s.Before(t) {
			return s, true
		}
	}
	return time.Time{}, false
}

// costAt is the route's cost at t: the cheapest window covering t, or the
// base cost.
func (rt Route) costAt(t time.Time, loc *time.Location) float64 {
	c := rt.Cost
	for _, w := range rt.Windows {
		if w.Cost < c && w.covers(t, loc) {
			c = w.Cost
		}
	}
	return c
}

func allows(sites []string, site string) bool {
	return len(sites) == 0 || site == "" || slices.Contains(sites, site)
}

// siteCost is the cost of rt through gw from site at t, and whether site
// reaches it at all. A node without a site ("") reaches everything.
func siteCost(rt Route, gw Gateway, site string, t time.Time, loc *time.Location) (float64, bool) {
	if !allows(gw.Sites, site) || !allows(rt.Sites, site) {
		return 0, false
	}
	return rt.costAt(t, loc) + gw.SiteCosts[site] + rt.SiteCosts[site], true
}

// SetSite makes the router choose only gateways and routes its site
// reaches, at that site's costs. "" (the default) reaches all.
func (r *Router) SetSite(site string) {
	r.mu.Lock()
	r.site = site
	r.mu.Unlock()
}

// SetClock replaces the router's clock (tests use a fake one).
func (r *Router) SetClock(now func() time.Time) {
	r.mu.Lock()
	r.now = now
	r.mu.Unlock()
}

// SetLocation sets the time zone of cost windows; default UTC.
func (r *Router) SetLocation(loc *time.Location) {
	r.mu.Lock()
	r.loc = loc
	r.mu.Unlock()
}

func (r *Router) location() *time.Location {
	if r.loc == nil {
		return time.UTC
	}
	return r.loc
}

// matching returns, per gateway, the longest-prefix route for number.
// Called with r.mu held.
func (r *Router) matching(number string) map[string]Route {
	number = strings.TrimPrefix(number, "+")
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
	return best
}

// Sites lists every site the gateways and routes name, sorted.
func (r *Router) Sites() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.sites()
}

func (r *Router) sites() []string {
	set := map[string]bool{}
	add := func(list []string, costs map[string]float64) {
		for _, s := range list {
			set[s] = true
		}
		for s := range costs {
			set[s] = true
		}
	}
	for _, g := range r.gateways {
		add(g.Sites, g.SiteCosts)
	}
	for _, rt := range r.routes {
		add(rt.Sites, rt.SiteCosts)
	}
	out := make([]string, 0, len(set))
	for s := range set {
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}

// PreferredSite is the site with the cheapest healthy route for number
// now, which should send its fax; "" when no gateway or route names a
// site, when several sites tie, or when no site reaches the number.
func (r *Router) PreferredSite(number string) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	sites := r.sites()
	if len(sites) == 0 {
		return ""
	}
	now, loc := r.now(), r.location()
	routes := r.matching(number)
	best, bestCost, tie := "", 0.0, false
	for _, s := range sites {
		cost, found := 0.0, false
		for _, rt := range routes {
			st := r.gateways[rt.Gateway]
			if st == nil || !st.up {
				continue
			}
			if c, ok := siteCost(rt, st.Gateway, s, now, loc); ok && (!found || c < cost) {
				cost, found = c, true
			}
		}
		switch {
		case !found:
		case best == "" || cost < bestCost:
			best, bestCost, tie = s, cost, false
		case cost == bestCost:
			tie = true
		}
	}
	if tie {
		return ""
	}
	return best
}

// NextCheapWindow is when a fax to number should go if it waits for a
// cheap-rate period: now when the best route (the cheapest at its base
// cost from this router's site) has no windows or is in its cheapest
// window now, otherwise the next start of one of its windows cheaper than
// its base cost.
func (r *Router) NextCheapWindow(number string) (time.Time, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	now, loc := r.now(), r.location()
	var route Route
	found := false
	for _, rt := range r.matching(number) {
		st := r.gateways[rt.Gateway]
		if st == nil || !allows(st.Sites, r.site) || !allows(rt.Sites, r.site) {
			continue
		}
		if !found || rt.Cost < route.Cost || (rt.Cost == route.Cost && rt.Gateway < route.Gateway) {
			route, found = rt, true
		}
	}
	if !found {
		return time.Time{}, ErrNoRoute
	}
	next := time.Time{}
	for _, w := range route.Windows {
		if w.Cost >= route.Cost {
			continue
		}
		if w.covers(now, loc) {
			return now, nil
		}
		if s, ok := w.nextStart(now, loc); ok && (next.IsZero() || s.Before(next)) {
			next = s
		}
	}
	if next.IsZero() {
		return now, nil
	}
	return next, nil
}
