package v21

import (
	"fmt"

	"github.com/faxd/faxd/t38/modem/hdlc"
)

// PreambleFlags is the T.30 preamble before a burst of control frames:
// one second of flags (T.30 allows ±15%), 37 flags at 300 bit/s.
const PreambleFlags = 37

// FrameTx sends bursts of T.30 control frames (HDLC over V.21 channel 2):
// the preamble, the frames each with its FCS, a closing flag, then the
// carrier stops.
type FrameTx struct {
	tx  *Tx
	enc hdlc.Encoder
}

// NewFrameTx returns a frame transmitter at levelDBm0.
func NewFrameTx(levelDBm0 float64) (*FrameTx, error) {
	tx, err := NewTx(Channel2, levelDBm0)
	if err != nil {
		return nil, err
	}
	return &FrameTx{tx: tx}, nil
}

// Send queues one burst: the preamble and frames (address, control, FCF,
// FIF; no FCS), as the t30 engine's OutFrames gives them. Nothing is queued
// if a frame is refused.
func (f *FrameTx) Send(frames [][]byte) error {
	if len(frames) == 0 {
		return fmt.Errorf("v21: a burst needs at least one frame")
	}
	var probe hdlc.Encoder
	for i, fr := range frames {
		if err := probe.Frame(fr); err != nil {
			return fmt.Errorf("v21: frame %d: %w", i, err)
		}
	}
	f.enc.Flags(PreambleFlags)
	for _, fr := range frames {
		_ = f.enc.Frame(fr) // checked above
	}
	return nil
}

// Pending reports whether queued bits remain to be sent.
func (f *FrameTx) Pending() bool { return f.enc.Pending() }

// Modulate writes the queued bursts as samples; n < len(dst) means
// everything queued has been sent and the carrier is off.
func (f *FrameTx) Modulate(dst []int16) int { return f.tx.Modulate(dst, &f.enc) }

// FrameEventKind tells what a FrameEvent reports.
type FrameEventKind uint8

const (
	FrameCarrierUp   FrameEventKind = iota + 1 // t30 Engine.RxCarrierUp(t30.V21)
	FramePreamble                              // flags: a burst of frames is coming
	FrameReceived                              // Frame, FCSOK: t30 Engine.RxFrame
	FrameCarrierDown                           // t30 Engine.RxCarrierDown
)

func (k FrameEventKind) String() string {
	switch k {
	case FrameCarrierUp:
		return "carrier-up"
	case FramePreamble:
		return "preamble"
	case FrameReceived:
		return "frame"
	case FrameCarrierDown:
		return "carrier-down"
	}
	return "event?"
}

// FrameEvent is one FrameRx output.
type FrameEvent struct {
	Kind  FrameEventKind
	Frame []byte // without FCS
	FCSOK bool
}

// FrameRx receives T.30 control frames: a V.21 channel 2 receiver feeding
// an HDLC decoder, reporting what the t30 engine takes as inputs.
type FrameRx struct {
	rx  *Rx
	dec hdlc.Decoder
	evs []Event
}

// NewFrameRx returns a frame receiver; cfg.Channel is ignored (channel 2).
func NewFrameRx(cfg RxConfig) (*FrameRx, error) {
	cfg.Channel = Channel2
	rx, err := NewRx(cfg)
	if err != nil {
		return nil, err
	}
	return &FrameRx{rx: rx}, nil
}

// Reset forgets the signal (receiver and HDLC decoder, not the counts),
// for a caller that stopped feeding samples for a while.
func (f *FrameRx) Reset() {
	f.rx.Reset()
	f.dec.Reset()
}

// Process demodulates samples and appends the events found to out.
func (f *FrameRx) Process(samples []int16, out []FrameEvent) []FrameEvent {
	f.evs = f.rx.Process(samples, f.evs[:0])
	for _, ev := range f.evs {
		switch ev.Kind {
		case EventCarrierUp:
			f.dec.Reset()
			out = append(out, FrameEvent{Kind: FrameCarrierUp})
		case EventCarrierDown:
			f.dec.Reset()
			out = append(out, FrameEvent{Kind: FrameCarrierDown})
		case EventBit:
			hev, ok := f.dec.PutBit(ev.Bit)
			if !ok {
				continue
			}
			switch hev.Kind {
			case hdlc.EventSync:
				out = append(out, FrameEvent{Kind: FramePreamble})
			case hdlc.EventFrame:
				out = append(out, FrameEvent{Kind: FrameReceived, Frame: hev.Frame, FCSOK: hev.FCSOK})
			}
		}
	}
	return out
}

// Stats returns the HDLC decoder's counters.
func (f *FrameRx) Stats() hdlc.Stats { return f.dec.Stats() }
