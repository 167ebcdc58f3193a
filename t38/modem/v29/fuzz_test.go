package v29

import (
	"encoding/binary"
	"testing"
)

// Any audio at all: the receiver must not panic, must not deliver more
// bits than the rate allows for the audio's length, and must not hold on to
// memory beyond what was not yet drained.
func FuzzRx(f *testing.F) {
	sig := modulate(f, 9600, -14, randomBits(400, 1))
	seed := make([]byte, 2*len(sig))
	for i, v := range sig {
		binary.LittleEndian.PutUint16(seed[2*i:], uint16(v))
	}
	f.Add(byte(0), seed)
	f.Add(byte(1), seed[:3000])
	f.Add(byte(2), []byte{0x7f, 0xff, 0x80, 0x00})
	f.Fuzz(func(t *testing.T, sel byte, data []byte) {
		rate := []int{9600, 7200, 4800}[int(sel)%3]
		rx, err := NewRx(rate)
		if err != nil {
			t.Fatal(err)
		}
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
		// 2400 symbols/s of at most 4 bits from 8000 samples/s.
		if max := len(samples)*rate/8000 + 8; total > max {
			t.Fatalf("%d bits from %d samples at %d bit/s, want at most %d", total, len(samples), rate, max)
		}
		if c := cap(rx.bits.Buf()); c > 4096+len(samples) {
			t.Fatalf("bit buffer capacity %d after draining %d samples", c, len(samples))
		}
	})
}
