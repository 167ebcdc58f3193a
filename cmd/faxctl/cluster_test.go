package main

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestClusterCommands(t *testing.T) {
	var posted []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer tok" {
			w.WriteHeader(401)
			return
		}
		standby := `{"node":"fax-b","state":"watching","role":"standby","automatic":true,"on_failure":"promote","primary_id":"fax-a",
			"consecutive_failures":1,"consecutive_successes":0,"threshold":3,"last_error":"primary down: lease expired","sync":true,
			"next_sync":"2025-03-01T13:00:00Z"}`
		switch {
		case r.Method == "GET" && r.URL.Path == "/v1/cluster":
			w.Header().Set("Content-Type", "application/json")
			w.Write([]byte(`{"node":"fax-b","nodes":[{"id":"fax-a","role":"active","live":false,"address":"10.0.0.1:8080","incarnation":1,
				"started_at":"2025-03-01T10:00:00Z","last_heartbeat":"2025-03-01T12:00:00Z","lease_expires_at":"2025-03-01T12:00:10Z","capacity":8,"free_channels":0}],
				"standby":` + standby + `}`))
		case r.Method == "POST" && r.URL.Path != "/v1/cluster/standby/enable" && strings.HasPrefix(r.URL.Path, "/v1/cluster/standby/"):
			posted = append(posted, r.URL.Path)
			w.Header().Set("Content-Type", "application/json")
			w.Write([]byte(`{"standby":` + strings.Replace(standby, `"state":"watching","role":"standby"`, `"state":"promoted","role":"primary"`, 1) + `}`))
		case r.Method == "POST" && r.URL.Path == "/v1/cluster/standby/enable":
			w.Header().Set("Content-Type", "application/problem+json")
			w.WriteHeader(409)
			w.Write([]byte(`{"type":"urn:faxd:problem:conflict","title":"Conflict","status":409,"detail":"server fax-b has no primary to watch"}`))
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	var out, errb bytes.Buffer
	if rc := run([]string{"-server", srv.URL, "-token", "tok", "cluster", "status"}, &out, &errb); rc != 0 {
		t.Fatalf("status: rc=%d err=%q", rc, errb.String())
	}
	for _, want := range []string{"fax-a", "down", "0/8", "state", "watching (role standby)", "1 of 3", "primary down: lease expired", "next sync", "2025-03-01 13:00:00Z"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("status output lacks %q:\n%s", want, out.String())
		}
	}
	out.Reset()
	if rc := run([]string{"-server", srv.URL, "-token", "tok", "cluster", "promote"}, &out, &errb); rc != 0 || len(posted) != 1 ||
		!strings.Contains(out.String(), "fax-b") || !strings.Contains(out.String(), "promoted (role primary)") {
		t.Fatalf("promote: rc=%d out=%q err=%q", rc, out.String(), errb.String())
	}
	errb.Reset()
	if rc := run([]string{"-server", srv.URL, "-token", "tok", "cluster", "enable"}, &out, &errb); rc != 1 || !strings.Contains(errb.String(), "no primary to watch") {
		t.Fatalf("enable refused: rc=%d err=%q", rc, errb.String())
	}
	for _, op := range []string{"demote", "disable", "sync"} {
		out.Reset()
		if rc := run([]string{"-server", srv.URL, "-token", "tok", "cluster", op}, &out, &errb); rc != 0 || !strings.Contains(out.String(), op+" done") {
			t.Fatalf("%s: rc=%d out=%q", op, rc, out.String())
		}
	}
	if strings.Join(posted, " ") != "/v1/cluster/standby/promote /v1/cluster/standby/demote /v1/cluster/standby/disable /v1/cluster/standby/sync" {
		t.Fatalf("posted %v", posted)
	}
	out.Reset()
	if rc := run([]string{"-server", srv.URL, "-token", "tok", "cluster", "status", "--json"}, &out, &errb); rc != 0 || !strings.Contains(out.String(), `"consecutive_failures": 1`) {
		t.Fatalf("status --json: rc=%d out=%q", rc, out.String())
	}
	if rc := run([]string{"-server", srv.URL, "-token", "tok", "cluster", "bogus"}, &out, &errb); rc != 2 {
		t.Fatalf("bogus: rc=%d", rc)
	}
}
