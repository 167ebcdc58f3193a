package failover

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

// server is a real HTTP server on loopback that answers with a settable
// status and counts its requests.
type server struct {
	*httptest.Server
	mu     sync.Mutex
	status int
	hits   int
}

func newServer(t *testing.T, status int) *server {
	s := &server{status: status}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.hits++
		st := s.status
		s.mu.Unlock()
		w.WriteHeader(st)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *server) set(status int) { s.mu.Lock(); s.status = status; s.mu.Unlock() }
func (s *server) count() int     { s.mu.Lock(); defer s.mu.Unlock(); return s.hits }

// deadURL is a loopback address where nothing listens.
func deadURL(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return "http://" + addr
}

// get is the call a client makes through Do.
func get(ctx context.Context, ep string) error {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, ep+"/v1/ping", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	if resp.StatusCode >= 300 {
		return &StatusError{Code: resp.StatusCode}
	}
	return nil
}

func fastPolicy(prod, dr []string) Policy {
	return Policy{Production: prod, DR: dr, AttemptsPerServer: 3, Cycles: 2, RetryDelay: time.Millisecond, DownFor: time.Minute, ReturnEvery: time.Minute}
}

// A refused connection moves on at once: the dead server costs one
// attempt, not AttemptsPerServer, and is skipped on the next call.
func TestDeadServerDoesNotStick(t *testing.T) {
	dead := deadURL(t)
	live := newServer(t, 200)
	var calls []string
	c, _ := New(fastPolicy([]string{dead, live.URL}, nil))
	count := func(ctx context.Context, ep string) error { calls = append(calls, ep); return get(ctx, ep) }
	if err := c.Do(context.Background(), count); err != nil {
		t.Fatal(err)
	}
	if len(calls) != 2 || calls[0] != dead || calls[1] != live.URL {
		t.Fatalf("calls = %v", calls)
	}
	calls = nil
	if err := c.Do(context.Background(), count); err != nil {
		t.Fatal(err)
	}
	if len(calls) != 1 || calls[0] != live.URL {
		t.Fatalf("second call went to %v; the dead server should be skipped", calls)
	}
	if c.Endpoint() != live.URL || c.OnDR() {
		t.Fatalf("endpoint %s onDR %v", c.Endpoint(), c.OnDR())
	}
}

// A recoverable error (500) is retried AttemptsPerServer times on the same
// server before the next one.
func TestRecoverableErrorRetriesSameServer(t *testing.T) {
	flaky := newServer(t, 500)
	good := newServer(t, 200)
	c, _ := New(fastPolicy([]string{flaky.URL, good.URL}, nil))
	if err := c.Do(context.Background(), get); err != nil {
		t.Fatal(err)
	}
	if flaky.count() != 3 || good.count() != 1 {
		t.Fatalf("flaky %d good %d", flaky.count(), good.count())
	}
}

// A 4xx is the request's own fault: no other server is asked.
func TestFinalErrorStops(t *testing.T) {
	bad := newServer(t, 422)
	other := newServer(t, 200)
	c, _ := New(fastPolicy([]string{bad.URL, other.URL}, nil))
	err := c.Do(context.Background(), get)
	var se *StatusError
	if !errors.As(err, &se) || se.Code != 422 {
		t.Fatalf("err = %v", err)
	}
	if other.count() != 0 || bad.count() != 1 {
		t.Fatalf("bad %d other %d", bad.count(), other.count())
	}
}

// Production cycles run out, the client moves to the DR servers in order,
// stays there, and returns to production once it answers again.
func TestDRAndReturnToProduction(t *testing.T) {
	p1 := newServer(t, 503)
	p2 := newServer(t, 503)
	dr1 := deadURL(t)
	dr2 := newServer(t, 200)
	pol := fastPolicy([]string{p1.URL, p2.URL}, []string{dr1, dr2.URL})
	pol.DownFor = time.Millisecond // so both production cycles really run
	c, _ := New(pol)
	now := time.Unix(1_700_000_000, 0)
	c.now = func() time.Time { return now }

	if err := c.Do(context.Background(), get); err != nil {
		t.Fatal(err)
	}
	// 503 is Down: one attempt per production server per cycle, two cycles.
	if p1.count() != 2 || p2.count() != 2 {
		t.Fatalf("production attempts %d %d, want 2 each", p1.count(), p2.count())
	}
	if !c.OnDR() || c.Endpoint() != dr2.URL {
		t.Fatalf("onDR %v endpoint %s", c.OnDR(), c.Endpoint())
	}

	// On DR, within ReturnEvery: production is not bothered.
	now = now.Add(10 * time.Second)
	if err := c.Do(context.Background(), get); err != nil {
		t.Fatal(err)
	}
	if p1.count() != 2 || dr2.count() != 2 {
		t.Fatalf("p1 %d dr2 %d", p1.count(), dr2.count())
	}

	// Production recovers; after ReturnEvery the client goes back.
	p1.set(200)
	now = now.Add(2 * time.Minute)
	if err := c.Do(context.Background(), get); err != nil {
		t.Fatal(err)
	}
	if c.OnDR() || c.Endpoint() != p1.URL {
		t.Fatalf("did not return to production: onDR %v endpoint %s", c.OnDR(), c.Endpoint())
	}
}

func TestAllFailed(t *testing.T) {
	c, _ := New(fastPolicy([]string{deadURL(t)}, []string{deadURL(t)}))
	err := c.Do(context.Background(), get)
	var af *AllFailed
	if !errors.As(err, &af) || af.Tried != 3 { // 2 production cycles + 1 DR, each Down at once
		t.Fatalf("err = %v", err)
	}
}

func TestCancelledContext(t *testing.T) {
	c, _ := New(fastPolicy([]string{newServer(t, 200).URL}, nil))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := c.Do(ctx, get); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
}

func TestClassifyHTTP(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want Class
	}{
		{&StatusError{Code: 503}, Down},
		{&StatusError{Code: 502}, Down},
		{&StatusError{Code: 429}, Retry},
		{&StatusError{Code: 500}, Retry},
		{&StatusError{Code: 404}, Final},
		{fmt.Errorf("wrapped: %w", context.Canceled), Final},
		{&net.DNSError{Err: "no such host", Name: "x"}, Down},
		{errors.New("something odd"), Retry},
	} {
		if got := ClassifyHTTP(tc.err); got != tc.want {
			t.Errorf("ClassifyHTTP(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
	if _, err := New(Policy{}); err == nil {
		t.Error("empty policy accepted")
	}
}
