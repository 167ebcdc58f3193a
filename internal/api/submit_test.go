package api

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/faxd/faxd/internal/netguard"
)

func b64(d []byte) string { return base64.StdEncoding.EncodeToString(d) }

// A JSON body with base64 documents is the same submission as multipart:
// same pages, same stored originals.
func TestSubmitJSONBody(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{})
	png := pngDoc(t)
	r := e.doJSON("POST", "/v1/faxes", e.sub, map[string]any{
		"to": "+15550100", "resolution": "standard", "header": "ACME",
		"documents": []map[string]any{
			{"filename": "chart.png", "content_type": "image/png", "data": b64(png.data)},
			{"filename": "note.txt", "content_type": "text/plain; charset=utf-8", "data": b64([]byte("hello\fsecond page\n"))},
		},
	})
	if r.status != 201 {
		t.Fatalf("submit: %d %s", r.status, r.body)
	}
	var f Fax
	r.json(t, &f)
	if f.PagesTotal != 3 || f.To != "+15550100" || f.Header != "ACME" || f.Submitter != "billing" {
		t.Fatalf("fax %+v: want 3 pages (1 PNG + 2 text) to +15550100 by billing", f)
	}
	r = e.do("GET", fmt.Sprintf("/v1/faxes/%d/document?format=original&part=0", f.ID), e.sub, nil, "")
	if string(r.body) != string(png.data) || r.header.Get("Content-Type") != "image/png" {
		t.Fatalf("original part 0: %d bytes %s", len(r.body), r.header.Get("Content-Type"))
	}
}

// Every bad document field is named; nothing is queued.
func TestSubmitJSONErrorsNameFields(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{MaxUploadBytes: 4096})
	cases := []struct {
		body   string
		status int
		want   []string
	}{
		{`{"to":"+15550100","documents":[{"data":"aGVsbG8K"},{"data":"***"}]}`, 400, []string{"documents[1].data: not base64"}},
		{`{"to":"+15550100","documents":[{"data":"aGVsbG8K","url":"https://example.com/a.pdf"}]}`, 400, []string{"documents[0]: give data or url, not both"}},
		{`{"to":"+15550100","documents":[{}]}`, 400, []string{"documents[0]: data (base64) or url is required"}},
		{`{"to":"+15550100","documents":[]}`, 400, []string{"documents: at least one document"}},
		{`{"to":"+15550100","documents":[{"data":"aGVsbG8K","content_type":"text/plain;;"}]}`, 400, []string{"documents[0].content_type"}},
		{`{"to":"+15550100","documents":[{"data":"aGVsbG8K"}],"colour":true}`, 400, []string{`unknown field "colour"`, "documents"}},
		{`{"to":"+15550100","documents":[{"data":"` + strings.Repeat("A", 8000) + `"}]}`, 413, []string{"4096 bytes"}},
		{`{"to":"","documents":[{"data":"aGVsbG8K"}]}`, 400, []string{"to: the destination fax number is required"}},
		{`{"to":"+15550100","documents":[{"data":"` + b64([]byte{0, 1, 2, 3}) + `"}]}`, 415, []string{"document 1"}},
	}
	for _, c := range cases {
		r := e.do("POST", "/v1/faxes", e.sub, strings.NewReader(c.body), "application/json")
		if r.status != c.status {
			t.Errorf("%.80s: status %d, want %d: %s", c.body, r.status, c.status, r.body)
			continue
		}
		p := r.problem(t)
		for _, w := range c.want {
			if !strings.Contains(p.Detail, w) {
				t.Errorf("%.80s: detail %q does not say %q", c.body, p.Detail, w)
			}
		}
	}
	if got := e.counts(); got != "jobs=0 blobs=0 sets=0" {
		t.Fatalf("after refused submissions: %s", got)
	}
}

// newEnvOutbound is newEnv with an outbound allow-list, served separately.
func newEnvOutbound(t *testing.T, cfg Config, allow []string) *env {
	t.Helper()
	e := newEnv(t, cfg)
	pol, err := netguard.New(allow, "notify.outbound_allow")
	if err != nil {
		t.Fatal(err)
	}
	a, err := New(cfg, Deps{Pool: e.pool, Queue: e.queue, Archive: e.archive, Inbound: e.inbound, Secrets: testSecrets, Outbound: pol})
	if err != nil {
		t.Fatal(err)
	}
	e.api = a
	e.srv = httptest.NewServer(a.Handler())
	t.Cleanup(e.srv.Close)
	return e
}

