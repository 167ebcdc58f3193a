package main

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestHealth(t *testing.T) {
	ready := true
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/readyz" {
			http.NotFound(w, r)
			return
		}
		if !ready {
			w.WriteHeader(503)
			w.Write([]byte("nats down: gone\n"))
			return
		}
		w.Write([]byte("queue_db ok\n"))
	}))
	defer srv.Close()
	var out, errb bytes.Buffer
	if rc := run([]string{"-server", srv.URL, "health"}, &out, &errb); rc != 0 || out.String() != "queue_db ok\n" {
		t.Fatalf("ready: rc=%d out=%q err=%q", rc, out.String(), errb.String())
	}
	ready = false
	out.Reset()
	if rc := run([]string{"-server", srv.URL, "health"}, &out, &errb); rc != 1 || !strings.Contains(out.String(), "nats down") {
		t.Fatalf("not ready: rc=%d out=%q", rc, out.String())
	}
	srv.Close()
	if rc := run([]string{"-server", srv.URL, "health"}, &out, &errb); rc != 1 || !strings.Contains(errb.String(), "unreachable") {
		t.Fatalf("down: rc=%d err=%q", rc, errb.String())
	}
	if rc := run([]string{"bogus"}, &out, &errb); rc != 2 {
		t.Fatalf("bogus: rc=%d", rc)
	}
}
