package tone

import (
	"testing"
	"time"
)

// Process allocates nothing per block given an event slice with room.
func TestDetectorProcessAllocs(t *testing.T) {
	g, err := NewCED(-13, 3*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	sig := make([]int16, 8000*3)
	g.Generate(sig)
	d, _ := NewDetector(DetectorConfig{})
	evs := make([]Event, 0, 64)
	heard := false
	n := 0
	allocs := testing.AllocsPerRun(100, func() {
		for _, ev := range d.Process(sig[n:n+160], evs[:0]) {
			heard = heard || ev.Kind == EventToneOn
		}
		n += 160
	})
	if !heard {
		t.Fatal("CED not heard while measuring")
	}
	if allocs != 0 {
		t.Errorf("%v allocations per 160-sample Process", allocs)
	}
}
