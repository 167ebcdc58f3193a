package dsp

// Fixed-length kernels for the sizes the V.17 and V.29 receivers use (a
// 28-tap matched filter, a 32-tap equaliser). Array pointers let the
// compiler drop every bounds check, and the hot ones are spelled out tap
// by tap: with constant indices each load addresses the array directly,
// where a loop (even four taps a step) spent about a fifth of its
// instructions computing addresses. Each sums in the same order as the
// general loop, so the results are bit for bit the same
// (TestEqualizerMatchesPlainLoops, TestFilterKernelsMatchPlainLoops).

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

// dotComplex32 is Σ c[k]·x[k], spelled out tap by tap: with constant
// indices every load addresses the arrays directly (a loop, even four
// taps a step, spends a fifth of its instructions on addresses).
func dotComplex32(c, x *[eqTaps32]complex64) (re, im float32) {
	re += real(c[0])*real(x[0]) - imag(c[0])*imag(x[0])
	im += real(c[0])*imag(x[0]) + imag(c[0])*real(x[0])
	re += real(c[1])*real(x[1]) - imag(c[1])*imag(x[1])
	im += real(c[1])*imag(x[1]) + imag(c[1])*real(x[1])
	re += real(c[2])*real(x[2]) - imag(c[2])*imag(x[2])
	im += real(c[2])*imag(x[2]) + imag(c[2])*real(x[2])
	re += real(c[3])*real(x[3]) - imag(c[3])*imag(x[3])
	im += real(c[3])*imag(x[3]) + imag(c[3])*real(x[3])
	re += real(c[4])*real(x[4]) - imag(c[4])*imag(x[4])
	im += real(c[4])*imag(x[4]) + imag(c[4])*real(x[4])
	re += real(c[5])*real(x[5]) - imag(c[5])*imag(x[5])
	im += real(c[5])*imag(x[5]) + imag(c[5])*real(x[5])
	re += real(c[6])*real(x[6]) - imag(c[6])*imag(x[6])
	im += real(c[6])*imag(x[6]) + imag(c[6])*real(x[6])
	re += real(c[7])*real(x[7]) - imag(c[7])*imag(x[7])
	im += real(c[7])*imag(x[7]) + imag(c[7])*real(x[7])
	re += real(c[8])*real(x[8]) - imag(c[8])*imag(x[8])
	im += real(c[8])*imag(x[8]) + imag(c[8])*real(x[8])
	re += real(c[9])*real(x[9]) - imag(c[9])*imag(x[9])
	im += real(c[9])*imag(x[9]) + imag(c[9])*real(x[9])
	re += real(c[10])*real(x[10]) - imag(c[10])*imag(x[10])
	im += real(c[10])*imag(x[10]) + imag(c[10])*real(x[10])
	re += real(c[11])*real(x[11]) - imag(c[11])*imag(x[11])
	im += real(c[11])*imag(x[11]) + imag(c[11])*real(x[11])
	re += real(c[12])*real(x[12]) - imag(c[12])*imag(x[12])
	im += real(c[12])*imag(x[12]) + imag(c[12])*real(x[12])
	re += real(c[13])*real(x[13]) - imag(c[13])*imag(x[13])
	im += real(c[13])*imag(x[13]) + imag(c[13])*real(x[13])
	re += real(c[14])*real(x[14]) - imag(c[14])*imag(x[14])
	im += real(c[14])*imag(x[14]) + imag(c[14])*real(x[14])
	re += real(c[15])*real(x[15]) - imag(c[15])*imag(x[15])
	im += real(c[15])*imag(x[15]) + imag(c[15])*real(x[15])
	re += real(c[16])*real(x[16]) - imag(c[16])*imag(x[16])
	im += real(c[16])*imag(x[16]) + imag(c[16])*real(x[16])
	re += real(c[17])*real(x[17]) - imag(c[17])*imag(x[17])
	im += real(c[17])*imag(x[17]) + imag(c[17])*real(x[17])
	re += real(c[18])*real(x[18]) - imag(c[18])*imag(x[18])
	im += real(c[18])*imag(x[18]) + imag(c[18])*real(x[18])
	re += real(c[19])*real(x[19]) - imag(c[19])*imag(x[19])
	im += real(c[19])*imag(x[19]) + imag(c[19])*real(x[19])
	re += real(c[20])*real(x[20]) - imag(c[20])*imag(x[20])
	im += real(c[20])*imag(x[20]) + imag(c[20])*real(x[20])
	re += real(c[21])*real(x[21]) - imag(c[21])*imag(x[21])
	im += real(c[21])*imag(x[21]) + imag(c[21])*real(x[21])
	re += real(c[22])*real(x[22]) - imag(c[22])*imag(x[22])
	im += real(c[22])*imag(x[22]) + imag(c[22])*real(x[22])
	re += real(c[23])*real(x[23]) - imag(c[23])*imag(x[23])
	im += real(c[23])*imag(x[23]) + imag(c[23])*real(x[23])
	re += real(c[24])*real(x[24]) - imag(c[24])*imag(x[24])
	im += real(c[24])*imag(x[24]) + imag(c[24])*real(x[24])
	re += real(c[25])*real(x[25]) - imag(c[25])*imag(x[25])
	im += real(c[25])*imag(x[25]) + imag(c[25])*real(x[25])
	re += real(c[26])*real(x[26]) - imag(c[26])*imag(x[26])
	im += real(c[26])*imag(x[26]) + imag(c[26])*real(x[26])
	re += real(c[27])*real(x[27]) - imag(c[27])*imag(x[27])
	im += real(c[27])*imag(x[27]) + imag(c[27])*real(x[27])
	re += real(c[28])*real(x[28]) - imag(c[28])*imag(x[28])
	im += real(c[28])*imag(x[28]) + imag(c[28])*real(x[28])
	re += real(c[29])*real(x[29]) - imag(c[29])*imag(x[29])
	im += real(c[29])*imag(x[29]) + imag(c[29])*real(x[29])
	re += real(c[30])*real(x[30]) - imag(c[30])*imag(x[30])
	im += real(c[30])*imag(x[30]) + imag(c[30])*real(x[30])
	re += real(c[31])*real(x[31]) - imag(c[31])*imag(x[31])
	im += real(c[31])*imag(x[31]) + imag(c[31])*real(x[31])
	return re, im
}

