// Package calltrace keeps a trace of each fax call: the SIP steps and the
// T.30 frames in and out, in order, with their times. A Recorder collects
// one call's trace as it happens (bounded in size, safe for the SIP and
// T.30 goroutines at once); the Store keeps finished traces in the queue
// database for the API and faxctl.
package calltrace

import (
	"encoding/hex"
	"fmt"
	"sync"
	"time"

	"github.com/faxd/faxd/t38/t30"
)

// Limits of one trace: a normal fax call has a few dozen control frames; a
// call that goes wrong may repeat commands for minutes, and the trace must
// not grow without bound.
const (
	MaxEvents    = 1000
	maxFIFOctets = 64
	maxDetail    = 300
)

// Directions.
const (
	Outbound = "outbound"
	Inbound  = "inbound"
)

// Event kinds besides the T.30 engine's (rx, tx, signal, timeout, done).
const (
	KindSIP  = "sip"  // a SIP step: INVITE, answer, re-INVITE, BYE, a failure response
	KindNote = "note" // something the channel decided: gateway chosen, page confirmed
	// KindMedia names the media a call used, "t38" or "audio PCMU" /
	// "audio PCMA" (Trace.Media finds it).
	KindMedia = "media"
)

// Event is one line of a trace.
type Event struct {
	// T is the time since the trace began, in milliseconds.
	T      float64 `json:"t_ms"`
	Kind   string  `json:"kind"`
	Frame  string  `json:"frame,omitempty"`
	FIF    string  `json:"fif,omitempty"` // hex, at most 64 octets (then "...")
	FCSBad bool    `json:"fcs_bad,omitempty"`
	Detail string  `json:"detail,omitempty"`
}

// Trace is one call, or for an outbound attempt every call it placed
// (a gateway that is down moves the attempt to the next one).
type Trace struct {
	ID          int64     `json:"id"`
	Direction   string    `json:"direction"`
	JobID       int64     `json:"job_id,omitempty"`
	Attempt     int       `json:"attempt,omitempty"`
	ReceivedKey string    `json:"-"`
	Node        string    `json:"node"`
	CallID      string    `json:"call_id,omitempty"`
	Gateway     string    `json:"gateway,omitempty"`
	StartedAt   time.Time `json:"started_at"`
	EndedAt     time.Time `json:"ended_at"`
	Result      string    `json:"result"`
	Events      []Event   `json:"events"`
	// Dropped counts events left out past MaxEvents.
	Dropped int `json:"dropped"`
}

// Recorder collects one trace. Its methods may be called from several
// goroutines; a nil *Recorder records nothing.
type Recorder struct {
	mu    sync.Mutex
	now   func() time.Time
	trace Trace
}

// NewRecorder starts a trace now.
func NewRecorder(t Trace) *Recorder { return newRecorder(t, time.Now) }

func newRecorder(t Trace, now func() time.Time) *Recorder {
	t.StartedAt = now()
	return &Recorder{now: now, trace: t}
}

// Add appends an event, stamped with the time since the trace began.
func (r *Recorder) Add(ev Event) {
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.trace.Events) >= MaxEvents {
		r.trace.Dropped++
		return
	}
	ev.T = float64(r.now().Sub(r.trace.StartedAt).Microseconds()) / 1000
	if len(ev.Detail) > maxDetail {
		ev.Detail = ev.Detail[:maxDetail] + "..."
	}
	r.trace.Events = append(r.trace.Events, ev)
}

// SIP records a SIP step.
func (r *Recorder) SIP(format string, a ...any) {
	r.Add(Event{Kind: KindSIP, Detail: fmt.Sprintf(format, a...)})
}

// Note records something the channel decided.
func (r *Recorder) Note(format string, a ...any) {
	r.Add(Event{Kind: KindNote, Detail: fmt.Sprintf(format, a...)})
}

// T30 records an event of the T.30 engine (t30.Config.Trace).
func (r *Recorder) T30(ev t30.TraceEvent) {
	if r == nil {
		return
	}
	e := Event{Kind: ev.Kind.String(), Frame: ev.Frame, Detail: ev.Detail}
	if len(ev.FIF) > 0 {
		fif := ev.FIF
		if len(fif) > maxFIFOctets {
			fif = fif[:maxFIFOctets]
		}
		e.FIF = hex.EncodeToString(fif)
		if len(ev.FIF) > maxFIFOctets {
			e.FIF += "..."
		}
	}
	if ev.Kind == t30.TraceSignal && ev.Modem != 0 {
		e.Detail += " (" + ev.Modem.String() + ")"
	}
	e.FCSBad = ev.Kind == t30.TraceRx && !ev.FCSOK
	r.Add(e)
}

// Media records the media the call runs on: "t38", "audio PCMU" or
// "audio PCMA".
func (r *Recorder) Media(name string) {
	r.Add(Event{Kind: KindMedia, Detail: name})
}

// Media is the media the trace's (last) call used, "" when it never got
// that far.
func (t Trace) Media() string {
	for i := len(t.Events) - 1; i >= 0; i-- {
		if t.Events[i].Kind == KindMedia {
			return t.Events[i].Detail
		}
	}
	return ""
}

// SetCall names the call (the last one, for an attempt that tried several
// gateways).
func (r *Recorder) SetCall(callID, gateway string) {
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if callID != "" {
		r.trace.CallID = callID
	}
	if gateway != "" {
		r.trace.Gateway = gateway
	}
}

// SetReceivedKey names the received fax an inbound trace belongs to, once
// it is known (when the fax is stored).
func (r *Recorder) SetReceivedKey(key string) {
	if r == nil {
		return
	}
	r.mu.Lock()
	r.trace.ReceivedKey = key
	r.mu.Unlock()
}

// Finish ends the trace with its result and returns it.
func (r *Recorder) Finish(result string) Trace {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.trace.EndedAt = r.now()
	r.trace.Result = result
	t := r.trace
	t.Events = append([]Event(nil), r.trace.Events...)
	return t
}
