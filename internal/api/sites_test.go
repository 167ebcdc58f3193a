package api

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/faxd/faxd/internal/api/routingcfg"
	"github.com/faxd/faxd/routing"
)

// Sites, site costs and cost windows set through /v1/gateways and
// /v1/routes are stored, read back, and loaded into the router, where
// they decide the preferred site and the cost by time of day.
func TestRoutingSitesThroughAPI(t *testing.T) {
	e := newEnv(t, Config{})
	for _, gw := range []map[string]any{
		{"name": "berlin", "address": "192.0.2.10", "sites": []string{"ber"}},
		{"name": "paris", "address": "192.0.2.20", "sites": []string{"par", "ber"}, "site_costs": map[string]float64{"ber": 0.5}},
	} {
		if r := e.doJSON("POST", "/v1/gateways", e.admin, gw); r.status != 201 {
			t.Fatalf("create gateway: %d %s", r.status, r.body)
		}
	}
	// Berlin's route costs 1, but 0.1 in the evening on weekdays; Paris's
	// costs 0.8 from par and 1.3 from ber.
	r := e.doJSON("POST", "/v1/routes", e.admin, map[string]any{
		"prefix": "+49", "gateway": "berlin", "cost": 1, "sites": []string{"ber"},
		"windows": []map[string]any{{"days": []string{"mon", "tue", "wed", "thu", "fri"}, "from": "18:00", "to": "08:00", "cost": 0.1}},
	})
	if r.status != 201 {
		t.Fatalf("create route: %d %s", r.status, r.body)
	}
	var berlin routingcfg.Route
	r.json(t, &berlin)
	r = e.doJSON("POST", "/v1/routes", e.admin, map[string]any{
		"prefix": "+49", "gateway": "paris", "cost": 0.8, "site_costs": map[string]float64{"par": 0},
	})
	if r.status != 201 {
		t.Fatalf("create route: %d %s", r.status, r.body)
	}

	var g routingcfg.Gateway
	e.do("GET", "/v1/gateways/paris", e.admin, nil, "").json(t, &g)
	if strings.Join(g.Sites, ",") != "par,ber" || g.SiteCosts["ber"] != 0.5 {
		t.Fatalf("gateway read back: %+v", g)
	}
	var rt routingcfg.Route
	e.do("GET", "/v1/routes/"+strconv.FormatInt(berlin.ID, 10), e.admin, nil, "").json(t, &rt)
	if len(rt.Windows) != 1 || rt.Windows[0].From != "18:00" || rt.Windows[0].Cost != 0.1 || len(rt.Windows[0].Days) != 5 || strings.Join(rt.Sites, ",") != "ber" {
		t.Fatalf("route read back: %+v", rt)
	}

	gws, rts, err := routingcfg.New(e.pool).Load(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	router, err := routing.New(gws, rts, routing.HealthPolicy{})
	if err != nil {
		t.Fatal(err)
	}
	// Tuesday 2026-03-03 at noon (UTC): berlin costs 1 from ber, paris
	// 0.8 from par: par is preferred. At 20:00 berlin's window (0.1) wins.
	now := time.Date(2026, 3, 3, 12, 0, 0, 0, time.UTC)
	router.SetClock(func() time.Time { return now })
	if s := router.PreferredSite("+4930123"); s != "par" {
		t.Fatalf("noon: preferred site %q, want par", s)
	}
	now = time.Date(2026, 3, 3, 20, 0, 0, 0, time.UTC)
	if s := router.PreferredSite("+4930123"); s != "ber" {
		t.Fatalf("evening: preferred site %q, want ber", s)
	}
	// From par, berlin is out of reach (its gateway and route are ber's).
	router.SetSite("par")
	cands, err := router.Candidates("+4930123")
	if err != nil || len(cands) != 1 || cands[0].Name != "paris" {
		t.Fatalf("candidates from par: %+v %v", cands, err)
	}

	// Updating the route without the fields clears them.
	r = e.doJSON("PUT", "/v1/routes/"+strconv.FormatInt(berlin.ID, 10), e.admin, map[string]any{"prefix": "+49", "gateway": "berlin", "cost": 1})
	if r.status != 200 {
		t.Fatalf("update: %d %s", r.status, r.body)
	}
	r.json(t, &rt)
	if len(rt.Windows) != 0 || len(rt.Sites) != 0 || rt.SiteCosts == nil {
		t.Fatalf("after update: %s", r.body)
	}
}

// Bad sites, site costs and windows are refused with 400, each problem
// naming its field, and nothing is stored.
func TestRoutingSitesValidation(t *testing.T) {
	e := newEnv(t, Config{})
	r := e.doJSON("POST", "/v1/gateways", e.admin, map[string]any{
		"name": "gw", "address": "192.0.2.10", "sites": []string{"ok", "bad site", "ok"}, "site_costs": map[string]float64{"ok": -1},
	})
	wantProblems(t, r, "sites[1]", "sites[2]", "site_costs.ok")
	if r := e.doJSON("POST", "/v1/gateways", e.admin, map[string]any{"name": "gw", "address": "192.0.2.10"}); r.status != 201 {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	r = e.doJSON("POST", "/v1/routes", e.admin, map[string]any{
		"prefix": "1", "gateway": "gw", "site_costs": map[string]float64{"-x": 1},
		"windows": []map[string]any{
			{"from": "25:00", "to": "08:00", "cost": 0.1},
			{"days": []string{"someday"}, "from": "18:00", "to": "08:00", "cost": 0.1},
			{"from": "18:00", "to": "08:00", "cost": -2},
		},
	})
	wantProblems(t, r, `site_costs "-x"`, "windows[0]: from", "windows[1]: day", "windows[2]: negative cost")
	var list struct{ Routes []routingcfg.Route }
	e.do("GET", "/v1/routes", e.admin, nil, "").json(t, &list)
	if len(list.Routes) != 0 {
		t.Fatalf("a refused route was stored: %+v", list.Routes)
	}
}

func wantProblems(t *testing.T, r *response, prefixes ...string) {
	t.Helper()
	if r.status != 400 {
		t.Fatalf("status %d, want 400: %s", r.status, r.body)
	}
	prob := r.problem(t)
	for _, want := range prefixes {
		found := false
		for _, pe := range prob.Errors {
			if strings.HasPrefix(pe, want) {
				found = true
			}
		}
		if !found {
			t.Errorf("errors lack %q: %v", want, prob.Errors)
		}
	}
}
