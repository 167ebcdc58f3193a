package sip

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/faxd/faxd/t38/sdp"
)

var update = flag.Bool("update", false, "rewrite the golden SDP files in testdata/sdp")

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", "sdp", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(want) {
		t.Fatalf("%s differs from the golden file:\n--- got\n%s\n--- want\n%s", name, got, want)
	}
}

// originOf is the o= session id and version of an SDP body.
func originOf(t *testing.T, body []byte) (string, uint64) {
	t.Helper()
	s, err := sdp.Parse(body)
	if err != nil {
		t.Fatalf("our SDP does not parse: %v\n%s", err, body)
	}
	return s.Origin.SessionID, s.Origin.SessionVersion
}

func goldenUA() *UA {
	cfg := Config{}
	cfg.Defaults()
	return &UA{cfg: cfg, host: "192.0.2.10", log: slog.New(slog.NewTextHandler(io.Discard, nil))}
}

// fixedDialog has a known session id, so that the golden files hold it.
func fixedDialog(u *UA, id uint64) *dialog {
	d := newDialog(u)
	d.sdpID = id
	return d
}

const gwAudioImageOffer = "v=0\r\no=gw 77 77 IN IP4 198.51.100.7\r\ns=-\r\nc=IN IP4 198.51.100.7\r\nt=0 0\r\n" +
	"m=audio 40000 RTP/AVP 8 0 101\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\n" +
	"m=image 40002 udptl t38\r\na=T38FaxVersion:0\r\na=T38MaxBitRate:14400\r\na=T38FaxRateManagement:transferredTCF\r\na=T38FaxMaxDatagram:300\r\na=T38FaxUdpEC:t38UDPRedundancy\r\n"

// TestSDPOriginGolden: the o= line through a dialog's life, against golden
// files: the offer (version 1), the same offer again after a digest
// challenge (unchanged), our answer, re-INVITEs in both directions (one
// up each), and a refresh (unchanged).
func TestSDPOriginGolden(t *testing.T) {
	u := goldenUA()

	// Outbound, audio first: offer, re-sent offer, then our re-INVITE to T.38.
	out := fixedDialog(u, 1234567890123456789)
	offer := u.audioBody(out, 20000, u.codecs(), false)
	golden(t, "outbound_offer.sdp", offer)
	if again := u.audioBody(out, 20000, u.codecs(), false); string(again) != string(offer) {
		t.Fatalf("the same offer sent again (digest retry) changed:\n%s", again)
	}
	reinv := u.t38Body(out, u.localT38(out, 20002))
	golden(t, "outbound_reinvite.sdp", reinv)

	// Inbound: our answer to an offer with audio and image, then our answer
	// to the gateway's re-INVITE (new port), then a refresh re-INVITE.
	in := fixedDialog(u, 987654321)
	desc, err := parseSDP([]byte(gwAudioImageOffer))
	if err != nil {
		t.Fatal(err)
	}
	ours, _, err := u.answerT38(in, *desc.image, 20010)
	if err != nil {
		t.Fatal(err)
	}
	ours.Addr = ""
	answer := u.answerBody(in, desc, desc.imageIdx, ours.Media())
	golden(t, "inbound_answer.sdp", answer)
	ours2, _, _ := u.answerT38(in, *desc.image, 20012)
	ours2.Addr = ""
	reans := u.answerBody(in, desc, desc.imageIdx, ours2.Media())
	golden(t, "inbound_reinvite_answer.sdp", reans)
	c := newCall(u, in, false, nil)
	c.localSDP = reans
	refresh := c.currentSDP()
	golden(t, "inbound_refresh.sdp", refresh)
	if string(refresh) != string(reans) {
		t.Fatal("a refresh changed the description")
	}

	for _, tc := range []struct {
		name string
		body []byte
		id   string
		ver  uint64
	}{
		{"outbound offer", offer, "1234567890123456789", 1},
		{"outbound re-INVITE", reinv, "1234567890123456789", 2},
		{"inbound answer", answer, "987654321", 1},
		{"inbound re-INVITE answer", reans, "987654321", 2},
		{"inbound refresh", refresh, "987654321", 2},
	} {
		if id, v := originOf(t, tc.body); id != tc.id || v != tc.ver {
			t.Errorf("%s: o= %s %d, want %s %d", tc.name, id, v, tc.id, tc.ver)
		}
	}
}

// TestSDPOriginAfterRefusedOffer: when the far end refused our re-INVITE,
// it has still seen that version; a refresh then goes one up with the old
// media rather than back to an older version.
func TestSDPOriginAfterRefusedOffer(t *testing.T) {
	u := goldenUA()
	d := fixedDialog(u, 42)
	c := newCall(u, d, true, nil)
	c.localSDP = u.audioBody(d, 20000, u.codecs(), false)
	_ = u.t38Body(d, u.localT38(d, 20002)) // offered, refused with 488
	refresh := c.currentSDP()
	if _, v := originOf(t, refresh); v != 3 {
		t.Fatalf("refresh after a refused offer has version %d, want 3", v)
	}
	s, _ := sdp.Parse(refresh)
	if len(s.Media) != 1 || s.Media[0].Type != "audio" || s.Media[0].Port != 20000 {
		t.Fatalf("refresh media %+v, want the audio in force", s.Media)
	}
}