// dotComplexReal28 is Σ c[k]·x[k] for a real input, spelled out as
// dotComplex32 is.
func dotComplexReal28(c *[mfTaps]complex64, x *[mfTaps]float32) (re, im float32) {
	re += real(c[0]) * x[0]
	im += imag(c[0]) * x[0]
	re += real(c[1]) * x[1]
	im += imag(c[1]) * x[1]
	re += real(c[2]) * x[2]
	im += imag(c[2]) * x[2]
	re += real(c[3]) * x[3]
	im += imag(c[3]) * x[3]
	re += real(c[4]) * x[4]
	im += imag(c[4]) * x[4]
	re += real(c[5]) * x[5]
	im += imag(c[5]) * x[5]
	re += real(c[6]) * x[6]
	im += imag(c[6]) * x[6]
	re += real(c[7]) * x[7]
	im += imag(c[7]) * x[7]
	re += real(c[8]) * x[8]
	im += imag(c[8]) * x[8]
	re += real(c[9]) * x[9]
	im += imag(c[9]) * x[9]
	re += real(c[10]) * x[10]
	im += imag(c[10]) * x[10]
	re += real(c[11]) * x[11]
	im += imag(c[11]) * x[11]
	re += real(c[12]) * x[12]
	im += imag(c[12]) * x[12]
	re += real(c[13]) * x[13]
	im += imag(c[13]) * x[13]
	re += real(c[14]) * x[14]
	im += imag(c[14]) * x[14]
	re += real(c[15]) * x[15]
	im += imag(c[15]) * x[15]
	re += real(c[16]) * x[16]
	im += imag(c[16]) * x[16]
	re += real(c[17]) * x[17]
	im += imag(c[17]) * x[17]
	re += real(c[18]) * x[18]
	im += imag(c[18]) * x[18]
	re += real(c[19]) * x[19]
	im += imag(c[19]) * x[19]
	re += real(c[20]) * x[20]
	im += imag(c[20]) * x[20]
	re += real(c[21]) * x[21]
	im += imag(c[21]) * x[21]
	re += real(c[22]) * x[22]
	im += imag(c[22]) * x[22]
	re += real(c[23]) * x[23]
	im += imag(c[23]) * x[23]
	re += real(c[24]) * x[24]
	im += imag(c[24]) * x[24]
	re += real(c[25]) * x[25]
	im += imag(c[25]) * x[25]
	re += real(c[26]) * x[26]
	im += imag(c[26]) * x[26]
	re += real(c[27]) * x[27]
	im += imag(c[27]) * x[27]
	return re, im
}

