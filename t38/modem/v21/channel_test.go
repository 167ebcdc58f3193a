package v21

import (
	"math"
	"math/rand/v2"
)

// A line model for tests: each stage takes and returns float samples so
// that stages compose before one final rounding to int16.

func toFloat(s []int16) []float64 {
	out := make([]float64, len(s))
	for i, x := range s {
		out[i] = float64(x)
	}
	return out
}

func toInt16(x []float64) []int16 {
	out := make([]int16, len(x))
	for i, v := range x {
		out[i] = int16(max(-32768, min(32767, math.Round(v))))
	}
	return out
}

func meanSquareOf(x []float64) float64 {
	var s float64
	for _, v := range x {
		s += v * v
	}
	return s / float64(len(x))
}

// gain scales by dB.
func gain(x []float64, dB float64) []float64 {
	g := math.Pow(10, dB/20)
	out := make([]float64, len(x))
	for i, v := range x {
		out[i] = v * g
	}
	return out
}

// awgn adds white Gaussian noise snr dB below the mean square of x over
// the samples where x is active (ref gives that mean square; 0 means all of
// x).
func awgn(x []float64, snr, ref float64, r *rand.Rand) []float64 {
	if ref == 0 {
		ref = meanSquareOf(x)
	}
	sigma := math.Sqrt(ref / math.Pow(10, snr/10))
	out := make([]float64, len(x))
	for i, v := range x {
		out[i] = v + sigma*r.NormFloat64()
	}
	return out
}

// drift resamples x as if the far end's sample clock ran ppm fast: the
// output takes the input at times (1+ppm·1e-6)·n, interpolated linearly.
func drift(x []float64, ppm float64) []float64 {
	ratio := 1 + ppm*1e-6
	n := int(float64(len(x)-1) / ratio)
	out := make([]float64, n)
	for i := range out {
		t := float64(i) * ratio
		j := int(t)
		f := t - float64(j)
		out[i] = x[j]*(1-f) + x[j+1]*f
	}
	return out
}

// hilbertTaps is an odd-length FIR Hilbert transformer (Hamming windowed).
func hilbertTaps(n int) []float64 {
	h := make([]float64, n)
	m := n / 2
	for i := range h {
		k := i - m
		if k%2 == 0 {
			continue
		}
		w := 0.54 - 0.46*math.Cos(2*math.Pi*float64(i)/float64(n-1))
		h[i] = 2 / (math.Pi * float64(k)) * w
	}
	return h
}

// shift moves every frequency of x by hz (single-sideband shift through the
// analytic signal), as an FDM carrier system with an offset would.
func shift(x []float64, hz float64) []float64 {
	h := hilbertTaps(101)
	m := len(h) / 2
	out := make([]float64, len(x))
	for n := range x {
		var q float64
		for i, c := range h {
			if c == 0 {
				continue
			}
			if j := n - i + m; j >= 0 && j < len(x) {
				q += c * x[j]
			}
		}
		w := 2 * math.Pi * hz * float64(n) / SampleRate
		out[n] = x[n]*math.Cos(w) - q*math.Sin(w)
	}
	return out
}

// echo adds a copy of x delayed by delay samples and dB down.
func echo(x []float64, delay int, dB float64) []float64 {
	g := math.Pow(10, dB/20)
	out := append([]float64(nil), x...)
	for i := delay; i < len(x); i++ {
		out[i] += g * x[i-delay]
	}
	return out
}

// pad surrounds x with silence.
func pad(x []float64, before, after int) []float64 {
	out := make([]float64, before+len(x)+after)
	copy(out[before:], x)
	return out
}
