package v29

import (
	"strings"
	"testing"

	"github.com/faxd/faxd/t38/modem/dsp/dsptest"
)

// spandsp's V.29 transmitter into our receiver, and our transmitter into
// spandsp's receiver, at each rate: every data bit must arrive, in place,
// over a clean line and over a line with noise, a frequency offset and
// clock drift.
func TestSpandspInterop(t *testing.T) {
	lines := []struct {
		name string
		ch   dsptest.Channel
	}{
		{"clean", dsptest.Channel{}},
		{"impaired", dsptest.Channel{SNRDB: 30, FreqOffsetHz: 3, ClockPPM: 100, EchoDelay: 6, EchoDB: -15, Seed: 11}},
	}
	for _, rate := range []int{9600, 7200, 4800} {
		for _, line := range lines {
			bits := randomBits(rate*2, uint64(rate)+7)
			name := line.name + " " + itoa(rate)

			// spandsp → ours
			audio := make([]int16, 400)
			audio = append(audio, dsptest.SpandspTx(t, "v29", rate, false, bits)...)
			audio = append(audio, make([]int16, 800)...)
			got, evs, _ := demodulate(t, rate, line.ch.Apply(audio))
			if errs := checkRun(t, "spandsp→ours "+name, bits, got, evs); errs != 0 {
				t.Errorf("spandsp→ours %s: %d bit errors in %d", name, errs, len(bits))
			}

			// ours → spandsp
			sb, sev := dsptest.SpandspRx(t, "v29", rate, false, line.ch.Apply(modulate(t, rate, -14, bits)))
			if !strings.HasPrefix(sev, "UT") || !strings.HasSuffix(sev, "D") || strings.Contains(sev, "F") {
				t.Errorf("ours→spandsp %s: spandsp events %q, want U T ... D", name, sev)
				continue
			}
			if len(sb) < len(bits) {
				t.Errorf("ours→spandsp %s: spandsp received %d bits, we sent %d", name, len(sb), len(bits))
				continue
			}
			if errs, _ := dsptest.BitErrors(bits, sb[:len(bits)]); errs != 0 {
				t.Errorf("ours→spandsp %s: %d bit errors in %d", name, errs, len(bits))
			}
		}
	}
}
