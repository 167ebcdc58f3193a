package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/textproto"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/faxd/faxd/archive"
	"github.com/faxd/faxd/internal/api/tokens"
	"github.com/faxd/faxd/internal/inbound"
	"github.com/faxd/faxd/internal/notify"
	"github.com/faxd/faxd/internal/pgtest"
	"github.com/faxd/faxd/queue"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// syncBuffer collects log output from concurrent handlers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

type env struct {
	t          *testing.T
	pool       *pgxpool.Pool
	queue      *queue.Queue
	archive    *archive.Store
	notify     *notify.Notifier
	inbound    *inbound.Router
	api        *API
	srv        *httptest.Server
	logs       *syncBuffer
	admin, sub string // token secrets
	clock      *testClock
}

// testClock is the API's clock for token expiry: the real time plus an
// offset a test advances, so no test waits.
type testClock struct {
	mu     sync.Mutex
	offset time.Duration
}

func (c *testClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.offset)
}

func (c *testClock) advance(d time.Duration) {
	c.mu.Lock()
	c.offset += d
	c.mu.Unlock()
}

func newEnv(t *testing.T, cfg Config) *env {
	t.Helper()
	pool := pgtest.NewDB(t)
	logs := &syncBuffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	q, err := queue.New(pool, queue.Config{Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	// One database holds the queue and the archive, as by default.
	arch := archive.NewStore(pool)
	ncfg := notify.DefaultConfig()
	ncfg.Retry = notify.Retry{Initial: 20 * time.Millisecond, Max: 100 * time.Millisecond, MaxAttempts: 3}
	ncfg.PollInterval = 20 * time.Millisecond
	n, err := notify.New(pool, ncfg, notify.Options{Secrets: testSecrets, NodeID: "api-test", Documents: inbound.Archived{Store: arch}, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	router := inbound.NewRouter(pool, n, inbound.Archived{Store: arch}, inbound.Config{}, log)
	clock := &testClock{}
	a, err := New(cfg, Deps{Pool: pool, Queue: q, Archive: arch, Inbound: router, Logger: log, Secrets: testSecrets, Now: func() time.Time { return clock.now() }})
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, pool: pool, queue: q, archive: arch, notify: n, inbound: router, api: a, logs: logs, clock: clock}
	e.srv = httptest.NewServer(a.Handler())
	t.Cleanup(e.srv.Close)
	ts := tokens.New(pool)
	if e.admin, _, err = ts.Create(context.Background(), "ops", tokens.Admin); err != nil {
		t.Fatal(err)
	}
	if e.sub, _, err = ts.Create(context.Background(), "billing", tokens.Submitter); err != nil {
		t.Fatal(err)
	}
	return e
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func (r *response) json(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("response %d %q: %v", r.status, r.body, err)
	}
}

func (r *response) problem(t *testing.T) Problem {
	t.Helper()
	if ct := r.header.Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("status %d with content type %q, want application/problem+json: %s", r.status, ct, r.body)
	}
	var p Problem
	r.json(t, &p)
	if p.Status != r.status || p.Type == "" || p.Title == "" || p.Detail == "" {
		t.Fatalf("incomplete problem %+v for status %d", p, r.status)
	}
	return p
}

// do sends a request and checks the answer against openapi.yaml.
func (e *env) do(method, path, token string, body io.Reader, contentType string, hdr ...string) *response {
	e.t.Helper()
	req, err := http.NewRequest(method, e.srv.URL+path, body)
	if err != nil {
		e.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	r := &response{status: resp.StatusCode, header: resp.Header, body: b}
	if errs := loadSpec(e.t).checkResponse(method, req.URL.Path, r.status, r.header, r.body); len(errs) > 0 {
		e.t.Errorf("answer does not match openapi.yaml:\n  %s\n  body: %.300s", strings.Join(errs, "\n  "), b)
	}
	return r
}

func (e *env) doJSON(method, path, token string, v any) *response {
	e.t.Helper()
	b, _ := json.Marshal(v)
	return e.do(method, path, token, bytes.NewReader(b), "application/json")
}

type doc struct {
	name, contentType string
	data              []byte
}

// multipartBody builds a submission; fax "" leaves the fax part out.
func multipartBody(fax string, docs ...doc) (io.Reader, string) {
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	if fax != "" {
		h := textproto.MIMEHeader{}
		h.Set("Content-Disposition", `form-data; name="fax"`)
		h.Set("Content-Type", "application/json")
		w, _ := mw.CreatePart(h)
		io.WriteString(w, fax)
	}
	for _, d := range docs {
		h := textproto.MIMEHeader{}
		h.Set("Content-Disposition", fmt.Sprintf(`form-data; name="document"; filename=%q`, d.name))
		if d.contentType != "" {
			h.Set("Content-Type", d.contentType)
		}
		w, _ := mw.CreatePart(h)
		w.Write(d.data)
	}
	mw.Close()
	return &buf, mw.FormDataContentType()
}

func (e *env) submit(token, fax string, docs []doc, hdr ...string) *response {
	e.t.Helper()
	body, ct := multipartBody(fax, docs...)
	return e.do("POST", "/v1/faxes", token, body, ct, hdr...)
}

func textDoc(s string) doc { return doc{"letter.txt", "text/plain", []byte(s)} }

func pngDoc(t *testing.T) doc {
	img := image.NewGray(image.Rect(0, 0, 400, 300))
	for y := 0; y < 300; y++ {
		for x := 0; x < 400; x++ {
			c := uint8(255)
			if (x/40+y/40)%2 == 0 {
				c = 0
			}
			img.SetGray(x, y, color.Gray{c})
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return doc{"chart.png", "image/png", b.Bytes()}
}

// pdfDoc makes a two-page PDF with Ghostscript.
func pdfDoc(t *testing.T) doc {
	t.Helper()
	gs, err := exec.LookPath("gs")
	if err != nil {
		t.Skip("Ghostscript (gs) is not installed")
	}
	out := t.TempDir() + "/doc.pdf"
	ps := "/Helvetica findfont 36 scalefont setfont 72 700 moveto (Page one) show showpage " +
		"72 700 moveto (Page two) show showpage"
	cmd := exec.Command(gs, "-q", "-dSAFER", "-dBATCH", "-dNOPAUSE", "-sDEVICE=pdfwrite", "-sOutputFile="+out, "-c", ps)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("gs: %v: %s", err, b)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return doc{"report.pdf", "application/pdf", data}
}

// counts returns the rows of jobs and of the document store.
func (e *env) counts() string {
	e.t.Helper()
	var jobs, blobs, sets int
	err := e.pool.QueryRow(context.Background(),
		`SELECT (SELECT count(*) FROM jobs), (SELECT count(*) FROM docstore_blobs), (SELECT count(*) FROM docstore_sets)`).
		Scan(&jobs, &blobs, &sets)
	if err != nil {
		e.t.Fatal(err)
	}
	return fmt.Sprintf("jobs=%d blobs=%d sets=%d", jobs, blobs, sets)
}
