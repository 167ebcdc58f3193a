package sip

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/icholy/digest"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// rawPeer is a hand-written SIP peer over UDP or TCP that sends whatever
// bytes a test gives it, from a chosen loopback address.
type rawPeer struct {
	t    *testing.T
	tr   string
	conn net.Conn
	rd   *bufio.Reader
}

// dialRaw connects to u's listener for tr ("udp" or "tcp") from localIP
// (any 127/8 address reaches the loopback listener on Linux).
func dialRaw(t *testing.T, u *UA, tr, localIP string) *rawPeer {
	t.Helper()
	ap, _ := u.Addr(tr)
	d := net.Dialer{Timeout: 5 * time.Second}
	if tr == "udp" {
		d.LocalAddr = &net.UDPAddr{IP: net.ParseIP(localIP)}
	} else {
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(localIP)}
	}
	c, err := d.Dial(tr, ap.String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &rawPeer{t: t, tr: tr, conn: c, rd: bufio.NewReader(c)}
}

func (p *rawPeer) send(msg string) {
	p.t.Helper()
	if _, err := p.conn.Write([]byte(msg)); err != nil {
		p.t.Fatal(err)
	}
}

// read returns the next message, "" on timeout, or "EOF" when a TCP peer
// closed the connection.
func (p *rawPeer) read(d time.Duration) string {
	p.conn.SetReadDeadline(time.Now().Add(d))
	if p.tr == "udp" {
		buf := make([]byte, 65535)
		n, err := p.conn.Read(buf)
		if err != nil {
			return ""
		}
		return string(buf[:n])
	}
	var head strings.Builder
	for {
		line, err := p.rd.ReadString('\n')
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				return ""
			}
			return "EOF" // closed or reset by the UA
		}
		if line == "\r\n" && head.Len() == 0 {
			continue
		}
		head.WriteString(line)
		if line == "\r\n" {
			break
		}
	}
	cl, _ := strconv.Atoi(header(head.String(), "Content-Length"))
	body := make([]byte, cl)
	if _, err := io.ReadFull(p.rd, body); err != nil {
		return ""
	}
	return head.String() + string(body)
}

// final reads until a final response (>= 200) and returns it; provisional
// ones are collected in prov.
func (p *rawPeer) final(prov *[]string) string {
	p.t.Helper()
	for {
		msg := p.read(8 * time.Second)
		if msg == "" || msg == "EOF" {
			p.t.Fatalf("no final response (got %q)", msg)
		}
		code := statusOf(msg)
		if code == 0 {
			continue // a request (BYE, re-INVITE) is not what we wait for
		}
		if code < 200 {
			if prov != nil {
				*prov = append(*prov, msg)
			}
			continue
		}
		return msg
	}
}

// quiet asserts nothing comes back within d.
func (p *rawPeer) quiet(d time.Duration) {
	p.t.Helper()
	if msg := p.read(d); msg != "" && msg != "EOF" {
		p.t.Fatalf("expected no answer, got:\n%s", msg)
	}
}

func statusOf(msg string) int {
	if !strings.HasPrefix(msg, "SIP/2.0 ") {
		return 0
	}
	code, _ := strconv.Atoi(strings.Fields(msg)[1])
	return code
}

// sipMsg is a message under construction: start line, ordered headers and
// body; String sets Content-Length unless the test removed it.
type sipMsg struct {
	start string
	hdrs  [][2]string
	body  string
	noCL  bool
}

func (m *sipMsg) without(names ...string) *sipMsg {
	var out [][2]string
	for _, h := range m.hdrs {
		keep := true
		for _, n := range names {
			if strings.EqualFold(h[0], n) {
				keep = false
			}
		}
		if keep {
			out = append(out, h)
		}
	}
	m.hdrs = out
	return m
}

func (m *sipMsg) set(name, value string) *sipMsg {
	for i, h := range m.hdrs {
		if strings.EqualFold(h[0], name) {
			m.hdrs[i][1] = value
			return m
		}
	}
	m.hdrs = append(m.hdrs, [2]string{name, value})
	return m
}

func (m *sipMsg) add(name, value string) *sipMsg {
	m.hdrs = append(m.hdrs, [2]string{name, value})
	return m
}

