package client_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode"

	"gopkg.in/yaml.v3"

	"github.com/faxd/faxd/client"
)

// Every operation in the API description has an operationId, and the
// client has the method of that name taking a context first.
func TestEveryOperationHasAClientMethod(t *testing.T) {
	b, err := os.ReadFile("../schemas/openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Paths map[string]map[string]any `yaml:"paths"`
	}
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	ct := reflect.TypeOf(&client.Client{})
	ctxType := reflect.TypeOf((*context.Context)(nil)).Elem()
	seen := map[string]string{}
	n := 0
	for path, item := range doc.Paths {
		for method, op := range item {
			if method == "parameters" {
				continue
			}
			n++
			m, _ := op.(map[string]any)
			id, _ := m["operationId"].(string)
			where := strings.ToUpper(method) + " " + path
			if id == "" {
				t.Errorf("%s has no operationId", where)
				continue
			}
			if prev, dup := seen[id]; dup {
				t.Errorf("operationId %s on both %s and %s", id, prev, where)
			}
			seen[id] = where
			if !unicode.IsLower(rune(id[0])) || strings.ContainsAny(id, "_- ") {
				t.Errorf("%s: operationId %q is not camelCase", where, id)
			}
			name := strings.ToUpper(id[:1]) + id[1:]
			meth, ok := ct.MethodByName(name)
			if !ok {
				t.Errorf("%s: operationId %s has no client method %s", where, id, name)
				continue
			}
			if meth.Type.NumIn() < 2 || meth.Type.In(1) != ctxType {
				t.Errorf("client.%s does not take a context.Context first", name)
			}
			if last := meth.Type.Out(meth.Type.NumOut() - 1); last.String() != "error" {
				t.Errorf("client.%s does not return an error last", name)
			}
		}
	}
	if n < 40 {
		t.Fatalf("only %d operations found in openapi.yaml", n)
	}
}

func newClient(t *testing.T, o client.Options) *client.Client {
	t.Helper()
	o.RetryDelay = time.Millisecond
	c, err := client.New(o)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// deadURL is an address where nothing listens.
func deadURL(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return "http://" + addr
}

func TestProblemBecomesTypedErrorWithoutRetry(t *testing.T) {
	var mu sync.Mutex
	calls := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		calls++
		mu.Unlock()
		if r.Header.Get("Authorization") != "Bearer tok" {
			t.Errorf("Authorization = %q", r.Header.Get("Authorization"))
		}
		w.Header().Set("Content-Type", "application/problem+json")
		w.WriteHeader(400)
		w.Write([]byte(`{"type":"urn:faxd:problem:invalid-request","title":"Invalid request","status":400,"detail":"2 fields are wrong","errors":["to: required","limit: too big"]}`))
	}))
	defer srv.Close()
	dr := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Error("a refused request must not go on to the DR server")
	}))
	defer dr.Close()
	c := newClient(t, client.Options{Servers: []string{srv.URL}, DR: []string{dr.URL}, Token: "tok"})
	_, err := c.ListFaxes(context.Background(), client.ListFaxesParams{Limit: 5000})
	var e *client.Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T) is no *client.Error", err, err)
	}
	want := client.Error{Type: "urn:faxd:problem:invalid-request", Title: "Invalid request", Status: 400,
		Detail: "2 fields are wrong", Errors: []string{"to: required", "limit: too big"}, Server: srv.URL}
	if !reflect.DeepEqual(*e, want) {
		t.Fatalf("got %+v, want %+v", *e, want)
	}
	if !strings.Contains(err.Error(), "2 fields are wrong (HTTP 400)") || !strings.Contains(err.Error(), "limit: too big") {
		t.Fatalf("message %q", err.Error())
	}
	if calls != 1 {
		t.Fatalf("%d calls for a 400, want 1", calls)
	}
}

