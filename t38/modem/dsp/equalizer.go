package dsp

// Equalizer is a complex fractionally spaced (T/2) adaptive FIR equaliser
// trained by normalised LMS: first on a known training sequence, then on its
// own decisions.
type Equalizer struct {
	coef []complex64
	hist []complex64 // input history, twice, newest first at hist[pos]
	pos  int
	n    int
	// Mu is the adaptation step; the update is divided by the input power
	// so Mu means the same at any signal level.
	Mu    float32
	power float32
}

// NewEqualizer returns an equaliser with taps T/2-spaced coefficients, the
// centre one set to 1.
func NewEqualizer(taps int) *Equalizer {
	e := &Equalizer{coef: make([]complex64, taps), hist: make([]complex64, 2*taps), Mu: 0.05}
	e.Reset()
	return e
}

// Reset clears the history and sets the coefficients to a pass-through.
func (e *Equalizer) Reset() {
	clear(e.coef)
	clear(e.hist)
	e.coef[len(e.coef)/2] = 1
	e.pos = 0
	e.power = 0
}

// Push enters one T/2-spaced input sample.
func (e *Equalizer) Push(x complex64) {
	e.pos--
	if e.pos < 0 {
		e.pos = len(e.coef) - 1
	}
	e.hist[e.pos] = x
	e.hist[e.pos+len(e.coef)] = x
	e.power += 0.01 * (Abs2(x) - e.power)
}

// Output is the filter output for the current history.
func (e *Equalizer) Output() complex64 {
	// Local slices of equal length let the compiler drop the bounds
	// checks and keep the headers in registers.
	coef := e.coef
	h := e.hist[e.pos:][:len(coef)]
	var re, im float32
	for i, c := range coef {
		x := h[i]
		re += real(c)*real(x) - imag(c)*imag(x)
		im += real(c)*imag(x) + imag(c)*real(x)
	}
	return complex(re, im)
}

// Adapt moves the coefficients to reduce err = wanted - Output().
func (e *Equalizer) Adapt(err complex64) {
	p := e.power * float32(len(e.coef))
	if p < 1e-9 {
		return
	}
	g := e.Mu / p
	er, ei := real(err)*g, imag(err)*g
	coef := e.coef
	h := e.hist[e.pos:][:len(coef)]
	for i, x := range h {
		// coef += g * err * conj(x)
		c := &coef[i]
		*c = complex(real(*c)+(er*real(x)+ei*imag(x)), imag(*c)+(ei*real(x)-er*imag(x)))
	}
}

// Scale multiplies every coefficient by g (a gain and phase correction).
func (e *Equalizer) Scale(g complex64) {
	for i := range e.coef {
		e.coef[i] *= g
	}
}

// Coefficients returns the taps (read only).
func (e *Equalizer) Coefficients() []complex64 { return e.coef }

// Len is the number of taps.
func (e *Equalizer) Len() int { return len(e.coef) }

// ClearHistory forgets the input but keeps the coefficients, for a new
// signal on a line the equaliser has already learned.
func (e *Equalizer) ClearHistory() {
	clear(e.hist)
	e.pos = 0
	e.power = 0
}
