package main

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestTraceCommands(t *testing.T) {
	const trace = `{"id":9,"direction":"outbound","job_id":17,"attempt":2,"node":"fax-a","call_id":"c-1","gateway":"gw1",
		"started_at":"2025-03-01T12:00:00Z","ended_at":"2025-03-01T12:00:31.5Z","result":"failed (protocol): t30: DCN in answer to DCS","dropped":0,
		"events":[{"t_ms":1.5,"kind":"sip","detail":"INVITE sip:+49@gw1 through gateway gw1 (T.38 offered)"},
		{"t_ms":2100,"kind":"rx","frame":"DIS","fif":"00cef0"},{"t_ms":4200,"kind":"rx","frame":"CFR","fcs_bad":true}]}`
	var paths []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		paths = append(paths, r.URL.Path)
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/v1/faxes/17":
			w.Write([]byte(`{"id":17,"state":"pending","to":"+49","attempts":2,"max_attempts":5}`))
		case "/v1/faxes/17/attempts/2/trace", "/v1/faxes/17/attempts/1/trace", "/v1/received/5/trace":
			w.Write([]byte(trace))
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	var out, errb bytes.Buffer
	if rc := run([]string{"-server", srv.URL, "trace", "17"}, &out, &errb); rc != 0 {
		t.Fatalf("rc=%d err=%q", rc, errb.String())
	}
	if strings.Join(paths, " ") != "/v1/faxes/17 /v1/faxes/17/attempts/2/trace" {
		t.Fatalf("the latest attempt is looked up first: %v", paths)
	}
	for _, want := range []string{"fax      17, attempt 2", "DCN in answer to DCS", "(31.5 s)", "0.002  sip", "2.100  rx", "DIS", "fif 00cef0", "CFR", "(bad FCS)"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	paths = nil
	if rc := run([]string{"-server", srv.URL, "trace", "17", "-attempt", "1"}, &out, &errb); rc != 0 || strings.Join(paths, " ") != "/v1/faxes/17/attempts/1/trace" {
		t.Fatalf("-attempt 1: rc=%d paths=%v", rc, paths)
	}
	paths = nil
	if rc := run([]string{"-server", srv.URL, "inbound", "trace", "5"}, &out, &errb); rc != 0 || strings.Join(paths, " ") != "/v1/received/5/trace" {
		t.Fatalf("inbound trace: rc=%d paths=%v", rc, paths)
	}
	if rc := run([]string{"-server", srv.URL, "trace"}, &out, &errb); rc != 2 {
		t.Fatalf("no id: rc=%d", rc)
	}
}