func TestNonProblemErrorBodyIsTheDetail(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "proxy says no", http.StatusForbidden)
	}))
	defer srv.Close()
	c := newClient(t, client.Options{Servers: []string{srv.URL}})
	_, err := c.GetFax(context.Background(), 1)
	var e *client.Error
	if !errors.As(err, &e) || e.Status != 403 || e.Detail != "proxy says no" {
		t.Fatalf("got %v", err)
	}
}

// A dead production server and one answering 503 are passed over; the
// DR server answers, and the client says it is on DR.
func TestFailoverToDR(t *testing.T) {
	var mu sync.Mutex
	var order []string
	note := func(s string) {
		mu.Lock()
		order = append(order, s)
		mu.Unlock()
	}
	busy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		note("busy")
		w.WriteHeader(503)
	}))
	defer busy.Close()
	dr := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		note("dr " + r.URL.Path)
		json.NewEncoder(w).Encode(client.Fax{ID: 7, State: client.StateSent})
	}))
	defer dr.Close()
	c := newClient(t, client.Options{Servers: []string{deadURL(t), busy.URL}, DR: []string{dr.URL}, AttemptsPerServer: 3, Cycles: 1})
	f, err := c.GetFax(context.Background(), 7)
	if err != nil {
		t.Fatal(err)
	}
	if f.ID != 7 || !f.Final() || c.Server() != dr.URL || !c.OnDR() {
		t.Fatalf("fax %+v server %s onDR %v", f, c.Server(), c.OnDR())
	}
	// 503 is "down": one call to the busy server, not three.
	if want := []string{"busy", "dr /v1/faxes/7"}; !reflect.DeepEqual(order, want) {
		t.Fatalf("calls %v, want %v", order, want)
	}
}

// A submission sends the fax JSON and each document with its name and
// type; a retried attempt resends the same bytes with the same key.
func TestSubmitFaxMultipartReplayedOnRetry(t *testing.T) {
	var keys, bodies []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/v1/faxes" {
			t.Errorf("%s %s", r.Method, r.URL.Path)
		}
		keys = append(keys, r.Header.Get("Idempotency-Key"))
		_, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
		if err != nil {
			t.Error(err)
			return
		}
		mr := multipart.NewReader(r.Body, params["boundary"])
		var parts []string
		for {
			p, err := mr.NextPart()
			if err != nil {
				break
			}
			b, _ := io.ReadAll(p)
			parts = append(parts, p.FormName()+"|"+p.FileName()+"|"+p.Header.Get("Content-Type")+"|"+strings.TrimSpace(string(b)))
		}
		bodies = append(bodies, strings.Join(parts, "\n"))
		if len(keys) == 1 {
			w.WriteHeader(500) // retried on the same server
			return
		}
		w.WriteHeader(201)
		json.NewEncoder(w).Encode(client.Fax{ID: 1, State: client.StatePending, PagesTotal: 2})
	}))
	defer srv.Close()
	c := newClient(t, client.Options{Servers: []string{srv.URL}})
	f, existed, err := c.SubmitFax(context.Background(),
		client.FaxRequest{To: "+4930123456", Cover: &client.Cover{Subject: "Invoice"}, Metadata: map[string]any{"k": "v"}},
		[]client.Document{{Name: "a.txt", Body: strings.NewReader("hello")}, {Name: "dir/b.bin", ContentType: "application/pdf", Body: strings.NewReader("%PDF-")}}, "")
	if err != nil || f.ID != 1 || existed {
		t.Fatalf("submit: %+v %v %v", f, existed, err)
	}
	if len(keys) != 2 || keys[0] == "" || keys[0] != keys[1] {
		t.Fatalf("idempotency keys %q", keys)
	}
	want := `fax||application/json|{"to":"+4930123456","metadata":{"k":"v"},"cover":{"subject":"Invoice"}}` + "\n" +
		"document|a.txt|text/plain|hello\n" +
		"document|b.bin|application/pdf|%PDF-"
	if bodies[0] != want || bodies[1] != want {
		t.Fatalf("bodies:\n%s\n--\n%s\nwant\n%s", bodies[0], bodies[1], want)
	}
	if _, _, err := c.SubmitFax(context.Background(), client.FaxRequest{To: "1"}, nil, ""); err == nil {
		t.Fatal("no documents: no error")
	}
}

