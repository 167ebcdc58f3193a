// Package v17 is an ITU-T V.17 soft modem (14400, 12000, 9600 and 7200
// bit/s, 2400 baud trellis-coded QAM on an 1800 Hz carrier) for fax over
// G.711 audio: a transmitter (bits in, 8 kHz int16 samples out) and a
// receiver (samples in, bits and events out) with a Viterbi decoder, long
// and short training. Both are state machines without goroutines or a clock.
package v17

import "fmt"

const (
	carrierHz  = 1800.0
	baud       = 2400.0
	sampleRate = 8000.0
	alpha      = 0.25
	span       = 6

	// Training segment lengths in symbols.
	seg1Len      = 256  // alternations A B A B ...
	seg2Len      = 2976 // long training: C D B A chosen by scrambled ones
	seg2ShortLen = 38   // short training
	seg3Len      = 64   // bridge (long training only)
	seg4Len      = 48   // trellis-coded scrambled ones
	tailLen      = 32   // ones after the data

	// scramblerInit is the register the transmitter's scrambler starts
	// from, so a receiver can predict segment 2.
	scramblerInit = 0x2ECDD5
	// bridgeWord is the bit pattern of segment 3, two bits a symbol,
	// least significant first, repeated every 8 symbols.
	bridgeWord uint32 = 0x8880
)

// The training points; the data constellations are in points.go.
var (
	pointA = complex64(complex(-6, -2))
	pointB = complex64(complex(2, -6))
	pointC = complex64(complex(6, 2))
	pointD = complex64(complex(-2, 6))
	abcd   = [4]complex64{pointA, pointB, pointC, pointD}
)

// dibitToABCD maps two scrambled bits (first bit most significant) in
// segment 2 to A, B, C or D (index into abcd).
var dibitToABCD = [4]uint8{2, 3, 1, 0}

// bridgeStep maps two scrambled bits of segment 3 to a quarter-turn step
// around A, B, C, D.
var bridgeStep = [4]uint8{1, 0, 2, 3}

// trellis[state][y2y1] is the next state of V.17's systematic feedback
// convolutional encoder (figure 1); the redundant bit Y0 is bit 2 of the
// new state.
var trellis = [8][4]uint8{
	{0, 2, 3, 1},
	{4, 7, 5, 6},
	{1, 3, 2, 0},
	{7, 4, 6, 5},
	{2, 0, 1, 3},
	{6, 5, 7, 4},
	{3, 1, 0, 2},
	{5, 6, 4, 7},
}

func checkRate(rate int) error {
	switch rate {
	case 14400, 12000, 9600, 7200:
		return nil
	}
	return fmt.Errorf("v17: bit rate %d: want 14400, 12000, 9600 or 7200", rate)
}

func bitsPerSymbol(rate int) int { return rate / 2400 }

// constellation returns the signal space for rate.
func constellation(rate int) []complex64 {
	switch rate {
	case 14400:
		return points14400[:]
	case 12000:
		return points12000[:]
	case 9600:
		return points9600[:]
	}
	return points7200[:]
}

func meanPower(rate int) float64 {
	var p float64
	c := constellation(rate)
	for _, z := range c {
		p += float64(real(z)*real(z) + imag(z)*imag(z))
	}
	return p / float64(len(c))
}

const pkgName = "v17"
