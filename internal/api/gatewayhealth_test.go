package api

import (
	"errors"
	"testing"
	"time"

	"github.com/faxd/faxd/routing"
)

// GET /v1/gateway-health shows the router's live view: a down gateway
// with since when and why, the latest probe, and the node that answered.
func TestGatewayHealth(t *testing.T) {
	e := newEnv(t, Config{})
	if r := e.do("GET", "/v1/gateway-health", e.admin, nil, ""); r.status != 503 {
		t.Fatalf("without channels: %d %s", r.status, r.body)
	}
	router, err := routing.New([]routing.Gateway{
		{Name: "gw-a", Address: "192.0.2.1:5060", MaxChannels: 30},
		{Name: "gw-b", Address: "192.0.2.2", Probe: routing.ProbePolicy{Mode: routing.ProbeOff}},
	}, []routing.Route{{Gateway: "gw-a"}, {Gateway: "gw-b"}}, routing.HealthPolicy{FailAfter: 1})
	if err != nil {
		t.Fatal(err)
	}
	router.Probed("gw-a", errors.New("OPTIONS gw-a: answered 503"))
	router.Report("gw-b", routing.GatewayDown, "INVITE timeout")
	e.api.health = router

	var got struct {
		Node     string              `json:"node"`
		Gateways []GatewayHealthJSON `json:"gateways"`
	}
	r := e.do("GET", "/v1/gateway-health", e.admin, nil, "")
	r.json(t, &got)
	if r.status != 200 || len(got.Gateways) != 2 {
		t.Fatalf("%d %s", r.status, r.body)
	}
	a, b := got.Gateways[0], got.Gateways[1]
	if a.Name != "gw-a" || a.Up || a.Reason != "probe: OPTIONS gw-a: answered 503" || a.Probe != "options" ||
		a.LastProbe == nil || a.LastProbeError == "" || a.MaxChannels != 30 || time.Since(a.Since) > time.Hour {
		t.Errorf("gw-a: %+v", a)
	}
	if b.Name != "gw-b" || b.Up || b.Reason != "INVITE timeout" || b.Probe != "off" || b.LastProbe != nil {
		t.Errorf("gw-b: %+v", b)
	}
	if r := e.do("GET", "/v1/gateway-health", e.sub, nil, ""); r.status != 403 {
		t.Fatalf("submitter: %d", r.status)
	}
}
