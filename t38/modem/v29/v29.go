// Package v29 is an ITU-T V.29 soft modem (9600, 7200 and 4800 bit/s,
// 2400 baud QAM on a 1700 Hz carrier) for fax over G.711 audio: a
// transmitter (bits in, 8 kHz int16 samples out) and a receiver (samples
// in, bits and events out). Both are state machines without goroutines or
// a clock of their own.
package v29

import "fmt"

const (
	carrierHz  = 1700.0
	baud       = 2400.0
	sampleRate = 8000.0
	alpha      = 0.25 // excess bandwidth of our pulse shaping
	span       = 6    // pulse shaping span, symbols each side

	// Training segment lengths in symbols.
	seg1Len = 48  // no energy
	seg2Len = 128 // alternations A B A B ...
	seg3Len = 384 // equaliser conditioning C/D chosen by a 7-bit PRBS
	seg4Len = 48  // scrambled binary ones
	// After the data the transmitter sends this many symbols of ones so
	// the far receiver's equaliser and descrambler flush the last real
	// bits, then the pulse shaper's tail.
	tailLen = 32
)

// checkRate validates a bit rate.
func checkRate(rate int) error {
	switch rate {
	case 9600, 7200, 4800:
		return nil
	}
	return fmt.Errorf("v29: bit rate %d: want 9600, 7200 or 4800", rate)
}

// bitsPerSymbol at each rate.
func bitsPerSymbol(rate int) int { return rate / 2400 }

// points[phase + 8*amp]: the V.29 signal space. Absolute phase in 45°
// steps; at the even phases the low and high amplitudes are 3 and 5, at
// the odd ones √2 and 3√2.
var points = [16]complex64{
	3, 1 + 1i, 3i, -1 + 1i, -3, -1 - 1i, -3i, 1 - 1i,
	5, 3 + 3i, 5i, -3 + 3i, -5, -3 - 3i, -5i, 3 - 3i,
}

// phaseStep maps the three data bits Q2 Q3 Q4 (Q2 first, most
// significant) to the phase change in 45° steps (V.29 table 1).
var phaseStep = [8]uint8{1, 0, 2, 3, 6, 7, 5, 4}

// phaseStep4800 maps Q2 Q3 at 4800 bit/s to the phase change in 45° steps.
var phaseStep4800 = [4]uint8{0, 2, 6, 4}

// The training points per rate: A and B alternate in segment 2, C and D
// are chosen by the training PRBS in segment 3.
type trainingPoints struct{ a, b, c, d complex64 }

func training(rate int) trainingPoints {
	switch rate {
	case 9600:
		return trainingPoints{a: -3, b: 3 - 3i, c: 3, d: -3 + 3i}
	case 7200:
		return trainingPoints{a: -3, b: 1 - 1i, c: 3, d: -1 + 1i}
	}
	return trainingPoints{a: -3, b: -3i, c: 3, d: 3i}
}

// prbs7 is segment 3's 1 + x^-6 + x^-7 generator; V.29 starts it at
// 0101010.
type prbs7 struct{ reg uint8 }

func newPRBS7() prbs7 { return prbs7{reg: 0x2a} }

func (p *prbs7) next() uint8 {
	b := p.reg & 1
	p.reg >>= 1
	p.reg |= ((b ^ p.reg) & 1) << 6
	return b
}

// meanPower is the average |point|² of the data constellation at rate.
func meanPower(rate int) float64 {
	switch rate {
	case 9600:
		return (9 + 2 + 25 + 18) / 4.0
	case 7200:
		return (9 + 2) / 2.0
	}
	return 9
}

const pkgName = "v29"
