package audio

import (
	"fmt"

	"github.com/faxd/faxd/t38/modem/v27ter"
	"github.com/faxd/faxd/t38/t30"
)

// BitSource hands a transmitter its bits; ok false means there are no more.
type BitSource interface {
	NextBit() (bit uint8, ok bool)
}

// ModemTx sends one high-speed signal: training, the source's bits, the
// end of the carrier. n < len(dst) means the signal has ended.
type ModemTx interface {
	Modulate(dst []int16, src BitSource) (n int)
}

// RxEventKind tells what a high-speed receiver reports.
type RxEventKind uint8

const (
	RxCarrierUp      RxEventKind = iota + 1 // energy: something is coming
	RxTrained                               // the training was recognised; bits follow
	RxTrainingFailed                        // a signal, but not a training this receiver can use
	RxBits                                  // descrambled bits in Bits
	RxCarrierDown                           // the signal ended
)

func (k RxEventKind) String() string {
	switch k {
	case RxCarrierUp:
		return "carrier-up"
	case RxTrained:
		return "trained"
	case RxTrainingFailed:
		return "training-failed"
	case RxBits:
		return "bits"
	case RxCarrierDown:
		return "carrier-down"
	}
	return fmt.Sprintf("RxEventKind(%d)", uint8(k))
}

// RxEvent is one high-speed receiver output.
type RxEvent struct {
	Kind RxEventKind
	// Bits holds an RxBits event's bits, one a byte (0 or 1), in the
	// order received. It is valid until the next Process: bits come in
	// runs, a whole block's worth at a time, not an event each.
	Bits []byte
}

// ModemRx demodulates one high-speed modem at one rate; it serves any number
// of signals in a row (each carrier starts a new training).
type ModemRx interface {
	Process(samples []int16, out []RxEvent) []RxEvent
}

// HighSpeed is a family of image modems the terminal can use. The terminal
// offers the T.30 engine only the modems some HighSpeed has.
type HighSpeed interface {
	// Modems lists the t30 modems this provides.
	Modems() []t30.Modem
	NewTx(m t30.Modem, levelDBm0 float64, longTrain bool) (ModemTx, error)
	NewRx(m t30.Modem) (ModemRx, error)
}

// V27ter is the V.27 ter modem (t38/modem/v27ter) at 4800 and 2400 bit/s.
// Only2400 leaves 4800 out: a far end that tries 4800 then fails its
// training and falls back, as with a line that cannot carry 4800.
type V27ter struct {
	Only2400 bool
	// TEP sends talker echo protection before each training.
	TEP bool
	// CarrierOn and CarrierOff are the receiver's carrier levels in dBm0;
	// 0: -43 and -48.
	CarrierOn, CarrierOff float64
}

func v27Rate(m t30.Modem) (v27ter.Rate, bool) {
	switch m {
	case t30.V27ter2400:
		return v27ter.Rate2400, true
	case t30.V27ter4800:
		return v27ter.Rate4800, true
	}
	return 0, false
}

// Modems implements HighSpeed.
func (v V27ter) Modems() []t30.Modem {
	if v.Only2400 {
		return []t30.Modem{t30.V27ter2400}
	}
	return []t30.Modem{t30.V27ter4800, t30.V27ter2400}
}

func (v V27ter) has(m t30.Modem) (v27ter.Rate, error) {
	r, ok := v27Rate(m)
	if !ok || (v.Only2400 && m == t30.V27ter4800) {
		return 0, fmt.Errorf("audio: V.27 ter adapter has no modem %v", m)
	}
	return r, nil
}

// NewTx implements HighSpeed. V.27 ter has one training length.
func (v V27ter) NewTx(m t30.Modem, level float64, _ bool) (ModemTx, error) {
	r, err := v.has(m)
	if err != nil {
		return nil, err
	}
	tx, err := v27ter.NewTx(r, level, v.TEP)
	if err != nil {
		return nil, err
	}
	return v27Tx{tx}, nil
}

type v27Tx struct{ tx *v27ter.Tx }

func (t v27Tx) Modulate(dst []int16, src BitSource) int { return t.tx.Modulate(dst, src) }

// NewRx implements HighSpeed.
func (v V27ter) NewRx(m t30.Modem) (ModemRx, error) {
	r, err := v.has(m)
	if err != nil {
		return nil, err
	}
	rx, err := v27ter.NewRx(v27ter.RxConfig{Rate: r, OnLevel: v.CarrierOn, OffLevel: v.CarrierOff})
	if err != nil {
		return nil, err
	}
	return &v27Rx{rx: rx}, nil
}

type v27Rx struct {
	rx   *v27ter.Rx
	evs  []v27ter.Event
	bits []byte
}

var v27Kinds = [...]RxEventKind{
	v27ter.EventCarrierUp:      RxCarrierUp,
	v27ter.EventTrained:        RxTrained,
	v27ter.EventTrainingFailed: RxTrainingFailed,
	v27ter.EventBit:            RxBits,
	v27ter.EventCarrierDown:    RxCarrierDown,
}

func (r *v27Rx) Process(samples []int16, out []RxEvent) []RxEvent {
	r.evs = r.rx.Process(samples, r.evs[:0])
	r.bits = r.bits[:0]
	run := 0 // where the bits not yet in an event start
	for _, ev := range r.evs {
		if int(ev.Kind) >= len(v27Kinds) || v27Kinds[ev.Kind] == 0 {
			continue
		}
		k := v27Kinds[ev.Kind]
		if k == RxBits {
			r.bits = append(r.bits, ev.Bit&1)
			continue
		}
		out = appendBits(out, r.bits[run:])
		run = len(r.bits)
		out = append(out, RxEvent{Kind: k})
	}
	return appendBits(out, r.bits[run:])
}

// appendBits appends an RxBits event for bits, if there are any.
func appendBits(out []RxEvent, bits []byte) []RxEvent {
	if len(bits) == 0 {
		return out
	}
	return append(out, RxEvent{Kind: RxBits, Bits: bits})
}
