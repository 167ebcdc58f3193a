// Package dsptest is a telephone-channel model for testing the soft modems:
// level change, echo, carrier frequency offset, sample-clock drift and
// additive white Gaussian noise, applied to 8 kHz int16 audio. It is
// deterministic for a given seed, so a failing test fails the same way
// every run.
package dsptest

import (
	"math"
	"math/rand/v2"

	"github.com/faxd/faxd/t38/modem/dsp"
)

// Channel describes the impairments; the zero value passes audio through.
type Channel struct {
	// LevelDB changes the level (negative: quieter).
	LevelDB float64
	// EchoDelay (samples) and EchoDB add a delayed copy (EchoDB < 0).
	EchoDelay int
	EchoDB    float64
	// FreqOffsetHz shifts every frequency by this much.
	FreqOffsetHz float64
	// ClockPPM resamples as if the receiver's sample clock ran this many
	// parts per million fast (positive: more samples per symbol) or slow.
	ClockPPM float64
	// SNRDB adds white Gaussian noise (over the whole 0-4 kHz band) this
	// far below the signal power, measured from the first to the last
	// non-zero sample; the noise covers the whole input. 0 means no noise.
	SNRDB float64
	// Seed makes the noise reproducible.
	Seed uint64
}

// Apply runs in through the channel and returns the result (int16,
// saturating).
func (c Channel) Apply(in []int16) []int16 {
	x := make([]float64, len(in))
	for i, v := range in {
		x[i] = float64(v)
	}
	if c.EchoDelay > 0 {
		g := math.Pow(10, c.EchoDB/20)
		y := make([]float64, len(x))
		for i := range x {
			y[i] = x[i]
			if i >= c.EchoDelay {
				y[i] += g * x[i-c.EchoDelay]
			}
		}
		x = y
	}
	if c.FreqOffsetHz != 0 {
		x = Shift(x, c.FreqOffsetHz)
	}
	if c.ClockPPM != 0 {
		x = Resample(x, 1+c.ClockPPM*1e-6)
	}
	g := math.Pow(10, c.LevelDB/20)
	for i := range x {
		x[i] *= g
	}
	if c.SNRDB != 0 {
		// Signal power over the span from the first to the last non-zero
		// sample, so silence around a burst does not dilute it.
		first, last := -1, -1
		for i, v := range x {
			if v != 0 {
				if first < 0 {
					first = i
				}
				last = i
			}
		}
		var p float64
		if first >= 0 {
			for _, v := range x[first : last+1] {
				p += v * v
			}
			p /= float64(last + 1 - first)
		}
		sigma := math.Sqrt(p / math.Pow(10, c.SNRDB/10))
		r := rand.New(rand.NewPCG(c.Seed, 0x9e3779b97f4a7c15))
		for i := range x {
			x[i] += sigma * r.NormFloat64()
		}
	}
	out := make([]int16, len(x))
	for i, v := range x {
		out[i] = Saturate(v)
	}
	return out
}

// Saturate rounds v to int16, clipping.
func Saturate(v float64) int16 {
	v = math.Round(v)
	if v > 32767 {
		return 32767
	}
	if v < -32768 {
		return -32768
	}
	return int16(v)
}

// hilbertHalf is the half-length of the Hilbert transformer used by Shift.
const hilbertHalf = 63

// Shift moves every frequency component of x up by f Hz (single-sideband
// modulation through a windowed Hilbert transformer), as an FDM link with a
// mistuned carrier would.
func Shift(x []float64, f float64) []float64 {
	// Only odd taps of a Hilbert transformer are non-zero.
	type tap struct {
		off int
		c   float64
	}
	var taps []tap
	for n := -hilbertHalf; n <= hilbertHalf; n += 2 {
		w := 0.42 + 0.5*math.Cos(math.Pi*float64(n)/float64(hilbertHalf+1)) + 0.08*math.Cos(2*math.Pi*float64(n)/float64(hilbertHalf+1))
		taps = append(taps, tap{n, 2 / (math.Pi * float64(n)) * w})
	}
	out := make([]float64, len(x))
	for i := range x {
		var q float64
		for _, t := range taps {
			if j := i - t.off; j >= 0 && j < len(x) {
				q += t.c * x[j]
			}
		}
		s, co := math.Sincos(2 * math.Pi * f * float64(i) / 8000)
		out[i] = x[i]*co - q*s
	}
	return out
}

