package v21

import (
	"math/rand/v2"
	"testing"

	"github.com/faxd/faxd/t38/modem/dsp/dsptest"
)

// Noise loud enough to bring the carrier up before the signal: the bit
// clock, locked on noise, has to re-acquire when the signal starts.
func TestNoiseBeforeSignal(t *testing.T) {
	for seed := range 8 {
		r := rand.New(rand.NewPCG(uint64(seed), 21))
		sent := randomBits(r, 600)
		sig := dsptest.Pad(dsptest.ToFloat(modulate(t, sent, DefaultTxLevel)), 4000, 400)
		line := dsptest.ToInt16(dsptest.AWGN(sig, 10, meanSquare(DefaultTxLevel), r)) // noise at -23 dBm0
		got, carrier := demodulate(t, line)
		if len(carrier) == 0 || carrier[0] != EventCarrierUp {
			t.Fatalf("carrier %v", carrier)
		}
		// The first 12 bits (40 ms of a 1 s preamble) may be lost while
		// the clock re-locks.
		errs, n := bitErrors(sent, got[len(got)-len(sent)-40:], 12)
		t.Logf("seed %d: %d errors in %d bits", seed, errs, n)
		if errs != 0 {
			t.Errorf("seed %d: %d errors in %d bits", seed, errs, n)
		}
	}
}
