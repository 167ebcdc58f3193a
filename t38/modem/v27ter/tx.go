package v27ter

import (
	"fmt"
	"math"
)

// BitSource hands the transmitter its bits; ok false means there are no
// more.
type BitSource interface {
	NextBit() (bit uint8, ok bool)
}

// Tx is a V.27 ter transmitter: training, then the source's bits, then a
// short run of scrambled ones and the end of the signal. A Tx sends one
// signal; each new signal (TCF, a page, an ECM block) needs a new Tx.
type Tx struct {
	rate  Rate
	steps []int
	gain  float64

	scr    scrambler
	state  int // constellation phase in 45° steps
	symbol int // symbols sent so far, counting from the start of training
	tep    bool
	ended  int // symbols since the source ran dry; 0 while it has bits
	done   bool

	// Pulse shaping: the last span+1 symbols (newest first) and where
	// the next sample falls after the newest, in 1/resolution symbols.
	hist   [span + 1]complex128
	frac   int
	step   int // 1/resolution symbols per sample
	carr   float64
	zeros  int // empty symbols pushed after the shutdown
	source BitSource
}

// NewTx returns a transmitter at rate and levelDBm0 (-60..0 dBm0). With
// tep, the training starts with talker echo protection: 320 symbols of
// unmodulated carrier (200 ms at 4800 bit/s), then 32 of silence.
func NewTx(rate Rate, levelDBm0 float64, tep bool) (*Tx, error) {
	if err := rate.check(); err != nil {
		return nil, err
	}
	if math.IsNaN(levelDBm0) || levelDBm0 > 0 || levelDBm0 < -60 {
		return nil, fmt.Errorf("v27ter: transmit level %g dBm0 is outside -60..0 dBm0", levelDBm0)
	}
	t := &Tx{rate: rate, steps: rate.steps(), tep: tep, step: resolution * rate.baud() / SampleRate, frac: resolution}
	// Segment 4 starts from the scrambler state V.27 ter gives, so that a
	// receiver can predict the conditioning pattern.
	t.scr.reg = trainingScramblerState
	if !tep {
		t.symbol = segEcho + segSilence
	}
	// Unit-magnitude symbols through the pulse give a baseband power of
	// the pulse energy per symbol; the carrier halves it.
	var e float64
	for _, h := range rrcTable {
		e += h * h
	}
	e /= resolution
	t.gain = math.Sqrt(meanSquare(levelDBm0) / (e / 2))
	return t, nil
}

// Done reports whether the signal has ended.
func (t *Tx) Done() bool { return t.done }

// nextSymbol returns the next constellation point.
func (t *Tx) nextSymbol() complex128 {
	s := t.symbol
	t.symbol++
	switch {
	case s < segEcho:
		return 1
	case s < segEcho+segSilence:
		return 0
	case s < segEcho+segSilence+segReversal:
		t.state = (t.state + 4) & 7
	case s < segEcho+segSilence+segReversal+segScramble:
		// Every third scrambled one picks 0° or 180°.
		b := t.scr.scramble(1)
		t.scr.scramble(1)
		t.scr.scramble(1)
		t.state = (t.state + 4*int(b)) & 7
	default:
		training := s < segEcho+segSilence+TrainingSymbols
		n := t.rate.bitsPerSymbol()
		idx := 0
		for range n {
			in := uint8(1)
			if !training && t.ended == 0 {
				if t.source == nil {
					t.ended = 1
				} else if b, ok := t.source.NextBit(); ok {
					in = b & 1
				} else {
					t.ended = 1
				}
			}
			idx = idx<<1 | int(t.scr.scramble(in))
		}
		if t.ended > 0 {
			t.ended++
		}
		t.state = (t.state + t.steps[idx]) & 7
	}
	return complex(math.Cos(float64(t.state)*math.Pi/4), math.Sin(float64(t.state)*math.Pi/4))
}

// Modulate writes samples to dst and returns how many: fewer than
// len(dst) once the signal has ended (the source, which may be nil, ran
// out, and the shutdown ones and the pulse tail were sent).
func (t *Tx) Modulate(dst []int16, src BitSource) int {
	t.source = src
	for i := range dst {
		for t.frac >= resolution {
			t.push()
			t.frac -= resolution
		}
		if t.done {
			return i
		}
		dst[i] = t.sample()
		t.frac += t.step
	}
	return len(dst)
}

func (t *Tx) push() {
	copy(t.hist[1:], t.hist[:span])
	if t.ended > segShutdown {
		// The last symbols ring out through the pulse filter.
		t.hist[0] = 0
		if t.zeros++; t.zeros > span {
			t.done = true
		}
		return
	}
	t.hist[0] = t.nextSymbol()
}

// sample is the pulse-shaped baseband at the current instant, put on the
// carrier.
func (t *Tx) sample() int16 {
	var v complex128
	// Symbol k (0 newest) is centred span/2 symbols after it entered; the
	// current instant is frac/resolution symbols after the newest entered.
	for k, a := range t.hist {
		if a == 0 {
			continue
		}
		idx := k*resolution + t.frac
		if idx < len(rrcTable) {
			v += a * complex(rrcTable[idx], 0)
		}
	}
	w := 2 * math.Pi * t.carr
	t.carr += CarrierFreq / SampleRate
	t.carr -= math.Floor(t.carr)
	x := (real(v)*math.Cos(w) - imag(v)*math.Sin(w)) * t.gain
	return int16(max(-32768, min(32767, math.Round(x))))
}