// A download is handed over while the server is still sending: the
// server waits for the client to read the first part before the rest.
func TestDownloadStreams(t *testing.T) {
	readFirst := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if got := r.URL.RawQuery; got != "format=pdf" {
			t.Errorf("query %q, want format=pdf by default", got)
		}
		w.Header().Set("Content-Type", "application/pdf")
		w.Header().Set("Content-Disposition", `attachment; filename="fax-3.pdf"`)
		w.Write([]byte("%PDF-first"))
		w.(http.Flusher).Flush()
		select {
		case <-readFirst:
		case <-r.Context().Done():
			return
		}
		w.Write([]byte("-rest"))
	}))
	defer srv.Close()
	c := newClient(t, client.Options{Servers: []string{srv.URL}})
	d, err := c.GetFaxDocument(context.Background(), 3, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	first := make([]byte, len("%PDF-first"))
	if _, err := io.ReadFull(d, first); err != nil || string(first) != "%PDF-first" {
		t.Fatalf("first part %q %v", first, err)
	}
	close(readFirst)
	rest, err := io.ReadAll(d)
	if err != nil || string(rest) != "-rest" || d.Filename != "fax-3.pdf" || d.ContentType != "application/pdf" {
		t.Fatalf("rest %q %v, %+v", rest, err, d)
	}
}

func TestCancelledContextStops(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Error("a cancelled call reached the server")
	}))
	defer srv.Close()
	c := newClient(t, client.Options{Servers: []string{srv.URL}})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := c.WhoAmI(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v", err)
	}
}

func TestNewRejectsBadServers(t *testing.T) {
	for _, o := range []client.Options{{}, {Servers: []string{"fax1:8080"}}, {Servers: []string{"http://ok"}, DR: []string{"ftp://x"}}} {
		if _, err := client.New(o); err == nil {
			t.Errorf("New(%+v): no error", o)
		}
	}
}

// A 429 is retried on the same server once its Retry-After has passed.
func TestRateLimitedIsRetriedAfterRetryAfter(t *testing.T) {
	var mu sync.Mutex
	calls := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		calls++
		if calls == 1 {
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(429)
			w.Write([]byte(`{"type":"urn:faxd:problem:rate-limited","title":"Too many requests","status":429,"detail":"slow down"}`))
			return
		}
		json.NewEncoder(w).Encode(client.Token{ID: 1, Name: "ops"})
	}))
	defer srv.Close()
	c := newClient(t, client.Options{Servers: []string{srv.URL}})
	tok, err := c.WhoAmI(context.Background())
	if err != nil || tok.Name != "ops" || calls != 2 {
		t.Fatalf("%+v %v calls=%d", tok, err, calls)
	}
}

// An attempt that gets no answer within Timeout is retried, not treated
// as the caller's cancellation.
func TestSilentServerIsRetried(t *testing.T) {
	var mu sync.Mutex
	calls := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		calls++
		n := calls
		mu.Unlock()
		if n == 1 {
			<-r.Context().Done() // silent until the client gives up
			return
		}
		json.NewEncoder(w).Encode(client.Token{ID: 1, Name: "ops"})
	}))
	defer srv.Close()
	c := newClient(t, client.Options{Servers: []string{srv.URL}, Timeout: 200 * time.Millisecond, AttemptsPerServer: 5})
	tok, err := c.WhoAmI(context.Background())
	mu.Lock()
	defer mu.Unlock()
	if err != nil || tok.Name != "ops" || calls < 2 {
		t.Fatalf("%+v %v calls=%d", tok, err, calls)
	}
}