func (m *sipMsg) String() string {
	var b strings.Builder
	b.WriteString(m.start + "\r\n")
	for _, h := range m.hdrs {
		b.WriteString(h[0] + ": " + h[1] + "\r\n")
	}
	if !m.noCL {
		fmt.Fprintf(&b, "Content-Length: %d\r\n", len(m.body))
	}
	b.WriteString("\r\n" + m.body)
	return b.String()
}

// request is a well-formed request from p to u.
func (p *rawPeer) request(u *UA, method, callID, body string) *sipMsg {
	ap, _ := u.Addr(p.tr)
	local := p.conn.LocalAddr().String()
	m := &sipMsg{start: fmt.Sprintf("%s sip:4930555@%s SIP/2.0", method, ap), body: body}
	m.add("Via", fmt.Sprintf("SIP/2.0/%s %s;branch=z9hG4bK%s;rport", strings.ToUpper(p.tr), local, sip.GenerateTagN(12)))
	m.add("Max-Forwards", "70")
	m.add("From", fmt.Sprintf("<sip:gw@%s>;tag=gw%s", local, sip.GenerateTagN(6)))
	m.add("To", fmt.Sprintf("<sip:4930555@%s>", ap))
	m.add("Call-ID", callID)
	m.add("CSeq", "1 "+method)
	m.add("Contact", fmt.Sprintf("<sip:gw@%s;transport=%s>", local, p.tr))
	if body != "" {
		m.add("Content-Type", "application/sdp")
	}
	return m
}

// normalCall proves u still works: a T.38 call from a second UA over tr,
// answered, media exchanged and hung up.
func normalCall(t *testing.T, u *UA, ans *answering, tr string) {
	t.Helper()
	caller := newTestUA(t, nil)
	c, err := caller.Dial(context.Background(), Dial{Target: target(u, tr, "4930123")})
	if err != nil {
		t.Fatalf("normal call after the bad input: %v", err)
	}
	in := waitCall(t, ans)
	exchange(t, c.Media(), in.Media())
	if err := c.Hangup(context.Background()); err != nil {
		t.Fatal(err)
	}
	<-in.Done()
	in.Hangup(context.Background())
}

func counter(t *testing.T, u *UA, vec string, label string) float64 {
	t.Helper()
	switch vec {
	case "malformed":
		return testutil.ToFloat64(u.Metrics().Malformed.WithLabelValues(label))
	case "refused":
		return testutil.ToFloat64(u.Metrics().Refused.WithLabelValues(label))
	case "panics":
		return testutil.ToFloat64(u.Metrics().Panics.WithLabelValues(label))
	}
	t.Fatalf("no counter %s", vec)
	return 0
}

var transports = []string{"udp", "tcp"}

