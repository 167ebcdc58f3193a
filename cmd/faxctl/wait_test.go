package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// wait polls until the fax is final: 0 for sent, 1 for failed, and 1 with
// a message when -timeout passes first.
func TestWait(t *testing.T) {
	var mu sync.Mutex
	var states []string
	gets := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		if r.URL.Path != "/v1/faxes/5" {
			http.NotFound(w, r)
			return
		}
		st := states[min(gets, len(states)-1)]
		gets++
		f := map[string]any{"id": 5, "state": st, "to": "+4930123", "pages_total": 2, "pages_confirmed": 0}
		if st == "sent" {
			f["pages_confirmed"] = 2
		}
		if st == "failed" {
			f["last_class"], f["last_reason"] = "busy", "the line was busy"
		}
		json.NewEncoder(w).Encode(f)
	}))
	defer srv.Close()
	run := func(s []string, args ...string) (int, string, string) {
		mu.Lock()
		states, gets = s, 0
		mu.Unlock()
		return faxctl(t, append([]string{"-server", srv.URL, "wait", "5", "-interval", "1ms"}, args...)...)
	}
	count := func() int {
		mu.Lock()
		defer mu.Unlock()
		return gets
	}
	rc, out, errs := run([]string{"pending", "sending", "sending", "sent"})
	if rc != 0 || out != "fax 5 sent: 2 of 2 page(s) to +4930123\n" || count() != 4 {
		t.Fatalf("sent: rc=%d out=%q err=%q gets=%d", rc, out, errs, count())
	}
	rc, out, _ = run([]string{"sending", "failed"})
	if rc != 1 || !strings.Contains(out, "fax 5 failed") || !strings.Contains(out, "the line was busy") || count() != 2 {
		t.Fatalf("failed: rc=%d out=%q gets=%d", rc, out, count())
	}
	rc, out, _ = run([]string{"cancelled"}, "-json")
	var f map[string]any
	if rc != 1 || json.Unmarshal([]byte(out), &f) != nil || f["state"] != "cancelled" {
		t.Fatalf("cancelled -json: rc=%d out=%q", rc, out)
	}
	rc, _, errs = run([]string{"pending"}, "-timeout", "20ms")
	if rc != 1 || !strings.Contains(errs, "fax 5 not final after 20ms") {
		t.Fatalf("timeout: rc=%d err=%q", rc, errs)
	}
}
