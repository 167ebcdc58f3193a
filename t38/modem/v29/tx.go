package v29

import (
	"fmt"
	"math"

	"github.com/faxd/faxd/t38/modem/dsp"
)

// Tx is a V.29 transmitter. Queue data with Write, take audio with Read;
// when the queue runs dry before Close, it sends scrambled ones (the
// idle a modem sends; HDLC framing is the caller's business). After Close
// and the queued bits, it sends a short tail and Read returns fewer
// samples than asked: the carrier is off.
type Tx struct {
	rate    int
	shaper  *dsp.Shaper
	carrier *dsp.Carrier
	gain    float32
	tp      trainingPoints
	scr     dsp.Scrambler
	prbs    prbs7
	queue   dsp.BitQueue
	step    int // symbols sent since start
	phase   uint8
	closed  bool
	src     BitSource // set only during Modulate
	tailAt  int       // symbol index where the tail began, or -1
	flushed int       // zero symbols pushed after the tail
	done    bool
	// Underruns counts data symbols sent as idle ones because the queue
	// was empty.
	Underruns int
}

// NewTx returns a transmitter for rate (9600, 7200 or 4800) at the
// default level of -14 dBm0.
func NewTx(rate int) (*Tx, error) {
	if err := checkRate(rate); err != nil {
		return nil, err
	}
	t := &Tx{
		rate:    rate,
		shaper:  dsp.NewShaper(10, 3, span, alpha),
		carrier: dsp.NewCarrier(carrierHz, sampleRate),
		tp:      training(rate),
		prbs:    newPRBS7(),
		tailAt:  -1,
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
	// Real passband power is half the complex baseband power, which is the
	// mean |point|² times the (unit) pulse energy.
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

// Read fills out with audio and returns how many samples it wrote: len(out)
// until the signal ends.
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
	switch {
	case s < seg1Len:
		return 0
	case s < seg1Len+seg2Len:
		if (s-seg1Len)&1 == 0 {
			return t.tp.a
		}
		return t.tp.b
	case s < seg1Len+seg2Len+seg3Len:
		if t.prbs.next() == 0 {
			return t.tp.c
		}
		return t.tp.d
	case s < seg1Len+seg2Len+seg3Len+seg4Len:
		return t.dataSymbol(false)
	}
	if t.tailAt < 0 {
		if t.src != nil {
			t.pull()
		}
		if !t.closed || t.queue.Len() > 0 {
			return t.dataSymbol(true)
		}
		t.tailAt = s
	}
	if s < t.tailAt+tailLen {
		return t.dataSymbol(false)
	}
	// Flush the pulse shaper so the signal ends at rest.
	t.flushed++
	if t.flushed > 2*span+1 {
		t.done = true
	}
	return 0
}

// dataSymbol sends the next bits from the queue (fromQueue) or ones.
func (t *Tx) dataSymbol(fromQueue bool) complex64 {
	n := bitsPerSymbol(t.rate)
	var bits uint8
	for i := 0; i < n; i++ {
		b := uint8(1)
		if fromQueue {
			if v, ok := t.queue.Pop(); ok {
				b = v
			} else if i == 0 {
				t.Underruns++
			}
		}
		bits = bits<<1 | t.scr.Scramble(b)
	}
	var amp uint8
	switch t.rate {
	case 9600:
		amp = bits >> 3
		t.phase = (t.phase + phaseStep[bits&7]) & 7
	case 7200:
		t.phase = (t.phase + phaseStep[bits]) & 7
	default:
		t.phase = (t.phase + phaseStep4800[bits]) & 7
	}
	return points[t.phase+8*amp]
}
