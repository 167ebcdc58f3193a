package dsp

import "math"

// Levels are in dBm0 as for G.711: a full-scale sine (amplitude 32767) is
// +3.14 dBm0 (the μ-law figure; A-law's +3.17 makes no practical difference).
const maxSineDBm0 = 3.14

// DBm0ToPower is the mean square of int16 samples at level dBm0.
func DBm0ToPower(dbm0 float64) float64 {
	return 32767.0 * 32767.0 / 2 * math.Pow(10, (dbm0-maxSineDBm0)/10)
}

// PowerToDBm0 is the level of a signal with mean square p (int16 units).
func PowerToDBm0(p float64) float64 {
	if p <= 0 {
		return -200
	}
	return 10*math.Log10(p/(32767.0*32767.0/2)) + maxSineDBm0
}

// PowerMeter is a one-pole running mean square.
type PowerMeter struct {
	alpha float32
	p     float32
}

// NewPowerMeter returns a meter whose memory is about n samples.
func NewPowerMeter(n int) *PowerMeter { return &PowerMeter{alpha: 1 / float32(n)} }

// Update feeds one sample and returns the running mean square.
func (m *PowerMeter) Update(x float32) float32 {
	m.p += m.alpha * (x*x - m.p)
	return m.p
}

// UpdateBelow feeds samples while the mean square stays below level, up to
// and including the first that brings it to level or above, and returns
// how many it fed. It is Update over a quiet stretch, the state in
// registers.
func (m *PowerMeter) UpdateBelow(samples []int16, level float32) int {
	p, a := m.p, m.alpha
	for i, s := range samples {
		x := float32(s)
		if p += a * (x*x - p); p >= level {
			m.p = p
			return i + 1
		}
	}
	m.p = p
	return len(samples)
}

// Power is the running mean square.
func (m *PowerMeter) Power() float32 { return m.p }

// DBm0 is the running level.
func (m *PowerMeter) DBm0() float64 { return PowerToDBm0(float64(m.p)) }

// Reset zeroes the meter.
func (m *PowerMeter) Reset() { m.p = 0 }

// AGC scales a signal to a target mean square. It adapts only while not
// frozen: a modem lets it settle on the start of training and then freezes
// it so the equaliser sees a steady level.
type AGC struct {
	Target float32
	Gain   float32
	Frozen bool
	alpha  float32
	p      float32
	n      int
}

// NewAGC returns an AGC aiming at mean square target, with memory n samples.
func NewAGC(target float32, n int) *AGC {
	return &AGC{Target: target, Gain: 1, alpha: 1 / float32(n)}
}

// Apply scales x, updating the gain unless frozen.
func (a *AGC) Apply(x complex64) complex64 {
	if !a.Frozen {
		a.p += a.alpha * (Abs2(x) - a.p)
		// The gain needs a square root; every few samples is plenty.
		if a.n++; a.n&7 == 0 && a.p > 0 {
			a.Gain = float32(math.Sqrt(float64(a.Target / a.p)))
		}
	}
	return complex(real(x)*a.Gain, imag(x)*a.Gain)
}

// ApplyReal is Apply for a real sample (the level of a real passband
// sample equals that of its mixed-down value: the carrier has unit
// magnitude).
func (a *AGC) ApplyReal(x float32) float32 {
	if !a.Frozen {
		a.p += a.alpha * (x*x - a.p)
		if a.n++; a.n&7 == 0 && a.p > 0 {
			a.Gain = float32(math.Sqrt(float64(a.Target / a.p)))
		}
	}
	return x * a.Gain
}

// Reset forgets the level.
func (a *AGC) Reset() { a.Gain, a.Frozen, a.p, a.n = 1, false, 0, 0 }
