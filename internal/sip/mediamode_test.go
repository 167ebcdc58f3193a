package sip

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// events records a call's steps for a test.
type events struct {
	mu sync.Mutex
	ev []Event
}

func (e *events) add(ev Event) { e.mu.Lock(); e.ev = append(e.ev, ev); e.mu.Unlock() }

func (e *events) has(k EventKind) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, ev := range e.ev {
		if ev.Kind == k {
			return true
		}
	}
	return false
}

// audioMeets proves both ends carry an audio fax on RTP sockets that
// reach each other.
func audioMeets(t *testing.T, a, b Media) {
	t.Helper()
	if a.T38 || b.T38 || !a.Audio || !b.Audio {
		t.Fatalf("not an audio fax on both ends: caller T38=%v Audio=%v, answerer T38=%v Audio=%v", a.T38, a.Audio, b.T38, b.Audio)
	}
	if a.Codec != b.Codec || a.Codec.Name == "" {
		t.Fatalf("codecs differ: %v and %v", a.Codec, b.Codec)
	}
	if a.Remote != b.Local || b.Remote != a.Local {
		t.Fatalf("media addresses do not meet: caller %v->%v, answerer %v->%v", a.Local, a.Remote, b.Local, b.Remote)
	}
	if _, err := a.Conn.WriteToUDPAddrPort([]byte("rtp"), a.Remote); err != nil {
		t.Fatal(err)
	}
	b.Conn.SetReadDeadline(time.Now().Add(2 * time.Second))
	buf := make([]byte, 2048)
	for {
		n, _, err := b.Conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			t.Fatalf("RTP socket did not carry our datagram: %v", err)
		}
		if string(buf[:n]) == "rtp" {
			return
		}
	}
}