// TestMalformedRequestsGet400: each mandatory header missing or unusable
// gets 400 naming it, before any handler runs (no 180, no Admission call),
// and the UA then completes a normal call.
func TestMalformedRequestsGet400(t *testing.T) {
	t.Parallel()
	for _, tr := range transports {
		t.Run(tr, func(t *testing.T) {
			t.Parallel()
			u := newTestUA(t, nil)
			ans := newAnswering(Accept)
			u.SetAdmission(ans)
			cases := []struct {
				name, method, reason string
				edit                 func(*sipMsg)
			}{
				{"OPTIONS without To", "OPTIONS", "Missing To Header", func(m *sipMsg) { m.without("To") }},
				{"INVITE without Call-ID", "INVITE", "Missing Call-ID Header", func(m *sipMsg) { m.without("Call-ID") }},
				{"INVITE without From", "INVITE", "Missing From Header", func(m *sipMsg) { m.without("From") }},
				{"INVITE without To", "INVITE", "Missing To Header", func(m *sipMsg) { m.without("To") }},
				{"INVITE without CSeq", "INVITE", "Missing CSeq Header", func(m *sipMsg) { m.without("CSeq") }},
				{"INVITE without Max-Forwards", "INVITE", "Missing Max-Forwards Header", func(m *sipMsg) { m.without("Max-Forwards") }},
				{"INVITE with CSeq of another method", "INVITE", "Bad CSeq Header", func(m *sipMsg) { m.set("CSeq", "1 BYE") }},
				{"INVITE with unparsable CSeq", "INVITE", "Bad Request", func(m *sipMsg) { m.set("CSeq", "one INVITE") }},
				{"INVITE with unparsable To", "INVITE", "Bad Request", func(m *sipMsg) { m.set("To", "<sip:broken") }},
				{"BYE without Call-ID", "BYE", "Missing Call-ID Header", func(m *sipMsg) { m.without("Call-ID") }},
				{"CANCEL without From", "CANCEL", "Missing From Header", func(m *sipMsg) { m.without("From") }},
			}
			p := dialRaw(t, u, tr, "127.0.0.1")
			for i, tc := range cases {
				body := ""
				if tc.method == "INVITE" {
					body = gwT38SDP
				}
				m := p.request(u, tc.method, fmt.Sprintf("bad-%d-%s", i, sip.GenerateTagN(8)), body)
				tc.edit(m)
				p.send(m.String())
				var prov []string
				res := p.final(&prov)
				if statusOf(res) != 400 || !strings.HasPrefix(res, "SIP/2.0 400 "+tc.reason) {
					t.Fatalf("%s: got\n%s", tc.name, res)
				}
				if header(res, "Warning") == "" {
					t.Fatalf("%s: 400 without a Warning saying why:\n%s", tc.name, res)
				}
				for _, r := range prov {
					if statusOf(r) != 100 {
						t.Fatalf("%s: a handler answered %d before the 400", tc.name, statusOf(r))
					}
				}
			}
			// The Via-less request cannot be routed by Via; the answer goes
			// back to where it came from.
			m := p.request(u, "OPTIONS", "novia-"+sip.GenerateTagN(8), "").without("Via")
			p.send(m.String())
			if res := p.final(nil); !strings.HasPrefix(res, "SIP/2.0 400 Missing Via Header") {
				t.Fatalf("Via-less OPTIONS: %s", res)
			}
			if got := counter(t, u, "malformed", "request"); got != float64(len(cases)+1) {
				t.Fatalf("faxd_sip_malformed_total{kind=request} = %v, want %d", got, len(cases)+1)
			}
			ans.mu.Lock()
			admitted := len(ans.in)
			ans.mu.Unlock()
			if admitted != 0 {
				t.Fatalf("Admission saw %d malformed INVITEs", admitted)
			}
			normalCall(t, u, ans, tr)
		})
	}
}

// TestMalformedResponsesDropped: a response without a mandatory header is
// dropped and counted; a malformed ACK gets no answer at all.
func TestMalformedResponsesDropped(t *testing.T) {
	t.Parallel()
	for _, tr := range transports {
		t.Run(tr, func(t *testing.T) {
			t.Parallel()
			u := newTestUA(t, nil)
			ans := newAnswering(Accept)
			u.SetAdmission(ans)
			p := dialRaw(t, u, tr, "127.0.0.1")
			for _, drop := range []string{"Via", "From", "To", "Call-ID", "CSeq"} {
				m := p.request(u, "INVITE", "resp-"+sip.GenerateTagN(8), "")
				m.start = "SIP/2.0 200 OK"
				m.without("Max-Forwards", drop)
				p.send(m.String())
			}
			p.send(p.request(u, "ACK", "ack-"+sip.GenerateTagN(8), "").without("Call-ID").String())
			p.quiet(time.Second)
			if got := counter(t, u, "malformed", "response"); got != 5 {
				t.Fatalf("faxd_sip_malformed_total{kind=response} = %v, want 5", got)
			}
			if got := counter(t, u, "malformed", "request"); got != 1 {
				t.Fatalf("malformed ACK counted %v times, want 1", got)
			}
			normalCall(t, u, ans, tr)
		})
	}
}

