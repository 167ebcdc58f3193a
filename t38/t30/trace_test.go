package t30

import (
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/faxd/faxd/t38/bilevel"
)

// The Trace hook sees the whole exchange in order on both sides: each
// control frame the sender sends is one the receiver gets, with the same
// FIF, and each side's trace ends with the result.
func TestTraceRecordsTheExchange(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	var tx, rx []TraceEvent
	keep := func(dst *[]TraceEvent) func(TraceEvent) {
		return func(ev TraceEvent) {
			ev.FIF = append([]byte(nil), ev.FIF...)
			*dst = append(*dst, ev)
		}
	}
	pages := []*bilevel.Image{testPage(rng, 1728, 20, ResFine), testPage(rng, 1728, 20, ResFine)}
	l, _ := newPair(t, Config{ECM: true, Trace: keep(&tx)}, Config{ECM: true, Fine: true, Trace: keep(&rx)}, pages)
	l.run(10 * time.Minute)
	if r := l.eng[0].Result(); !r.OK() {
		t.Fatalf("%v", r)
	}
	frames := func(evs []TraceEvent, k TraceKind) []string {
		var out []string
		for _, ev := range evs {
			if ev.Kind == k {
				out = append(out, ev.Frame)
			}
		}
		return out
	}
	// What one side sent, the other received, frame for frame.
	if s, r := strings.Join(frames(tx, TraceTx), " "), strings.Join(frames(rx, TraceRx), " "); s != r {
		t.Errorf("sender sent %q, receiver got %q", s, r)
	}
	if s, r := strings.Join(frames(rx, TraceTx), " "), strings.Join(frames(tx, TraceRx), " "); s != r {
		t.Errorf("receiver sent %q, sender got %q", s, r)
	}
	sent := strings.Join(frames(tx, TraceTx), " ")
	for _, want := range []string{"TSI", "DCS", "PPS", "DCN"} {
		if !strings.Contains(sent, want) {
			t.Errorf("sender's trace lacks %s: %q", want, sent)
		}
	}
	if got := strings.Join(frames(tx, TraceRx), " "); !strings.HasPrefix(got, "CSI DIS") || !strings.Contains(got, "MCF") {
		t.Errorf("sender received %q", got)
	}
	// FIFs travel intact: the DCS the receiver saw is the one sent.
	var dcsTx, dcsRx []byte
	for _, ev := range tx {
		if ev.Kind == TraceTx && ev.Frame == "DCS" {
			dcsTx = ev.FIF
		}
	}
	for _, ev := range rx {
		if ev.Kind == TraceRx && ev.Frame == "DCS" {
			dcsRx = ev.FIF
			if !ev.FCSOK {
				t.Error("DCS received with a bad FCS on a clean link")
			}
		}
	}
	if len(dcsTx) < 3 || string(dcsTx) != string(dcsRx) {
		t.Errorf("DCS FIF sent % x, received % x", dcsTx, dcsRx)
	}
	var signals int
	for i, ev := range tx {
		if i > 0 && ev.At < tx[i-1].At {
			t.Fatalf("event %d at %v before event %d at %v", i, ev.At, i-1, tx[i-1].At)
		}
		if ev.Kind == TraceSignal && strings.HasPrefix(ev.Detail, "ECM block") {
			signals++
		}
	}
	if signals < 2 {
		t.Errorf("%d ECM blocks traced for 2 pages", signals)
	}
	for side, evs := range [][]TraceEvent{tx, rx} {
		if last := evs[len(evs)-1]; last.Kind != TraceDone || !strings.HasPrefix(last.Detail, "ok") {
			t.Errorf("side %d ends with %+v", side, last)
		}
	}
}

// MaxBitRate caps the sender's first modem; without a cap it starts at
// the top of what both sides have.
func TestMaxBitRateCapsTheStart(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, tc := range []struct {
		cap  int
		want Modem
	}{{0, V17_14400}, {12000, V17_12000}, {9600, V17_9600}, {4800, V27ter4800}, {2400, V27ter2400}} {
		pages := []*bilevel.Image{testPage(rng, 1728, 10, ResFine)}
		l, _ := newPair(t, Config{MaxBitRate: tc.cap}, Config{Fine: true}, pages)
		l.run(10 * time.Minute)
		if r := l.eng[0].Result(); !r.OK() {
			t.Fatalf("cap %d: %v", tc.cap, r)
		}
		if len(l.sent) != 1 || l.sent[0].Modem != tc.want {
			t.Errorf("cap %d: sent with %+v, want %v", tc.cap, l.sent, tc.want)
		}
	}
}