func TestSessionIDs(t *testing.T) {
	seen := map[uint64]bool{}
	for i := 0; i < 10000; i++ {
		id := newSessionID()
		if id == 0 || id >= 1<<62 || seen[id] {
			t.Fatalf("session id %d (zero, over 62 bits or repeated)", id)
		}
		seen[id] = true
	}
}

// TestSDPOriginOnCalls checks o= on real calls: audio first with the
// caller's re-INVITE and with the answerer's, each side keeping its one
// session id and going to version 2 exactly when its description changed.
func TestSDPOriginOnCalls(t *testing.T) {
	t.Parallel()
	for _, who := range []string{"caller", "answerer"} {
		t.Run(who+" re-INVITEs", func(t *testing.T) {
			t.Parallel()
			callerAfter, calleeAfter := 20*time.Second, 20*time.Second
			if who == "caller" {
				callerAfter = 300 * time.Millisecond
			} else {
				calleeAfter = 300 * time.Millisecond
			}
			caller := newTestUA(t, func(c *Config) { c.ReinviteAfter = callerAfter })
			callee := newTestUA(t, func(c *Config) { c.ReinviteAfter = calleeAfter })
			ans := newAnswering(Accept)
			callee.SetAdmission(ans)
			c, err := caller.Dial(context.Background(), Dial{Target: target(callee, "udp", "1"), AudioFirst: true})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Hangup(context.Background())
			in := waitCall(t, ans)
			defer in.Hangup(context.Background())
			for _, side := range []*Call{c, in} {
				side.mu.Lock()
				body := side.localSDP
				side.mu.Unlock()
				id, v := originOf(t, body)
				if id != fmt.Sprint(side.dlg.sdpID) || v != 2 || side.dlg.sdpVersion != 2 {
					t.Fatalf("outbound=%v: o= %s %d (dialog id %d version %d), want version 2 of the dialog's id",
						side.outbound, id, v, side.dlg.sdpID, side.dlg.sdpVersion)
				}
			}
			if c.dlg.sdpID == in.dlg.sdpID {
				t.Fatal("two dialogs share a session id")
			}
		})
	}
}

// TestSDPOriginRefreshOnWire: a gateway that refreshes the T.38 session
// (re-INVITE with the same offer, then an offerless one) gets our SDP back
// byte for byte, o= version unchanged.
func TestSDPOriginRefreshOnWire(t *testing.T) {
	t.Parallel()
	u := newTestUA(t, nil)
	ans := newAnswering(Accept)
	u.SetAdmission(ans)
	g := newRawGateway(t)
	ua, _ := u.Addr("udp")
	uaAddr := net.UDPAddrFromAddrPort(ua)
	callID := "refresh-" + sip.GenerateTagN(8)
	msg := func(method string, cseq int, toTag, body string) string {
		to := fmt.Sprintf("<sip:555@%s>", ua)
		if toTag != "" {
			to += ";tag=" + toTag
		}
		ct := ""
		if body != "" {
			ct = "Content-Type: application/sdp\r\n"
		}
		return fmt.Sprintf("%s sip:555@%s SIP/2.0\r\nVia: SIP/2.0/UDP %s;branch=z9hG4bK%s\r\nFrom: <sip:gw@127.0.0.1>;tag=gwtag\r\nTo: %s\r\nCall-ID: %s\r\nCSeq: %d %s\r\nContact: <sip:gw@%s>\r\nMax-Forwards: 70\r\n%sContent-Length: %d\r\n\r\n%s",
			method, ua, g.addr(), sip.GenerateTagN(10), to, callID, cseq, method, g.addr(), ct, len(body), body)
	}
	final := func() string {
		for {
			m, _ := g.read(6 * time.Second)
			if m == "" {
				t.Fatal("no 200")
			}
			if strings.HasPrefix(m, "SIP/2.0 200") {
				return m
			}
		}
	}
	bodyOf := func(m string) string { _, b, _ := strings.Cut(m, "\r\n\r\n"); return b }
	g.conn.WriteToUDP([]byte(msg("INVITE", 1, "", gwT38SDP)), uaAddr)
	ok := final()
	toTag := tagOf(header(ok, "To"))
	g.conn.WriteToUDP([]byte(msg("ACK", 1, toTag, "")), uaAddr)
	c := waitCall(t, ans)
	defer c.end(ErrCallEnded)
	first := bodyOf(ok)
	for i, body := range []string{gwT38SDP, ""} {
		g.conn.WriteToUDP([]byte(msg("INVITE", 2+i, toTag, body)), uaAddr)
		res := final()
		g.conn.WriteToUDP([]byte(msg("ACK", 2+i, toTag, "")), uaAddr)
		if got := bodyOf(res); got != first {
			t.Fatalf("refresh %d changed our SDP:\n%s\nwas\n%s", i, got, first)
		}
	}
	if _, v := originOf(t, []byte(first)); v != 1 {
		t.Fatalf("first answer version %d", v)
	}
}
