package audio

import (
	"fmt"
	"slices"

	"github.com/faxd/faxd/t38/modem/dsp"
	"github.com/faxd/faxd/t38/modem/v17"
	"github.com/faxd/faxd/t38/modem/v29"
	"github.com/faxd/faxd/t38/t30"
)

// V29 is the V.29 modem (t38/modem/v29) at 9600 and 7200 bit/s. T.30 does
// not use V.29's 4800.
type V29 struct {
	// Only7200 leaves 9600 out, as V27ter.Only2400 leaves 4800 out.
	Only7200 bool
	// CarrierOn is the receiver's carrier-on level in dBm0 (off is 5 dB
	// lower); 0: the modem's -26 dBm0.
	CarrierOn float64
}

// Modems implements HighSpeed.
func (v V29) Modems() []t30.Modem {
	if v.Only7200 {
		return []t30.Modem{t30.V29_7200}
	}
	return []t30.Modem{t30.V29_9600, t30.V29_7200}
}

func (v V29) has(m t30.Modem) error {
	if m.Family() != t30.FamilyV29 || (v.Only7200 && m == t30.V29_9600) {
		return fmt.Errorf("audio: V.29 adapter has no modem %v", m)
	}
	return nil
}

// NewTx implements HighSpeed. V.29 has one training length.
func (v V29) NewTx(m t30.Modem, level float64, _ bool) (ModemTx, error) {
	if err := v.has(m); err != nil {
		return nil, err
	}
	tx, err := v29.NewTx(m.BitRate())
	if err != nil {
		return nil, err
	}
	if err := tx.SetLevel(level); err != nil {
		return nil, err
	}
	return v29Tx{tx}, nil
}

type v29Tx struct{ tx *v29.Tx }

func (t v29Tx) Modulate(dst []int16, src BitSource) int { return t.tx.Modulate(dst, src) }

// NewRx implements HighSpeed.
func (v V29) NewRx(m t30.Modem) (ModemRx, error) {
	if err := v.has(m); err != nil {
		return nil, err
	}
	rx, err := v29.NewRx(m.BitRate())
	if err != nil {
		return nil, err
	}
	if v.CarrierOn != 0 {
		if err := rx.SetThreshold(v.CarrierOn); err != nil {
			return nil, err
		}
	}
	return &pskRx{rx: rx}, nil
}

// V17 is the V.17 modem (t38/modem/v17) at 14400, 12000, 9600 and 7200
// bit/s.
type V17 struct {
	// Max is the highest rate offered (7200..14400); 0: 14400. A far end
	// that tries a higher rate fails its training and falls back.
	Max int
	// CarrierOn is the receiver's carrier-on level in dBm0 (off is 5 dB
	// lower); 0: the modem's -26 dBm0 (V.17 itself names -43).
	CarrierOn float64
}

var v17Modems = []t30.Modem{t30.V17_14400, t30.V17_12000, t30.V17_9600, t30.V17_7200}

// Modems implements HighSpeed.
func (v V17) Modems() []t30.Modem {
	var ms []t30.Modem
	for _, m := range v17Modems {
		if v.Max == 0 || m.BitRate() <= v.Max {
			ms = append(ms, m)
		}
	}
	return ms
}

func (v V17) has(m t30.Modem) error {
	if m.Family() != t30.FamilyV17 || (v.Max != 0 && m.BitRate() > v.Max) {
		return fmt.Errorf("audio: V.17 adapter has no modem %v", m)
	}
	return nil
}

// NewTx implements HighSpeed: the engine asks for the long training before
// TCF and after CTC, the short one before the pages that follow.
func (v V17) NewTx(m t30.Modem, level float64, longTrain bool) (ModemTx, error) {
	if err := v.has(m); err != nil {
		return nil, err
	}
	tx, err := v17.NewTx(m.BitRate(), !longTrain)
	if err != nil {
		return nil, err
	}
	if err := tx.SetLevel(level); err != nil {
		return nil, err
	}
	return v17Tx{tx}, nil
}

