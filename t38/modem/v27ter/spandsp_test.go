package v27ter

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/faxd/faxd/t38/modem/dsp/dsptest"
)

// spandsp is spandsp's V.27 ter modem through the shared oracle.
type spandsp struct{ o *dsptest.Oracle }

func startSpandsp(tb testing.TB) *spandsp {
	tb.Helper()
	return &spandsp{dsptest.StartOracle(tb)}
}

// modulate has spandsp's v27ter_tx send bits at level.
func (s *spandsp) modulate(tb testing.TB, rate Rate, bits []uint8, level float64) []int16 {
	tb.Helper()
	return s.o.Modulate(tb, "v27ter", int(rate), bits, level)
}

// demodulate has spandsp's v27ter_rx receive samples; trained says whether
// it reported a successful training.
func (s *spandsp) demodulate(tb testing.TB, rate Rate, samples []int16) (bits []uint8, trained bool) {
	tb.Helper()
	bits, evs := s.o.Demodulate(tb, "v27ter", int(rate), samples)
	return bits, strings.Contains(evs, "T")
}

// Our transmitter into spandsp's receiver: it trains and gets the bits.
func TestTxIntoSpandsp(t *testing.T) {
	o := startSpandsp(t)
	for _, rate := range []Rate{Rate4800, Rate2400} {
		t.Run(fmt.Sprint(int(rate)), func(t *testing.T) {
			r := rand.New(rand.NewPCG(uint64(rate), 1))
			sent := randomBits(r, 4000)
			line := modulate(t, rate, sent, DefaultTxLevel, false)
			got, trained := o.demodulate(t, rate, pad16(line, 800, 800))
			if !trained {
				t.Fatal("spandsp did not train")
			}
			errs, n := bitErrors(sent, got)
			if errs != 0 {
				t.Fatalf("%d errors in %d bits", errs, n)
			}
		})
	}
}

// spandsp's transmitter into our receiver.
func TestSpandspIntoRx(t *testing.T) {
	o := startSpandsp(t)
	for _, rate := range []Rate{Rate4800, Rate2400} {
		t.Run(fmt.Sprint(int(rate)), func(t *testing.T) {
			r := rand.New(rand.NewPCG(uint64(rate), 5))
			sent := randomBits(r, 4000)
			line := o.modulate(t, rate, sent, DefaultTxLevel)
			got, kinds := demodulate(t, rate, pad16(line, 800, 800))
			errs, n := bitErrors(sent, got)
			if errs != 0 || fmt.Sprint(kinds) != "[carrier-up trained carrier-down]" {
				t.Fatalf("%v, %d errors in %d bits", kinds, errs, n)
			}
		})
	}
}

// BenchmarkBER puts the same noisy signal (our transmitter, white noise
// over the 4 kHz band while the signal lasts, silence around it) into our
// receiver and spandsp's and reports both bit error rates; a failed
// training counts as all bits wrong.
func BenchmarkBER(b *testing.B) {
	o := startSpandsp(b)
	for _, rate := range []Rate{Rate4800, Rate2400} {
		for _, snr := range []float64{6, 8, 10, 12, 14} {
			b.Run(fmt.Sprintf("%d/snr=%gdB", rate, snr), func(b *testing.B) {
				var ours, theirs, n int
				for i := range b.N {
					r := rand.New(rand.NewPCG(uint64(i), uint64(snr*100)+uint64(rate)))
					sent := randomBits(r, 20000)
					sig := dsptest.ToFloat(modulate(b, rate, sent, DefaultTxLevel, false))
					line := dsptest.ToInt16(dsptest.Pad(dsptest.AWGN(sig, snr, meanSquare(DefaultTxLevel), r), 800, 800))
					got, _ := demodulate(b, rate, line)
					e, m := bitErrors(sent, got)
					ours += e
					got, _ = o.demodulate(b, rate, line)
					e, _ = bitErrors(sent, got)
					theirs += e
					n += m
				}
				b.ReportMetric(float64(ours)/float64(n), "ber-ours")
				b.ReportMetric(float64(theirs)/float64(n), "ber-spandsp")
			})
		}
	}
}

// BenchmarkRx is the receiver's cost per second of 4800 bit/s signal.
func BenchmarkRx(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	line := modulate(b, Rate4800, randomBits(r, 4800), DefaultTxLevel, false)
	line = line[:SampleRate]
	b.ResetTimer()
	for range b.N {
		rx, _ := NewRx(RxConfig{Rate: Rate4800})
		rx.Process(line, nil)
	}
}
