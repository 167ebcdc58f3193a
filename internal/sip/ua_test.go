package sip

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/faxd/faxd/internal/portpool"
)

var portBase atomic.Int32

func init() { portBase.Store(30000) }

// newTestUA starts a UA on loopback UDP+TCP with its own media range.
func newTestUA(t *testing.T, mod func(*Config)) *UA {
	t.Helper()
	base := int(portBase.Add(40))
	cfg := Config{
		ListenUDP: "127.0.0.1:0", ListenTCP: "127.0.0.1:0",
		MediaBind: "127.0.0.1", MediaPortMin: base, MediaPortMax: base + 39,
		AllowFrom: []string{"127.0.0.0/8"}, ReinviteAfter: 10 * time.Second,
		RingTimeout: 10 * time.Second, InviteTimeout: 5 * time.Second,
	}
	if mod != nil {
		mod(&cfg)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	u, err := NewUA(cfg, nil, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { u.Close() })
	return u
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) { w.t.Log(string(p)); return len(p), nil }

func target(u *UA, transport, user string) string {
	ap, _ := u.Addr(transport)
	s := fmt.Sprintf("sip:%s@%s", user, ap)
	if transport != "udp" {
		s += ";transport=" + transport
	}
	return s
}

// answering is an Admission that accepts (or not) and records what it got.
type answering struct {
	verdict Verdict
	media   MediaMode
	block   bool // wait for ctx (CANCEL) before deciding
	mu      sync.Mutex
	in      []Incoming
	est     chan *Call
	fail    chan error
}

func newAnswering(v Verdict) *answering {
	return &answering{verdict: v, est: make(chan *Call, 4), fail: make(chan error, 4)}
}

func (a *answering) Admit(ctx context.Context, in Incoming) Decision {
	a.mu.Lock()
	a.in = append(a.in, in)
	a.mu.Unlock()
	if a.block {
		<-ctx.Done()
	}
	return Decision{Verdict: a.verdict, Channel: a, Media: a.media}
}
func (a *answering) Established(c *Call) { a.est <- c }
func (a *answering) Failed(err error)    { a.fail <- err }

func waitCall(t *testing.T, a *answering) *Call {
	t.Helper()
	select {
	case c := <-a.est:
		return c
	case err := <-a.fail:
		t.Fatalf("inbound call failed: %v", err)
	case <-time.After(15 * time.Second):
		t.Fatal("inbound call never established")
	}
	return nil
}

func outcomeOf(t *testing.T, err error) *Outcome {
	t.Helper()
	var o *Outcome
	if !errors.As(err, &o) {
		t.Fatalf("error %v (%T) is not an *Outcome", err, err)
	}
	return o
}

// exchange proves the negotiated T.38 media really connects both sockets.
func exchange(t *testing.T, a, b Media) {
	t.Helper()
	if !a.T38 || !b.T38 {
		t.Fatalf("media not T.38: caller %+v answerer %+v", a.T38, b.T38)
	}
	if a.Remote != b.Local || b.Remote != a.Local {
		t.Fatalf("media addresses do not meet: caller %v->%v, answerer %v->%v", a.Local, a.Remote, b.Local, b.Remote)
	}
	msg := []byte("udptl")
	if _, err := a.Conn.WriteToUDPAddrPort(msg, a.Remote); err != nil {
		t.Fatal(err)
	}
	b.Conn.SetReadDeadline(time.Now().Add(2 * time.Second))
	buf := make([]byte, 64)
	n, _, err := b.Conn.ReadFromUDPAddrPort(buf)
	if err != nil || string(buf[:n]) != "udptl" {
		t.Fatalf("T.38 socket did not carry a datagram: %q %v", buf[:n], err)
	}
}

func TestT38Direct(t *testing.T) {
	t.Parallel()
	for _, tr := range []string{"udp", "tcp"} {
		t.Run(tr, func(t *testing.T) {
			caller, callee := newTestUA(t, nil), newTestUA(t, nil)
			ans := newAnswering(Accept)
			callee.SetAdmission(ans)
			var events []EventKind
			var mu sync.Mutex
			c, err := caller.Dial(context.Background(), Dial{Target: target(callee, tr, "4930123"), CallerID: "4940999", CallerName: "faxd test", AssertIdentity: true,
				OnEvent: func(e Event) { mu.Lock(); events = append(events, e.Kind); mu.Unlock() }})
			if err != nil {
				t.Fatal(err)
			}
			in := waitCall(t, ans)
			exchange(t, c.Media(), in.Media())
			if p := c.Media().Params; p.MaxBitRate != 14400 || p.UDPEC != "t38UDPRedundancy" || p.MaxDatagram != 400 {
				t.Fatalf("negotiated params %+v", p)
			}
			ans.mu.Lock()
			got := ans.in[0]
			ans.mu.Unlock()
			if got.DID != "4930123" || got.CallerID != "4940999" || !got.T38Offered || got.Transport != strings2upper(tr) {
				t.Fatalf("incoming %+v", got)
			}
			if err := c.Hangup(context.Background()); err != nil {
				t.Fatal(err)
			}
			select {
			case <-in.Done():
			case <-time.After(5 * time.Second):
				t.Fatal("callee did not see BYE")
			}
			if !errors.Is(in.Err(), ErrFarEndHangup) {
				t.Fatalf("callee end reason %v", in.Err())
			}
			in.Hangup(context.Background())
			mu.Lock()
			defer mu.Unlock()
			if !contains(events, EventAnswered) || !contains(events, EventT38) {
				t.Fatalf("events %v", events)
			}
		})
	}
}

func strings2upper(s string) string {
	b := []byte(s)
	for i := range b {
		if b[i] >= 'a' && b[i] <= 'z' {
			b[i] -= 32
		}
	}
	return string(b)
}

func contains[T comparable](s []T, v T) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

func TestAudioFirstCallerReinvites(t *testing.T) {
	t.Parallel()
	caller := newTestUA(t, func(c *Config) { c.ReinviteAfter = 1200 * time.Millisecond; c.Codecs = []string{"PCMA", "PCMU"} })
	callee := newTestUA(t, func(c *Config) { c.ReinviteAfter = 20 * time.Second })
	ans := newAnswering(Accept)
	callee.SetAdmission(ans)
	var sent atomic.Bool
	c, err := caller.Dial(context.Background(), Dial{Target: target(callee, "udp", "100"), AudioFirst: true,
		OnEvent: func(e Event) {
			if e.Kind == EventReinvite {
				sent.Store(true)
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Hangup(context.Background())
	in := waitCall(t, ans)
	defer in.Hangup(context.Background())
	if !sent.Load() {
		t.Fatal("caller did not send the re-INVITE")
	}
	exchange(t, c.Media(), in.Media())
	// CNG went over RTP during the audio phase and the callee heard it.
	if !in.AudioHeard(1100) {
		t.Fatal("callee did not hear CNG in the audio phase")
	}
}

func TestAudioFirstAnswererReinvites(t *testing.T) {
	t.Parallel()
	caller := newTestUA(t, func(c *Config) { c.ReinviteAfter = 20 * time.Second })
	callee := newTestUA(t, func(c *Config) { c.ReinviteAfter = 3 * time.Second })
	ans := newAnswering(Accept)
	callee.SetAdmission(ans)
	var reinvited atomic.Bool
	c, err := caller.Dial(context.Background(), Dial{Target: target(callee, "udp", "100"), AudioFirst: true,
		OnEvent: func(e Event) {
			if e.Kind == EventReinvited {
				reinvited.Store(true)
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Hangup(context.Background())
	in := waitCall(t, ans)
	defer in.Hangup(context.Background())
	if !reinvited.Load() {
		t.Fatal("caller was not re-INVITEd by the answerer")
	}
	exchange(t, c.Media(), in.Media())
	if !c.AudioHeard(2100) {
		t.Fatal("caller did not hear CED in the audio phase")
	}
}

func TestDigestAuth(t *testing.T) {
	t.Parallel()
	for _, proxy := range []bool{false, true} {
		t.Run(fmt.Sprintf("proxy=%v", proxy), func(t *testing.T) {
			creds := &Credentials{Username: "gw1", Password: "s3cret", Proxy: proxy}
			callee := newTestUA(t, func(c *Config) { c.InboundAuth = creds })
			caller := newTestUA(t, nil)
			ans := newAnswering(Accept)
			callee.SetAdmission(ans)
			// Right credentials: answered.
			c, err := caller.Dial(context.Background(), Dial{Target: target(callee, "udp", "1"), Auth: &Credentials{Username: "gw1", Password: "s3cret"}})
			if err != nil {
				t.Fatal(err)
			}
			in := waitCall(t, ans)
			c.Hangup(context.Background())
			in.Hangup(context.Background())
			// Wrong password: 403 after the challenge -> gateway failure class.
			_, err = caller.Dial(context.Background(), Dial{Target: target(callee, "udp", "1"), Auth: &Credentials{Username: "gw1", Password: "wrong"}})
			o := outcomeOf(t, err)
			if o.Class != ClassRoute || o.Status != 403 {
				t.Fatalf("wrong password: %v", o)
			}
			// No credentials: the challenge itself ends the call.
			_, err = caller.Dial(context.Background(), Dial{Target: target(callee, "udp", "1")})
			o = outcomeOf(t, err)
			want := 401
			if proxy {
				want = 407
			}
			if o.Class != ClassRoute || o.Status != want {
				t.Fatalf("no credentials: %v", o)
			}
		})
	}
}

func TestCredentialsNeverPrinted(t *testing.T) {
	c := Credentials{Username: "u", Password: "topsecret"}
	for _, s := range []string{fmt.Sprint(c), fmt.Sprintf("%v", &c), fmt.Sprintf("%+v", c)} {
		if contains([]byte(s), 0) || len(s) == 0 || containsStr(s, "topsecret") {
			t.Fatalf("password printed: %s", s)
		}
	}
}

func containsStr(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}

func TestInboundRefusals(t *testing.T) {
	t.Parallel()
	caller := newTestUA(t, nil)
	cases := []struct {
		name   string
		mod    func(*Config)
		prep   func(*UA)
		status int
		class  Class
	}{
		{"allow-list 403", func(c *Config) { c.AllowFrom = []string{"10.9.9.0/24"} }, func(u *UA) { u.SetAdmission(newAnswering(Accept)) }, 403, ClassRoute},
		{"busy 486", nil, func(u *UA) { u.SetAdmission(newAnswering(Busy)) }, 486, ClassBusy},
		{"standby 503", nil, func(u *UA) { u.SetAdmission(newAnswering(Accept)); u.SetState(StateStandby) }, 503, ClassRoute},
		{"draining 503", nil, func(u *UA) { u.SetAdmission(newAnswering(Unavailable)) }, 503, ClassRoute},
		{"decline 603", nil, func(u *UA) { u.SetAdmission(newAnswering(Reject)) }, 603, ClassPermanent},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			callee := newTestUA(t, func(c *Config) {
				c.RetryAfter = 90 * time.Second
				if tc.mod != nil {
					tc.mod(c)
				}
			})
			tc.prep(callee)
			_, err := caller.Dial(context.Background(), Dial{Target: target(callee, "udp", "1")})
			o := outcomeOf(t, err)
			if o.Status != tc.status || o.Class != tc.class {
				t.Fatalf("got %v, want %d %s", o, tc.status, tc.class)
			}
			if tc.status == 503 && o.RetryAfter != 90*time.Second {
				t.Fatalf("Retry-After %v, want 90s", o.RetryAfter)
			}
		})
	}
	if n := caller.Pool().Leased(); n != 0 {
		t.Fatalf("caller leaks %d media ports after refused calls", n)
	}
}

func TestCancelOnRingTimeoutAndJobCancel(t *testing.T) {
	t.Parallel()
	caller, callee := newTestUA(t, nil), newTestUA(t, nil)
	ans := newAnswering(Accept)
	ans.block = true // ring until CANCEL
	callee.SetAdmission(ans)
	start := time.Now()
	_, err := caller.Dial(context.Background(), Dial{Target: target(callee, "udp", "1"), RingTimeout: 800 * time.Millisecond})
	o := outcomeOf(t, err)
	if o.Class != ClassNoAnswer || !errors.Is(err, ErrRingTimeout) || o.Status != 487 {
		t.Fatalf("ring timeout: %v", o)
	}
	if time.Since(start) > 8*time.Second {
		t.Fatalf("CANCEL took %v: the 487 did not come back", time.Since(start))
	}
	select {
	case err := <-ans.fail:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("callee channel failed with %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("callee's admission was not told about the CANCEL")
	}
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(500*time.Millisecond, cancel)
	_, err = caller.Dial(ctx, Dial{Target: target(callee, "tcp", "1")})
	if o := outcomeOf(t, err); o.Class != ClassCancelled {
		t.Fatalf("job cancel: %v", o)
	}
}

func TestFarEndBye(t *testing.T) {
	t.Parallel()
	caller, callee := newTestUA(t, nil), newTestUA(t, nil)
	ans := newAnswering(Accept)
	callee.SetAdmission(ans)
	c, err := caller.Dial(context.Background(), Dial{Target: target(callee, "udp", "1")})
	if err != nil {
		t.Fatal(err)
	}
	in := waitCall(t, ans)
	if err := in.Hangup(context.Background()); err != nil {
		t.Fatal(err)
	}
	select {
	case <-c.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("caller did not see the far end's BYE")
	}
	if !errors.Is(c.Err(), ErrFarEndHangup) {
		t.Fatalf("caller end reason %v", c.Err())
	}
	// The far end's BYE already freed our ports; Hangup is harmless.
	if err := c.Hangup(context.Background()); err != nil {
		t.Fatal(err)
	}
	if caller.Pool().Leased() != 0 || caller.ActiveCalls() != 0 {
		t.Fatalf("after far-end BYE: %d ports, %d calls", caller.Pool().Leased(), caller.ActiveCalls())
	}
}

// refuseT38 answers audio and refuses any re-INVITE to T.38 with 488.
func TestReinviteRefused(t *testing.T) {
	t.Parallel()
	caller := newTestUA(t, func(c *Config) { c.ReinviteAfter = 300 * time.Millisecond })
	callee := newTestUA(t, func(c *Config) { c.ReinviteAfter = 20 * time.Second })
	callee.refuseT38ForTest = true
	ans := newAnswering(Accept)
	callee.SetAdmission(ans)
	_, err := caller.Dial(context.Background(), Dial{Target: target(callee, "udp", "1"), AudioFirst: true})
	o := outcomeOf(t, err)
	if o.Status != 488 || !errors.Is(err, ErrT38Refused) || o.Reason != "far end refused T.38" {
		t.Fatalf("got %v", o)
	}
	select {
	case <-ans.fail:
	case <-time.After(5 * time.Second):
		t.Fatal("callee never learned the call ended")
	}
	if n := caller.Pool().Leased(); n != 0 {
		t.Fatalf("caller leaks %d ports", n)
	}
}

func TestOptions(t *testing.T) {
	t.Parallel()
	a, b := newTestUA(t, nil), newTestUA(t, nil)
	for _, tr := range []string{"udp", "tcp"} {
		ap, _ := b.Addr(tr)
		uri := "sip:" + ap.String()
		if tr == "tcp" {
			uri += ";transport=tcp"
		}
		code, err := a.Options(context.Background(), uri)
		if err != nil || code != 200 {
			t.Fatalf("%s OPTIONS: %d %v", tr, code, err)
		}
	}
	b.SetState(StateStandby)
	ap, _ := b.Addr("udp")
	if code, err := a.Options(context.Background(), "sip:"+ap.String()); err != nil || code != 200 {
		t.Fatalf("standby OPTIONS: %d %v", code, err)
	}
	// A probe to nowhere fails as a gateway failure.
	dead, _ := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	deadAddr := dead.LocalAddr().String()
	dead.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer cancel()
	_, err := a.Options(ctx, "sip:"+deadAddr)
	if o := outcomeOf(t, err); o.Class != ClassRoute && o.Class != ClassCancelled {
		t.Fatalf("dead probe: %v", o)
	}
}

func TestNoResponseIsGatewayFailure(t *testing.T) {
	t.Parallel()
	caller := newTestUA(t, func(c *Config) { c.InviteTimeout = 1500 * time.Millisecond })
	// A UDP socket that swallows everything: the INVITE is never answered.
	sink, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close()
	_, err = caller.Dial(context.Background(), Dial{Target: "sip:1@" + sink.LocalAddr().String()})
	o := outcomeOf(t, err)
	if o.Class != ClassRoute || !o.GatewayDown || !errors.Is(err, ErrNoResponse) {
		t.Fatalf("got %v", o)
	}
	// A ringing timeout shorter than the no-response one changes nothing:
	// a gateway that never said a word is down, not "no answer".
	_, err = caller.Dial(context.Background(), Dial{Target: "sip:1@" + sink.LocalAddr().String(), RingTimeout: 500 * time.Millisecond})
	if o := outcomeOf(t, err); o.Class != ClassRoute || !o.GatewayDown || !errors.Is(err, ErrNoResponse) {
		t.Fatalf("short ring timeout: got %v", o)
	}
	// TCP to a closed port: connection refused, also a gateway failure.
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := l.Addr().String()
	l.Close()
	_, err = caller.Dial(context.Background(), Dial{Target: "sip:1@" + addr + ";transport=tcp"})
	o = outcomeOf(t, err)
	if o.Class != ClassRoute || !o.GatewayDown {
		t.Fatalf("refused: %v", o)
	}
	if caller.Pool().Leased() != 0 {
		t.Fatal("ports leaked")
	}
}

// TestNoLeaks runs many calls, failing ones included, and then checks the
// port pool is full again and no goroutines were left behind.
func TestNoLeaks(t *testing.T) {
	t.Parallel()
	before := runtime.NumGoroutine()
	caller := newTestUA(t, func(c *Config) { c.ReinviteAfter = 200 * time.Millisecond })
	okUA := newTestUA(t, func(c *Config) { c.ReinviteAfter = 20 * time.Second })
	ok := newAnswering(Accept)
	okUA.SetAdmission(ok)
	busyUA := newTestUA(t, nil)
	busyUA.SetAdmission(newAnswering(Busy))
	refUA := newTestUA(t, func(c *Config) { c.ReinviteAfter = 20 * time.Second })
	refUA.refuseT38ForTest = true
	ref := newAnswering(Accept)
	refUA.SetAdmission(ref)
	ringUA := newTestUA(t, nil)
	ring := newAnswering(Accept)
	ring.block = true
	ringUA.SetAdmission(ring)
	go func() { // drain the channels the failing calls report to
		for {
			select {
			case <-ref.fail:
			case <-ring.fail:
			case <-caller.ctx.Done():
				return
			}
		}
	}()

	for i := 0; i < 6; i++ {
		c, err := caller.Dial(context.Background(), Dial{Target: target(okUA, []string{"udp", "tcp"}[i%2], "1"), AudioFirst: i%3 == 0})
		if err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
		in := waitCall(t, ok)
		c.Hangup(context.Background())
		in.Hangup(context.Background())
		if _, err := caller.Dial(context.Background(), Dial{Target: target(busyUA, "udp", "1")}); outcomeOf(t, err).Class != ClassBusy {
			t.Fatalf("busy call %d: %v", i, err)
		}
		if _, err := caller.Dial(context.Background(), Dial{Target: target(ringUA, "udp", "1"), RingTimeout: 300 * time.Millisecond}); outcomeOf(t, err).Class != ClassNoAnswer {
			t.Fatalf("ring-timeout call %d: %v", i, err)
		}
		if _, err := caller.Dial(context.Background(), Dial{Target: target(refUA, "udp", "1"), AudioFirst: true}); !errors.Is(err, ErrT38Refused) {
			t.Fatalf("refused call %d: %v", i, err)
		}
	}
	for _, u := range []*UA{caller, okUA, busyUA, refUA, ringUA} {
		deadline := time.Now().Add(5 * time.Second)
		for (u.Pool().Leased() != 0 || u.ActiveCalls() != 0) && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
		}
		if u.Pool().Leased() != 0 || u.ActiveCalls() != 0 {
			t.Fatalf("UA keeps %d ports and %d calls after the calls ended", u.Pool().Leased(), u.ActiveCalls())
		}
	}
	for _, u := range []*UA{caller, okUA, busyUA, refUA, ringUA} {
		u.Close()
	}
	// Goroutines: sipgo's transaction timers run out in 64*T1 at most; we
	// wait for the count to settle back to where it started. Other parallel
	// tests share the process, so compare against our own start with slack
	// only for them.
	deadline := time.Now().Add(40 * time.Second)
	var now int
	for time.Now().Before(deadline) {
		now = runtime.NumGoroutine()
		if now <= before+2 {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	buf := make([]byte, 1<<20)
	n := runtime.Stack(buf, true)
	t.Fatalf("goroutines: %d before, %d after\n%s", before, now, buf[:n])
}

var _ = portpool.RTP
