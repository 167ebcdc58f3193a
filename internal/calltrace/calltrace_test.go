package calltrace

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/faxd/faxd/internal/pgtest"
	"github.com/faxd/faxd/queue"
	"github.com/faxd/faxd/t38/t30"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// stepClock advances by a millisecond on every reading.
type stepClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *stepClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(time.Millisecond)
	return c.t
}

func TestRecorderOrderBoundsAndEncoding(t *testing.T) {
	clk := &stepClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	r := newRecorder(Trace{Direction: Outbound, JobID: 1, Attempt: 2}, clk.now)
	r.SIP("INVITE %s", "sip:123@gw")
	r.T30(t30.TraceEvent{Kind: t30.TraceRx, Frame: "DIS", FIF: []byte{0x00, 0xce, 0xf0}, FCSOK: true})
	r.T30(t30.TraceEvent{Kind: t30.TraceRx, Frame: "DCS", FIF: []byte{1}, FCSOK: false})
	r.T30(t30.TraceEvent{Kind: t30.TraceTx, Frame: "NSF", FIF: make([]byte, 100)})
	r.T30(t30.TraceEvent{Kind: t30.TraceSignal, Modem: t30.V17_14400, Detail: "TCF 1.5s"})
	r.Note("%s", strings.Repeat("x", 500))
	tr := r.Finish("sent")
	if len(tr.Events) != 6 || tr.Result != "sent" || !tr.EndedAt.After(tr.StartedAt) {
		t.Fatalf("%+v", tr)
	}
	e := tr.Events
	if e[0].Kind != KindSIP || e[0].Detail != "INVITE sip:123@gw" || e[0].T != 1 {
		t.Errorf("sip event %+v", e[0])
	}
	if e[1].Kind != "rx" || e[1].FIF != "00cef0" || e[1].FCSBad || e[2].FCSBad != true {
		t.Errorf("rx events %+v %+v", e[1], e[2])
	}
	if want := strings.Repeat("00", maxFIFOctets) + "..."; e[3].FIF != want {
		t.Errorf("long FIF not cut at %d octets: %q", maxFIFOctets, e[3].FIF)
	}
	if !strings.Contains(e[4].Detail, "TCF 1.5s (") {
		t.Errorf("signal %+v", e[4])
	}
	if len(e[5].Detail) != maxDetail+3 {
		t.Errorf("detail of %d characters kept", len(e[5].Detail))
	}
	for i := 1; i < len(e); i++ {
		if e[i].T <= e[i-1].T {
			t.Fatalf("times not increasing: %v then %v", e[i-1].T, e[i].T)
		}
	}

	full := newRecorder(Trace{Direction: Inbound}, clk.now)
	for i := 0; i < MaxEvents+25; i++ {
		full.Note("n")
	}
	if tr := full.Finish("x"); len(tr.Events) != MaxEvents || tr.Dropped != 25 {
		t.Fatalf("bounded trace: %d events, %d dropped", len(tr.Events), tr.Dropped)
	}
	var nilRec *Recorder
	nilRec.SIP("ignored") // a nil recorder records nothing and does not panic
	nilRec.T30(t30.TraceEvent{Kind: t30.TraceTx})
}

func TestStoreRoundTripAndPurge(t *testing.T) {
	ctx := context.Background()
	pool := pgtest.NewDB(t)
	q, err := queue.New(pool, queue.Config{})
	if err != nil {
		t.Fatal(err)
	}
	job, _, err := q.Enqueue(ctx, queue.Request{Destination: "+4930123", Document: "doc"})
	if err != nil {
		t.Fatal(err)
	}
	s := NewStore(pool)
	if _, err := s.ForAttempt(ctx, job.ID, 1); !errors.Is(err, ErrNotFound) {
		t.Fatalf("no trace yet: %v", err)
	}
	for _, result := range []string{"first try", "resumed"} {
		r := NewRecorder(Trace{Direction: Outbound, JobID: job.ID, Attempt: 1, Node: "fax-a"})
		r.SetCall("call-1", "gw1")
		r.T30(t30.TraceEvent{Kind: t30.TraceTx, Frame: "DCS", FIF: []byte{0xde, 0xad}})
		if _, err := s.Save(ctx, r.Finish(result)); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.ForAttempt(ctx, job.ID, 1)
	if err != nil {
		t.Fatal(err)
	}
	if got.Result != "resumed" || got.CallID != "call-1" || got.Gateway != "gw1" || got.Node != "fax-a" ||
		len(got.Events) != 1 || got.Events[0].FIF != "dead" || got.Events[0].Frame != "DCS" {
		t.Fatalf("newest trace of the attempt: %+v", got)
	}

	in := NewRecorder(Trace{Direction: Inbound, Node: "fax-a"})
	if _, err := s.Save(ctx, in.Finish("received")); err == nil {
		t.Fatal("an inbound trace without its fax's key was saved")
	}
	in.SetReceivedKey("src/key-1")
	if _, err := s.Save(ctx, in.Finish("received")); err != nil {
		t.Fatal(err)
	}
	if got, err := s.ForReceived(ctx, "src/key-1"); err != nil || got.Direction != Inbound || got.Result != "received" {
		t.Fatalf("inbound: %+v %v", got, err)
	}
	if _, err := pool.Exec(ctx, `UPDATE call_traces SET ended_at = now() - interval '2 hours' WHERE received_key IS NOT NULL`); err != nil {
		t.Fatal(err)
	}
	if n, err := s.Purge(ctx, time.Hour); err != nil || n != 1 {
		t.Fatalf("purge: %d %v", n, err)
	}
	if _, err := s.ForReceived(ctx, "src/key-1"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("purged trace still there: %v", err)
	}
	if _, err := s.ForAttempt(ctx, job.ID, 1); err != nil {
		t.Fatalf("recent trace purged: %v", err)
	}
}

func TestMedia(t *testing.T) {
	r := NewRecorder(Trace{Direction: Outbound})
	if got := r.Finish("").Media(); got != "" {
		t.Fatalf("media before any call: %q", got)
	}
	r.Media("t38")
	r.Note("gateway down, next")
	r.Media("audio PCMA")
	tr := r.Finish("sent")
	if got := tr.Media(); got != "audio PCMA" {
		t.Fatalf("media %q, want the last call's", got)
	}
}
