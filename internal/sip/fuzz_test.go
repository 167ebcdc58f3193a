package sip

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// fuzzConn is the connection sipgo's server transactions answer on in the
// fuzz target: it checks that everything the UA sends is a well-formed
// response a gateway can match.
type fuzzConn struct {
	mu  sync.Mutex
	out []sip.Message
}

func (c *fuzzConn) LocalAddr() net.Addr { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 5060} }
func (c *fuzzConn) WriteMsg(m sip.Message) error {
	c.mu.Lock()
	c.out = append(c.out, m)
	c.mu.Unlock()
	return nil
}
func (c *fuzzConn) Ref(int) int                 { return 1 }
func (c *fuzzConn) TryClose() (int, error)      { return 1, nil }
func (c *fuzzConn) Close() error                { return nil }
func (c *fuzzConn) Write(b []byte) (int, error) { return len(b), nil }

// fuzzChannel ends every established call at once, without a BYE on the
// wire: the target is the SIP layer, not the fax.
type fuzzChannel struct{}

func (fuzzChannel) Admit(ctx context.Context, in Incoming) Decision {
	return Decision{Verdict: Accept, Channel: fuzzChannel{}}
}
func (fuzzChannel) Established(c *Call) { c.end(ErrCallEnded) }
func (fuzzChannel) Failed(error)        {}

const (
	fuzzCallID = "fuzz-dialog@127.0.0.1"
	fuzzOurTag = "faxdtag"
	fuzzGwTag  = "gwtag"
)

// fuzzDialog installs an established inbound call with fixed identifiers,
// so that seeds can carry re-INVITE, ACK, BYE, UPDATE and responses in it.
func fuzzDialog(u *UA) *Call {
	dl := newDialog(u)
	dl.callID, dl.localTag, dl.remoteTag = fuzzCallID, fuzzOurTag, fuzzGwTag
	dl.local = sip.Uri{Scheme: "sip", User: "4930555", Host: "127.0.0.1"}
	dl.remote = sip.Uri{Scheme: "sip", User: "gw", Host: "127.0.0.1", Port: 9}
	dl.remoteTarget = dl.remote
	dl.transport = "TCP"
	c := newCall(u, dl, false, nil)
	u.track(c)
	return c
}

// feed runs raw through the guard, sipgo's parser and the UA's handlers
// with a real sipgo server transaction, as the transaction layer would.
func feed(t *testing.T, u *UA, conn *fuzzConn, raw []byte, n uint64) {
	src := netip.MustParseAddrPort("127.0.0.1:5999")
	pass, reply := u.guard.inspect(raw, src, "TCP")
	if reply != nil {
		m, err := sip.ParseMessage(reply)
		if err != nil {
			t.Fatalf("guard reply does not parse: %v\n%s", err, reply)
		}
		if _, ok := m.(*sip.Response); !ok {
			t.Fatalf("guard reply is not a response:\n%s", reply)
		}
	}
	if !pass {
		return
	}
	msg, err := u.guard.parse(raw)
	if err != nil {
		t.Fatalf("guard passed a message sipgo cannot parse: %v", err)
	}
	msg.SetTransport("TCP")
	msg.SetSource(src.String())
	switch m := msg.(type) {
	case *sip.Response:
		u.safeStrayResponse(m)
	case *sip.Request:
		h, ok := u.handlers()[m.Method]
		if !ok {
			return // sipgo answers 405 itself
		}
		tx := sip.NewServerTx(fmt.Sprintf("fuzz-%d", n), m, conn, slog.New(slog.NewTextHandler(io.Discard, nil)))
		if err := tx.Init(); err != nil {
			return
		}
		u.handler(h)(m, tx)
		tx.TerminateGracefully()
	}
}

