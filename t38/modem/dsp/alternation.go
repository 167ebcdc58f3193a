package dsp

import "math"

// FitAlternation examines a window of received symbols that may be the
// A B A B ... segment every V.29 and V.17 training starts with. The
// phase turns forwards from A to B, so the sign of the summed turns says
// which symbols are A. ok reports whether the window turns back and forth
// by at least strength of the most it can (|sin| of the A-to-B angle, as
// a share of the magnitudes): a plain carrier, silence or a timing loop
// still pulling in does not. g is the least-squares complex gain that puts
// the window on the ideal points (g·win[i] ≈ A or B); firstIsA says
// whether win[0] is an A.
func FitAlternation(win []complex64, a, b complex64, strength float32) (g complex64, firstIsA, ok bool) {
	if len(win) < 2 {
		return 0, false, false
	}
	var turn, mag float32
	for i := 0; i+1 < len(win); i++ {
		x, y := win[i], win[i+1]
		im := imag(y)*real(x) - real(y)*imag(x)
		mag += float32(math.Sqrt(float64(Abs2(x) * Abs2(y))))
		if i&1 == 0 {
			turn += im
		} else {
			turn -= im
		}
	}
	if mag == 0 || (turn < strength*mag && -turn < strength*mag) {
		return 0, false, false
	}
	firstIsA = turn > 0
	var num complex64
	var den float32
	for i, z := range win {
		want := a
		if (i&1 == 1) == firstIsA {
			want = b
		}
		num += want * complex(real(z), -imag(z))
		den += Abs2(z)
	}
	return num / complex(den, 0), firstIsA, true
}