// adaptComplex32 is c[k] += (er + j·ei)·conj(x[k]), spelled out as
// dotComplex32 is, each tap computed as the general loop computes it.
func adaptComplex32(c, x *[eqTaps32]complex64, er, ei float32) {
	c[0] = complex(real(c[0])+(er*real(x[0])+ei*imag(x[0])), imag(c[0])+(ei*real(x[0])-er*imag(x[0])))
	c[1] = complex(real(c[1])+(er*real(x[1])+ei*imag(x[1])), imag(c[1])+(ei*real(x[1])-er*imag(x[1])))
	c[2] = complex(real(c[2])+(er*real(x[2])+ei*imag(x[2])), imag(c[2])+(ei*real(x[2])-er*imag(x[2])))
	c[3] = complex(real(c[3])+(er*real(x[3])+ei*imag(x[3])), imag(c[3])+(ei*real(x[3])-er*imag(x[3])))
	c[4] = complex(real(c[4])+(er*real(x[4])+ei*imag(x[4])), imag(c[4])+(ei*real(x[4])-er*imag(x[4])))
	c[5] = complex(real(c[5])+(er*real(x[5])+ei*imag(x[5])), imag(c[5])+(ei*real(x[5])-er*imag(x[5])))
	c[6] = complex(real(c[6])+(er*real(x[6])+ei*imag(x[6])), imag(c[6])+(ei*real(x[6])-er*imag(x[6])))
	c[7] = complex(real(c[7])+(er*real(x[7])+ei*imag(x[7])), imag(c[7])+(ei*real(x[7])-er*imag(x[7])))
	c[8] = complex(real(c[8])+(er*real(x[8])+ei*imag(x[8])), imag(c[8])+(ei*real(x[8])-er*imag(x[8])))
	c[9] = complex(real(c[9])+(er*real(x[9])+ei*imag(x[9])), imag(c[9])+(ei*real(x[9])-er*imag(x[9])))
	c[10] = complex(real(c[10])+(er*real(x[10])+ei*imag(x[10])), imag(c[10])+(ei*real(x[10])-er*imag(x[10])))
	c[11] = complex(real(c[11])+(er*real(x[11])+ei*imag(x[11])), imag(c[11])+(ei*real(x[11])-er*imag(x[11])))
	c[12] = complex(real(c[12])+(er*real(x[12])+ei*imag(x[12])), imag(c[12])+(ei*real(x[12])-er*imag(x[12])))
	c[13] = complex(real(c[13])+(er*real(x[13])+ei*imag(x[13])), imag(c[13])+(ei*real(x[13])-er*imag(x[13])))
	c[14] = complex(real(c[14])+(er*real(x[14])+ei*imag(x[14])), imag(c[14])+(ei*real(x[14])-er*imag(x[14])))
	c[15] = complex(real(c[15])+(er*real(x[15])+ei*imag(x[15])), imag(c[15])+(ei*real(x[15])-er*imag(x[15])))
	c[16] = complex(real(c[16])+(er*real(x[16])+ei*imag(x[16])), imag(c[16])+(ei*real(x[16])-er*imag(x[16])))
	c[17] = complex(real(c[17])+(er*real(x[17])+ei*imag(x[17])), imag(c[17])+(ei*real(x[17])-er*imag(x[17])))
	c[18] = complex(real(c[18])+(er*real(x[18])+ei*imag(x[18])), imag(c[18])+(ei*real(x[18])-er*imag(x[18])))
	c[19] = complex(real(c[19])+(er*real(x[19])+ei*imag(x[19])), imag(c[19])+(ei*real(x[19])-er*imag(x[19])))
	c[20] = complex(real(c[20])+(er*real(x[20])+ei*imag(x[20])), imag(c[20])+(ei*real(x[20])-er*imag(x[20])))
	c[21] = complex(real(c[21])+(er*real(x[21])+ei*imag(x[21])), imag(c[21])+(ei*real(x[21])-er*imag(x[21])))
	c[22] = complex(real(c[22])+(er*real(x[22])+ei*imag(x[22])), imag(c[22])+(ei*real(x[22])-er*imag(x[22])))
	c[23] = complex(real(c[23])+(er*real(x[23])+ei*imag(x[23])), imag(c[23])+(ei*real(x[23])-er*imag(x[23])))
	c[24] = complex(real(c[24])+(er*real(x[24])+ei*imag(x[24])), imag(c[24])+(ei*real(x[24])-er*imag(x[24])))
	c[25] = complex(real(c[25])+(er*real(x[25])+ei*imag(x[25])), imag(c[25])+(ei*real(x[25])-er*imag(x[25])))
	c[26] = complex(real(c[26])+(er*real(x[26])+ei*imag(x[26])), imag(c[26])+(ei*real(x[26])-er*imag(x[26])))
	c[27] = complex(real(c[27])+(er*real(x[27])+ei*imag(x[27])), imag(c[27])+(ei*real(x[27])-er*imag(x[27])))
	c[28] = complex(real(c[28])+(er*real(x[28])+ei*imag(x[28])), imag(c[28])+(ei*real(x[28])-er*imag(x[28])))
	c[29] = complex(real(c[29])+(er*real(x[29])+ei*imag(x[29])), imag(c[29])+(ei*real(x[29])-er*imag(x[29])))
	c[30] = complex(real(c[30])+(er*real(x[30])+ei*imag(x[30])), imag(c[30])+(ei*real(x[30])-er*imag(x[30])))
	c[31] = complex(real(c[31])+(er*real(x[31])+ei*imag(x[31])), imag(c[31])+(ei*real(x[31])-er*imag(x[31])))
}