func fuzzSeeds() []string {
	inv := func(method, callID, toTag string, hdrs []string, body string) string {
		to := "<sip:4930555@127.0.0.1>"
		if toTag != "" {
			to += ";tag=" + toTag
		}
		from := "<sip:gw@127.0.0.1>;tag=" + fuzzGwTag
		var b strings.Builder
		fmt.Fprintf(&b, "%s sip:4930555@127.0.0.1:5060 SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:5999;branch=z9hG4bKfuzz%s\r\nMax-Forwards: 70\r\nFrom: %s\r\nTo: %s\r\nCall-ID: %s\r\nCSeq: 2 %s\r\nContact: <sip:gw@127.0.0.1:5999;transport=tcp>\r\n",
			method, method, from, to, callID, method)
		for _, h := range hdrs {
			b.WriteString(h + "\r\n")
		}
		if body != "" {
			b.WriteString("Content-Type: application/sdp\r\n")
		}
		fmt.Fprintf(&b, "Content-Length: %d\r\n\r\n%s", len(body), body)
		return b.String()
	}
	audio := "v=0\r\no=gw 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 40002 RTP/AVP 0 8\r\na=rtpmap:0 PCMU/8000\r\n"
	res200 := "SIP/2.0 200 OK\r\nVia: SIP/2.0/TCP 127.0.0.1:5060;branch=z9hG4bKours\r\nFrom: <sip:4930555@127.0.0.1>;tag=" + fuzzOurTag +
		"\r\nTo: <sip:gw@127.0.0.1>;tag=" + fuzzGwTag + "\r\nCall-ID: " + fuzzCallID + "\r\nCSeq: 5 INVITE\r\nContent-Length: 0\r\n\r\n"
	return []string{
		inv("INVITE", "new-call@gw", "", []string{"P-Asserted-Identity: <sip:4940999@gw>"}, gwT38SDP),
		inv("INVITE", "audio-call@gw", "", nil, audio),
		inv("INVITE", fuzzCallID, fuzzOurTag, nil, gwT38SDP), // re-INVITE to T.38
		inv("INVITE", fuzzCallID, fuzzOurTag, nil, ""),       // offerless refresh
		inv("INVITE", fuzzCallID, fuzzOurTag, nil, audio),
		inv("ACK", fuzzCallID, fuzzOurTag, nil, ""),
		inv("BYE", fuzzCallID, fuzzOurTag, nil, ""),
		inv("CANCEL", "new-call@gw", "", nil, ""),
		inv("OPTIONS", "probe@gw", "", []string{"Accept: application/sdp"}, ""),
		inv("OPTIONS", fuzzCallID, fuzzOurTag, nil, ""),
		inv("UPDATE", fuzzCallID, fuzzOurTag, nil, ""),
		inv("INFO", fuzzCallID, fuzzOurTag, nil, ""),
		inv("INVITE", "auth@gw", "", []string{`Authorization: Digest username="gw1", realm="faxd", nonce="abc", uri="sip:4930555@127.0.0.1", response="0123456789abcdef0123456789abcdef", qop=auth, nc=00000001, cnonce="x", algorithm=MD5`}, gwT38SDP),
		inv("INVITE", "many@gw", "", nil, manyMedia(40)),
		inv("INVITE", "badsdp@gw", "", nil, "v=0\r\nm=image x udptl t38\r\n"),
		res200,
		strings.Replace(res200, "To: ", "X: ", 1),
		"OPTIONS sip:x SIP/2.0\r\nVia: SIP/2.0/UDP 1.2.3.4\r\nFrom: <sip:a@b>;tag=1\r\nCall-ID: c\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n",
		"INVITE sip:x SIP/2.0\r\nVia: SIP/2.0/UDP 1.2.3.4\r\n\r\n",
		"SIP/2.0 180\r\n\r\n",
		"\x00\x01garbage",
	}
}

// FuzzUA feeds arbitrary bytes through the guard and sipgo's parser into
// the whole UA: new INVITEs (answered, audio or T.38), re-INVITEs, ACK,
// BYE, CANCEL, OPTIONS, UPDATE/INFO in a known dialog, digest credentials
// and responses to our own requests. No input may panic out of the UA, and
// every goroutine it starts must be gone once its calls end.
func FuzzUA(f *testing.F) {
	for _, s := range fuzzSeeds() {
		f.Add([]byte(s))
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	mk := func(auth bool) *UA {
		cfg := Config{ListenUDP: "127.0.0.1:0", MediaBind: "127.0.0.1", MediaPortMin: 45000 + 20*boolInt(auth), MediaPortMax: 45019 + 20*boolInt(auth),
			AllowFrom: []string{"127.0.0.0/8"}, ReinviteAfter: time.Hour}
		if auth {
			cfg.InboundAuth = &Credentials{Username: "gw1", Password: "s3cret"}
		}
		u, err := NewUA(cfg, nil, log)
		if err != nil {
			f.Fatal(err)
		}
		u.SetAdmission(fuzzChannel{})
		f.Cleanup(func() { u.Close() })
		return u
	}
	uas := []*UA{mk(false), mk(true)}
	var n atomic.Uint64
	f.Fuzz(func(t *testing.T, raw []byte) {
		base := runtime.NumGoroutine()
		for _, u := range uas {
			fix := fuzzDialog(u)
			conn := &fuzzConn{}
			feed(t, u, conn, raw, n.Add(1))
			fix.end(ErrCallEnded)
			u.mu.Lock()
			var calls []*Call
			for _, c := range u.calls {
				calls = append(calls, c)
			}
			u.mu.Unlock()
			for _, c := range calls {
				c.end(ErrCallEnded)
			}
			// A recovered panic kept the process alive, but it is still a bug.
			if n := testutil.CollectAndCount(u.Metrics().Panics); n != 0 {
				t.Fatalf("the UA recovered %d panic(s) on this input", n)
			}
			if u.Pool().Leased() != 0 {
				t.Fatalf("%d media ports still leased after every call ended", u.Pool().Leased())
			}
		}
		settle(t, base)
	})
}

// settle waits for the goroutine count to come back to base.
func settle(t *testing.T, base int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > base {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("goroutines: %d before the input, %d after\n%s", base, runtime.NumGoroutine(), buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(time.Millisecond)
	}
}

// TestFuzzHarnessReachesHandlers proves FuzzUA's seeds get past the guard
// into the handlers: the new INVITE, the re-INVITE and the BYE in the
// fixture dialog and the OPTIONS are answered 200, the refusals are not.
func TestFuzzHarnessReachesHandlers(t *testing.T) {
	u := newTestUA(t, func(c *Config) { c.ReinviteAfter = time.Hour })
	u.SetAdmission(fuzzChannel{})
	seeds := fuzzSeeds()
	for i, want := range map[int]int{0: 200, 1: 200, 2: 200, 3: 200, 5: 0, 6: 200, 8: 200, 9: 200, 10: 200, 13: 488, 14: 400} {
		fix := fuzzDialog(u)
		conn := &fuzzConn{}
		feed(t, u, conn, []byte(seeds[i]), uint64(i))
		fix.end(ErrCallEnded)
		got := 0
		conn.mu.Lock()
		for _, m := range conn.out {
			if r, ok := m.(*sip.Response); ok && r.StatusCode >= 200 {
				got = r.StatusCode
			}
		}
		conn.mu.Unlock()
		if got != want {
			t.Errorf("seed %d: final response %d, want %d", i, got, want)
		}
	}
}
