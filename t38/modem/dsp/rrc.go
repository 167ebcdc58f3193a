package dsp

import "math"

// RootRaisedCosine is the unit-energy root raised cosine pulse with excess
// bandwidth alpha, at t symbol periods from its centre.
func RootRaisedCosine(t, alpha float64) float64 {
	if t == 0 {
		return 1 - alpha + 4*alpha/math.Pi
	}
	if alpha > 0 && math.Abs(math.Abs(t)-1/(4*alpha)) < 1e-9 {
		a := math.Pi / (4 * alpha)
		return alpha / math.Sqrt2 * ((1+2/math.Pi)*math.Sin(a) + (1-2/math.Pi)*math.Cos(a))
	}
	num := math.Sin(math.Pi*t*(1-alpha)) + 4*alpha*t*math.Cos(math.Pi*t*(1+alpha))
	den := math.Pi * t * (1 - (4*alpha*t)*(4*alpha*t))
	return num / den
}

// Shaper is a transmit pulse shaper: symbols in at the symbol rate, complex
// baseband out at the sample rate, through a root raised cosine filter. The
// ratio samples/symbol is up/down (10/3 for 2400 baud at 8 kHz); the filter
// is split into up polyphase branches so each output sample costs one short
// dot product.
type Shaper struct {
	up, down int
	taps     int         // symbols in each branch
	branch   [][]float32 // branch[p][j]: pulse at (p/up + j - span) symbol periods
	hist     []complex64 // last taps symbols, twice, so any window is contiguous
	pos      int         // write index into hist
	phase    int         // position of the current output between symbols, in 1/up symbol
}

// NewShaper builds a shaper with samples/symbol = up/down, a pulse spanning
// span symbols on each side of its centre, and excess bandwidth alpha.
func NewShaper(up, down, span int, alpha float64) *Shaper {
	s := &Shaper{up: up, down: down, taps: 2 * span}
	s.branch = make([][]float32, up)
	for p := 0; p < up; p++ {
		b := make([]float32, s.taps)
		for j := range b {
			// j=0 is the newest symbol: the one whose centre is nearest ahead.
			t := float64(p)/float64(up) + float64(j) - float64(span) + 1
			b[j] = float32(RootRaisedCosine(t, alpha))
		}
		s.branch[p] = b
	}
	s.hist = make([]complex64, 2*s.taps)
	s.phase = up // the first output needs a symbol
	return s
}

// NeedSymbol reports whether Push must be called before the next Next.
func (s *Shaper) NeedSymbol() bool { return s.phase >= s.up }

// Push enters the next symbol.
func (s *Shaper) Push(sym complex64) {
	s.pos--
	if s.pos < 0 {
		s.pos = s.taps - 1
	}
	s.hist[s.pos] = sym
	s.hist[s.pos+s.taps] = sym
	s.phase -= s.up
}

// Next returns the next baseband output sample. The caller must Push
// whenever NeedSymbol says so.
func (s *Shaper) Next() complex64 {
	b := s.branch[s.phase]
	h := s.hist[s.pos : s.pos+s.taps]
	h = h[:len(b)] // no bounds checks in the loop
	var re, im float32
	for j, c := range b {
		re += c * real(h[j])
		im += c * imag(h[j])
	}
	s.phase += s.down
	return complex(re, im)
}

// Reset clears the symbol history.
func (s *Shaper) Reset() {
	clear(s.hist)
	s.pos = 0
	s.phase = s.up
}
