package v17

import (
	"fmt"
	"math"

	"github.com/faxd/faxd/t38/modem/dsp"
)

// txSpan is the transmit pulse's span, symbols each side: 8 taps per
// output sample.
const txSpan = 4

// Tx is a V.17 transmitter. Queue data with Write, take audio with Read;
// an empty queue before Close sends scrambled ones. After Close and the
// queued bits it sends a short tail and Read returns fewer samples than
// asked: the carrier is off.
type Tx struct {
	rate     int
	short    bool
	shaper   *dsp.Shaper
	carrier  *dsp.Carrier
	gain     float32
	scr      dsp.Scrambler
	queue    dsp.BitQueue
	points   []complex64
	step     int
	abcd     uint8 // position among A B C D in segments 2 and 3
	diff     uint8 // differential encoder state (Y2 Y1)
	conv     uint8 // convolutional encoder state
	closed   bool
	src      BitSource // set only during Modulate
	tailAt   int
	flushed  int
	done     bool
	trainEnd int // symbols of training before segment 4
	// Underruns counts data symbols sent as idle ones because the queue
	// was empty.
	Underruns int
}

// NewTx returns a transmitter for rate (14400, 12000, 9600 or 7200) at
// -14 dBm0, with the long training sequence, or the short one when short
// (allowed only after the far receiver has once trained on a long one).
func NewTx(rate int, short bool) (*Tx, error) {
	if err := checkRate(rate); err != nil {
		return nil, err
	}
	t := &Tx{
		rate:    rate,
		short:   short,
		shaper:  dsp.NewShaper(10, 3, txSpan, alpha),
		carrier: dsp.NewCarrier(carrierHz, sampleRate),
		points:  constellation(rate),
		tailAt:  -1,
	}
	t.scr.SetState(scramblerInit)
	t.trainEnd = seg1Len + seg2Len + seg3Len
	if short {
		t.trainEnd = seg1Len + seg2ShortLen
	} else {
		// V.17 starts the differential encoder differently after a long
		// training, so a receiver that mistakes one for the other fails.
		t.diff = 1
	}
	t.SetLevel(-14)
	return t, nil
}

// SetLevel sets the transmit level in dBm0 (the mean power of the data
// signal), -60 to 0.
func (t *Tx) SetLevel(dbm0 float64) error {
	if !(dbm0 >= -60 && dbm0 <= 0) {
		return fmt.Errorf("%s: transmit level %g dBm0 is outside -60..0 dBm0", pkgName, dbm0)
	}
	t.gain = float32(math.Sqrt(2 * dsp.DBm0ToPower(dbm0) / meanPower(t.rate)))
	return nil
}

// BitSource hands a transmitter its bits on demand; ok false means there
// are no more (the transmitter then sends its tail and ends). It is the
// same interface as the other soft modems' transmitters take.
type BitSource interface {
	NextBit() (bit uint8, ok bool)
}

// Modulate is Read for a caller that would rather be asked for bits than
// queue them: src is drawn as symbols need bits, and its end is Close.
func (t *Tx) Modulate(dst []int16, src BitSource) int {
	t.src = src
	n := t.Read(dst)
	t.src = nil
	return n
}

// pull tops the queue up from the source so the next symbol has its bits.
func (t *Tx) pull() {
	for !t.closed && t.queue.Len() < bitsPerSymbol(t.rate) {
		b, ok := t.src.NextBit()
		if !ok {
			t.closed = true
			return
		}
		t.queue.Push(b & 1)
	}
}

// Write queues data bits (one per byte, 0 or 1).
func (t *Tx) Write(bits []byte) { t.queue.Append(bits) }

// Close says no more bits will be written.
func (t *Tx) Close() { t.closed = true }

// Done reports whether the whole signal has been read.
func (t *Tx) Done() bool { return t.done }

// Read fills out with audio and returns how many samples it wrote.
func (t *Tx) Read(out []int16) int {
	for i := range out {
		if t.done {
			return i
		}
		for t.shaper.NeedSymbol() {
			t.shaper.Push(t.nextSymbol())
		}
		v := t.carrier.Mix(t.shaper.Next()) * t.gain
		if v > 32767 {
			v = 32767
		} else if v < -32768 {
			v = -32768
		}
		out[i] = int16(v)
	}
	return len(out)
}

func (t *Tx) nextSymbol() complex64 {
	s := t.step
	t.step++
	seg2 := seg2Len
	if t.short {
		seg2 = seg2ShortLen
	}
	switch {
	case s < seg1Len:
		return abcd[s&1]
	case s < seg1Len+seg2:
		b := t.scr.Scramble(1)
		b = b<<1 | t.scr.Scramble(1)
		t.abcd = dibitToABCD[b]
		return abcd[t.abcd]
	case s < t.trainEnd:
		// Bridge: two bits of the bridge word per symbol, scrambled, as
		// quarter-turn steps.
		sh := uint((s - seg1Len - seg2) & 7 * 2)
		b := t.scr.Scramble(uint8(bridgeWord >> sh))
		b = b<<1 | t.scr.Scramble(uint8(bridgeWord>>(sh+1)))
		t.abcd = (t.abcd + bridgeStep[b]) & 3
		return abcd[t.abcd]
	case s < t.trainEnd+seg4Len:
		return t.dataSymbol(false)
	}
	if t.tailAt < 0 {
		if t.src != nil && t.queue.Len() == 0 {
			// Straight from the source, without the queue.
			if p, ok := t.srcSymbol(); ok {
				return p
			}
		} else {
			if t.src != nil {
				t.pull()
			}
			if !t.closed || t.queue.Len() > 0 {
				return t.dataSymbol(true)
			}
		}
		t.tailAt = s
	}
	if s < t.tailAt+tailLen {
		return t.dataSymbol(false)
	}
	t.flushed++
	if t.flushed > 2*txSpan+1 {
		t.done = true
	}
	return 0
}

// srcSymbol codes the next bits from the source into a point, ones after
// its end (as pull and dataSymbol would); ok is false when the source had
// ended before the symbol's first bit.
func (t *Tx) srcSymbol() (p complex64, ok bool) {
	n := bitsPerSymbol(t.rate)
	var q uint8
	i := 0
	for ; i < n && !t.closed; i++ {
		b, more := t.src.NextBit()
		if !more {
			t.closed = true
			break
		}
		q |= t.scr.Scramble(b&1) << i
	}
	if i == 0 {
		return 0, false
	}
	for ; i < n; i++ {
		q |= t.scr.Scramble(1) << i
	}
	return t.encode(q), true
}

// dataSymbol codes the next bits (from the queue, or ones) into a point.
func (t *Tx) dataSymbol(fromQueue bool) complex64 {
	n := bitsPerSymbol(t.rate)
	var q uint8
	for i := 0; i < n; i++ {
		b := uint8(1)
		if fromQueue {
			if v, ok := t.queue.Pop(); ok {
				b = v
			} else if i == 0 {
				t.Underruns++
			}
		}
		q |= t.scr.Scramble(b) << i // first bit is Q1, the least significant
	}
	return t.encode(q)
}

// encode turns the scrambled bits of one symbol into its point.
func (t *Tx) encode(q uint8) complex64 {
	// Q1 Q2 are differentially encoded into Y1 Y2, which also drive the
	// convolutional encoder that adds Y0; Q3 and up pass through.
	t.diff = (t.diff + q) & 3
	t.conv = trellis[t.conv][t.diff]
	label := (q<<1)&0x78 | t.diff<<1 | (t.conv>>2)&1
	return t.points[label]
}
