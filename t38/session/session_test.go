package session

import (
	"bytes"
	"encoding/hex"
	"testing"
	"time"

	"github.com/faxd/faxd/t38/t30"
)

// fresh drops the repeats: the packets in the order they were first sent.
func fresh(out []Packet) [][]byte {
	var b [][]byte
	for _, p := range out {
		if !p.Repeat {
			b = append(b, p.IFP)
		}
	}
	return b
}

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
			for _, p := range fresh(s.Outgoing()) {
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
	// TCF follows the DCS: the CRP waits until it is over, when the far
	// end listens.
	clk.now += 100 * time.Millisecond
	s.Tick()
	if out := fresh(s.Outgoing()); len(out) != 0 {
		t.Fatalf("sent during the far end's TCF: %x", out)
	}
	s.Receive(106, []byte{0x1e})       // V.17 14400 long training
	clk.now += 2500 * time.Millisecond // training and 1.5 s of TCF
	s.Receive(107, []byte{0x00})
	for i := 0; i < 30; i++ { // our CRP goes out; the far end repeats
		clk.now += 50 * time.Millisecond
		s.Tick()
	}
	if out := fresh(s.Outgoing()); len(out) < 3 || hex.EncodeToString(out[1]) != "c0018000"+"02ffc858" {
		t.Fatalf("no CRP: %x", out)
	}
	s.Receive(108, pre)
	s.Receive(109, dcs)
	s.Receive(110, sig)
	s.Receive(111, sig)
	if st := s.Engine().State(); st != "rx-wait-tcf" {
		t.Fatalf("state %s after a good DCS", st)
	}
	s.Receive(90, pre) // late: dropped
	if s.Stats().Late != 1 {
		t.Fatalf("late %d", s.Stats().Late)
	}
}

// TestEndCopies: every indicator goes out IndicatorCopies times and the
// last frame of a burst (its data and FCS-OK-sig-end) DataEndCopies
// times, each copy CopySpacing after the one before and with the ID of
// the original; nothing else is repeated, and Done waits for the copies.
func TestEndCopies(t *testing.T) {
	for _, tc := range []struct{ ind, end int }{{0, 0}, {1, 1}, {2, 4}} {
		clk := &vclock{}
		spacing := 15 * time.Millisecond
		s, err := New(Config{Version: 0, T30: t30.Config{Fine: true, Ident: "COPIES"}, IndicatorCopies: tc.ind, DataEndCopies: tc.end,
			CopySpacing: spacing}, clk)
		if err != nil {
			t.Fatal(err)
		}
		ind, end := tc.ind, tc.end
		if ind == 0 {
			ind, end = DefaultIndicatorCopies, DefaultDataEndCopies
		}
		s.Start()
		type sent struct {
			at time.Duration
			p  Packet
		}
		var got []sent
		for i := 0; i < 400; i++ { // CED, then CSI+DIS
			for _, p := range s.Outgoing() {
				got = append(got, sent{clk.now, p})
			}
			d, ok := s.NextDeadline()
			if !ok || d > 6*time.Second {
				break
			}
			clk.now = max(clk.now, d)
			s.Tick()
		}
		orig := map[uint32]sent{}
		count := map[uint32]int{}
		for _, g := range got {
			count[g.p.ID]++
			o, seen := orig[g.p.ID]
			if !g.p.Repeat {
				if seen {
					t.Fatalf("%+v: ID %d sent twice as new", tc, g.p.ID)
				}
				orig[g.p.ID] = g
				continue
			}
			if !seen || !bytes.Equal(o.p.IFP, g.p.IFP) {
				t.Fatalf("%+v: copy of ID %d (%x) does not match its original", tc, g.p.ID, g.p.IFP)
			}
			if k := time.Duration(count[g.p.ID] - 1); g.at != o.at+k*spacing {
				t.Fatalf("%+v: copy %d of ID %d at %v, original at %v", tc, k, g.p.ID, g.at, o.at)
			}
		}
		// CED, no-signal, V.21 preamble, CSI data, FCS-OK, DIS data,
		// FCS-OK-sig-end, no-signal: the CSI frame is not the last.
		want := []int{ind, ind, ind, 1, 1, end, end, ind}
		if len(orig) != len(want) {
			t.Fatalf("%+v: %d packets: %+v", tc, len(orig), got)
		}
		for id, w := range want {
			if count[uint32(id)] != w {
				t.Fatalf("%+v: packet %d (%x) sent %d times, want %d", tc, id, orig[uint32(id)].p.IFP, count[uint32(id)], w)
			}
		}
		if st := s.Stats(); st.PacketsOut != len(want) || st.Repeats != len(got)-len(want) {
			t.Fatalf("%+v: stats %+v", tc, st)
		}
	}
}