func TestParseMediaMode(t *testing.T) {
	for in, want := range map[string]MediaMode{"": MediaT38, "T38": MediaT38, "audio": MediaAudio, " Auto ": MediaAuto} {
		if got, err := ParseMediaMode(in); err != nil || got != want {
			t.Errorf("ParseMediaMode(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := ParseMediaMode("fax"); err == nil {
		t.Error("media fax accepted")
	}
}

// auto: the far end answers our re-INVITE to T.38 with 488, so the call
// carries an audio fax; the far end's own re-INVITE later gets 488.
func TestAutoFallsBackOn488(t *testing.T) {
	t.Parallel()
	caller := newTestUA(t, func(c *Config) { c.ReinviteAfter = 300 * time.Millisecond })
	callee := newTestUA(t, func(c *Config) { c.ReinviteAfter = 1500 * time.Millisecond })
	callee.refuseT38ForTest = true
	ans := newAnswering(Accept)
	callee.SetAdmission(ans)
	var ev events
	c, err := caller.Dial(context.Background(), Dial{Target: target(callee, "udp", "1"), Media: MediaAuto, OnEvent: ev.add})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Hangup(context.Background())
	if !c.Media().Audio || !ev.has(EventReinvite) || !ev.has(EventAudioFax) {
		t.Fatalf("no fall-back to audio: media %+v", c.Media())
	}
	// The callee (t38 mode) re-INVITEs after its wait: refused, the
	// audio fax stays.
	if err := reinviteRefused(t, ans); err == nil {
		t.Fatal("callee got T.38 during our audio fax")
	}
	if m := c.Media(); m.T38 || !m.Audio {
		t.Fatalf("media changed to %+v", m)
	}
}

// auto: our re-INVITE is never answered; after the wait the call falls
// back to audio instead of failing.
func TestAutoFallsBackWhenNoReinviteSucceeds(t *testing.T) {
	t.Parallel()
	caller := newTestUA(t, func(c *Config) { c.ReinviteAfter = 300 * time.Millisecond })
	callee := newTestUA(t, func(c *Config) { c.ReinviteAfter = 60 * time.Second })
	callee.ignoreReinviteForTest = true
	ans := newAnswering(Accept)
	callee.SetAdmission(ans)
	var ev events
	c, err := caller.Dial(context.Background(), Dial{Target: target(callee, "udp", "1"), Media: MediaAuto, OnEvent: ev.add})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Hangup(context.Background())
	if !c.Media().Audio || !ev.has(EventAudioFax) {
		t.Fatalf("no fall-back to audio: media %+v", c.Media())
	}
}

// The answerer's gateway is media: audio; the caller (auto) falls back and
// both ends carry audio; the inbound side, also auto against a caller that
// never re-INVITEs, falls back the same way.
func TestAutoAgainstAudioOnlyAnswerer(t *testing.T) {
	t.Parallel()
	caller := newTestUA(t, func(c *Config) { c.ReinviteAfter = 300 * time.Millisecond })
	callee := newTestUA(t, func(c *Config) { c.ReinviteAfter = 300 * time.Millisecond })
	ans := newAnswering(Accept)
	ans.media = MediaAudio
	callee.SetAdmission(ans)
	c, err := caller.Dial(context.Background(), Dial{Target: target(callee, "udp", "1"), Media: MediaAuto})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Hangup(context.Background())
	in := waitCall(t, ans)
	defer in.Hangup(context.Background())
	audioMeets(t, c.Media(), in.Media())

	// A T.38-only offer to an audio gateway is refused.
	_, err = caller.Dial(context.Background(), Dial{Target: target(callee, "udp", "2")})
	if o := outcomeOf(t, err); o.Status != 488 {
		t.Fatalf("T.38 offer to an audio gateway: %v, want 488", o)
	}
	select {
	case <-ans.fail:
	case <-time.After(5 * time.Second):
		t.Fatal("channel not told of the refused call")
	}

	// Inbound auto: the caller (media audio) never re-INVITEs and refuses ours.
	ans.media = MediaAuto
	c2, err := caller.Dial(context.Background(), Dial{Target: target(callee, "udp", "3"), Media: MediaAudio})
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Hangup(context.Background())
	in2 := waitCall(t, ans)
	defer in2.Hangup(context.Background())
	audioMeets(t, c2.Media(), in2.Media())
}

// media: audio offers no T.38, sends no re-INVITE and refuses the far
// end's re-INVITE to T.38 with 488.
func TestAudioModeNeverOffersT38(t *testing.T) {
	t.Parallel()
	caller := newTestUA(t, func(c *Config) { c.ReinviteAfter = 300 * time.Millisecond })
	callee := newTestUA(t, func(c *Config) { c.ReinviteAfter = 500 * time.Millisecond })
	ans := newAnswering(Accept)
	callee.SetAdmission(ans)
	var ev events
	c, err := caller.Dial(context.Background(), Dial{Target: target(callee, "udp", "1"), Media: MediaAudio, OnEvent: ev.add})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Hangup(context.Background())
	if !c.Media().Audio {
		t.Fatalf("media %+v, want audio", c.Media())
	}
	ans.mu.Lock()
	offered := ans.in[0].T38Offered
	ans.mu.Unlock()
	if offered {
		t.Fatal("media: audio offered T.38 in the INVITE")
	}
	if err := reinviteRefused(t, ans); !errors.Is(err, ErrT38Refused) {
		t.Fatalf("T.38 agreed with a media: audio caller (%v)", err)
	}
	if ev.has(EventReinvite) || c.Media().T38 {
		t.Fatal("media: audio sent a re-INVITE or switched to T.38")
	}
}

// An inbound call to a media: audio gateway that offers T.38 beside G.711
// is answered on the audio line, the image line refused (port 0).
func TestAudioModeAnswersAudioBesideT38(t *testing.T) {
	t.Parallel()
	u := newTestUA(t, nil)
	ans := newAnswering(Accept)
	ans.media = MediaAudio
	u.SetAdmission(ans)
	p := dialRaw(t, u, "udp", "127.0.0.1")
	p.send(p.request(u, "INVITE", "both-"+strconv.Itoa(int(time.Now().UnixNano())), manyMedia(1)).String())
	res := p.final(nil)
	if statusOf(res) != 200 {
		t.Fatalf("offer of audio and T.38: %s", res)
	}
	if !strings.Contains(res, "m=image 0 ") || strings.Contains(res, "m=audio 0 ") || !strings.Contains(res, "m=audio ") {
		t.Fatalf("answer does not take the audio line alone:\n%s", res)
	}
}

// reinviteRefused waits for the answering side's re-INVITE to T.38 to end:
// it must be refused with 488; the refusal is returned (nil when T.38 was
// agreed instead).
func reinviteRefused(t *testing.T, ans *answering) error {
	t.Helper()
	select {
	case err := <-ans.fail:
		if o := outcomeOf(t, err); o.Status != 488 {
			t.Fatalf("callee's re-INVITE: %v, want 488", o)
		}
		return err
	case <-ans.est:
		return nil
	case <-time.After(15 * time.Second):
		t.Fatal("callee never re-INVITEd")
	}
	return nil
}
