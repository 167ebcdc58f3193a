package dsptest

import (
	"math"
	"math/rand/v2"
)

// The stages below are the line model's parts one by one, for tests that
// compose them in their own order or judge noise against a fixed level
// rather than the measured signal (as Channel does). Each takes and returns
// float samples, so stages compose before one final rounding with ToInt16.

// ToFloat converts samples to floats.
func ToFloat(s []int16) []float64 {
	out := make([]float64, len(s))
	for i, x := range s {
		out[i] = float64(x)
	}
	return out
}

// ToInt16 rounds to int16, clipping.
func ToInt16(x []float64) []int16 {
	out := make([]int16, len(x))
	for i, v := range x {
		out[i] = Saturate(v)
	}
	return out
}

// MeanSquare is the mean of x².
func MeanSquare(x []float64) float64 {
	var s float64
	for _, v := range x {
		s += v * v
	}
	return s / float64(len(x))
}

// Gain scales x by dB.
func Gain(x []float64, dB float64) []float64 {
	g := math.Pow(10, dB/20)
	out := make([]float64, len(x))
	for i, v := range x {
		out[i] = v * g
	}
	return out
}

// AWGN adds white Gaussian noise snr dB below ref, a mean square (0: that
// of all of x), over the whole of x.
func AWGN(x []float64, snr, ref float64, r *rand.Rand) []float64 {
	if ref == 0 {
		ref = MeanSquare(x)
	}
	sigma := math.Sqrt(ref / math.Pow(10, snr/10))
	out := make([]float64, len(x))
	for i, v := range x {
		out[i] = v + sigma*r.NormFloat64()
	}
	return out
}

// Drift plays x as if the far end's sample clock ran ppm fast: output
// sample n is the input at time (1+ppm·1e-6)·n (Resample's interpolation).
func Drift(x []float64, ppm float64) []float64 {
	return Resample(x, 1/(1+ppm*1e-6))
}

// Echo adds a copy of x delayed by delay samples and dB down.
func Echo(x []float64, delay int, dB float64) []float64 {
	g := math.Pow(10, dB/20)
	out := append([]float64(nil), x...)
	for i := delay; i < len(x); i++ {
		out[i] += g * x[i-delay]
	}
	return out
}

// Pad surrounds x with silence.
func Pad(x []float64, before, after int) []float64 {
	out := make([]float64, before+len(x)+after)
	copy(out[before:], x)
	return out
}