// Resample plays x with a clock ratio times as fast: output sample n is the
// input at time n/ratio, by windowed-sinc interpolation (flat to well above
// 3.4 kHz at 8 kHz).
func Resample(x []float64, ratio float64) []float64 {
	n := int(float64(len(x)) * ratio)
	out := make([]float64, n)
	for i := range out {
		out[i] = Interpolate(x, float64(i)/ratio, 24)
	}
	return out
}

// Interpolate is x at time t (in samples) by a sinc with a Hann window over
// 2·half samples; samples outside x count as silence. It is Resample's
// interpolator, for line models that resample a stream block by block.
func Interpolate(x []float64, t float64, half int) float64 {
	k0 := int(math.Floor(t))
	var v float64
	for k := k0 - half + 1; k <= k0+half; k++ {
		if k < 0 || k >= len(x) {
			continue
		}
		d := t - float64(k)
		w := 0.5 + 0.5*math.Cos(math.Pi*d/float64(half))
		v += x[k] * sinc(d) * w
	}
	return v
}

func sinc(x float64) float64 {
	if x == 0 {
		return 1
	}
	return math.Sin(math.Pi*x) / (math.Pi * x)
}

// Tone returns n samples of a sine at f Hz and level dBm0.
func Tone(f, dbm0 float64, n int) []int16 {
	a := math.Sqrt(2 * dsp.DBm0ToPower(dbm0))
	out := make([]int16, n)
	for i := range out {
		out[i] = Saturate(a * math.Sin(2*math.Pi*f*float64(i)/8000))
	}
	return out
}

// BitErrors counts positions where got differs from want over the shorter
// length, and returns how many were compared.
func BitErrors(want, got []byte) (errs, n int) {
	n = min(len(want), len(got))
	for i := 0; i < n; i++ {
		if want[i]&1 != got[i]&1 {
			errs++
		}
	}
	return errs, n
}

// Align finds where want begins inside got (searching the first maxShift
// positions) by the smallest error count over a probe of want's first
// bits, and returns got from there.
func Align(want, got []byte, maxShift int) []byte {
	probe := min(len(want), 256)
	best, bestAt := probe+1, 0
	for s := 0; s <= maxShift && s+probe <= len(got); s++ {
		e, _ := BitErrors(want[:probe], got[s:s+probe])
		if e < best {
			best, bestAt = e, s
		}
	}
	return got[bestAt:]
}

// AddNoise adds white Gaussian noise at an absolute level (dBm0) to x.
func AddNoise(x []int16, dbm0 float64, seed uint64) []int16 {
	sigma := math.Sqrt(dsp.DBm0ToPower(dbm0))
	r := rand.New(rand.NewPCG(seed, 0x5851f42d4c957f2d))
	out := make([]int16, len(x))
	for i, v := range x {
		out[i] = Saturate(float64(v) + sigma*r.NormFloat64())
	}
	return out
}

// FSK returns n samples of continuous-phase FSK at level dBm0: random bits
// at baud, mark and space frequencies in Hz (V.21 channel 2 is 300 baud,
// 1650 and 1850 Hz).
func FSK(mark, space, baud, dbm0 float64, n int, seed uint64) []int16 {
	a := math.Sqrt(2 * dsp.DBm0ToPower(dbm0))
	r := rand.New(rand.NewPCG(seed, 3))
	out := make([]int16, n)
	var ph float64
	f := mark
	for i := range out {
		if i%int(8000/baud) == 0 {
			f = mark
			if r.IntN(2) == 0 {
				f = space
			}
		}
		ph += 2 * math.Pi * f / 8000
		out[i] = Saturate(a * math.Sin(ph))
	}
	return out
}
