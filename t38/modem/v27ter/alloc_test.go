package v27ter

import (
	"math/rand/v2"
	"testing"
)

// Once trained, Process allocates nothing per block given an event
// slice with room.
func TestRxProcessAllocs(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	line := modulate(t, Rate4800, randomBits(r, 4800*3), DefaultTxLevel, false)
	rx, _ := NewRx(RxConfig{Rate: Rate4800})
	const start, blk = 8000, 160
	evs := make([]Event, 0, 4096)
	trained := false
	for _, ev := range rx.Process(line[:start], evs) {
		trained = trained || ev.Kind == EventTrained
	}
	if !trained {
		t.Fatal("not trained after 1 s of signal")
	}
	n, bits := start, 0
	allocs := testing.AllocsPerRun(100, func() {
		for _, ev := range rx.Process(line[n:n+blk], evs[:0]) {
			if ev.Kind == EventBit {
				bits++
			}
		}
		n += blk
	})
	if bits == 0 {
		t.Fatal("no bits while measuring")
	}
	if allocs != 0 {
		t.Errorf("%v allocations per 160-sample Process", allocs)
	}
}
