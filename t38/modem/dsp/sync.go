package dsp

import "math"

// SymbolSync is the receiver's matched filter and symbol-timing recovery in
// one: complex baseband samples go in, and two filtered samples per symbol
// come out (T/2 spacing, for a fractionally spaced equaliser), taken at
// instants chosen by a Gardner timing-error detector driving a
// proportional-integral loop. The matched filter doubles as the
// interpolator: its root raised cosine taps are tabulated at phases
// fine enough that picking the nearest phase costs well under 1 % of a
// symbol of timing error.
type SymbolSync struct {
	sps    float64 // input samples per symbol
	half   int     // taps each side of the interpolation point
	phases int
	table  [][]float32 // table[p][i]: matched filter tap for sample i of the window at fraction p/phases
	buf    []complex64
	n      int     // samples received, absolute
	wi     int     // ring index of the next sample: n mod len(buf)/2
	due    int     // floor(next)+half: the sample count-1 at which the next output is due
	next   float64 // absolute time of the next output, in samples
	onTime bool    // the next output is a symbol instant (else a midpoint)

	mid, prevOn complex64
	havePrev    bool

	// With a carrier set (SetCarrier), PushReal takes real passband
	// samples: the mixing down is folded into the filter taps, whose
	// window starts at a sample m, and the output is turned by the
	// carrier's phase at m, read from one tabulated period. That spares
	// the oscillator and half the stores on every sample.
	rbuf  []float32     // real input ring, twice, as buf
	ctab  [][]complex64 // ctab[p][i] = table[p][i]·e^{-jωi}
	rot   []complex64   // e^{-jωm} for m over one carrier period
	cbase int           // sample count dropped by the renormalisation, mod len(rot)

	// Loop gains (samples of correction per unit of normalised error)
	// and the integrator that learns the clock-rate offset.
	Kp, Ki float64
	integ  float64
	power  float64 // running |x|² of outputs, to normalise the detector
	lastE  float64
}

// NewSymbolSync returns a synchroniser for sps input samples per symbol and
// root raised cosine excess bandwidth alpha, with a pulse spanning span
// symbols each side.
func NewSymbolSync(sps, alpha float64, span int) *SymbolSync {
	s := &SymbolSync{sps: sps, phases: 64, Kp: 0.05, Ki: 0.0005}
	s.half = int(math.Ceil(float64(span) * sps))
	w := 2 * s.half
	s.table = make([][]float32, s.phases+1)
	var norm float64
	for i := 0; i < w; i++ {
		t := (float64(i-s.half+1) - 0) / sps
		v := RootRaisedCosine(t, alpha)
		norm += v * v
	}
	// Scale so that an RRC-shaped symbol of amplitude a reaches a at its
	// centre after this filter: the RRC pair is a raised cosine, whose peak
	// is sps times the pulse energy per sample.
	scale := 1 / norm
	for p := 0; p <= s.phases; p++ {
		mu := float64(p) / float64(s.phases)
		row := make([]float32, w)
		for i := range row {
			// Window sample i is at offset (i-half+1) from floor(t); the
			// filter tap is g(t - n) = g(mu - (i-half+1)).
			row[i] = float32(RootRaisedCosine((mu-float64(i-s.half+1))/sps, alpha) * scale)
		}
		s.table[p] = row
	}
	s.buf = make([]complex64, 2*w)
	s.Reset()
	return s
}

// Reset forgets the signal and the learned clock offset.
func (s *SymbolSync) Reset() {
	clear(s.buf)
	clear(s.rbuf)
	s.cbase = 0
	s.n, s.wi = 0, 0
	s.next = float64(2 * s.half)
	s.due = 3 * s.half
	s.onTime = true
	s.havePrev = false
	s.integ = 0
	s.power = 0
	s.lastE = 0
}

// Push enters one baseband sample. When it completes an output it returns
// ok and the value; onTime tells whether the value is at a symbol instant
// (true) or midway between two (false).
func (s *SymbolSync) Push(x complex64) (y complex64, onTime, ok bool) {
	i, w := s.slot(), 2*s.half
	s.buf[i] = x
	s.buf[i+w] = x
	start, p, _, ok := s.window(i)
	if !ok {
		return 0, false, false
	}
	row := s.table[p]
	win := s.buf[start : start+w][:len(row)]
	var re, im float32
	if len(row) == mfTaps {
		re, im = dotRealComplex28((*[mfTaps]float32)(row), (*[mfTaps]complex64)(win))
	} else {
		re, im = dotRealComplex(row, win)
	}
	y = complex(re, im)
	return y, s.finish(y), true
}

// slot advances the ring by one sample and returns the index (and, twice
// the ring apart, its copy) where that sample goes.
func (s *SymbolSync) slot() int {
	i := s.wi
	if s.wi++; s.wi == 2*s.half {
		s.wi = 0
	}
	s.n++
	return i
}

// window tells, once the sample at ring index i is stored, whether it
// completes an output; if so, the window's first sample in the ring, the
// filter phase to use and the whole-sample instant f of the output. The
// ring index and the due sample are kept as integers so that most
// samples, which complete no output, cost no division or Floor.
func (s *SymbolSync) window(i int) (start, phase, f int, ok bool) {
	if s.n-1 < s.due {
		return 0, 0, 0, false
	}
	w := 2 * s.half
	ff := math.Floor(s.next)
	// Window: samples f-half+1 .. f+half, oldest first. Sample n-1 sits at
	// ring index i, and f+half lags it by n-1-due (almost always 0).
	start = i - (s.n - 1 - s.due) - (w - 1)
	for start < 0 {
		start += w
	}
	return start, int((s.next-ff)*float64(s.phases) + 0.5), int(ff), true
}

