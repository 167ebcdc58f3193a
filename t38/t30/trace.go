package t30

import (
	"fmt"
	"time"
)

// TraceKind says what a TraceEvent records.
type TraceKind uint8

const (
	TraceRx      TraceKind = iota + 1 // a control frame received: Frame, FIF, FCSOK
	TraceTx                           // a control frame sent: Frame, FIF
	TraceSignal                       // a high-speed signal sent: Detail (TCF, page, ECM block) on Modem
	TraceTimeout                      // a response timer expired: Detail (T2, T4)
	TraceDone                         // the call is over: Detail (reason: detail)
)

var traceKindNames = [...]string{TraceRx: "rx", TraceTx: "tx", TraceSignal: "signal", TraceTimeout: "timeout", TraceDone: "done"}

func (k TraceKind) String() string {
	if int(k) < len(traceKindNames) && traceKindNames[k] != "" {
		return traceKindNames[k]
	}
	return fmt.Sprintf("TraceKind(%d)", k)
}

// TraceEvent is one line of a call trace. FIF aliases the engine's
// buffer: a Trace hook that keeps it copies it.
type TraceEvent struct {
	At     time.Duration // the engine's clock (what the driver last ticked)
	Kind   TraceKind
	Frame  string // FCF name: DIS, DCS, MCF, ...
	FIF    []byte
	FCSOK  bool
	Modem  Modem
	Detail string
}

func (k timerKind) String() string {
	switch k {
	case tmT2:
		return "T2"
	case tmT4:
		return "T4"
	}
	return "none"
}

// trace hands ev, stamped with the engine's time, to the Trace hook.
func (e *Engine) trace(ev TraceEvent) {
	if e.cfg.Trace == nil {
		return
	}
	ev.At = e.now
	e.cfg.Trace(ev)
}

// traceOutput traces what a transmit output sends: each control frame,
// or one line for a high-speed signal (ECM blocks as one line with their
// frame count, not frame by frame).
func (e *Engine) traceOutput(o Output) {
	switch o.Kind {
	case OutFrames:
		for _, f := range o.Frames {
			if len(f) >= 3 {
				e.trace(TraceEvent{Kind: TraceTx, Frame: FCFName(f[2]), FIF: f[3:]})
			}
		}
	case OutTCF:
		e.trace(TraceEvent{Kind: TraceSignal, Modem: o.Modem, Detail: fmt.Sprintf("TCF %v", o.Duration)})
	case OutImage:
		e.trace(TraceEvent{Kind: TraceSignal, Modem: o.Modem, Detail: fmt.Sprintf("page data, %d octets", len(o.Data))})
	case OutECM:
		e.trace(TraceEvent{Kind: TraceSignal, Modem: o.Modem, Detail: fmt.Sprintf("ECM block, %d frames", len(o.Frames))})
	}
}
