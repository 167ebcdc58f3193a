package v21

import (
	"math/rand/v2"
	"testing"
)

// Process allocates nothing per block given an event slice with room.
func TestRxProcessAllocs(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	line := modulate(t, randomBits(r, BitRate*3), DefaultTxLevel)
	rx, _ := NewRx(RxConfig{})
	evs := make([]Event, 0, 512)
	rx.Process(line[:800], evs)
	n, bits := 800, 0
	allocs := testing.AllocsPerRun(100, func() {
		for _, ev := range rx.Process(line[n:n+160], evs[:0]) {
			if ev.Kind == EventBit {
				bits++
			}
		}
		n += 160
	})
	if bits == 0 {
		t.Fatal("no bits while measuring")
	}
	if allocs != 0 {
		t.Errorf("%v allocations per 160-sample Process", allocs)
	}
}
