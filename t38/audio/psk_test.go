package audio

import (
	"bytes"
	"slices"
	"testing"

	"github.com/faxd/faxd/t38/t30"
)

type bitList struct {
	b []byte
	i int
}

func (l *bitList) NextBit() (uint8, bool) {
	if l.i >= len(l.b) {
		return 0, false
	}
	l.i++
	return l.b[l.i-1], true
}

// TestPSKRxOrder puts two whole signals into one Process call (V.29, and
// V.17 with two long trainings): the adapter must hand out the first
// signal's bits before its carrier-down and the second's after its
// training, although the modem queues bits and events apart. With 20 ms
// blocks, V.17's second signal has the short training: after a long one
// the receiver expects it.
func TestPSKRxOrder(t *testing.T) {
	for _, tc := range []struct {
		name  string
		h     HighSpeed
		m     t30.Modem
		long2 bool // the second signal trains long too
		block int  // samples per Process; 0: all at once
	}{
		{"v29-one-block", V29{}, t30.V29_9600, true, 0},
		{"v17-one-block", V17{}, t30.V17_14400, true, 0},
		{"v17-short", V17{}, t30.V17_14400, false, 160},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var line []int16
			var sent [2][]byte
			for k := range 2 {
				for i := range 4000 {
					sent[k] = append(sent[k], byte((i*(k+3))/5)&1)
				}
				tx, err := tc.h.NewTx(tc.m, -13, k == 0 || tc.long2)
				if err != nil {
					t.Fatal(err)
				}
				src := &bitList{b: sent[k]}
				buf := make([]int16, 160)
				for {
					n := tx.Modulate(buf, src)
					line = append(line, buf[:n]...)
					if n < len(buf) {
						break
					}
				}
				line = append(line, make([]int16, 800)...) // 100 ms of silence
			}
			rx, err := tc.h.NewRx(tc.m)
			if err != nil {
				t.Fatal(err)
			}
			// Bits are valid until the next Process: each event is kept
			// with a copy of its bits.
			var evs []RxEvent
			keep := func(new []RxEvent) {
				for _, ev := range new {
					ev.Bits = slices.Clone(ev.Bits)
					evs = append(evs, ev)
				}
			}
			if tc.block == 0 {
				keep(rx.Process(line, nil))
			}
			for i := 0; tc.block > 0 && i < len(line); i += tc.block {
				keep(rx.Process(line[i:min(i+tc.block, len(line))], nil))
			}
			var kinds []RxEventKind
			var got [2][]byte
			sig := -1
			for _, ev := range evs {
				switch ev.Kind {
				case RxBits:
					if sig < 0 || sig > 1 {
						t.Fatalf("bits outside a signal (signal %d)", sig)
					}
					got[sig] = append(got[sig], ev.Bits...)
					continue
				case RxTrained:
					sig++
				}
				if len(kinds) == 0 || kinds[len(kinds)-1] != ev.Kind {
					kinds = append(kinds, ev.Kind)
				}
			}
			want := []RxEventKind{RxCarrierUp, RxTrained, RxCarrierDown, RxCarrierUp, RxTrained, RxCarrierDown}
			if len(kinds) != len(want) {
				t.Fatalf("events %v, want %v", kinds, want)
			}
			for i := range want {
				if kinds[i] != want[i] {
					t.Fatalf("events %v, want %v", kinds, want)
				}
			}
			for k := range 2 {
				if len(got[k]) < len(sent[k]) || !bytes.Equal(got[k][:len(sent[k])], sent[k]) {
					t.Errorf("signal %d: %d bits, first %d not the %d sent", k+1, len(got[k]), min(len(got[k]), len(sent[k])), len(sent[k]))
				}
			}
		})
	}
}