// TestAllowFromRefusal: requests from outside allow_from get 403 (OPTIONS:
// dropped when configured so) even when they are malformed, because only
// the Call-ID and To tag are read; the allowed gateway still calls.
func TestAllowFromRefusal(t *testing.T) {
	t.Parallel()
	for _, mode := range []string{"reject", "drop"} {
		for _, tr := range transports {
			t.Run(mode+"/"+tr, func(t *testing.T) {
				t.Parallel()
				u := newTestUA(t, func(c *Config) { c.AllowFrom = []string{"127.0.0.1/32"}; c.OptionsFromUnknown = mode })
				ans := newAnswering(Accept)
				u.SetAdmission(ans)
				p := dialRaw(t, u, tr, "127.0.0.2")
				// The datagram of the original report: OPTIONS without To.
				p.send(p.request(u, "OPTIONS", "opt-"+sip.GenerateTagN(8), "").without("To").String())
				if mode == "drop" {
					p.quiet(time.Second)
				} else if res := p.final(nil); statusOf(res) != 403 {
					t.Fatalf("OPTIONS from outside allow_from: %s", res)
				}
				p.send(p.request(u, "INVITE", "inv-"+sip.GenerateTagN(8), gwT38SDP).String())
				var prov []string
				if res := p.final(&prov); statusOf(res) != 403 || len(prov) > 1 {
					t.Fatalf("INVITE from outside allow_from: %d provisional, then\n%s", len(prov), res)
				}
				p.send(p.request(u, "INVITE", "inv2-"+sip.GenerateTagN(8), gwT38SDP).without("Call-ID", "From").String())
				if res := p.final(nil); statusOf(res) != 403 {
					t.Fatalf("malformed INVITE from outside allow_from: %s", res)
				}
				// A request claiming a dialog we do not have is refused too.
				bye := p.request(u, "BYE", "nodlg-"+sip.GenerateTagN(8), "")
				bye.set("To", bye.hdrs[3][1]+";tag=guess")
				p.send(bye.String())
				if res := p.final(nil); statusOf(res) != 403 {
					t.Fatalf("BYE from outside allow_from: %s", res)
				}
				if got := counter(t, u, "refused", "allow_from"); got != 4 {
					t.Fatalf("faxd_sip_refused_total{reason=allow_from} = %v, want 4", got)
				}
				ans.mu.Lock()
				n := len(ans.in)
				ans.mu.Unlock()
				if n != 0 {
					t.Fatalf("Admission saw %d refused INVITEs", n)
				}
				normalCall(t, u, ans, tr)
			})
		}
	}
}

// TestOutboundDialogFromUnlistedGateway: a gateway we call that is not in
// allow_from can still hang up (its BYE belongs to our dialog).
func TestOutboundDialogFromUnlistedGateway(t *testing.T) {
	t.Parallel()
	caller := newTestUA(t, func(c *Config) { c.AllowFrom = []string{"10.9.9.0/24"} })
	callee := newTestUA(t, nil)
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
		t.Fatal("the BYE of a gateway outside allow_from did not reach our call")
	}
	if got := counter(t, caller, "refused", "allow_from"); got != 0 {
		t.Fatalf("in-dialog requests counted as refused: %v", got)
	}
}

// TestStreamWithoutContentLength: on TCP a message without Content-Length
// cannot be framed: 400 and the connection is closed.
func TestStreamWithoutContentLength(t *testing.T) {
	t.Parallel()
	u := newTestUA(t, nil)
	ans := newAnswering(Accept)
	u.SetAdmission(ans)
	p := dialRaw(t, u, "tcp", "127.0.0.1")
	m := p.request(u, "OPTIONS", "nocl-"+sip.GenerateTagN(8), "")
	m.noCL = true
	p.send(m.String())
	if res := p.read(5 * time.Second); !strings.HasPrefix(res, "SIP/2.0 400") {
		t.Fatalf("got %q", res)
	}
	if res := p.read(5 * time.Second); res != "EOF" {
		t.Fatalf("connection still open: %q", res)
	}
	if got := counter(t, u, "malformed", "stream"); got != 1 {
		t.Fatalf("faxd_sip_malformed_total{kind=stream} = %v", got)
	}
	normalCall(t, u, ans, "tcp")
}

func manyMedia(n int) string {
	var b strings.Builder
	b.WriteString("v=0\r\no=gw 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n")
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "m=audio %d RTP/AVP 0\r\n", 40000+2*i)
	}
	b.WriteString("m=image 41000 udptl t38\r\na=T38FaxVersion:0\r\n")
	return b.String()
}

