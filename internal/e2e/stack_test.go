package e2e

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/faxd/faxd/internal/channel"
	"github.com/faxd/faxd/internal/pgtest"
	"github.com/faxd/faxd/internal/sip"
	"github.com/faxd/faxd/t38/bilevel"
	"github.com/faxd/faxd/t38/interop"
	"github.com/faxd/faxd/t38/session"
	"github.com/faxd/faxd/t38/t30"
)

// The stack tests put faxd's SIP user agent (internal/sip) and T.38 terminal
// (t38/session on its real-time driver) against the spandsp endpoint, wired
// the way a channel wires them: Dial or Admission, then session.Run on the
// negotiated media, then Hangup.

func TestMain(m *testing.M) {
	code := m.Run()
	interop.Cleanup()
	pgtest.Shutdown()
	os.Exit(code)
}

// TestEndToEnd runs every group of end-to-end calls at once: the calls are
// real-time and spend their time waiting, so they overlap rather than queue
// behind go test's -parallel limit (GOMAXPROCS, 2 in CI).
func TestEndToEnd(t *testing.T) {
	type group struct {
		name string
		f    func(*testing.T)
	}
	groups := []group{
		{"FaxdSendsToSpandsp", faxdSendsToSpandsp},
		{"FaxdReceivesFromSpandsp", faxdReceivesFromSpandsp},
		{"FaxdGatewayFailures", faxdGatewayFailures},
		{"FaxdFaxesItself", faxdFaxesItself},
		{"StackSendsToSpandsp", stackSendsToSpandsp},
		{"StackReceivesFromSpandsp", stackReceivesFromSpandsp},
		{"StackSpandspHangsUp", stackSpandspHangsUp},
		{"StackGatewayFailures", stackGatewayFailures},
	}
	interop.Concurrent(t, groups, func(g group) string { return g.name }, func(t *testing.T, g group) { g.f(t) })
}

// mediaPorts hands each test UA its own media range, below the kernel's
// ephemeral ports so t38peer and sipp never collide with it.
var mediaPorts atomic.Int32

func init() { mediaPorts.Store(12000) }

