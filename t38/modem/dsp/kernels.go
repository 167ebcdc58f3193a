package dsp

// Fixed-length kernels for the sizes the V.17 and V.29 receivers use (a
// 28-tap matched filter, a 32-tap equaliser). Array pointers let the
// compiler drop every bounds check and keep the loop to one counter:
// re-slicing four taps a step cost about a quarter of these loops'
// instructions. Each sums in the same order as the general loop, so the
// results are bit for bit the same. (The equaliser's update gained
// nothing this way: it stores every tap anyway.)

// mfTaps is the matched filter's length at four symbols each side of
// 10/3 samples (2400 baud at 8 kHz).
const mfTaps = 28

// eqTaps32 is the V.17 and V.29 equaliser length.
const eqTaps32 = 32

// dotRealComplex28 is Σ c[k]·x[k] for real taps.
func dotRealComplex28(c *[mfTaps]float32, x *[mfTaps]complex64) (re, im float32) {
	for k := 0; k <= mfTaps-4; k += 4 {
		re += c[k] * real(x[k])
		im += c[k] * imag(x[k])
		re += c[k+1] * real(x[k+1])
		im += c[k+1] * imag(x[k+1])
		re += c[k+2] * real(x[k+2])
		im += c[k+2] * imag(x[k+2])
		re += c[k+3] * real(x[k+3])
		im += c[k+3] * imag(x[k+3])
	}
	return re, im
}

// dotComplex32 is Σ c[k]·x[k].
func dotComplex32(c, x *[eqTaps32]complex64) (re, im float32) {
	for k := 0; k <= eqTaps32-4; k += 4 {
		c0, c1, c2, c3 := c[k], c[k+1], c[k+2], c[k+3]
		x0, x1, x2, x3 := x[k], x[k+1], x[k+2], x[k+3]
		re += real(c0)*real(x0) - imag(c0)*imag(x0)
		im += real(c0)*imag(x0) + imag(c0)*real(x0)
		re += real(c1)*real(x1) - imag(c1)*imag(x1)
		im += real(c1)*imag(x1) + imag(c1)*real(x1)
		re += real(c2)*real(x2) - imag(c2)*imag(x2)
		im += real(c2)*imag(x2) + imag(c2)*real(x2)
		re += real(c3)*real(x3) - imag(c3)*imag(x3)
		im += real(c3)*imag(x3) + imag(c3)*real(x3)
	}
	return re, im
}

// dotComplexReal28 is Σ c[k]·x[k] for a real input.
func dotComplexReal28(c *[mfTaps]complex64, x *[mfTaps]float32) (re, im float32) {
	for k := 0; k <= mfTaps-4; k += 4 {
		re += real(c[k]) * x[k]
		im += imag(c[k]) * x[k]
		re += real(c[k+1]) * x[k+1]
		im += imag(c[k+1]) * x[k+1]
		re += real(c[k+2]) * x[k+2]
		im += imag(c[k+2]) * x[k+2]
		re += real(c[k+3]) * x[k+3]
		im += imag(c[k+3]) * x[k+3]
	}
	return re, im
}
