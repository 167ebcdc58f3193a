package v17

import "testing"

// Once trained, Write allocates nothing per block when the bits and
// events are drained as the audio terminal does.
func TestRxWriteAllocs(t *testing.T) {
	audio := modulate(t, 14400, false, -14, randomBits(14400*3, 1))
	rx, _ := NewRx(14400)
	p := make([]byte, 4096)
	drain := func() {
		for rx.ReadBits(p) > 0 {
		}
		for _, ok := rx.PollEvent(); ok; _, ok = rx.PollEvent() {
		}
	}
	const start, blk = 16000, 160
	rx.Write(audio[:start])
	drain()
	if !rx.Trained() {
		t.Fatal("not trained after 2 s of signal")
	}
	n := start
	allocs := testing.AllocsPerRun(100, func() {
		rx.Write(audio[n : n+blk])
		n += blk
		drain()
	})
	if !rx.Trained() {
		t.Fatal("lost the signal while measuring")
	}
	if allocs != 0 {
		t.Errorf("%v allocations per 160-sample Write", allocs)
	}
}