func newUA(t testing.TB, ports int, mod func(*sip.Config)) *sip.UA {
	t.Helper()
	base := int(mediaPorts.Add(int32(ports))) - ports
	cfg := sip.Config{
		ListenUDP: "127.0.0.1:0", MediaBind: "127.0.0.1", MediaPortMin: base, MediaPortMax: base + ports - 1,
		AllowFrom: []string{"127.0.0.0/8"}, RingTimeout: 10 * time.Second, InviteTimeout: 5 * time.Second,
		ReinviteAfter: 10 * time.Second,
	}
	if mod != nil {
		mod(&cfg)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	u, err := sip.NewUA(cfg, nil, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { u.Close() })
	return u
}

var (
	docOnce  sync.Once
	docPath  string
	docPages []*bilevel.Image
	docErr   error
)

// testDocument returns a 2-page standard-resolution TIFF and its pages.
func testDocument(t testing.TB) (string, []*bilevel.Image) {
	t.Helper()
	peer := interop.BuildPeer(t)
	docOnce.Do(func() {
		dir, err := os.MkdirTemp("", "faxd-e2e-doc-")
		if err != nil {
			docErr = err
			return
		}
		docPath = filepath.Join(dir, "doc.tif")
		ctx := context.Background()
		if docErr = interop.MakeTestTIFF(ctx, peer, docPath, interop.TIFFOptions{Pages: 2, Standard: true, Seed: 5}); docErr != nil {
			return
		}
		docPages, docErr = interop.TIFFToPages(ctx, peer, docPath)
	})
	if docErr != nil {
		t.Fatalf("test document: %v", docErr)
	}
	return docPath, docPages
}

// ours is what our terminal reported for one call.
type ours struct {
	Result   *t30.Result
	Received []*bilevel.Image
	Err      error
}

// runSession runs our T.38 terminal on a call's negotiated media, as the
// channel does: the far end's SDP gives version, error correction and its
// receive limits.
func runSession(ctx context.Context, c *sip.Call, calling bool, pages []*bilevel.Image) ours {
	m := c.Media()
	var out ours
	if !m.T38 {
		out.Err = errors.New("media is not T.38")
		return out
	}
	cfg := t30.Config{Calling: calling, Transmit: pages != nil, Ident: "FAXD E2E", Fine: true, Superfine: true}
	if pages != nil {
		cfg.Pages = t30.ImagePages(pages)
	} else {
		cfg.Decoder = t30.T4Decoder{}
	}
	ses, rc, err := channel.Terminal(m, cfg)
	if err != nil {
		out.Err = err
		return out
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() { // the far end's BYE ends the session too
		select {
		case <-c.Done():
			cancel()
		case <-ctx.Done():
		}
	}()
	rc.OnEvent = func(ev t30.Output) {
		if ev.Kind == t30.OutPageReceived && ev.Received != nil {
			out.Received = append(out.Received, ev.Received.Image)
		}
	}
	out.Result, out.Err = session.Run(ctx, m.Conn, ses, rc)
	return out
}

var flows = []Flow{FlowT38, FlowPeerReinvite, FlowFaxdReinvite}

func flowName(f Flow) string { return string(f) }

// reinviteAfter makes our UA re-INVITE first only in FlowFaxdReinvite.
func reinviteAfter(f Flow) func(*sip.Config) {
	return func(c *sip.Config) {
		if f == FlowFaxdReinvite {
			c.ReinviteAfter = time.Second
		} else {
			c.ReinviteAfter = 20 * time.Second
		}
	}
}

// stackSendsToSpandsp: our UA dials the endpoint and our session sends
// 2 pages that spandsp must receive intact.
func stackSendsToSpandsp(t *testing.T) {
	doc, pages := testDocument(t)
	interop.Concurrent(t, flows, flowName, func(t *testing.T, flow Flow) {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		ep := Listen(t, Options{Flow: flow})
		ua := newUA(t, 10, reinviteAfter(flow))
		call, err := ua.Dial(ctx, sip.Dial{Target: ep.Target("4930100"), CallerID: "4940111", AudioFirst: flow != FlowT38})
		if err != nil {
			t.Fatalf("dial: %v", err)
		}
		got := runSession(ctx, call, true, pages)
		call.Hangup(ctx)
		if got.Err != nil || got.Result == nil || !got.Result.OK() || got.Result.Pages != len(pages) {
			t.Fatalf("our sender: %+v %v", got.Result, got.Err)
		}
		cr, err := ep.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		checkSpandsp(t, cr, len(pages), "far")
		if err := interop.CompareTIFF(ctx, doc, cr.Received); err != nil {
			t.Fatalf("spandsp received other pages: %v", err)
		}
		checkFlow(t, flow, cr)
		if err := ep.Wait(ctx); err != nil {
			t.Fatal(err)
		}
		if n := ua.Pool().Leased(); n != 0 {
			t.Fatalf("%d media ports still leased", n)
		}
	})
}

// stackReceivesFromSpandsp: the endpoint calls our UA and spandsp sends
// 2 pages that our session must receive pixel for pixel.
func stackReceivesFromSpandsp(t *testing.T) {
	doc, pages := testDocument(t)
	peer := interop.BuildPeer(t)
	interop.Concurrent(t, flows, flowName, func(t *testing.T, flow Flow) {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		ua := newUA(t, 10, reinviteAfter(flow))
		ch := &inboundChannel{est: make(chan *sip.Call, 1), fail: make(chan error, 1)}
		ua.SetAdmission(ch)
		sipAddr, _ := ua.Addr("udp")
		ep := Call(t, sipAddr, Options{Flow: flow, Send: doc})
		var call *sip.Call
		select {
		case call = <-ch.est:
		case err := <-ch.fail:
			t.Fatalf("inbound call failed: %v", err)
		case <-ctx.Done():
			t.Fatal("inbound call never established")
		}
		got := runSession(ctx, call, false, nil)
		call.Hangup(ctx)
		if got.Err != nil || got.Result == nil || !got.Result.OK() || len(got.Received) != len(pages) {
			t.Fatalf("our receiver: %+v, %d pages, %v", got.Result, len(got.Received), got.Err)
		}
		cr, err := ep.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		checkSpandsp(t, cr, len(pages), "far")
		checkFlow(t, flow, cr)
		rx := filepath.Join(t.TempDir(), "ours.tif")
		if err := interop.PagesToTIFF(ctx, peer, rx, got.Received); err != nil {
			t.Fatal(err)
		}
		if err := interop.CompareTIFF(ctx, doc, rx); err != nil {
			t.Fatalf("we received other pages than spandsp sent: %v", err)
		}
		ch.mu.Lock()
		in := ch.in
		ch.mu.Unlock()
		if in.DID != "4930100" || in.CallerID != "4930999" || in.T38Offered != (flow == FlowT38) {
			t.Fatalf("incoming call %+v", in)
		}
		if err := ep.Wait(ctx); err != nil {
			t.Fatal(err)
		}
	})
}

// checkSpandsp asserts spandsp's side of a successful fax.
func checkSpandsp(t *testing.T, cr CallResult, pages int, end string) {
	t.Helper()
	if cr.FaxErr != nil || !cr.Fax.OK() || cr.Fax.Pages != pages {
		t.Fatalf("spandsp: %+v (%v)", cr.Fax, cr.FaxErr)
	}
	if cr.End != end {
		t.Fatalf("call ended by %q, want %q", cr.End, end)
	}
	if cr.Media == nil || cr.Media.Version != 0 || cr.Media.EC != ECRedundancy || cr.Media.MaxDatagram != 400 {
		t.Fatalf("negotiated media %+v", cr.Media)
	}
}

// checkFlow asserts the audio phase happened (faxd's CNG or CED reached our
// audio port) in the audio-first flows. In FlowT38 the endpoint never offers
// its audio port and sipp's scenario requires T.38 in faxd's first offer or
// answer; a datagram on that port can only be a stray from another test
// whose faxd still sends to a port number the kernel has since reused, so
// it is not counted against the flow.
func checkFlow(t *testing.T, flow Flow, cr CallResult) {
	t.Helper()
	if flow != FlowT38 && cr.AudioPackets == 0 {
		t.Fatalf("flow %s: no RTP packets on the audio port", flow)
	}
}

// inboundChannel accepts one call and hands it over once T.38 is up.
type inboundChannel struct {
	mu   sync.Mutex
	in   sip.Incoming
	est  chan *sip.Call
	fail chan error
}

func (a *inboundChannel) Admit(_ context.Context, in sip.Incoming) sip.Decision {
	a.mu.Lock()
	a.in = in
	a.mu.Unlock()
	return sip.Decision{Verdict: sip.Accept, Channel: a}
}
func (a *inboundChannel) Established(c *sip.Call) { a.est <- c }
func (a *inboundChannel) Failed(err error)        { a.fail <- err }

// stackSpandspHangsUp: when our side keeps the call up after the fax,
// the endpoint hangs up itself once spandsp is done, as a gateway does.
func stackSpandspHangsUp(t *testing.T) {
	_, pages := testDocument(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	ep := Listen(t, Options{HangupGrace: 500 * time.Millisecond})
	ua := newUA(t, 10, nil)
	// The endpoint answers a gateway probe, and the probe does not upset
	// the call that follows.
	if code, err := ua.Options(ctx, "sip:"+ep.Addr().String()); err != nil || code != 200 {
		t.Fatalf("OPTIONS: %d %v", code, err)
	}
	call, err := ua.Dial(ctx, sip.Dial{Target: ep.Target("4930100")})
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	got := runSession(ctx, call, true, pages[:1])
	if got.Err != nil || !got.Result.OK() {
		t.Fatalf("our sender: %+v %v", got.Result, got.Err)
	}
	select {
	case <-call.Done():
	case <-ctx.Done():
		t.Fatal("the endpoint never hung up")
	}
	if !errors.Is(call.Err(), sip.ErrFarEndHangup) {
		t.Fatalf("call ended with %v", call.Err())
	}
	call.Hangup(ctx)
	cr, err := ep.Next(ctx)
	if err != nil {
		t.Fatal(err)
	}
	checkSpandsp(t, cr, 1, "us")
	if err := ep.Wait(ctx); err != nil {
		t.Fatal(err)
	}
}

// stackGatewayFailures: the endpoint's failure answers reach our UA as
// the documented failure classes (docs/sip.md).
func stackGatewayFailures(t *testing.T) {
	type tc struct {
		name   string
		o      Options
		class  sip.Class
		status int
		down   bool
		retry  time.Duration
		ending string
	}
	cases := []tc{
		{"403", Options{Reject: 403}, sip.ClassRoute, 403, false, 0, "rejected"},
		{"404", Options{Reject: 404}, sip.ClassPermanent, 404, false, 0, "rejected"},
		{"486", Options{Reject: 486}, sip.ClassBusy, 486, false, 0, "rejected"},
		{"503", Options{Reject: 503, RetryAfter: 120}, sip.ClassRoute, 503, true, 120 * time.Second, "rejected"},
		{"no-answer", Options{NoAnswer: true}, sip.ClassNoAnswer, 487, false, 0, "cancelled"},
		{"silent", Options{Silent: true}, sip.ClassRoute, 0, true, 0, ""},
	}
	interop.Concurrent(t, cases, func(c tc) string { return c.name }, func(t *testing.T, c tc) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		ep := Listen(t, c.o)
		// Only the silent gateway is meant to time out; the others answer,
		// and a loaded machine must not turn a slow answer into a timeout.
		inviteTimeout := 30 * time.Second
		if c.o.Silent {
			inviteTimeout = 1500 * time.Millisecond
		}
		ua := newUA(t, 4, func(cfg *sip.Config) { cfg.RingTimeout = 3 * time.Second; cfg.InviteTimeout = inviteTimeout })
		_, err := ua.Dial(ctx, sip.Dial{Target: ep.Target("4930100")})
		var o *sip.Outcome
		if !errors.As(err, &o) {
			t.Fatalf("dial error %v is not an outcome", err)
		}
		if o.Class != c.class || o.Status != c.status || o.GatewayDown != c.down || o.RetryAfter != c.retry {
			t.Fatalf("outcome %+v, want class %s status %d down %v retry-after %v", o, c.class, c.status, c.down, c.retry)
		}
		if c.ending == "" {
			return // the silent gateway's call never ends on its side
		}
		cr, err := ep.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if cr.End != c.ending || cr.Media != nil {
			t.Fatalf("endpoint saw %+v", cr)
		}
		if err := ep.Wait(ctx); err != nil {
			t.Fatal(err)
		}
		if n := ua.Pool().Leased(); n != 0 {
			t.Fatalf("%d media ports still leased", n)
		}
	})
}
