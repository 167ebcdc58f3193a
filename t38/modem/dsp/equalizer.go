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
	if len(coef) == eqTaps32 {
		re, im := dotComplex32((*[eqTaps32]complex64)(coef), (*[eqTaps32]complex64)(h))
		return complex(re, im)
	}
	var re, im float32
	// Four taps a step, summed in the same order as one at a time (the
	// result is bit for bit the same), to spend less on loop control.
	for len(coef) >= 4 && len(h) >= 4 {
		c0, c1, c2, c3 := coef[0], coef[1], coef[2], coef[3]
		x0, x1, x2, x3 := h[0], h[1], h[2], h[3]
		re += real(c0)*real(x0) - imag(c0)*imag(x0)
		im += real(c0)*imag(x0) + imag(c0)*real(x0)
		re += real(c1)*real(x1) - imag(c1)*imag(x1)
		im += real(c1)*imag(x1) + imag(c1)*real(x1)
		re += real(c2)*real(x2) - imag(c2)*imag(x2)
		im += real(c2)*imag(x2) + imag(c2)*real(x2)
		re += real(c3)*real(x3) - imag(c3)*imag(x3)
		im += real(c3)*imag(x3) + imag(c3)*real(x3)
		coef, h = coef[4:], h[4:]
	}
	h = h[:len(coef)]
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
	if len(coef) == eqTaps32 {
		adaptComplex32((*[eqTaps32]complex64)(coef), (*[eqTaps32]complex64)(h), er, ei)
		return
	}
	// coef += g * err * conj(x), four taps a step.
	for len(coef) >= 4 && len(h) >= 4 {
		c, x := coef[:4:4], h[:4:4]
		c[0] = complex(real(c[0])+(er*real(x[0])+ei*imag(x[0])), imag(c[0])+(ei*real(x[0])-er*imag(x[0])))
		c[1] = complex(real(c[1])+(er*real(x[1])+ei*imag(x[1])), imag(c[1])+(ei*real(x[1])-er*imag(x[1])))
		c[2] = complex(real(c[2])+(er*real(x[2])+ei*imag(x[2])), imag(c[2])+(ei*real(x[2])-er*imag(x[2])))
		c[3] = complex(real(c[3])+(er*real(x[3])+ei*imag(x[3])), imag(c[3])+(ei*real(x[3])-er*imag(x[3])))
		coef, h = coef[4:], h[4:]
	}
	h = h[:len(coef)]
	for i, x := range h {
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
