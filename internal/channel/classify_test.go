package channel

import (
	"errors"
	"fmt"
	"testing"

	"github.com/faxd/faxd/internal/sip"
	"github.com/faxd/faxd/queue"
	"github.com/faxd/faxd/routing"
	"github.com/faxd/faxd/t38/t30"
)

func TestClassifyCall(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want Verdict
	}{
		{"busy", &sip.Outcome{Class: sip.ClassBusy, Status: 486}, Verdict{Class: queue.ClassBusy, Gateway: routing.CallFailed}},
		{"no answer", &sip.Outcome{Class: sip.ClassNoAnswer, Status: 480}, Verdict{Class: queue.ClassNoAnswer, Gateway: routing.CallFailed}},
		{"404 permanent", &sip.Outcome{Class: sip.ClassPermanent, Status: 404}, Verdict{Class: queue.ClassPermanent, Gateway: routing.CallFailed}},
		{"403 route, gateway fine", &sip.Outcome{Class: sip.ClassRoute, Status: 403}, Verdict{Class: queue.ClassRoute, Gateway: routing.CallFailed}},
		{"503 gateway down", &sip.Outcome{Class: sip.ClassRoute, Status: 503, GatewayDown: true}, Verdict{Class: queue.ClassRoute, Gateway: routing.GatewayDown, NextGateway: true}},
		{"timeout gateway down", fmt.Errorf("dial: %w", &sip.Outcome{Class: sip.ClassRoute, GatewayDown: true, Err: sip.ErrNoResponse}), Verdict{Class: queue.ClassRoute, Gateway: routing.GatewayDown, NextGateway: true}},
		{"T.38 refused", &sip.Outcome{Class: sip.ClassRoute, Status: 488, Err: sip.ErrT38Refused}, Verdict{Class: queue.ClassRoute, Gateway: routing.CallFailed}},
		{"audio phase failure", &sip.Outcome{Class: sip.ClassProtocol}, Verdict{Class: queue.ClassProtocol, Gateway: routing.CallFailed}},
		{"cancelled", &sip.Outcome{Class: sip.ClassCancelled}, Verdict{Cancelled: true, Gateway: routing.OK}},
		{"local error", errors.New("portpool: no free port"), Verdict{Class: queue.ClassRoute, Gateway: routing.CallFailed}},
	} {
		if got := ClassifyCall(tc.err); got != tc.want {
			t.Errorf("%s: got %+v, want %+v", tc.name, got, tc.want)
		}
	}
}

func TestClassifyT30EveryReason(t *testing.T) {
	want := map[t30.Reason]queue.Class{
		t30.ReasonOK:                   "",
		t30.ReasonT1Expired:            queue.ClassNoAnswer,
		t30.ReasonT2Expired:            queue.ClassProtocol,
		t30.ReasonNoResponse:           queue.ClassProtocol,
		t30.ReasonT5Expired:            queue.ClassProtocol,
		t30.ReasonCannotTrain:          queue.ClassProtocol,
		t30.ReasonRetriesExhausted:     queue.ClassProtocol,
		t30.ReasonRemoteRejected:       queue.ClassProtocol,
		t30.ReasonDCNUnexpected:        queue.ClassProtocol,
		t30.ReasonCallDropped:          queue.ClassProtocol,
		t30.ReasonRemoteCannotReceive:  queue.ClassPermanent,
		t30.ReasonRemoteCannotTransmit: queue.ClassPermanent,
		t30.ReasonIncompatible:         queue.ClassPermanent,
		t30.ReasonPageTooLong:          queue.ClassPermanent,
		t30.ReasonPageSource:           queue.ClassPermanent,
		t30.ReasonProtocolError:        queue.ClassProtocol,
		t30.ReasonCancelled:            "",
	}
	for r := t30.ReasonOK; r <= t30.ReasonCancelled; r++ {
		w, ok := want[r]
		if !ok {
			t.Errorf("reason %v has no expected class in this table", r)
			continue
		}
		v := ClassifyT30(r)
		if v.Class != w || v.Gateway != routing.OK || v.NextGateway {
			t.Errorf("%v: got %+v, want class %q", r, v, w)
		}
		if v.Cancelled != (r == t30.ReasonCancelled) {
			t.Errorf("%v: cancelled = %v", r, v.Cancelled)
		}
	}
}
