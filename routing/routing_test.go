package routing

import (
	"context"
	"errors"
	"math/rand/v2"
	"testing"
	"time"
)

func names(gs []Gateway) []string {
	var out []string
	for _, g := range gs {
		out = append(out, g.Name)
	}
	return out
}

func mustRouter(t *testing.T, gws []Gateway, routes []Route) *Router {
	t.Helper()
	r, err := New(gws, routes, HealthPolicy{ReadmitAfter: 3, FailAfter: 2})
	if err != nil {
		t.Fatal(err)
	}
	r.rnd = rand.New(rand.NewPCG(1, 2))
	return r
}

var gws = []Gateway{
	{Name: "cheap", Address: "10.0.0.1", MaxChannels: 2},
	{Name: "mid", Address: "10.0.0.2"},
	{Name: "dear", Address: "10.0.0.3"},
}

func TestLeastCostByLongestPrefix(t *testing.T) {
	r := mustRouter(t, gws, []Route{
		{Prefix: "", Gateway: "dear", Cost: 9},
		{Prefix: "+44", Gateway: "mid", Cost: 5},
		{Prefix: "4420", Gateway: "mid", Cost: 2}, // longer prefix wins for mid
		{Prefix: "4420", Gateway: "cheap", Cost: 3},
		{Prefix: "33", Gateway: "cheap", Cost: 1},
	})
	got, err := r.Candidates("+442071234567")
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"mid", "cheap", "dear"}; !equal(names(got), want) {
		t.Errorf("London: %v, want %v", names(got), want)
	}
	got, _ = r.Candidates("33123")
	if want := []string{"cheap", "dear"}; !equal(names(got), want) {
		t.Errorf("Paris: %v, want %v", names(got), want)
	}
	r2 := mustRouter(t, gws, []Route{{Prefix: "1", Gateway: "mid"}})
	if _, err := r2.Candidates("44"); !errors.Is(err, ErrNoRoute) {
		t.Errorf("err = %v, want ErrNoRoute", err)
	}
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// Equal-cost routes share calls by weight.
func TestWeightsShareEqualCost(t *testing.T) {
	r := mustRouter(t, gws, []Route{
		{Prefix: "1", Gateway: "mid", Cost: 1, Weight: 3},
		{Prefix: "1", Gateway: "dear", Cost: 1, Weight: 1},
	})
	first := map[string]int{}
	const n = 20000
	for i := 0; i < n; i++ {
		c, _ := r.Candidates("1555")
		first[c[0].Name]++
	}
	share := float64(first["mid"]) / n
	if share < 0.72 || share > 0.78 {
		t.Errorf("mid got %.3f of first choices, want about 0.75", share)
	}
}

// A gateway that says it is down leaves rotation at once; a busy or
// unanswered call does not touch it. Probes bring it back only after
// ReadmitAfter consecutive successes.
func TestDownGatewayExcludedUntilReadmitted(t *testing.T) {
	r := mustRouter(t, gws, []Route{{Gateway: "cheap", Cost: 1}, {Gateway: "mid", Cost: 2}})
	r.Report("cheap", CallFailed, "486 busy")
	if c, _ := r.Candidates("1"); c[0].Name != "cheap" {
		t.Fatal("busy call took the gateway out")
	}
	r.Report("cheap", GatewayDown, "503")
	if c, _ := r.Candidates("1"); !equal(names(c), []string{"mid"}) {
		t.Fatalf("down gateway still offered: %v", names(c))
	}
	if r.Acquire("cheap") {
		t.Fatal("acquired a down gateway")
	}
	r.Probed("cheap", nil)
	r.Probed("cheap", nil)
	r.Probed("cheap", errors.New("timeout")) // resets the run
	r.Probed("cheap", nil)
	r.Probed("cheap", nil)
	if c, _ := r.Candidates("1"); len(c) != 1 {
		t.Fatal("readmitted before 3 consecutive successes")
	}
	r.Probed("cheap", nil)
	if c, _ := r.Candidates("1"); c[0].Name != "cheap" {
		t.Fatal("not readmitted after 3 consecutive successes")
	}
	// Two failed probes take an up gateway out.
	r.Probed("mid", errors.New("timeout"))
	if st := status(r, "mid"); !st.Up {
		t.Fatal("one failed probe took mid out")
	}
	r.Probed("mid", errors.New("timeout"))
	if st := status(r, "mid"); st.Up || st.Reason == "" {
		t.Fatalf("mid status %+v", st)
	}
	r.Report("cheap", GatewayDown, "timeout")
	if _, err := r.Candidates("1"); !errors.Is(err, ErrNoGateway) {
		t.Fatalf("err = %v, want ErrNoGateway", err)
	}
}

