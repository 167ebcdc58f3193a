package v21

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/faxd/faxd/t38/modem/dsp/dsptest"
)

// Two bursts, as a T.30 answerer sends them (CSI + DIS, later CFR), over
// an impaired line into one FrameRx.
func TestFrameTxRx(t *testing.T) {
	csi := []byte{0xFF, 0x03, 0x40, 0x20, 0x20, 0x31, 0x32}
	dis := []byte{0xFF, 0x13, 0x80, 0x04, 0xEE, 0xF8, 0x80, 0x80, 0x91, 0x80, 0x80, 0x80, 0x18}
	cfr := []byte{0xFF, 0x13, 0x84}
	ftx, err := NewFrameTx(DefaultTxLevel)
	if err != nil {
		t.Fatal(err)
	}
	burst := func(frames ...[]byte) []float64 {
		if err := ftx.Send(frames); err != nil {
			t.Fatal(err)
		}
		buf := make([]int16, 3*SampleRate)
		n := ftx.Modulate(buf)
		if ftx.Pending() || n == len(buf) {
			t.Fatal("burst did not end")
		}
		return dsptest.ToFloat(buf[:n])
	}
	line := dsptest.Pad(burst(csi, dis), 800, 4000)
	line = append(line, dsptest.Pad(burst(cfr), 0, 800)...)
	for i, tc := range []struct {
		c    condition
		want string
	}{
		// Noise below the off level: the carrier drops between bursts.
		{condition{snr: 25, gainDB: -12, ppm: -150, hz: 5, echoDB: -20},
			"[carrier-up preamble frame frame carrier-down carrier-up preamble frame carrier-down]"},
		// Noise above it keeps the carrier up; the frames still come.
		{condition{snr: 8, gainDB: -15, ppm: 150, hz: -5, echoDB: -20},
			"[carrier-up preamble frame frame preamble frame]"},
	} {
		r := rand.New(rand.NewPCG(uint64(i), 1))
		checkBursts(t, dsptest.ToInt16(tc.c.apply(line, r)), tc.want, [][]byte{csi, dis, cfr})
	}
	if err := ftx.Send([][]byte{{0xFF}}); err == nil {
		t.Error("a one-octet frame was accepted")
	}
	if err := ftx.Send(nil); err == nil {
		t.Error("an empty burst was accepted")
	}
	if ftx.Pending() {
		t.Error("refused bursts were queued")
	}
}

func checkBursts(t *testing.T, x []int16, want string, wantFrames [][]byte) {
	t.Helper()
	frx, err := NewFrameRx(RxConfig{})
	if err != nil {
		t.Fatal(err)
	}
	var evs []FrameEvent
	for i := 0; i < len(x); i += 160 {
		evs = frx.Process(x[i:min(len(x), i+160)], evs)
	}
	var kinds []string
	var frames [][]byte
	for _, e := range evs {
		kinds = append(kinds, fmt.Sprint(e.Kind))
		if e.Kind == FrameReceived {
			if !e.FCSOK {
				t.Fatalf("bad FCS on %x", e.Frame)
			}
			frames = append(frames, e.Frame)
		}
	}
	if fmt.Sprint(kinds) != want {
		t.Fatalf("events %v, want %s", kinds, want)
	}
	for i, w := range wantFrames {
		if !bytes.Equal(frames[i], w) {
			t.Fatalf("frame %d: %x, want %x", i, frames[i], w)
		}
	}
}
