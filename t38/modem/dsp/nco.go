package dsp

import "math"

// NCO is a complex oscillator e^{j(phase)} stepped once per sample. It runs
// as a rotation recurrence (one complex multiply per step) and renormalises
// its magnitude now and then so rounding never makes it grow or decay.
type NCO struct {
	z, w  complex128
	count int
}

// NewNCO returns an oscillator at freq Hz for sampleRate samples/s.
func NewNCO(freq, sampleRate float64) *NCO {
	n := &NCO{z: 1}
	n.SetFreq(freq, sampleRate)
	return n
}

// SetFreq changes the frequency without a phase jump.
func (n *NCO) SetFreq(freq, sampleRate float64) {
	s, c := math.Sincos(2 * math.Pi * freq / sampleRate)
	n.w = complex(c, s)
}

// Reset puts the phase back to zero.
func (n *NCO) Reset() { n.z, n.count = 1, 0 }

// Next returns the current value and advances one sample.
func (n *NCO) Next() complex64 {
	v := n.z
	n.z *= n.w
	if n.count++; n.count >= 512 {
		n.count = 0
		m := math.Hypot(real(n.z), imag(n.z))
		n.z /= complex(m, 0)
	}
	return complex64(v)
}

// Rotor returns e^{j phase} as complex64.
func Rotor(phase float64) complex64 {
	s, c := math.Sincos(phase)
	return complex(float32(c), float32(s))
}

// Abs2 is |z|².
func Abs2(z complex64) float32 { return real(z)*real(z) + imag(z)*imag(z) }

// Angle is arg(z) in radians.
func Angle(z complex64) float64 { return math.Atan2(float64(imag(z)), float64(real(z))) }

// MinDistance2 is the smallest squared distance between two points.
func MinDistance2(points []complex64) float32 {
	best := float32(math.MaxFloat32)
	for i := range points {
		for j := range i {
			best = min(best, Abs2(points[i]-points[j]))
		}
	}
	return best
}
