package v21

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/faxd/faxd/t38/modem/dsp/dsptest"
	"github.com/faxd/faxd/t38/modem/hdlc"
)

// spandsp is spandsp's V.21 modem through the shared oracle.
type spandsp struct{ o *dsptest.Oracle }

func startSpandsp(tb testing.TB) *spandsp {
	tb.Helper()
	return &spandsp{dsptest.StartOracle(tb)}
}

// modulate has spandsp's fsk_tx send bits at level.
func (s *spandsp) modulate(tb testing.TB, bits []uint8, level float64) []int16 {
	tb.Helper()
	return s.o.Modulate(tb, "v21", 300, bits, level)
}

// demodulate has spandsp's fsk_rx receive samples.
func (s *spandsp) demodulate(tb testing.TB, samples []int16) (bits []uint8, carrier []EventKind) {
	tb.Helper()
	bits, evs := s.o.Demodulate(tb, "v21", 300, samples)
	for _, c := range evs {
		switch c {
		case 'U':
			carrier = append(carrier, EventCarrierUp)
		case 'D':
			carrier = append(carrier, EventCarrierDown)
		}
	}
	return bits, carrier
}

// spandsp's transmitter into our receiver and ours into spandsp's, over a
// clean line and a noisy one.
func TestAgainstSpandsp(t *testing.T) {
	o := startSpandsp(t)
	for i, c := range []condition{
		{name: "clean", snr: math.Inf(1)},
		{name: "snr6-200ppm", snr: 6, ppm: 200},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(uint64(i), 13))
			sent := randomBits(r, 2000)

			got, carrier := demodulate(t, dsptest.ToInt16(c.apply(dsptest.ToFloat(o.modulate(t, sent, DefaultTxLevel)), r)))
			errs, n := bitErrors(sent, got, 8)
			if errs != 0 || len(carrier) == 0 || carrier[0] != EventCarrierUp {
				t.Errorf("spandsp tx -> our rx: %d errors in %d bits, carrier %v", errs, n, carrier)
			}

			got, carrier = o.demodulate(t, dsptest.ToInt16(c.apply(dsptest.ToFloat(modulate(t, sent, DefaultTxLevel)), r)))
			errs, n = bitErrors(sent, got, 8)
			if errs != 0 || len(carrier) == 0 || carrier[0] != EventCarrierUp {
				t.Errorf("our tx -> spandsp rx: %d errors in %d bits, carrier %v", errs, n, carrier)
			}
		})
	}
}

// HDLC frames from our encoder through spandsp's modem and back, both ways.
func TestFramesThroughSpandsp(t *testing.T) {
	o := startSpandsp(t)
	frames := [][]byte{
		{0xFF, 0x13, 0x80, 0x04, 0xEE, 0xF8, 0x80, 0x80, 0x91, 0x80, 0x80, 0x80, 0x18},
		{0xFF, 0x13, 0x83, 0x00, 0xC6, 0x78},
	}
	bits, err := hdlc.Encode(37, frames...)
	if err != nil {
		t.Fatal(err)
	}
	check := func(t *testing.T, who string, got []uint8) {
		var good int
		for _, ev := range hdlc.Decode(got) {
			if ev.Kind == hdlc.EventFrame && ev.FCSOK && string(ev.Frame) == string(frames[good%len(frames)]) {
				good++
			}
		}
		if good != len(frames) {
			t.Errorf("%s: %d of %d frames", who, good, len(frames))
		}
	}
	// The line stays open (silent) after the signal, as a call does.
	line := func(s []int16) []int16 { return dsptest.ToInt16(dsptest.Pad(dsptest.ToFloat(s), 400, 400)) }
	got, _ := demodulate(t, line(o.modulate(t, bits, DefaultTxLevel)))
	check(t, "spandsp tx -> our rx", got)
	got, _ = o.demodulate(t, line(modulate(t, bits, DefaultTxLevel)))
	check(t, "our tx -> spandsp rx", got)
}

// BenchmarkBER puts the same noisy signal into our receiver and spandsp's
// and reports both bit error rates. The transmitter is ours; the noise is
// white over the 4 kHz band, SNR relative to the signal.
func BenchmarkBER(b *testing.B) {
	o := startSpandsp(b)
	for _, snr := range []float64{-3, -1, 0, 1, 2, 3, 4, 6} {
		b.Run(fmt.Sprintf("snr=%gdB", snr), func(b *testing.B) {
			var ours, theirs, n int
			for i := range b.N {
				r := rand.New(rand.NewPCG(uint64(i), uint64(snr*100+1000)))
				sent := randomBits(r, 20000)
				c := condition{snr: snr}
				line := dsptest.ToInt16(c.apply(dsptest.ToFloat(modulate(b, sent, DefaultTxLevel)), r))
				got, _ := demodulate(b, line)
				e, m := bitErrors(sent, got, 16)
				ours += e
				got, _ = o.demodulate(b, line)
				e, _ = bitErrors(sent, got, 16)
				theirs += e
				n += m
			}
			b.ReportMetric(float64(ours)/float64(n), "ber-ours")
			b.ReportMetric(float64(theirs)/float64(n), "ber-spandsp")
		})
	}
}

// BenchmarkRx is the receiver's cost per second of signal.
func BenchmarkRx(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	line := modulate(b, randomBits(r, BitRate), DefaultTxLevel)
	rx, _ := NewRx(RxConfig{})
	evs := make([]Event, 0, 512)
	b.ResetTimer()
	for range b.N {
		evs = rx.Process(line, evs[:0])
	}
}

// BenchmarkTx is the transmitter's cost per second of signal.
func BenchmarkTx(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	bits := randomBits(r, BitRate)
	tx, _ := NewTx(Channel2, DefaultTxLevel)
	out := make([]int16, SampleRate)
	b.ResetTimer()
	for range b.N {
		src := Bits(bits)
		tx.Modulate(out, &src)
	}
}