// TestOversizedOffersAndAnswers: an offer with 1000 m= lines gets 488
// before any 180; an INVITE whose Record-Route would make every answer too
// large for UDP gets 513; a 200 that cannot fit gets 488 instead of a
// caller left ringing.
func TestOversizedOffersAndAnswers(t *testing.T) {
	t.Parallel()
	for _, tr := range transports {
		t.Run(tr, func(t *testing.T) {
			t.Parallel()
			u := newTestUA(t, nil)
			ans := newAnswering(Accept)
			u.SetAdmission(ans)
			p := dialRaw(t, u, tr, "127.0.0.1")
			var prov []string
			p.send(p.request(u, "INVITE", "mlines-"+sip.GenerateTagN(8), manyMedia(1000)).String())
			res := p.final(&prov)
			if statusOf(res) != 488 || !strings.Contains(header(res, "Warning"), "m= lines") {
				t.Fatalf("1000 m= lines: %s", res)
			}
			for _, r := range prov {
				if statusOf(r) == 180 {
					t.Fatal("180 sent before refusing the offer")
				}
			}
			if got := counter(t, u, "refused", "too_many_media"); got != 1 {
				t.Fatalf("too_many_media = %v", got)
			}
			if tr == "udp" {
				m := p.request(u, "INVITE", "rr-"+sip.GenerateTagN(8), gwT38SDP)
				for i := 0; i < 20; i++ {
					m.add("Record-Route", fmt.Sprintf("<sip:proxy%02d.carrier.example.net:5060;lr;ftag=%s>", i, strings.Repeat("x", 40)))
				}
				p.send(m.String())
				if res := p.final(nil); statusOf(res) != 513 {
					t.Fatalf("Record-Route too large for UDP: %s", res)
				}
			}
			normalCall(t, u, ans, tr)
		})
	}
	t.Run("answer too large", func(t *testing.T) {
		t.Parallel()
		// A Server header this long fits the 180 (which has none) but
		// not the 200: the caller must get a final response anyway.
		u := newTestUA(t, func(c *Config) { c.UserAgent = "faxd " + strings.Repeat("x", 1200) })
		ans := newAnswering(Accept)
		u.SetAdmission(ans)
		p := dialRaw(t, u, "udp", "127.0.0.1")
		p.send(p.request(u, "INVITE", "big-"+sip.GenerateTagN(8), gwT38SDP).String())
		res := p.final(nil)
		if statusOf(res) != 488 || !strings.Contains(header(res, "Warning"), "too large") {
			t.Fatalf("answer too large: %s", res)
		}
		select {
		case err := <-ans.fail:
			if err == nil {
				t.Fatal("channel told nil")
			}
		case <-time.After(5 * time.Second):
			t.Fatal("channel never told the call failed")
		}
		if u.Pool().Leased() != 0 || u.ActiveCalls() != 0 {
			t.Fatalf("refused call keeps %d ports, %d calls", u.Pool().Leased(), u.ActiveCalls())
		}
		normalCall(t, u, ans, "tcp") // over TCP the same answer goes out
	})
}

// panicking is an Admission that panics, or whose channel panics once the
// call is up, to prove the UA survives its consumers' bugs.
type panicking struct {
	*answering
	inAdmit bool
}

func (p *panicking) Admit(ctx context.Context, in Incoming) Decision {
	if p.inAdmit {
		panic("admission bug")
	}
	d := p.answering.Admit(ctx, in)
	d.Channel = p
	return d
}

func (p *panicking) Established(c *Call) { panic("channel bug") }

// TestHandlerPanicRecovered: a panic in the INVITE handler is answered
// 500 and counted; one in a call goroutine ends that call; the UA lives on.
func TestHandlerPanicRecovered(t *testing.T) {
	t.Parallel()
	for _, tr := range transports {
		t.Run(tr, func(t *testing.T) {
			t.Parallel()
			u := newTestUA(t, nil)
			u.SetAdmission(&panicking{answering: newAnswering(Accept), inAdmit: true})
			p := dialRaw(t, u, tr, "127.0.0.1")
			p.send(p.request(u, "INVITE", "panic-"+sip.GenerateTagN(8), gwT38SDP).String())
			if res := p.final(nil); statusOf(res) != 500 {
				t.Fatalf("panicking handler: %s", res)
			}
			if got := counter(t, u, "panics", "INVITE"); got != 1 {
				t.Fatalf("faxd_sip_panics_total{where=INVITE} = %v", got)
			}
			// A channel that panics once the call is up: the call goroutine
			// recovers, ends the call and frees its ports.
			u.SetAdmission(&panicking{answering: newAnswering(Accept)})
			caller := newTestUA(t, nil)
			c, err := caller.Dial(context.Background(), Dial{Target: target(u, tr, "1")})
			if err != nil {
				t.Fatal(err)
			}
			deadline := time.Now().Add(10 * time.Second)
			for counter(t, u, "panics", "inbound call") != 1 && time.Now().Before(deadline) {
				time.Sleep(20 * time.Millisecond)
			}
			if got := counter(t, u, "panics", "inbound call"); got != 1 {
				t.Fatalf("faxd_sip_panics_total{where=inbound call} = %v", got)
			}
			for u.Pool().Leased() != 0 && time.Now().Before(deadline) {
				time.Sleep(20 * time.Millisecond)
			}
			if u.Pool().Leased() != 0 {
				t.Fatal("the call whose goroutine panicked keeps its ports")
			}
			c.Hangup(context.Background())
			ans := newAnswering(Accept)
			u.SetAdmission(ans)
			normalCall(t, u, ans, tr)
		})
	}
}

