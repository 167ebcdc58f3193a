package api

import (
	"context"
	"testing"

	"github.com/faxd/faxd/internal/api/routingcfg"
)

// A gateway's media profile is stored, returned, validated field by
// field, and loaded into the router's probing policy.
func TestGatewayProfile(t *testing.T) {
	e := newEnv(t, Config{})
	r := e.doJSON("POST", "/v1/gateways", e.admin, map[string]any{
		"name": "carrier", "address": "192.0.2.10:5060",
		"profile": map[string]any{"t38_version": 3, "t38_max_datagram": 160, "t38_error_correction": "fec", "ecm": false,
			"max_bit_rate": 9600, "audio_first": true, "vbd": true, "reinvite_wait": "2s", "probe": "off", "retry_ladder": false},
	})
	if r.status != 201 {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	var g routingcfg.Gateway
	r = e.do("GET", "/v1/gateways/carrier", e.admin, nil, "")
	r.json(t, &g)
	p := g.Profile
	if p.T38Version == nil || *p.T38Version != 3 || p.T38MaxDatagram != 160 || p.T38ErrorCorrection != "fec" || p.ECM == nil || *p.ECM ||
		p.MaxBitRate != 9600 || !p.AudioFirst || !p.VBD || p.ReinviteWait != "2s" || p.Probe != "off" || p.RetryLadder == nil || *p.RetryLadder {
		t.Fatalf("profile read back: %s", r.body)
	}
	gws, _, err := routingcfg.New(e.pool).Load(context.Background())
	if err != nil || len(gws) != 1 || gws[0].Probe.Mode != "off" {
		t.Fatalf("loaded for the router: %+v %v", gws, err)
	}

	r = e.doJSON("PUT", "/v1/gateways/carrier", e.admin, map[string]any{
		"address": "192.0.2.10", "profile": map[string]any{"t38_version": 5, "max_bit_rate": 5000, "reinvite_wait": "soon", "probe": "ping"},
	})
	if r.status != 400 {
		t.Fatalf("bad profile: %d %s", r.status, r.body)
	}
	prob := r.problem(t)
	for _, want := range []string{"profile.reinvite_wait", "profile.t38_version 5", "profile.max_bit_rate 5000", `profile.probe "ping"`} {
		found := false
		for _, pe := range prob.Errors {
			if len(pe) >= len(want) && pe[:len(want)] == want {
				found = true
			}
		}
		if !found {
			t.Errorf("errors lack %q: %v", want, prob.Errors)
		}
	}
}
