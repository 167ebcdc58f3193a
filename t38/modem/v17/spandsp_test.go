package v17

import (
	"strconv"
	"strings"
	"testing"

	"github.com/faxd/faxd/t38/modem/dsp/dsptest"
)

// spandsp's V.17 transmitter into our receiver and ours into spandsp's
// receiver, at each rate, over a clean and an impaired line: every data
// bit must arrive in place.
func TestSpandspInterop(t *testing.T) {
	lines := []struct {
		name string
		ch   dsptest.Channel
	}{
		{"clean", dsptest.Channel{}},
		// Milder than our loopback's worst line: with a -15 dB echo added,
		// spandsp's own receiver makes errors on spandsp's own 14400 signal.
		{"impaired", dsptest.Channel{SNRDB: 36, FreqOffsetHz: 3, ClockPPM: 100, EchoDelay: 6, EchoDB: -20, Seed: 11}},
	}
	for _, rate := range rates {
		for _, line := range lines {
			bits := randomBits(rate*2, uint64(rate)+7)
			name := line.name + " " + strconv.Itoa(rate)

			audio := append(make([]int16, 400), dsptest.SpandspTx(t, "v17", rate, false, bits)...)
			audio = append(audio, make([]int16, 800)...)
			r := newReceiver(t, rate)
			r.feed(line.ch.Apply(audio))
			if errs := checkBurst(t, "spandsp→ours "+name, bits, r.bits, r.evs); errs != 0 {
				t.Errorf("spandsp→ours %s: %d bit errors in %d", name, errs, len(bits))
			}

			sb, sev := dsptest.SpandspRx(t, "v17", rate, false, line.ch.Apply(modulate(t, rate, false, -14, bits)))
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

// Long then short training, both ways: the second burst must arrive after
// only the short training.
func TestSpandspShortTraining(t *testing.T) {
	for _, rate := range rates {
		bits := randomBits(rate*2, uint64(rate)+8)
		half := len(bits) / 2

		audio := append(make([]int16, 400), dsptest.SpandspTx(t, "v17", rate, true, bits)...)
		audio = append(audio, make([]int16, 800)...)
		r := newReceiver(t, rate)
		r.rx.SetShortTraining(true)
		r.feed(audio)
		k := kinds(r.evs)
		if len(k) != 6 {
			t.Errorf("spandsp→ours %d: events %v, want two bursts", rate, k)
		} else {
			n1 := int(r.evs[2].Bits)
			e1, _ := dsptest.BitErrors(bits[:half], r.bits)
			e2, n := dsptest.BitErrors(bits[half:], r.bits[n1:])
			if e1 != 0 || e2 != 0 || n != len(bits)-half {
				t.Errorf("spandsp→ours %d: %d errors in the long burst, %d in the short (%d bits of %d)", rate, e1, e2, n, len(bits)-half)
			}
		}

		ours := append(modulate(t, rate, false, -14, bits[:half]), modulate(t, rate, true, -14, bits[half:])...)
		sb, sev := dsptest.SpandspRx(t, "v17", rate, true, ours)
		if sev != "UTDUTD" {
			t.Errorf("ours→spandsp %d: spandsp events %q, want UTDUTD", rate, sev)
			continue
		}
		// spandsp delivers each burst's trailing ones too; find the second
		// burst by its data.
		if e, _ := dsptest.BitErrors(bits[:half], sb); e != 0 {
			t.Errorf("ours→spandsp %d: long burst %d errors", rate, e)
		}
		rest := dsptest.Align(bits[half:], sb[half:], 2000)
		if e, n := dsptest.BitErrors(bits[half:], rest); e != 0 || n != len(bits)-half {
			t.Errorf("ours→spandsp %d: short burst %d errors in %d bits", rate, e, n)
		}
	}
}
