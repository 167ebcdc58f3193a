package v27ter

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/faxd/faxd/t38/modem/hdlc"
)

func demodulate(t testing.TB, rate Rate, x []int16) (bits []uint8, kinds []EventKind) {
	t.Helper()
	rx, err := NewRx(RxConfig{Rate: rate})
	if err != nil {
		t.Fatal(err)
	}
	var evs []Event
	for i := 0; i < len(x); {
		n := min(len(x)-i, 1+i%157)
		evs = rx.Process(x[i:i+n], evs)
		i += n
	}
	for _, e := range evs {
		if e.Kind == EventBit {
			bits = append(bits, e.Bit)
		} else {
			kinds = append(kinds, e.Kind)
		}
	}
	return bits, kinds
}

func TestRoundTrip(t *testing.T) {
	for _, rate := range []Rate{Rate4800, Rate2400} {
		t.Run(fmt.Sprint(int(rate)), func(t *testing.T) {
			r := rand.New(rand.NewPCG(uint64(rate), 3))
			sent := randomBits(r, 4000)
			got, kinds := demodulate(t, rate, pad16(modulate(t, rate, sent, DefaultTxLevel, false), 800, 800))
			errs, n := bitErrors(sent, got)
			t.Logf("%v, %d errors in %d bits", kinds, errs, n)
			if errs != 0 || fmt.Sprint(kinds) != "[carrier-up trained carrier-down]" {
				t.Fail()
			}
		})
	}
}

// One receiver, two signals (say TCF, then a page): each trains anew.
func TestTwoSignals(t *testing.T) {
	r := rand.New(rand.NewPCG(6, 6))
	a, b := randomBits(r, 1500), randomBits(r, 1500)
	x := append(pad16(modulate(t, Rate4800, a, DefaultTxLevel, false), 800, 4000), modulate(t, Rate4800, b, -25, false)...)
	got, kinds := demodulate(t, Rate4800, pad16(x, 0, 800))
	if want := "[carrier-up trained carrier-down carrier-up trained carrier-down]"; fmt.Sprint(kinds) != want {
		t.Fatalf("events %v, want %v", kinds, want)
	}
	if errs, _ := bitErrors(a, got); errs != 0 {
		t.Errorf("first signal: %d errors", errs)
	}
	if errs, _ := bitErrors(b, got[len(got)-len(b)-200:]); errs != 0 {
		t.Errorf("second signal: %d errors", errs)
	}
}

// ECM frames through HDLC and V.27 ter.
func TestHDLCOverV27ter(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	var frames [][]byte
	for i := range 8 {
		f := make([]byte, 4+256)
		f[0], f[1], f[2], f[3] = 0xFF, 0x03, 0x06, byte(i) // FCD, frame number
		for j := 4; j < len(f); j++ {
			f[j] = byte(r.Uint32())
		}
		frames = append(frames, f)
	}
	bits, err := hdlc.Encode(20, frames...)
	if err != nil {
		t.Fatal(err)
	}
	c := condition{snr: 25, gainDB: -10, ppm: 100, hz: 3}
	got, _ := demodulate(t, Rate4800, c.apply(modulate(t, Rate4800, bits, DefaultTxLevel, false), r))
	var n int
	for _, ev := range hdlc.Decode(got) {
		if ev.Kind == hdlc.EventFrame && ev.FCSOK {
			if n >= len(frames) || !bytes.Equal(ev.Frame, frames[n]) {
				t.Fatalf("frame %d differs", n)
			}
			n++
		}
	}
	if n != len(frames) {
		t.Fatalf("%d of %d frames", n, len(frames))
	}
}

// TCF: 1.5 s of zeros after the training come out as zeros, and a nil
// source gives a training and the shutdown only.
func TestTCFAndNilSource(t *testing.T) {
	for _, rate := range []Rate{Rate2400, Rate4800} {
		zeros := make([]uint8, int(rate)*3/2)
		got, kinds := demodulate(t, rate, pad16(modulate(t, rate, zeros, DefaultTxLevel, false), 800, 800))
		if fmt.Sprint(kinds) != "[carrier-up trained carrier-down]" {
			t.Fatalf("%d: events %v", rate, kinds)
		}
		// Ones (end of training), the zeros, ones (shutdown): one run of
		// zeros exactly as long. (A few bits of the pulse tail after the
		// shutdown come out before the carrier drops.)
		run, longest := 0, 0
		for _, b := range got {
			if b == 0 {
				run++
				longest = max(longest, run)
			} else {
				run = 0
			}
		}
		if longest != len(zeros) {
			t.Errorf("%d bit/s: a run of %d zeros, want %d", rate, longest, len(zeros))
		}
		tx, _ := NewTx(rate, DefaultTxLevel, false)
		buf := make([]int16, 2*SampleRate)
		m := tx.Modulate(buf, nil)
		if !tx.Done() || m == len(buf) {
			t.Fatalf("%d: nil source: %d samples, done %v", rate, m, tx.Done())
		}
		if want := (TrainingSymbols + segShutdown + span + 2) * SampleRate / rate.baud(); abs(m-want) > 2*SampleRate/rate.baud() {
			t.Errorf("%d: nil source gave %d samples, want about %d", rate, m, want)
		}
	}
}
