package dsp

import "math"

// CarrierLoop is a second-order phase-locked loop for decision-directed
// carrier recovery: it learns both the phase and the frequency offset
// (a few Hz) between the far transmitter's carrier and ours, once per
// symbol.
type CarrierLoop struct {
	Phase float64 // radians, applied as e^{-j Phase} to the signal
	Freq  float64 // radians per symbol
	Kp    float64
	Ki    float64

	// The rotor of the last phase asked for: Derotate and Rotor are both
	// called at each symbol with the same phase, and a Sincos costs more
	// than the rest of the loop.
	rotPhase float64
	rot      complex64
	rotOK    bool
}

// NewCarrierLoop returns a loop with a natural bandwidth of roughly bw
// (as a fraction of the symbol rate) and damping 0.707.
func NewCarrierLoop(bw float64) *CarrierLoop {
	l := &CarrierLoop{}
	l.SetBandwidth(bw)
	return l
}

// SetBandwidth retunes the loop: wide to pull in, narrow to track.
func (l *CarrierLoop) SetBandwidth(bw float64) {
	wn := 2 * math.Pi * bw
	l.Kp = 2 * 0.707 * wn
	l.Ki = wn * wn
}

// Derotate removes the current phase estimate from z.
// Sine is odd and cosine even (exactly, in package math), so e^{-j Phase}
// is the conjugate of the cached e^{+j Phase}.
func (l *CarrierLoop) Derotate(z complex64) complex64 {
	r := l.Rotor()
	return z * complex(real(r), -imag(r))
}

// Rotor returns e^{+j Phase}, to take an error back to the loop's input side.
func (l *CarrierLoop) Rotor() complex64 {
	if !l.rotOK || l.rotPhase != l.Phase {
		l.rot, l.rotPhase, l.rotOK = Rotor(l.Phase), l.Phase, true
	}
	return l.rot
}

// Update feeds one derotated symbol z and the symbol it should have been
// and advances to the next symbol.
func (l *CarrierLoop) Update(z, want complex64) {
	p := float64(Abs2(want))
	if p == 0 {
		l.Phase += l.Freq
		return
	}
	// Im(z·conj(want))/|want|² is the sine of the phase error times the
	// amplitude ratio: the usual cheap phase detector.
	e := float64(imag(z)*real(want)-real(z)*imag(want)) / p
	if e > 0.5 {
		e = 0.5
	} else if e < -0.5 {
		e = -0.5
	}
	l.Freq += l.Ki * e
	l.Phase += l.Freq + l.Kp*e
	if l.Phase > math.Pi {
		l.Phase -= 2 * math.Pi
	} else if l.Phase < -math.Pi {
		l.Phase += 2 * math.Pi
	}
}

// FrequencyHz converts the learned offset to Hz for a given symbol rate.
func (l *CarrierLoop) FrequencyHz(baud float64) float64 { return l.Freq * baud / (2 * math.Pi) }
