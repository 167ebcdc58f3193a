package sip

import (
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
)

// rawGateway is a hand-written UDP SIP peer, to misbehave in ways our own
// UA never would.
type rawGateway struct {
	t    *testing.T
	conn *net.UDPConn
}

func newRawGateway(t *testing.T) *rawGateway {
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &rawGateway{t: t, conn: c}
}

func (g *rawGateway) addr() string { return g.conn.LocalAddr().String() }

// read returns the next SIP message (start line and raw text) or "" on timeout.
func (g *rawGateway) read(d time.Duration) (string, *net.UDPAddr) {
	g.conn.SetReadDeadline(time.Now().Add(d))
	buf := make([]byte, 4096)
	n, from, err := g.conn.ReadFromUDP(buf)
	if err != nil {
		return "", nil
	}
	return string(buf[:n]), from
}

func header(msg, name string) string {
	for _, l := range strings.Split(msg, "\r\n") {
		if k, v, ok := strings.Cut(l, ":"); ok && strings.EqualFold(strings.TrimSpace(k), name) {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

const gwT38SDP = "v=0\r\no=gw 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=image 40000 udptl t38\r\na=T38FaxVersion:0\r\na=T38MaxBitRate:9600\r\na=T38FaxRateManagement:transferredTCF\r\na=T38FaxMaxDatagram:300\r\na=T38FaxUdpEC:t38UDPRedundancy\r\n"

// TestRetransmit200UntilACK: the gateway calls us and withholds its ACK; we
// must repeat the 200 with RFC 3261 spacing (T1, 2*T1, 4*T1...) and stop
// once the ACK comes.
func TestRetransmit200UntilACK(t *testing.T) {
	t.Parallel()
	u := newTestUA(t, nil)
	ans := newAnswering(Accept)
	u.SetAdmission(ans)
	g := newRawGateway(t)
	ua, _ := u.Addr("udp")
	branch := "z9hG4bK" + sip.GenerateTagN(10)
	invite := fmt.Sprintf("INVITE sip:555@%s SIP/2.0\r\nVia: SIP/2.0/UDP %s;branch=%s\r\nFrom: <sip:gw@127.0.0.1>;tag=gwtag\r\nTo: <sip:555@%s>\r\nCall-ID: retx-%s\r\nCSeq: 7 INVITE\r\nContact: <sip:gw@%s>\r\nMax-Forwards: 70\r\nContent-Type: application/sdp\r\nContent-Length: %d\r\n\r\n%s",
		ua, g.addr(), branch, ua, branch, g.addr(), len(gwT38SDP), gwT38SDP)
	if _, err := g.conn.WriteToUDP([]byte(invite), net.UDPAddrFromAddrPort(ua)); err != nil {
		t.Fatal(err)
	}
	var oks []time.Time
	var last string
	for len(oks) < 4 {
		msg, _ := g.read(6 * time.Second)
		if msg == "" {
			t.Fatalf("only %d 200s before silence", len(oks))
		}
		if strings.HasPrefix(msg, "SIP/2.0 200") {
			oks = append(oks, time.Now())
			last = msg
		}
	}
	// Gaps: ~0.5 s, ~1 s, ~2 s (doubling from T1).
	for i := 1; i < len(oks); i++ {
		gap := oks[i].Sub(oks[i-1])
		want := sip.T1 << (i - 1)
		if gap < want*7/10 || gap > want*13/10+200*time.Millisecond {
			t.Fatalf("gap %d = %v, want about %v", i, gap, want)
		}
	}
	toTag := header(last, "To")
	ack := fmt.Sprintf("ACK sip:555@%s SIP/2.0\r\nVia: SIP/2.0/UDP %s;branch=z9hG4bK%s\r\nFrom: <sip:gw@127.0.0.1>;tag=gwtag\r\nTo: %s\r\nCall-ID: retx-%s\r\nCSeq: 7 ACK\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n",
		ua, g.addr(), sip.GenerateTagN(10), toTag, branch)
	g.conn.WriteToUDP([]byte(ack), net.UDPAddrFromAddrPort(ua))
	c := waitCall(t, ans)
	defer c.end(ErrCallEnded) // the raw gateway does not answer BYE
	// No more 200s after the ACK (one may already be in flight).
	deadline := time.Now().Add(3 * time.Second)
	extra := 0
	for time.Now().Before(deadline) {
		if msg, _ := g.read(time.Until(deadline)); strings.HasPrefix(msg, "SIP/2.0 200") {
			extra++
		}
	}
	if extra > 1 {
		t.Fatalf("%d 200s after the ACK", extra)
	}
	if p := c.Media().Params; p.MaxBitRate != 9600 || c.Media().Remote.Port() != 40000 {
		t.Fatalf("negotiated %+v remote %v", p, c.Media().Remote)
	}
}

// TestReACKRetransmitted200: the gateway answers, gets our ACK, and sends
// its 200 again as if the ACK were lost; we must ACK again.
func TestReACKRetransmitted200(t *testing.T) {
	t.Parallel()
	u := newTestUA(t, nil)
	g := newRawGateway(t)
	type result struct {
		acks int
		err  error
	}
	done := make(chan result, 1)
	go func() {
		var inv string
		var from *net.UDPAddr
		for !strings.HasPrefix(inv, "INVITE") {
			inv, from = g.read(5 * time.Second)
			if inv == "" {
				done <- result{err: fmt.Errorf("no INVITE")}
				return
			}
		}
		ok := fmt.Sprintf("SIP/2.0 200 OK\r\nVia: %s\r\nFrom: %s\r\nTo: %s;tag=gw200\r\nCall-ID: %s\r\nCSeq: %s\r\nContact: <sip:gw@%s>\r\nContent-Type: application/sdp\r\nContent-Length: %d\r\n\r\n%s",
			header(inv, "Via"), header(inv, "From"), header(inv, "To"), header(inv, "Call-ID"), header(inv, "CSeq"), g.addr(), len(gwT38SDP), gwT38SDP)
		acks := 0
		for round := 0; round < 3; round++ {
			g.conn.WriteToUDP([]byte(ok), from)
			for {
				msg, _ := g.read(3 * time.Second)
				if msg == "" {
					done <- result{acks: acks, err: fmt.Errorf("no ACK to 200 #%d", round+1)}
					return
				}
				if strings.HasPrefix(msg, "ACK") {
					if header(msg, "CSeq") != strings.Replace(header(inv, "CSeq"), "INVITE", "ACK", 1) {
						done <- result{err: fmt.Errorf("ACK CSeq %q for INVITE %q", header(msg, "CSeq"), header(inv, "CSeq"))}
						return
					}
					acks++
					break
				}
			}
		}
		done <- result{acks: acks}
	}()
	c, err := u.Dial(context.Background(), Dial{Target: "sip:1@" + g.addr()})
	if err != nil {
		t.Fatal(err)
	}
	r := <-done
	if r.err != nil || r.acks != 3 {
		t.Fatalf("acks=%d err=%v", r.acks, r.err)
	}
	c.end(ErrCallEnded) // the raw gateway does not answer BYE
}

func TestClassifyStatus(t *testing.T) {
	cases := []struct {
		code  int
		ph    phase
		class Class
		down  bool
	}{
		{486, phaseInvite, ClassBusy, false},
		{600, phaseInvite, ClassBusy, false},
		{408, phaseInvite, ClassNoAnswer, false},
		{480, phaseInvite, ClassNoAnswer, false},
		{487, phaseInvite, ClassNoAnswer, false},
		{403, phaseInvite, ClassRoute, false},
		{401, phaseInvite, ClassRoute, false},
		{407, phaseInvite, ClassRoute, false},
		{404, phaseInvite, ClassPermanent, false},
		{484, phaseInvite, ClassPermanent, false},
		{410, phaseInvite, ClassPermanent, false},
		{603, phaseInvite, ClassPermanent, false},
		{604, phaseInvite, ClassPermanent, false},
		{488, phaseInvite, ClassPermanent, false},
		{415, phaseInvite, ClassPermanent, false},
		{500, phaseInvite, ClassRoute, true},
		{502, phaseInvite, ClassRoute, true},
		{503, phaseInvite, ClassRoute, true},
		{504, phaseInvite, ClassRoute, true},
		{302, phaseInvite, ClassRoute, false},
		{488, phaseReinvite, ClassRoute, false},
		{415, phaseReinvite, ClassRoute, false},
		{500, phaseReinvite, ClassProtocol, false},
	}
	for _, c := range cases {
		res := sip.NewResponse(c.code, "x")
		o := ClassifyStatus(res, c.ph, false)
		if o.Class != c.class || o.GatewayDown != c.down || o.Status != c.code {
			t.Errorf("%d (phase %d): got %s down=%v, want %s down=%v", c.code, c.ph, o.Class, o.GatewayDown, c.class, c.down)
		}
	}
	res := sip.NewResponse(503, "Service Unavailable")
	res.AppendHeader(sip.NewHeader("Retry-After", "120 (maintenance)"))
	if o := ClassifyStatus(res, phaseInvite, false); o.RetryAfter != 120*time.Second {
		t.Errorf("Retry-After read as %v", o.RetryAfter)
	}
	if o := ClassifyError(fmt.Errorf("x: %w", sip.ErrTransactionTimeout)); o.Class != ClassRoute || !o.GatewayDown {
		t.Errorf("timeout: %v", o)
	}
	if o := ClassifyError(context.Canceled); o.Class != ClassCancelled {
		t.Errorf("cancel: %v", o)
	}
}

// Failure classes end to end for 403/404/486/503 from a gateway.
func TestGatewayFinalResponses(t *testing.T) {
	t.Parallel()
	u := newTestUA(t, nil)
	g := newRawGateway(t)
	codes := []struct {
		code  int
		class Class
	}{{403, ClassRoute}, {404, ClassPermanent}, {486, ClassBusy}, {503, ClassRoute}}
	go func() {
		for i := 0; i < len(codes); {
			inv, from := g.read(10 * time.Second)
			if inv == "" {
				return
			}
			if !strings.HasPrefix(inv, "INVITE") {
				continue // our ACKs
			}
			res := fmt.Sprintf("SIP/2.0 %d Whatever\r\nVia: %s\r\nFrom: %s\r\nTo: %s;tag=x\r\nCall-ID: %s\r\nCSeq: %s\r\nContent-Length: 0\r\n\r\n",
				codes[i].code, header(inv, "Via"), header(inv, "From"), header(inv, "To"), header(inv, "Call-ID"), header(inv, "CSeq"))
			g.conn.WriteToUDP([]byte(res), from)
			i++
		}
	}()
	for _, c := range codes {
		_, err := u.Dial(context.Background(), Dial{Target: "sip:1@" + g.addr()})
		o := outcomeOf(t, err)
		if o.Status != c.code || o.Class != c.class {
			t.Errorf("%d: got %v, want %s", c.code, o, c.class)
		}
	}
	if u.Pool().Leased() != 0 {
		t.Fatal("ports leaked")
	}
}
