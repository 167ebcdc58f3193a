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
type Tx struct {
	step  [2]float64 // phase increment per sample, in cycles: [space, mark]
	amp   float64
	phase float64 // cycles, in [0, 1)
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
	return &Tx{step: [2]float64{space / SampleRate, mark / SampleRate}, amp: Amplitude(levelDBm0)}, nil
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
		dst[i] = int16(math.Round(t.amp * math.Sin(2*math.Pi*t.phase)))
		t.phase += t.step[t.bit]
		if t.phase >= 1 {
			t.phase--
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
