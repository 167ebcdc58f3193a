package sip

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"syscall"
	"time"

	"github.com/emiago/sipgo/sip"
)

// Class is the failure class of a call attempt. The values are those of
// queue.Class, so the channel converts with queue.Class(o.Class).
type Class string

const (
	ClassBusy      Class = "busy"      // the called line was busy: retry later
	ClassNoAnswer  Class = "no_answer" // nobody answered: retry later
	ClassRoute     Class = "route"     // gateway or route failure: try the next gateway
	ClassProtocol  Class = "protocol"  // fax or media negotiation failed during the call
	ClassPermanent Class = "permanent" // the number or the call can never work: do not retry
	// ClassCancelled is not a failure: the job was cancelled while calling.
	ClassCancelled Class = "cancelled"
)

// Outcome is why a call attempt ended without a fax session. It is the
// error Dial returns; use errors.As to read it.
type Outcome struct {
	Class  Class
	Status int    // final SIP status, 0 when none was received
	Reason string // for the queue's reason column and the operator
	// GatewayDown says the gateway itself looks unreachable or broken
	// (timeouts, transport errors, 5xx): the router should take it out of
	// rotation until its OPTIONS probes succeed again.
	GatewayDown bool
	// RetryAfter is the gateway's Retry-After, when it sent one.
	RetryAfter time.Duration
	// Contact is the first Contact URI of a 3xx answer: where the far end
	// says the call should go (faxd does not follow it by itself).
	Contact string
	Err     error
}

func (o *Outcome) Error() string {
	s := string(o.Class) + ": " + o.Reason
	if o.Status != 0 {
		s += " (SIP " + strconv.Itoa(o.Status) + ")"
	}
	if o.Err != nil {
		s += ": " + o.Err.Error()
	}
	return s
}

func (o *Outcome) Unwrap() error { return o.Err }

// Sentinel reasons callers may test with errors.Is on Outcome.Err.
var (
	ErrRingTimeout  = errors.New("ringing timeout")
	ErrNoResponse   = errors.New("no response from gateway")
	ErrAuthFailed   = errors.New("gateway rejected our credentials")
	ErrT38Refused   = errors.New("far end refused T.38")
	ErrFarEndHangup = errors.New("far end hung up")
	ErrNoMedia      = errors.New("no usable media in SDP")
	ErrCallEnded    = errors.New("call ended")
)

// phase tells ClassifyStatus whether the response answered the initial
// INVITE or a re-INVITE.
type phase int

const (
	phaseInvite phase = iota
	phaseReinvite
)

// ClassifyStatus maps a final non-2xx response to an INVITE to an outcome.
// cancelled says we sent CANCEL because the ringing timeout expired.
func ClassifyStatus(res *sip.Response, ph phase, cancelled bool) *Outcome {
	code := res.StatusCode
	o := &Outcome{Status: code, Reason: res.Reason}
	if h := res.GetHeader("Retry-After"); h != nil {
		if s, err := strconv.Atoi(firstToken(h.Value())); err == nil && s > 0 {
			o.RetryAfter = time.Duration(s) * time.Second
		}
	}
	if code >= 300 && code < 400 {
		if ct := res.Contact(); ct != nil {
			o.Contact = ct.Address.String()
		}
	}
	if ph == phaseReinvite {
		switch code {
		case 488, 415, 606, 501:
			o.Class, o.Reason, o.Err = ClassRoute, "far end refused T.38", ErrT38Refused
		default:
			o.Class, o.Reason, o.Err = ClassProtocol, "re-INVITE to T.38 failed: "+res.Reason, ErrT38Refused
		}
		return o
	}
	o.Class, o.GatewayDown = classifyCode(code, cancelled)
	if o.Reason == "" {
		o.Reason = "SIP " + strconv.Itoa(code)
	}
	return o
}

// classifyCode is the response → class table of docs/sip.md.
func classifyCode(code int, cancelled bool) (Class, bool) {
	switch code {
	case 486, 600:
		return ClassBusy, false
	case 408, 480:
		return ClassNoAnswer, false
	case 487:
		if cancelled {
			return ClassNoAnswer, false
		}
		// Terminated by someone else (an upstream proxy's own timer).
		return ClassNoAnswer, false
	case 404, 484, 410, 604, 603, 488, 415, 606, 485, 416, 414, 402, 433:
		return ClassPermanent, false
	case 401, 407, 403:
		// Reaching here means our credentials (or lack of them) were refused:
		// the gateway is misconfigured for us, so move on to the next one.
		return ClassRoute, false
	case 500, 502, 503, 504, 505, 513, 580:
		return ClassRoute, true
	}
	switch {
	case code >= 300 && code < 400: // redirects are not followed
		return ClassRoute, false
	case code >= 500 && code < 600:
		return ClassRoute, true
	case code >= 600:
		return ClassPermanent, false
	}
	return ClassRoute, false // other 4xx: a request this gateway will not take
}

// ClassifyError maps a transaction or transport error to an outcome.
func ClassifyError(err error) *Outcome {
	o := &Outcome{Err: err, Class: ClassRoute, GatewayDown: true}
	var ne net.Error
	switch {
	case errors.Is(err, context.Canceled):
		o.Class, o.GatewayDown, o.Reason = ClassCancelled, false, "cancelled"
	case errors.Is(err, ErrNoResponse), errors.Is(err, sip.ErrTransactionTimeout), errors.Is(err, context.DeadlineExceeded):
		o.Reason = "no response from gateway (timeout)"
	case errors.Is(err, syscall.ECONNREFUSED):
		o.Reason = "connection refused by gateway"
	case errors.As(err, &ne) && ne.Timeout():
		o.Reason = "gateway connection timed out"
	case errors.Is(err, sip.ErrTransactionTransport):
		o.Reason = "transport error towards gateway"
	default:
		o.Reason = "transport error towards gateway"
	}
	return o
}

func firstToken(s string) string {
	for i, r := range s {
		if r == ' ' || r == ';' || r == '(' {
			return s[:i]
		}
	}
	return s
}

func outcomef(c Class, err error, format string, a ...any) *Outcome {
	return &Outcome{Class: c, Reason: fmt.Sprintf(format, a...), Err: err}
}
