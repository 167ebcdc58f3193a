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

	// rc + j·rs is e^{+j Phase}, turned by each step of Phase with a
	// short series for the step's small angle: a Sincos per symbol costs
	// more than the rest of the loop. rotOK false means it is computed
	// afresh from Phase.
	rc, rs float64
	rotOK  bool
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

// Derotate removes the current phase estimate from z: e^{-j Phase} is the
// conjugate of the rotor.
func (l *CarrierLoop) Derotate(z complex64) complex64 {
	r := l.Rotor()
	return z * complex(real(r), -imag(r))
}

// Rotor returns e^{+j Phase}, to take an error back to the loop's input side.
func (l *CarrierLoop) Rotor() complex64 {
	if !l.rotOK {
		l.rs, l.rc = math.Sincos(l.Phase)
		l.rotOK = true
	}
	return complex(float32(l.rc), float32(l.rs))
}

// maxTurn is the largest phase step turn takes by its series (the
// loop's steps are a few hundredths of a radian); the error of the series
// there is below 1e-9.
const maxTurn = 0.25

// turn advances Phase by d, and the rotor with it.
func (l *CarrierLoop) turn(d float64) {
	l.Phase += d
	if l.Phase > math.Pi {
		l.Phase -= 2 * math.Pi
	} else if l.Phase < -math.Pi {
		l.Phase += 2 * math.Pi
	}
	if !l.rotOK {
		return
	}
	if d > maxTurn || d < -maxTurn {
		l.rotOK = false
		return
	}
	d2 := d * d
	c := 1 - d2*(1.0/2-d2*(1.0/24-d2/720))
	s := d * (1 - d2*(1.0/6-d2*(1.0/120-d2/5040)))
	rc, rs := l.rc*c-l.rs*s, l.rc*s+l.rs*c
	// One Newton step back to unit length keeps rounding from growing.
	k := 1.5 - 0.5*(rc*rc+rs*rs)
	l.rc, l.rs = rc*k, rs*k
}

// Update feeds one derotated symbol z and the symbol it should have been
// and advances to the next symbol.
func (l *CarrierLoop) Update(z, want complex64) {
	p := float64(Abs2(want))
	if p == 0 {
		l.turn(l.Freq)
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
	l.turn(l.Freq + l.Kp*e)
}

// FrequencyHz converts the learned offset to Hz for a given symbol rate.
func (l *CarrierLoop) FrequencyHz(baud float64) float64 { return l.Freq * baud / (2 * math.Pi) }
