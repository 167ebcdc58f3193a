package dsp

import (
	"math/rand/v2"
	"testing"
)

// The four-taps-a-step loops of Output and Adapt give bit for bit what
// one tap at a time gives, for tap counts that are and are not multiples
// of four, so unrolling changed no receiver decision.
func TestEqualizerMatchesPlainLoops(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 5))
	rnd := func() complex64 { return complex(float32(r.NormFloat64()), float32(r.NormFloat64())) }
	for _, taps := range []int{1, 3, 4, 7, 28, 32, 33} {
		e := NewEqualizer(taps)
		for n := 0; n < 500; n++ {
			e.Push(rnd())
			h := e.hist[e.pos:][:taps]
			var re, im float32
			for i, c := range e.coef {
				re += real(c)*real(h[i]) - imag(c)*imag(h[i])
				im += real(c)*imag(h[i]) + imag(c)*real(h[i])
			}
			if got := e.Output(); got != complex(re, im) {
				t.Fatalf("%d taps, sample %d: Output %v, plain loop %v", taps, n, got, complex(re, im))
			}
			err := rnd() * 0.1
			want := append([]complex64(nil), e.coef...)
			g := e.Mu / (e.power * float32(taps))
			er, ei := real(err)*g, imag(err)*g
			for i, x := range h {
				want[i] = complex(real(want[i])+(er*real(x)+ei*imag(x)), imag(want[i])+(ei*real(x)-er*imag(x)))
			}
			e.Adapt(err)
			for i := range want {
				if e.coef[i] != want[i] {
					t.Fatalf("%d taps, sample %d: tap %d %v, plain loop %v", taps, n, i, e.coef[i], want[i])
				}
			}
		}
	}
}

// The spelled-out matched filter kernels give bit for bit what a plain
// loop over the taps gives.
func TestFilterKernelsMatchPlainLoops(t *testing.T) {
	r := rand.New(rand.NewPCG(6, 7))
	f := func() float32 { return float32(r.NormFloat64()) }
	for n := 0; n < 1000; n++ {
		var c [mfTaps]complex64
		var x [mfTaps]float32
		var rc [mfTaps]float32
		var cx [mfTaps]complex64
		for k := range c {
			c[k], x[k] = complex(f(), f()), f()
			rc[k], cx[k] = f(), complex(f(), f())
		}
		var re, im float32
		for k := range c {
			re += real(c[k]) * x[k]
			im += imag(c[k]) * x[k]
		}
		if gr, gi := dotComplexReal28(&c, &x); gr != re || gi != im {
			t.Fatalf("dotComplexReal28 %g%+gi, plain loop %g%+gi", gr, gi, re, im)
		}
		re, im = 0, 0
		for k := range rc {
			re += rc[k] * real(cx[k])
			im += rc[k] * imag(cx[k])
		}
		if gr, gi := dotRealComplex28(&rc, &cx); gr != re || gi != im {
			t.Fatalf("dotRealComplex28 %g%+gi, plain loop %g%+gi", gr, gi, re, im)
		}
	}
}