func TestChannelLimit(t *testing.T) {
	r := mustRouter(t, gws, []Route{{Gateway: "cheap", Cost: 1}, {Gateway: "mid", Cost: 2}})
	if !r.Acquire("cheap") || !r.Acquire("cheap") {
		t.Fatal("could not take 2 channels")
	}
	if r.Acquire("cheap") {
		t.Fatal("took a third channel on a 2-channel gateway")
	}
	if c, _ := r.Candidates("1"); c[0].Name != "mid" {
		t.Fatal("full gateway offered first")
	}
	r.Release("cheap")
	if c, _ := r.Candidates("1"); c[0].Name != "cheap" {
		t.Fatal("freed gateway not offered")
	}
	r.Release("cheap")
	r.Release("cheap") // extra releases are harmless
	if st := status(r, "cheap"); st.InUse != 0 {
		t.Fatalf("in use %d", st.InUse)
	}
}

func status(r *Router, name string) GatewayStatus {
	for _, st := range r.Status() {
		if st.Name == name {
			return st
		}
	}
	return GatewayStatus{}
}

func TestUpdateKeepsStateAndValidates(t *testing.T) {
	r := mustRouter(t, gws, []Route{{Gateway: "cheap"}})
	r.Report("cheap", GatewayDown, "503")
	if err := r.Update(gws, []Route{{Prefix: "+1", Gateway: "cheap"}, {Prefix: "1", Gateway: "mid"}}); err != nil {
		t.Fatal(err)
	}
	if c, _ := r.Candidates("1"); !equal(names(c), []string{"mid"}) {
		t.Fatalf("state lost across update: %v", names(c))
	}
	for _, bad := range []struct {
		g []Gateway
		r []Route
	}{
		{[]Gateway{{Name: "a"}}, nil},
		{[]Gateway{{Name: "a", Address: "x"}, {Name: "a", Address: "y"}}, nil},
		{gws, []Route{{Gateway: "nope"}}},
		{gws, []Route{{Prefix: "44x", Gateway: "mid"}}},
		{gws, []Route{{Prefix: "44", Gateway: "mid", Cost: -1}}},
	} {
		if err := r.Update(bad.g, bad.r); err == nil {
			t.Errorf("accepted %+v %+v", bad.g, bad.r)
		}
	}
}

type proberFunc func(Gateway) error

func (f proberFunc) Probe(_ context.Context, g Gateway) error { return f(g) }

func TestProbeAll(t *testing.T) {
	r := mustRouter(t, gws, []Route{{Gateway: "cheap"}, {Gateway: "mid"}, {Gateway: "dear"}})
	p := proberFunc(func(g Gateway) error {
		if g.Name == "dear" {
			return errors.New("no answer")
		}
		return nil
	})
	r.ProbeAll(context.Background(), p)
	r.ProbeAll(context.Background(), p)
	c, _ := r.Candidates("1")
	if len(c) != 2 {
		t.Fatalf("after two failed probes dear should be out: %v", names(c))
	}
}

func TestLiveServers(t *testing.T) {
	now := time.Now()
	got := LiveServers([]Server{
		{ID: "a", Role: "active", FreeChannels: 2, LeaseExpires: now.Add(time.Second)},
		{ID: "dead", Role: "active", FreeChannels: 30, LeaseExpires: now.Add(-time.Second)},
		{ID: "b", Role: "active", FreeChannels: 7, LeaseExpires: now.Add(time.Second)},
		{ID: "sb", Role: "standby", FreeChannels: 30, LeaseExpires: now.Add(time.Second)},
	}, now)
	if len(got) != 2 || got[0].ID != "b" || got[1].ID != "a" {
		t.Fatalf("%+v", got)
	}
}
