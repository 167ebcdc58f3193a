package v17

import (
	"encoding/binary"
	"testing"
)

// Any audio at all: no panic, no more bits than the rate allows, no memory
// kept beyond what was not drained.
func FuzzRx(f *testing.F) {
	sig := modulate(f, 14400, true, -14, randomBits(600, 1))
	seed := make([]byte, 2*len(sig))
	for i, v := range sig {
		binary.LittleEndian.PutUint16(seed[2*i:], uint16(v))
	}
	f.Add(byte(0), seed)
	f.Add(byte(5), seed[:4000])
	f.Add(byte(3), []byte{0x7f, 0xff, 0x80, 0x00})
	f.Fuzz(func(t *testing.T, sel byte, data []byte) {
		rate := rates[int(sel)%4]
		rx, err := NewRx(rate)
		if err != nil {
			t.Fatal(err)
		}
		rx.SetShortTraining(sel&4 != 0)
		samples := make([]int16, len(data)/2)
		for i := range samples {
			samples[i] = int16(binary.LittleEndian.Uint16(data[2*i:]))
		}
		p := make([]byte, 256)
		total := 0
		for i := 0; i < len(samples); i += 97 {
			rx.Write(samples[i:min(i+97, len(samples))])
			for n := rx.ReadBits(p); n > 0; n = rx.ReadBits(p) {
				total += n
			}
			for _, ok := rx.PollEvent(); ok; _, ok = rx.PollEvent() {
			}
		}
		if max := len(samples)*rate/8000 + 8; total > max {
			t.Fatalf("%d bits from %d samples at %d bit/s, want at most %d", total, len(samples), rate, max)
		}
		if c := cap(rx.bits.Buf()); c > 4096+len(samples) {
			t.Fatalf("bit buffer capacity %d after draining %d samples", c, len(samples))
		}
	})
}
