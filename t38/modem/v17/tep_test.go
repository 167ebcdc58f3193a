package v17

import (
	"testing"

	"github.com/faxd/faxd/t38/modem/dsp"
	"github.com/faxd/faxd/t38/modem/dsp/dsptest"
)

// A transmitter may open with talker echo protection: unmodulated carrier,
// then a short silence, then the training. The receiver must not take the
// carrier for training.
func TestTalkerEchoProtection(t *testing.T) {
	for _, rate := range []int{14400, 9600} {
		bits := randomBits(rate, 5)
		audio := append(make([]int16, 400), dsptest.SpandspTxTEP(t, "v17", rate, bits)...)
		audio = append(audio, make([]int16, 800)...)
		r := newReceiver(t, rate)
		r.feed(dsptest.Channel{SNRDB: 32, Seed: 2}.Apply(audio))
		var done int
		for _, e := range r.evs {
			if e.Kind == dsp.TrainingDone {
				done++
			}
		}
		if done != 1 {
			t.Errorf("%d: events %v, want one training-done", rate, kinds(r.evs))
			continue
		}
		if e, n := dsptest.BitErrors(bits, r.bits); e != 0 || n != len(bits) {
			t.Errorf("%d: %d errors in %d of %d bits", rate, e, n, len(bits))
		}
	}
}
