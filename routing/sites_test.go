package routing

import (
	"errors"
	"testing"
	"time"
)

func twoSites(t *testing.T) *Router {
	t.Helper()
	r, err := New([]Gateway{
		{Name: "gwA", Address: "a.example:5060", MaxChannels: 10, Sites: []string{"a"}},
		{Name: "gwB", Address: "b.example:5060", MaxChannels: 10, SiteCosts: map[string]float64{"a": 5, "b": 1}},
	}, []Route{
		{Prefix: "+49", Gateway: "gwA", Cost: 2},
		{Prefix: "+49", Gateway: "gwB", Cost: 2},
		{Prefix: "+33", Gateway: "gwB", Cost: 1},
	}, HealthPolicy{})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func gwNames(gs []Gateway) []string {
	var out []string
	for _, g := range gs {
		out = append(out, g.Name)
	}
	return out
}

// A gateway limited to site a is never a candidate at site b; site costs
// reorder the candidates per site; PreferredSite names the cheapest site.
func TestSites(t *testing.T) {
	r := twoSites(t)
	if got := r.Sites(); len(got) != 2 || got[0] != "a" || got[1] != "b" {
		t.Fatalf("sites %v", got)
	}
	r.SetSite("a")
	if got, _ := r.Candidates("+4930123"); len(got) != 2 || got[0].Name != "gwA" {
		t.Fatalf("site a: %v, want gwA (2) before gwB (2+5)", gwNames(got))
	}
	r.SetSite("b")
	if got, _ := r.Candidates("+4930123"); len(got) != 1 || got[0].Name != "gwB" {
		t.Fatalf("site b: %v, want gwB only", gwNames(got))
	}
	// +49: a costs 2 (gwA), b costs 3 (gwB): a. +33: only gwB, a 6, b 2: b.
	if s := r.PreferredSite("+4930123"); s != "a" {
		t.Fatalf("preferred for +49: %q", s)
	}
	if s := r.PreferredSite("+3312"); s != "b" {
		t.Fatalf("preferred for +33: %q", s)
	}
	// gwA down: b (3) is now cheaper than a through gwB (7).
	r.Report("gwA", GatewayDown, "503")
	if s := r.PreferredSite("+4930123"); s != "b" {
		t.Fatalf("preferred with gwA down: %q", s)
	}
	if s := r.PreferredSite("+1555"); s != "" {
		t.Fatalf("no route: %q", s)
	}
	// Without any site in the configuration there is no preference.
	plain, err := New([]Gateway{{Name: "g", Address: "g:5060"}}, []Route{{Gateway: "g"}}, HealthPolicy{})
	if err != nil {
		t.Fatal(err)
	}
	if s := plain.PreferredSite("+4930"); s != "" {
		t.Fatalf("no sites: %q", s)
	}
}

// Cost windows on a fake clock: the night window makes a route cheapest
// only at night, and NextCheapWindow schedules for its next start.
func TestCostWindows(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatalf("time zone data: %v", err)
	}
	r, err := New([]Gateway{{Name: "day", Address: "d:5060"}, {Name: "night", Address: "n:5060"}}, []Route{
		{Prefix: "", Gateway: "day", Cost: 3},
		{Prefix: "", Gateway: "night", Cost: 5, Windows: []Window{
			{From: 22 * time.Hour, To: 6 * time.Hour, Cost: 1}, // across midnight, every day
			{Days: []time.Weekday{time.Saturday, time.Sunday}, From: 0, To: 24 * time.Hour, Cost: 2},
		}},
	}, HealthPolicy{})
	if err != nil {
		t.Fatal(err)
	}
	r.SetLocation(berlin)
	clk := &fakeClock{t: time.Date(2026, 3, 4, 12, 0, 0, 0, berlin)} // a Wednesday noon
	r.SetClock(clk.now)
	first := func() string {
		t.Helper()
		c, err := r.Candidates("+4930")
		if err != nil {
			t.Fatal(err)
		}
		return c[0].Name
	}
	if g := first(); g != "day" {
		t.Fatalf("noon: %s", g)
	}
	// Night routes are priced on the night.
	clk.t = time.Date(2026, 3, 4, 23, 30, 0, 0, berlin)
	if g := first(); g != "night" {
		t.Fatalf("23:30: %s", g)
	}
	clk.t = time.Date(2026, 3, 5, 5, 59, 0, 0, berlin)
	if g := first(); g != "night" {
		t.Fatalf("05:59 (window begun the day before): %s", g)
	}
	clk.t = time.Date(2026, 3, 5, 6, 0, 0, 0, berlin)
	if g := first(); g != "day" {
		t.Fatalf("06:00: %s", g)
	}
	clk.t = time.Date(2026, 3, 7, 12, 0, 0, 0, berlin) // Saturday
	if g := first(); g != "night" {
		t.Fatalf("Saturday noon: %s", g)
	}

	// The best route at base cost is "day", which has no windows: now.
	clk.t = time.Date(2026, 3, 4, 12, 0, 0, 0, berlin)
	if at, err := r.NextCheapWindow("+4930"); err != nil || !at.Equal(clk.t) {
		t.Fatalf("no windows: %v %v", at, err)
	}
	// With only the night route: Wednesday noon waits for 22:00.
	if err := r.Update([]Gateway{{Name: "night", Address: "n:5060"}}, []Route{{Prefix: "", Gateway: "night", Cost: 5, Windows: []Window{
		{From: 22 * time.Hour, To: 6 * time.Hour, Cost: 1},
		{Days: []time.Weekday{time.Saturday}, From: 8 * time.Hour, To: 12 * time.Hour, Cost: 2},
	}}}); err != nil {
		t.Fatal(err)
	}
	want := time.Date(2026, 3, 4, 22, 0, 0, 0, berlin)
	if at, _ := r.NextCheapWindow("+4930"); !at.Equal(want) {
		t.Fatalf("next cheap window %v, want %v", at, want)
	}
	clk.t = time.Date(2026, 3, 5, 2, 0, 0, 0, berlin) // inside: now
	if at, _ := r.NextCheapWindow("+4930"); !at.Equal(clk.t) {
		t.Fatalf("inside the window: %v", at)
	}
	// Across a daylight-saving change (29 March 2026 in Berlin) the window
	// still starts at 22:00 wall-clock time.
	clk.t = time.Date(2026, 3, 29, 12, 0, 0, 0, berlin)
	want = time.Date(2026, 3, 29, 22, 0, 0, 0, berlin)
	if at, _ := r.NextCheapWindow("+4930"); !at.Equal(want) || at.Sub(clk.t) != 10*time.Hour {
		t.Fatalf("DST day: %v, want %v", at, want)
	}
	empty, _ := New(nil, nil, HealthPolicy{})
	if _, err := empty.NextCheapWindow("+4930"); !errors.Is(err, ErrNoRoute) {
		t.Fatalf("no route: %v", err)
	}
	// Bad windows are refused, naming the window.
	if err := r.Update([]Gateway{{Name: "g", Address: "g:1"}}, []Route{{Gateway: "g", Windows: []Window{{From: 25 * time.Hour}}}}); err == nil {
		t.Fatal("window at 25:00 accepted")
	}
}