// TestParserPanicContained: should sipgo's parser panic on some input, the
// guard turns it into a 400 instead of a dead process.
func TestParserPanicContained(t *testing.T) {
	t.Parallel()
	for _, tr := range transports {
		t.Run(tr, func(t *testing.T) {
			t.Parallel()
			u := newTestUA(t, nil)
			ans := newAnswering(Accept)
			u.SetAdmission(ans)
			real := sip.NewParser().ParseSIP
			u.guard.setParser(func(b []byte) (sip.Message, error) {
				if bytes.Contains(b, []byte("X-Boom")) {
					panic("parser bug")
				}
				return real(b)
			})
			p := dialRaw(t, u, tr, "127.0.0.1")
			p.send(p.request(u, "INVITE", "boom-"+sip.GenerateTagN(8), gwT38SDP).add("X-Boom", "1").String())
			if res := p.final(nil); statusOf(res) != 400 {
				t.Fatalf("parser panic: %s", res)
			}
			if got := counter(t, u, "panics", "parser"); got != 1 {
				t.Fatalf("faxd_sip_panics_total{where=parser} = %v", got)
			}
			normalCall(t, u, ans, tr)
		})
	}
}

// TestDigestReplayRefused: an Authorization captured from an accepted
// INVITE (same nonce, nc, cnonce) is refused on a new INVITE with a fresh,
// stale challenge, over UDP and TCP; the gateway's next proper
// authentication works.
func TestDigestReplayRefused(t *testing.T) {
	t.Parallel()
	for _, tr := range transports {
		t.Run(tr, func(t *testing.T) {
			t.Parallel()
			creds := &Credentials{Username: "gw1", Password: "s3cret"}
			u := newTestUA(t, func(c *Config) { c.InboundAuth = creds })
			ans := newAnswering(Reject) // 603 once admitted: the call itself is not the point
			u.SetAdmission(ans)
			p := dialRaw(t, u, tr, "127.0.0.1")
			inv := p.request(u, "INVITE", "auth-"+sip.GenerateTagN(8), gwT38SDP)
			p.send(inv.String())
			res := p.final(nil)
			if statusOf(res) != 401 {
				t.Fatalf("no challenge: %s", res)
			}
			chal, err := digest.ParseChallenge(header(res, "WWW-Authenticate"))
			if err != nil {
				t.Fatal(err)
			}
			ap, _ := u.Addr(tr)
			uri := "sip:4930555@" + ap.String()
			cred, err := digest.Digest(chal, digest.Options{Method: "INVITE", URI: uri, Username: "gw1", Password: "s3cret", Cnonce: "0a4f113b", Count: 1})
			if err != nil {
				t.Fatal(err)
			}
			authorized := func(callID string) string {
				m := p.request(u, "INVITE", callID, gwT38SDP).add("Authorization", cred.String())
				p.send(m.String())
				return p.final(nil)
			}
			if res := authorized("auth-ok-" + sip.GenerateTagN(8)); statusOf(res) != 603 {
				t.Fatalf("first use of the credentials: %s", res)
			}
			// The replay: same Authorization, new INVITE.
			res = authorized("auth-replay-" + sip.GenerateTagN(8))
			if statusOf(res) != 401 {
				t.Fatalf("replayed Authorization: %s", res)
			}
			fresh, err := digest.ParseChallenge(header(res, "WWW-Authenticate"))
			if err != nil || !fresh.Stale || fresh.Nonce == chal.Nonce {
				t.Fatalf("replay challenge %+v (err %v): want stale with a new nonce", fresh, err)
			}
			if got := counter(t, u, "refused", "digest_replay"); got != 1 {
				t.Fatalf("digest_replay = %v", got)
			}
			// nc moving on with the same nonce is legitimate (RFC 7616).
			cred, _ = digest.Digest(chal, digest.Options{Method: "INVITE", URI: uri, Username: "gw1", Password: "s3cret", Cnonce: "0a4f113b", Count: 2})
			if res := authorized("auth-nc2-" + sip.GenerateTagN(8)); statusOf(res) != 603 {
				t.Fatalf("nc=2 on the same nonce: %s", res)
			}
			// An unknown nonce with correct credentials: stale, not 403.
			bogus := *chal
			bogus.Nonce = "bm9uY2UtbmV2ZXItaXNzdWVk"
			cred, _ = digest.Digest(&bogus, digest.Options{Method: "INVITE", URI: uri, Username: "gw1", Password: "s3cret", Cnonce: "77", Count: 1})
			if res := authorized("auth-unknown-" + sip.GenerateTagN(8)); statusOf(res) != 401 {
				t.Fatalf("unknown nonce: %s", res)
			}
			ok := newAnswering(Accept)
			u.SetAdmission(ok)
			caller := newTestUA(t, nil)
			c, err := caller.Dial(context.Background(), Dial{Target: target(u, tr, "1"), Auth: &Credentials{Username: "gw1", Password: "s3cret"}})
			if err != nil {
				t.Fatalf("normal authenticated call: %v", err)
			}
			in := waitCall(t, ok)
			c.Hangup(context.Background())
			<-in.Done()
			in.Hangup(context.Background())
		})
	}
}

