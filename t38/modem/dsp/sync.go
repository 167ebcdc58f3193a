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
	w := 2 * s.half
	// The ring index and the due sample are kept as integers so that
	// most samples, which complete no output, cost no division or Floor.
	i := s.wi
	s.buf[i] = x
	s.buf[i+w] = x
	if s.wi++; s.wi == w {
		s.wi = 0
	}
	s.n++
	if s.n-1 < s.due {
		return 0, false, false
	}
	f := math.Floor(s.next)
	// Window: samples f-half+1 .. f+half, oldest first. Sample n-1 sits at
	// ring index i, and f+half lags it by n-1-due (almost always 0).
	start := i - (s.n - 1 - s.due) - (w - 1)
	for start < 0 {
		start += w
	}
	win := s.buf[start : start+w]
	row := s.table[int((s.next-f)*float64(s.phases)+0.5)]
	win = win[:len(row)]
	var re, im float32
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
	y = complex(re, im)
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
	}
	s.due = int(math.Floor(s.next)) + s.half
	return y, onTime, true
}

// ClockOffset is the learned sampling-rate correction in samples per
// symbol (positive: our sample clock runs fast against the far end's, so
// a symbol lasts more of our samples).
func (s *SymbolSync) ClockOffset() float64 { return s.integ }

// LastError is the most recent normalised timing error.
func (s *SymbolSync) LastError() float64 { return s.lastE }
