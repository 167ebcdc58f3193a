package channel

import (
	"errors"

	"github.com/faxd/faxd/internal/sip"
	"github.com/faxd/faxd/queue"
	"github.com/faxd/faxd/routing"
	"github.com/faxd/faxd/t38/t30"
)

// Verdict is what one call attempt means for the job and for the gateway.
type Verdict struct {
	// Class is the queue failure class; "" when the fax went through.
	Class queue.Class
	// Cancelled: the job was cancelled (not a failure).
	Cancelled bool
	// Gateway is what the router is told about the gateway used.
	Gateway routing.Outcome
	// NextGateway: move to the next candidate within this attempt.
	NextGateway bool
}

// ClassifyCall maps a failed SIP call attempt (Dial's *sip.Outcome) to a
// verdict. A failure that says the gateway itself is down moves the call
// to the next gateway at once (R14); anything else ends the attempt with
// the outcome's class and leaves the gateway in rotation.
func ClassifyCall(err error) Verdict {
	var o *sip.Outcome
	if !errors.As(err, &o) {
		// Not a SIP outcome: a local failure (no ports, transport closed).
		return Verdict{Class: queue.ClassRoute, Gateway: routing.CallFailed}
	}
	if o.Class == sip.ClassCancelled {
		return Verdict{Cancelled: true, Gateway: routing.OK}
	}
	if o.GatewayDown {
		return Verdict{Class: queue.ClassRoute, Gateway: routing.GatewayDown, NextGateway: true}
	}
	switch o.Class {
	case sip.ClassBusy, sip.ClassNoAnswer, sip.ClassPermanent, sip.ClassProtocol, sip.ClassRoute:
		return Verdict{Class: queue.Class(o.Class), Gateway: routing.CallFailed}
	}
	return Verdict{Class: queue.ClassRoute, Gateway: routing.CallFailed}
}

// ClassifyT30 maps the T.30 result of a call that reached T.38 to a
// verdict. The gateway carried the call, whatever the fax result: it is
// reported OK.
func ClassifyT30(r t30.Reason) Verdict {
	v := Verdict{Gateway: routing.OK}
	switch r {
	case t30.ReasonOK:
	case t30.ReasonCancelled:
		v.Cancelled = true
	case t30.ReasonT1Expired:
		// Answered, but no fax machine spoke: a person or a voice box.
		v.Class = queue.ClassNoAnswer
	default:
		if r.Retryable() {
			v.Class = queue.ClassProtocol
		} else {
			v.Class = queue.ClassPermanent
		}
	}
	return v
}