func TestNonceTable(t *testing.T) {
	tab := newNonceTable()
	now := time.Unix(1_800_000_000, 0)
	n := tab.issue(now)
	if n == tab.issue(now) {
		t.Fatal("two challenges got the same nonce")
	}
	if v := tab.use(n, 1, true, now); v != nonceOK {
		t.Fatalf("first use: %v", v)
	}
	if v := tab.use(n, 1, true, now); v != nonceReplay {
		t.Fatalf("same nc again: %v", v)
	}
	if v := tab.use(n, 3, true, now); v != nonceOK {
		t.Fatalf("higher nc: %v", v)
	}
	if v := tab.use(n, 2, true, now); v != nonceReplay {
		t.Fatalf("lower nc: %v", v)
	}
	if v := tab.use(n, 4, true, now.Add(nonceLife)); v != nonceStale {
		t.Fatalf("expired: %v", v)
	}
	m := tab.issue(now)
	if tab.use(m, 0, false, now) != nonceOK || tab.use(m, 0, false, now) != nonceReplay {
		t.Fatal("a nonce without qop must be single use")
	}
	for i := 0; i < maxNonces+10; i++ {
		tab.issue(now.Add(time.Duration(i) * time.Millisecond))
	}
	if len(tab.m) > maxNonces {
		t.Fatalf("table grew to %d", len(tab.m))
	}
}

// BenchmarkGuard is the read guard's cost per message: a well-formed
// INVITE with SDP from an allowed gateway (full parse and checks), and an
// OPTIONS from outside allow_from dropped on its start line, Call-ID and
// To tag alone.
func BenchmarkGuard(b *testing.B) {
	u := &UA{cfg: Config{OptionsFromUnknown: "drop", UserAgent: "faxd"}, host: "127.0.0.1",
		allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}, calls: map[string]*Call{},
		metrics: newMetrics(), log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		addrs: map[string]netip.AddrPort{"udp": netip.MustParseAddrPort("127.0.0.1:5060")}}
	u.guard = newGuard(u)
	inv := []byte((&rawPeer{tr: "udp", conn: fakeAddrConn{}}).request(u, "INVITE", "bench@gw", gwT38SDP).String())
	opt := []byte((&rawPeer{tr: "udp", conn: fakeAddrConn{}}).request(u, "OPTIONS", "scan@x", "").String())
	for _, bc := range []struct {
		name string
		raw  []byte
		src  netip.AddrPort
		pass bool
	}{
		{"invite_allowed", inv, netip.MustParseAddrPort("127.0.0.1:5070"), true},
		{"options_dropped", opt, netip.MustParseAddrPort("192.0.2.9:5060"), false},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.SetBytes(int64(len(bc.raw)))
			for b.Loop() {
				if pass, _ := u.guard.inspect(bc.raw, bc.src, "UDP"); pass != bc.pass {
					b.Fatalf("pass = %v", pass)
				}
			}
		})
	}
}

// fakeAddrConn gives rawPeer.request a local address without a socket.
type fakeAddrConn struct{ net.Conn }

func (fakeAddrConn) LocalAddr() net.Addr { return &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 5070} }