// A document given by URL is fetched when the policy allows its address;
// an internal address is refused with 422 naming the field, whether
// literal in the URL or reached through a name.
func TestSubmitByURL(t *testing.T) {
	t.Parallel()
	png := pngDoc(t)
	var hits atomic.Int32
	docs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		switch r.URL.Path {
		case "/chart.png":
			w.Header().Set("Content-Type", "image/png")
			w.Write(png.data)
		case "/big":
			w.Write(make([]byte, 6000))
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(docs.Close)

	// Refused by default: the test server is on loopback.
	e := newEnv(t, Config{})
	r := e.doJSON("POST", "/v1/faxes", e.sub, map[string]any{"to": "+15550100",
		"documents": []map[string]any{{"data": b64([]byte("note\n"))}, {"url": docs.URL + "/chart.png"}}})
	if r.status != 422 {
		t.Fatalf("loopback URL: %d %s", r.status, r.body)
	}
	if p := r.problem(t); !strings.HasPrefix(p.Detail, "documents[1].url: ") || !strings.Contains(p.Detail, "notify.outbound_allow") {
		t.Fatalf("loopback URL: detail %q", p.Detail)
	}
	// A name resolving to loopback is refused at the dial.
	named := strings.Replace(docs.URL, "127.0.0.1", "localhost", 1)
	r = e.doJSON("POST", "/v1/faxes", e.sub, map[string]any{"to": "+15550100",
		"documents": []map[string]any{{"url": named + "/chart.png"}}})
	if r.status != 422 || !strings.HasPrefix(r.problem(t).Detail, "documents[0].url: ") {
		t.Fatalf("localhost URL: %d %s", r.status, r.body)
	}
	if hits.Load() != 0 {
		t.Fatalf("the refused URLs were fetched %d times", hits.Load())
	}

	// Allowed: fetched, rendered, its type from the response.
	e = newEnvOutbound(t, Config{MaxUploadBytes: 5000 + int64(len(png.data))}, []string{"127.0.0.1"})
	r = e.doJSON("POST", "/v1/faxes", e.sub, map[string]any{"to": "+15550100",
		"documents": []map[string]any{{"url": docs.URL + "/chart.png"}}})
	if r.status != 201 {
		t.Fatalf("allowed URL: %d %s", r.status, r.body)
	}
	var f Fax
	r.json(t, &f)
	if f.PagesTotal != 1 || hits.Load() != 1 {
		t.Fatalf("allowed URL: %d pages, %d fetches", f.PagesTotal, hits.Load())
	}
	r = e.do("GET", fmt.Sprintf("/v1/faxes/%d/document?format=original&part=0", f.ID), e.sub, nil, "")
	if string(r.body) != string(png.data) || !strings.Contains(r.header.Get("Content-Disposition"), "chart.png") {
		t.Fatalf("stored original: %d bytes, %s", len(r.body), r.header.Get("Content-Disposition"))
	}
	// Not found and too large name the field.
	for _, c := range []struct {
		path   string
		status int
		want   string
	}{{"/missing", 422, "404"}, {"/big", 413, "api.max_upload_bytes"}} {
		r = e.doJSON("POST", "/v1/faxes", e.sub, map[string]any{"to": "+15550100",
			"documents": []map[string]any{{"data": b64(png.data)}, {"url": docs.URL + c.path}}})
		if r.status != c.status {
			t.Fatalf("%s: %d %s", c.path, r.status, r.body)
		}
		if p := r.problem(t); !strings.HasPrefix(p.Detail, "documents[1].url: ") || !strings.Contains(p.Detail, c.want) {
			t.Fatalf("%s: detail %q", c.path, p.Detail)
		}
	}
}

// Without LibreOffice an office document is refused with 415 naming the
// converter and its key; nothing is queued.
func TestSubmitOfficeWithoutConverter(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{OfficeCommand: "faxd-no-such-soffice"})
	docx, err := os.ReadFile("../render/testdata/office/sample.docx")
	if err != nil {
		t.Fatal(err)
	}
	r := e.doJSON("POST", "/v1/faxes", e.sub, map[string]any{"to": "+15550100",
		"documents": []map[string]any{{"filename": "letter.docx", "data": b64(docx)}}})
	if r.status != 415 {
		t.Fatalf("docx without LibreOffice: %d %s", r.status, r.body)
	}
	if p := r.problem(t); !strings.Contains(p.Detail, "document 1 (letter.docx): DOCX documents need LibreOffice (api.office_command = faxd-no-such-soffice)") {
		t.Fatalf("detail %q", p.Detail)
	}
	if got := e.counts(); got != "jobs=0 blobs=0 sets=0" {
		t.Fatalf("after the refusal: %s", got)
	}
}
