package api

import (
	"strings"
	"testing"
)

// A callback_url or webhook URL naming an internal address is refused
// when it is submitted, with a 422 naming the field, and nothing is
// stored; a public host and an allowed one pass.
func TestInternalURLsRefusedAtSubmission(t *testing.T) {
	e := newEnv(t, Config{})
	for _, u := range []string{"http://127.0.0.1:8080/cb", "http://[::1]:9000/cb", "http://169.254.169.254/latest/meta-data/",
		"http://10.1.2.3/cb", "http://[fd12::1]/cb", "http://2130706433/cb"} {
		r := e.submit(e.sub, `{"to":"0301234567","callback_url":"`+u+`"}`, []doc{textDoc("hello")})
		if r.status != 422 {
			t.Fatalf("%s: %d %s, want 422", u, r.status, r.body)
		}
		p := r.problem(t)
		if p.Type != problemPrefix+"refused-address" || !strings.HasPrefix(p.Detail, "callback_url: ") || !strings.Contains(p.Detail, "notify.outbound_allow") {
			t.Errorf("%s: %+v", u, p)
		}
	}
	if c := e.counts(); !strings.HasPrefix(c, "jobs=0 ") {
		t.Errorf("refused submissions left rows: %s", c)
	}
	rule := func(u string) *response {
		return e.doJSON("POST", "/v1/inbound-rules", e.admin, map[string]any{"number": map[string]any{"kind": "prefix", "value": "49"},
			"destination": map[string]any{"kind": "webhook", "url": u, "secret": "hook-secret-9-long-enough"}})
	}
	r := rule("http://192.168.0.10/hook")
	if r.status != 422 || !strings.HasPrefix(r.problem(t).Detail, "destination.url: 192.168.0.10 is a private address") {
		t.Fatalf("rule: %d %s", r.status, r.body)
	}
	if r := rule("https://hooks.example.com/fax"); r.status != 201 {
		t.Fatalf("public rule: %d %s", r.status, r.body)
	}
	if r := e.submit(e.sub, `{"to":"0301234567","callback_url":"https://app.example/cb"}`, []doc{textDoc("hello")}); r.status != 201 {
		t.Fatalf("public callback: %d %s", r.status, r.body)
	}
}