type v17Tx struct{ tx *v17.Tx }

func (t v17Tx) Modulate(dst []int16, src BitSource) int { return t.tx.Modulate(dst, src) }

// NewRx implements HighSpeed.
func (v V17) NewRx(m t30.Modem) (ModemRx, error) {
	if err := v.has(m); err != nil {
		return nil, err
	}
	rx, err := v17.NewRx(m.BitRate())
	if err != nil {
		return nil, err
	}
	if v.CarrierOn != 0 {
		if err := rx.SetThreshold(v.CarrierOn); err != nil {
			return nil, err
		}
	}
	return &pskRx{rx: rx, v17: rx}, nil
}

// pskReceiver is what the V.29 and V.17 receivers have in common.
type pskReceiver interface {
	Write(samples []int16)
	ReadBits(p []byte) int
	PollEvent() (dsp.Event, bool)
}

// pskRx turns a receiver's separate bit and event queues into the one
// ordered event stream ModemRx gives.
type pskRx struct {
	rx  pskReceiver
	v17 *v17.Rx // nil for V.29
	// read counts the bits of the current burst already handed out, so a
	// CarrierDown (which carries the burst's bit count) takes exactly the
	// bits before it and leaves the next burst's for after its training.
	read int64
	buf  []byte
}

// expectLong implements trainingHint.
func (r *pskRx) expectLong(long bool) {
	if r.v17 != nil {
		r.v17.SetShortTraining(!long)
	}
}

func (r *pskRx) Process(samples []int16, out []RxEvent) []RxEvent {
	r.buf = r.buf[:0]
	r.rx.Write(samples)
	for ev, ok := r.rx.PollEvent(); ok; ev, ok = r.rx.PollEvent() {
		switch ev.Kind {
		case dsp.CarrierUp:
			out = append(out, RxEvent{Kind: RxCarrierUp})
		case dsp.TrainingDone:
			r.read = 0
			out = append(out, RxEvent{Kind: RxTrained})
			// After a long training the pages come with the short one;
			// the V.17 receiver still recognises a long one if it comes.
			r.expectLong(false)
		case dsp.TrainingFailed:
			out = append(out, RxEvent{Kind: RxTrainingFailed})
		case dsp.CarrierDown:
			if n := ev.Bits - r.read; n > 0 {
				out = r.bits(out, n)
			}
			r.read = 0
			out = append(out, RxEvent{Kind: RxCarrierDown})
		}
	}
	return r.bits(out, -1)
}

// bits appends up to n queued bits (n < 0: all) as RxBits events. They
// go to the end of buf, which Process empties: a grown buf leaves the
// events before on the old array, which nothing writes to again.
func (r *pskRx) bits(out []RxEvent, n int64) []RxEvent {
	for n != 0 {
		if len(r.buf) == cap(r.buf) {
			r.buf = slices.Grow(r.buf, 512)
		}
		start := len(r.buf)
		p := r.buf[start:cap(r.buf)]
		if n > 0 && n < int64(len(p)) {
			p = p[:n]
		}
		k := r.rx.ReadBits(p)
		if k == 0 {
			break
		}
		r.buf = r.buf[:start+k]
		out = appendBits(out, r.buf[start:])
		r.read += int64(k)
		if n > 0 {
			n -= int64(k)
		}
	}
	return out
}

// training implements trainingNow.
func (r *pskRx) training() bool { return r.v17 != nil && r.v17.Training() }

// trainingNow is implemented by receivers that can tell they are training
// on their own signal, past doubt (V.17, once the alternations are found).
type trainingNow interface {
	training() bool
}

// trainingHint is implemented by receivers that need to know which
// training comes next (V.17: long before TCF and after CTC, short before
// pages).
type trainingHint interface {
	expectLong(long bool)
}
