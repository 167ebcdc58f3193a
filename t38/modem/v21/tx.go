package v21

import (
	"fmt"
	"math"
)

// BitSource hands the transmitter its bits; ok false means there are no
// more for now. *hdlc.Encoder is one.
type BitSource interface {
	NextBit() (bit uint8, ok bool)
}

// Tx is a V.21 transmitter. It switches frequency at bit boundaries without
// a phase jump, so the spectrum stays clean.
//
// Both tones are whole multiples of SampleRate/len(sine) Hz (50 Hz for
// channel 2, 20 Hz for channel 1), so the phase is an exact integer index
// into one period of the output sine, computed once: no sine per sample.
type Tx struct {
	sine  []int16 // one period at the transmit level, len(sine) samples
	step  [2]int  // phase increment per sample, in table steps: [space, mark]
	phase int     // index into sine
	baud  int     // bit clock: a bit lasts SampleRate units, a sample adds BitRate
	bit   uint8
	on    bool // a bit is in progress
}

// NewTx returns a transmitter for channel ch at levelDBm0 (at most 0 dBm0,
// at least -60 dBm0).
func NewTx(ch Channel, levelDBm0 float64) (*Tx, error) {
	mark, space, err := ch.Frequencies()
	if err != nil {
		return nil, err
	}
	if math.IsNaN(levelDBm0) || levelDBm0 > 0 || levelDBm0 < -60 {
		return nil, fmt.Errorf("v21: transmit level %g dBm0 is outside -60..0 dBm0", levelDBm0)
	}
	m, sp := int(mark), int(space)
	n := SampleRate / gcd(gcd(m, sp), SampleRate)
	t := &Tx{sine: make([]int16, n), step: [2]int{sp * n / SampleRate, m * n / SampleRate}}
	amp := Amplitude(levelDBm0)
	for i := range t.sine {
		t.sine[i] = int16(math.Round(amp * math.Sin(2*math.Pi*float64(i)/float64(n))))
	}
	return t, nil
}

// Modulate writes samples into dst for bits taken from src, and returns how
// many it wrote. It stops early, at the end of a bit, when src (which may
// be nil) has no more bits: the carrier is then off, and a later call starts it again with the
// phase where it left off.
func (t *Tx) Modulate(dst []int16, src BitSource) int {
	for i := range dst {
		if !t.on {
			if src == nil {
				return i
			}
			b, ok := src.NextBit()
			if !ok {
				return i
			}
			t.bit, t.on = b&1, true
		}
		dst[i] = t.sine[t.phase]
		if t.phase += t.step[t.bit]; t.phase >= len(t.sine) {
			t.phase -= len(t.sine)
		}
		// Bits are 26 2/3 samples long: the bit clock counts in units of
		// 1/(SampleRate*BitRate) s so that no error accumulates.
		if t.baud += BitRate; t.baud >= SampleRate {
			t.baud -= SampleRate
			t.on = false
		}
	}
	return len(dst)
}

// Bits is a BitSource over a slice, for one-shot use.
type Bits []uint8

// NextBit implements BitSource.
func (b *Bits) NextBit() (uint8, bool) {
	if len(*b) == 0 {
		return 0, false
	}
	x := (*b)[0]
	*b = (*b)[1:]
	return x, true
}