// SetCarrier makes the synchroniser take real passband samples through
// PushReal, mixed down from a carrier at hz for sampleRate samples/s,
// whose phase is zero at the first sample after Reset. The carrier must be
// a whole number of Hz, so that one period of it is a whole number of
// samples (40 for 1800 Hz at 8 kHz).
func (s *SymbolSync) SetCarrier(hz, sampleRate float64) {
	f, r := int(math.Round(hz)), int(math.Round(sampleRate))
	a, b := f, r
	for b != 0 {
		a, b = b, a%b
	}
	s.rot = make([]complex64, r/a)
	for m := range s.rot {
		sn, cs := math.Sincos(-2 * math.Pi * float64(f) * float64(m) / float64(r))
		s.rot[m] = complex(float32(cs), float32(sn))
	}
	s.ctab = make([][]complex64, len(s.table))
	for p, row := range s.table {
		c := make([]complex64, len(row))
		for i, g := range row {
			sn, cs := math.Sincos(-2 * math.Pi * float64(f) * float64(i%len(s.rot)) / float64(r))
			c[i] = complex(float32(float64(g)*cs), float32(float64(g)*sn))
		}
		s.ctab[p] = c
	}
	s.rbuf = make([]float32, len(s.buf))
}

// PushReal is Push for a real passband sample (see SetCarrier).
func (s *SymbolSync) PushReal(x float32) (y complex64, onTime, ok bool) {
	i, w := s.slot(), 2*s.half
	s.rbuf[i] = x
	s.rbuf[i+w] = x
	start, p, f, ok := s.window(i)
	if !ok {
		return 0, false, false
	}
	row := s.ctab[p]
	win := s.rbuf[start : start+w][:len(row)]
	var re, im float32
	if len(row) == mfTaps {
		re, im = dotComplexReal28((*[mfTaps]complex64)(row), (*[mfTaps]float32)(win))
	} else {
		for k, c := range row {
			re += real(c) * win[k]
			im += imag(c) * win[k]
		}
	}
	// The window's first sample is f-half+1 (at least half: next starts
	// at 2·half and only grows).
	m := (f - s.half + 1 + s.cbase) % len(s.rot)
	y = complex(re, im) * s.rot[m]
	return y, s.finish(y), true
}

// finish runs the timing loop on a new output y and schedules the next;
// it reports whether y was a symbol instant.
func (s *SymbolSync) finish(y complex64) (onTime bool) {
	w := 2 * s.half
	onTime = s.onTime
	s.onTime = !s.onTime
	s.next += s.sps / 2
	if onTime {
		s.power += 0.05 * (float64(Abs2(y)) - s.power)
		if s.havePrev {
			// Gardner: a midpoint leaning towards the later symbol means
			// we sample late.
			d := s.prevOn - y
			e := float64(real(d)*real(s.mid) + imag(d)*imag(s.mid))
			if s.power > 0 {
				e /= s.power
			}
			if e > 1 {
				e = 1
			} else if e < -1 {
				e = -1
			}
			s.lastE = e
			s.integ += s.Ki * e
			s.next += s.Kp*e + s.integ
		}
		s.prevOn = y
		s.havePrev = true
	} else {
		s.mid = y
	}
	// Keep the absolute times small so float64 keeps its precision on
	// calls lasting hours.
	if s.n >= 1<<30 {
		k := (1 << 29) / w * w // a multiple of the ring size keeps the ring aligned
		s.n -= k
		s.next -= float64(k)
		if len(s.rot) > 0 {
			s.cbase = (s.cbase + k) % len(s.rot)
		}
	}
	s.due = int(math.Floor(s.next)) + s.half
	return onTime
}

// ClockOffset is the learned sampling-rate correction in samples per
// symbol (positive: our sample clock runs fast against the far end's, so
// a symbol lasts more of our samples).
func (s *SymbolSync) ClockOffset() float64 { return s.integ }

// LastError is the most recent normalised timing error.
func (s *SymbolSync) LastError() float64 { return s.lastE }

// dotRealComplex is Σ row[k]·win[k] for real taps, any length.
func dotRealComplex(row []float32, win []complex64) (re, im float32) {
	win = win[:len(row)]
	// Four taps a step, summed in the same order as one at a time (bit
	// for bit the same result), to spend less on loop control.
	for len(row) >= 4 && len(win) >= 4 {
		c, x := row[:4:4], win[:4:4]
		re += c[0] * real(x[0])
		im += c[0] * imag(x[0])
		re += c[1] * real(x[1])
		im += c[1] * imag(x[1])
		re += c[2] * real(x[2])
		im += c[2] * imag(x[2])
		re += c[3] * real(x[3])
		im += c[3] * imag(x[3])
		row, win = row[4:], win[4:]
	}
	win = win[:len(row)]
	for k, c := range row {
		re += c * real(win[k])
		im += c * imag(win[k])
	}
	return re, im
}
