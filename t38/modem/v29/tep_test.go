package v29

import (
	"testing"

	"github.com/faxd/faxd/t38/modem/dsp"
	"github.com/faxd/faxd/t38/modem/dsp/dsptest"
)

// A transmitter may open with talker echo protection: unmodulated carrier,
// then a short silence, then the training. The receiver must not take the
// carrier for training.
func TestTalkerEchoProtection(t *testing.T) {
	for _, rate := range []int{9600, 7200} {
		bits := randomBits(rate, 5)
		audio := append(make([]int16, 400), dsptest.SpandspTxTEP(t, "v29", rate, bits)...)
		audio = append(audio, make([]int16, 800)...)
		got, evs, _ := demodulate(t, rate, dsptest.Channel{SNRDB: 30, Seed: 2}.Apply(audio))
		var done int
		for _, e := range evs {
			if e.Kind == dsp.TrainingDone {
				done++
			}
		}
		if done != 1 {
			t.Errorf("%d: events %v, want one training-done", rate, kinds(evs))
			continue
		}
		if e, n := dsptest.BitErrors(bits, got); e != 0 || n != len(bits) {
			t.Errorf("%d: %d errors in %d of %d bits", rate, e, n, len(bits))
		}
	}
}
