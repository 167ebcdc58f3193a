package dsp

import "math"

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

// Carrier is a transmit carrier whose frequency is a whole number of Hz:
// its cos and sin repeat after sampleRate/gcd(freq, sampleRate) samples (40
// for 1800 Hz at 8 kHz), so one period is tabulated once and read in turn,
// and mixing a baseband sample up keeps only the real part (two products,
// not a complex multiply's four).
type Carrier struct {
	tab []complex64
	i   int
}

// NewCarrier returns the carrier at freq Hz (rounded to whole Hz).
func NewCarrier(freq float64, sampleRate int) *Carrier {
	f := int(math.Round(freq))
	a, b := f, sampleRate
	for b != 0 {
		a, b = b, a%b
	}
	n := sampleRate / a
	c := &Carrier{tab: make([]complex64, n)}
	for i := range c.tab {
		s, co := math.Sincos(2 * math.Pi * float64(f%sampleRate) * float64(i) / float64(sampleRate))
		c.tab[i] = complex(float32(co), float32(s))
	}
	return c
}

// Mix returns Re{z e^{jωn}} for the current sample n and moves on one sample.
func (c *Carrier) Mix(z complex64) float32 {
	o := c.tab[c.i]
	if c.i++; c.i == len(c.tab) {
		c.i = 0
	}
	return real(z)*real(o) - imag(z)*imag(o)
}
