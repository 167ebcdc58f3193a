package session

import (
	"encoding/hex"
	"testing"
	"time"

	"github.com/faxd/faxd/t38/t30"
)

type vclock struct{ now time.Duration }

func (c *vclock) Now() time.Duration { return c.now }

// TestWireGolden checks the IFP packets of a receiver's opening (CED, then
// CSI+DIS) and of its CFR against the octets spandsp uses (notes 3.2, 3.4).
func TestWireGolden(t *testing.T) {
	for _, tc := range []struct {
		version int
		fcsOK   string
		sigEnd  string
	}{{0, "c00120", "c00140"}, {3, "c00110", "c00120"}} {
		clk := &vclock{}
		s, err := New(Config{Version: tc.version, T30: t30.Config{Fine: true}}, clk)
		if err != nil {
			t.Fatal(err)
		}
		s.Start()
		var got []string
		for i := 0; i < 200 && len(got) < 8; i++ {
			for _, p := range s.Outgoing() {
				got = append(got, hex.EncodeToString(p))
			}
			clk.now += 50 * time.Millisecond
			s.Tick()
		}
		// CED, no-signal, V.21 preamble, DIS (FCF 80 reversed = 01) as hdlc-data, FCS-OK-sig-end, no-signal.
		want := []string{"04", "00", "06"}
		for i, w := range want {
			if got[i] != w {
				t.Fatalf("v%d packet %d = %s, want %s (all %v)", tc.version, i, got[i], w, got)
			}
		}
		// The DIS frame: hdlc-data with FF C8 01 ... then the end of the burst.
		if got[3][:8] != "c0018000" || got[3][10:16] != "ffc801" {
			t.Fatalf("v%d DIS packet %s", tc.version, got[3])
		}
		if got[4] != tc.sigEnd || got[5] != "00" {
			t.Fatalf("v%d burst end %v", tc.version, got[4:6])
		}
	}
}

// TestReceiveTolerance feeds a receiver a DCS with repeated sig-ends and a
// lost packet inside a frame: the damaged frame must not be taken.
func TestReceiveTolerance(t *testing.T) {
	clk := &vclock{}
	s, _ := New(Config{Version: 0, T30: t30.Config{Fine: true}}, clk)
	s.Start()
	for i := 0; i < 200; i++ { // let CED + DIS go out
		clk.now += 50 * time.Millisecond
		s.Tick()
	}
	s.Outgoing()
	dcs, _ := hex.DecodeString("c001800005ffc8c1000711") // v21 hdlc-data: DCS (X=1) FIF 00 E0 88 reversed
	pre, _ := hex.DecodeString("06")
	sig, _ := hex.DecodeString("c00140")
	s.Receive(100, pre)
	s.Receive(101, dcs)
	s.Receive(103, sig) // 102 lost: the frame is suspect
	s.Receive(104, sig) // repeats
	s.Receive(105, sig)
	if st := s.Engine().State(); st != "rx-wait-dcs" {
		t.Fatalf("state %s after a damaged DCS", st)
	}
	if s.Stats().Gaps != 1 {
		t.Fatalf("gaps %d", s.Stats().Gaps)
	}
	for i := 0; i < 30; i++ { // our CRP goes out; the far end repeats
		clk.now += 50 * time.Millisecond
		s.Tick()
	}
	if out := s.Outgoing(); len(out) < 3 || hex.EncodeToString(out[1]) != "c0018000"+"02ffc858" {
		t.Fatalf("no CRP: %x", out)
	}
	s.Receive(106, pre)
	s.Receive(107, dcs)
	s.Receive(108, sig)
	s.Receive(109, sig)
	if st := s.Engine().State(); st != "rx-wait-tcf" {
		t.Fatalf("state %s after a good DCS", st)
	}
	s.Receive(90, pre) // late: dropped
	if s.Stats().Late != 1 {
		t.Fatalf("late %d", s.Stats().Late)
	}
}
