// Package v27ter is the ITU-T V.27 ter modem, 4800 bit/s (8-phase
// differential PSK at 1600 baud) and 2400 bit/s (4-phase at 1200 baud) on
// an 1800 Hz carrier, the slowest of the T.30 image modems: a transmitter
// with the training sequence and a receiver with timing recovery, an
// adaptive equaliser and a carrier loop.
//
// Both work on 8 kHz linear 16-bit samples; neither does I/O, reads a clock
// or starts a goroutine.
package v27ter

import (
	"fmt"
	"math"
)

// SampleRate is the only sample rate the modem works at.
const SampleRate = 8000

// CarrierFreq is the V.27 ter carrier.
const CarrierFreq = 1800.0

// DefaultTxLevel is a typical fax transmit level in dBm0.
const DefaultTxLevel = -13.0

// A full-scale sine (peak 32767) is +3.14 dBm0, as for V.21.
const maxSineDBm0 = 3.14

func meanSquare(dBm0 float64) float64 {
	a := 32767 * math.Pow(10, (dBm0-maxSineDBm0)/20)
	return a * a / 2
}

// PowerDBm0 converts a mean square of 16-bit samples to dBm0.
func PowerDBm0(ms float64) float64 {
	if ms <= 0 {
		return math.Inf(-1)
	}
	return 10*math.Log10(ms/(32767.0*32767.0/2)) + maxSineDBm0
}

// Rate is a V.27 ter bit rate.
type Rate int

const (
	Rate2400 Rate = 2400
	Rate4800 Rate = 4800
)

func (r Rate) check() error {
	if r != Rate2400 && r != Rate4800 {
		return fmt.Errorf("v27ter: bit rate %d: there are 2400 and 4800", int(r))
	}
	return nil
}

// baud is the symbol rate; bitsPerSymbol the bits each symbol carries.
func (r Rate) baud() int {
	if r == Rate4800 {
		return 1600
	}
	return 1200
}

func (r Rate) bitsPerSymbol() int {
	if r == Rate4800 {
		return 3
	}
	return 2
}

// Phase changes in 45° steps for each group of bits, the first bit sent
// being the most significant of the index (V.27 ter tables 1 and 2).
var (
	steps4800 = [8]int{1, 0, 2, 3, 6, 7, 5, 4}
	steps2400 = [4]int{0, 2, 6, 4}
)

func (r Rate) steps() []int {
	if r == Rate4800 {
		return steps4800[:]
	}
	return steps2400[:]
}

// Training sequence lengths in symbols (V.27 ter long training, the one
// fax uses).
const (
	segEcho     = 320  // unmodulated carrier, talker echo protection (optional)
	segSilence  = 32   // silence after it
	segReversal = 50   // 180° phase reversals
	segScramble = 1074 // scrambled 0°/180° steps, equaliser conditioning
	segOnes     = 8    // scrambled ones
	segShutdown = 32   // scrambled ones after the data
)

// trainingScramblerState is the scrambler register at the start of
// segment 4 (0011110, newest bit lowest).
const trainingScramblerState = 0x3C

// TrainingSymbols is how many symbols the training sequence lasts (without
// echo protection).
const TrainingSymbols = segReversal + segScramble + segOnes

// scrambler is V.27 ter's self-synchronising scrambler, 1 + x^-6 + x^-7,
// with its guard against repeating patterns: when 33 line bits in a row
// have each equalled one of the line bits 8, 9 or 12 places before it, the
// next bit is inverted. The descrambler follows the same count on the line
// bits it receives.
type scrambler struct {
	reg   uint32
	count int
}

// guard updates the repetition counter for line bit b and reports whether
// the bit is to be inverted.
func (s *scrambler) guard(b uint32) bool {
	if s.count >= 33 {
		s.count = 0
		return true
	}
	if ((s.reg>>7)^b)&((s.reg>>8)^b)&((s.reg>>11)^b)&1 != 0 {
		s.count = 0
	} else {
		s.count++
	}
	return false
}

func (s *scrambler) scramble(in uint8) uint8 {
	out := (uint32(in) ^ s.reg>>5 ^ s.reg>>6) & 1
	if s.guard(out) {
		out ^= 1
	}
	s.reg = s.reg<<1 | out
	return uint8(out)
}

func (s *scrambler) descramble(line uint8) uint8 {
	b := uint32(line) & 1
	out := (b ^ s.reg>>5 ^ s.reg>>6) & 1
	if s.guard(b) {
		out ^= 1
	}
	s.reg = s.reg<<1 | b
	return uint8(out)
}

// rrc is a root-raised-cosine pulse with 50% roll-off, sampled every
// 1/resolution of a symbol over span symbols, centred.
const (
	rolloff    = 0.5
	span       = 8
	resolution = 20 // sample instants fall on 1/20 symbol at both rates
)

func rrcPulse(t float64) float64 { // t in symbols
	b := rolloff
	switch {
	case t == 0:
		return 1 - b + 4*b/math.Pi
	case math.Abs(math.Abs(4*b*t)-1) < 1e-9:
		return b / math.Sqrt2 * ((1+2/math.Pi)*math.Sin(math.Pi/(4*b)) + (1-2/math.Pi)*math.Cos(math.Pi/(4*b)))
	}
	return (math.Sin(math.Pi*t*(1-b)) + 4*b*t*math.Cos(math.Pi*t*(1+b))) / (math.Pi * t * (1 - (4*b*t)*(4*b*t)))
}

var rrcTable = func() []float64 {
	h := make([]float64, span*resolution+1)
	for i := range h {
		h[i] = rrcPulse(float64(i-span*resolution/2) / resolution)
	}
	return h
}()
