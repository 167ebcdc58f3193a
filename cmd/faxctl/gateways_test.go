package main

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestGatewaysHealth(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != "GET" || r.URL.Path != "/v1/gateway-health" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"node":"fax-a","gateways":[
			{"name":"gw1","address":"192.0.2.1","up":false,"in_use":0,"max_channels":30,"since":"2025-03-01T12:00:00Z",
			 "reason":"probe: OPTIONS gw1: answered 503","probe":"options","last_probe":"2025-03-01T12:00:05Z","last_probe_error":"OPTIONS gw1: answered 503","ignores_probes":false},
			{"name":"gw2","address":"192.0.2.2","up":true,"in_use":3,"max_channels":0,"since":"2025-03-01T11:00:00Z","probe":"options","ignores_probes":true}]}`))
	}))
	defer srv.Close()
	var out, errb bytes.Buffer
	if rc := run([]string{"-server", srv.URL, "-token", "tok", "gateways", "health"}, &out, &errb); rc != 0 {
		t.Fatalf("rc=%d err=%q", rc, errb.String())
	}
	lines := strings.Split(out.String(), "\n")
	if len(lines) < 4 || lines[0] != "as seen by fax-a" {
		t.Fatalf("output:\n%s", out.String())
	}
	for _, want := range []string{"gw1", "DOWN", "2025-03-01 12:00:00Z", "0/30", "probe: OPTIONS gw1: answered 503"} {
		if !strings.Contains(lines[2], want) {
			t.Errorf("gw1 line lacks %q: %q", want, lines[2])
		}
	}
	for _, want := range []string{"gw2", "up", "options (ignored: calls decide)"} {
		if !strings.Contains(lines[3], want) {
			t.Errorf("gw2 line lacks %q: %q", want, lines[3])
		}
	}
	if rc := run([]string{"-server", srv.URL, "gateways", "bogus"}, &out, &errb); rc != 2 {
		t.Fatalf("bogus subcommand: rc=%d", rc)
	}
}
