package api

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/faxd/faxd/internal/calltrace"
	"github.com/faxd/faxd/queue"
	"github.com/faxd/faxd/t38/t30"
)

// An attempt's trace is readable by the fax's submitter and an admin, not
// by another submitter; a received fax's trace by an admin.
func TestCallTraces(t *testing.T) {
	e := newEnv(t, Config{})
	ctx := context.Background()
	r := e.submit(e.sub, `{"to":"+4930123456"}`, []doc{textDoc("hello")})
	if r.status != 201 {
		t.Fatalf("submit: %d %s", r.status, r.body)
	}
	var f struct {
		ID int64 `json:"id"`
	}
	r.json(t, &f)
	store := calltrace.NewStore(e.pool)
	rec := calltrace.NewRecorder(calltrace.Trace{Direction: calltrace.Outbound, JobID: f.ID, Attempt: 1, Node: "fax-a"})
	rec.SIP("INVITE sip:+4930123456@gw1 through gateway gw1 (T.38 offered)")
	rec.T30(t30.TraceEvent{Kind: t30.TraceRx, Frame: "DIS", FIF: []byte{0x00, 0xce}, FCSOK: true})
	rec.T30(t30.TraceEvent{Kind: t30.TraceRx, Frame: "CFR", FCSOK: false})
	rec.SetCall("c-1", "gw1")
	if _, err := store.Save(ctx, rec.Finish("failed (protocol): t30: ...")); err != nil {
		t.Fatal(err)
	}

	var got calltrace.Trace
	r = e.do("GET", fmt.Sprintf("/v1/faxes/%d/attempts/1/trace", f.ID), e.sub, nil, "")
	r.json(t, &got)
	if r.status != 200 || got.JobID != f.ID || got.Attempt != 1 || got.Gateway != "gw1" || got.CallID != "c-1" || len(got.Events) != 3 ||
		got.Events[1].Frame != "DIS" || got.Events[1].FIF != "00ce" || !got.Events[2].FCSBad {
		t.Fatalf("trace: %d %s", r.status, r.body)
	}
	if r := e.do("GET", fmt.Sprintf("/v1/faxes/%d/attempts/1/trace", f.ID), e.admin, nil, ""); r.status != 200 {
		t.Fatalf("admin: %d", r.status)
	}
	if r := e.do("GET", fmt.Sprintf("/v1/faxes/%d/attempts/2/trace", f.ID), e.sub, nil, ""); r.status != 404 {
		t.Fatalf("no such attempt: %d", r.status)
	} else if p := r.problem(t); p.Detail == "" {
		t.Fatal("no detail")
	}
	if r := e.do("GET", fmt.Sprintf("/v1/faxes/%d/attempts/0/trace", f.ID), e.sub, nil, ""); r.status != 400 {
		t.Fatalf("attempt 0: %d", r.status)
	}
	other, _, err := e.queue.Enqueue(ctx, queue.Request{Destination: "+1555", Document: "x", Submitter: "someone-else"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.Save(ctx, calltrace.NewRecorder(calltrace.Trace{Direction: calltrace.Outbound, JobID: other.ID, Attempt: 1}).Finish("sent")); err != nil {
		t.Fatal(err)
	}
	if r := e.do("GET", fmt.Sprintf("/v1/faxes/%d/attempts/1/trace", other.ID), e.sub, nil, ""); r.status != 404 {
		t.Fatalf("another submitter's trace: %d", r.status)
	}

	fax := e.archiveReceived("+4930100", "+4989111", 1)
	if r := e.do("GET", fmt.Sprintf("/v1/received/%d/trace", fax.ID), e.admin, nil, ""); r.status != 404 {
		t.Fatalf("no trace yet: %d", r.status)
	}
	in := calltrace.NewRecorder(calltrace.Trace{Direction: calltrace.Inbound, Node: "fax-a"})
	in.T30(t30.TraceEvent{Kind: t30.TraceTx, Frame: "DIS", FIF: []byte{1}})
	in.SetReceivedKey(strings.TrimPrefix(fax.Key, fax.Source+"/"))
	if _, err := store.Save(ctx, in.Finish("received: ok")); err != nil {
		t.Fatal(err)
	}
	r = e.do("GET", fmt.Sprintf("/v1/received/%d/trace", fax.ID), e.admin, nil, "")
	r.json(t, &got)
	if r.status != 200 || got.Direction != "inbound" || got.Result != "received: ok" || len(got.Events) != 1 {
		t.Fatalf("received trace: %d %s", r.status, r.body)
	}
	if r := e.do("GET", fmt.Sprintf("/v1/received/%d/trace", fax.ID), e.sub, nil, ""); r.status != 403 {
		t.Fatalf("submitter reads a received trace: %d", r.status)
	}
}
