package audio

import (
	"encoding/binary"
	"math"
	"testing"

	"github.com/faxd/faxd/t38/t30"
)

// FuzzReceive feeds arbitrary samples to an answering, receiving terminal:
// fresh, or already listening for a V.27 ter, V.29 or V.17 page (non-ECM,
// ECM) as after DCS. Nothing may panic, and what the terminal buffers between blocks
// stays bounded.
func FuzzReceive(f *testing.F) {
	f.Add([]byte{0})
	tone := make([]byte, 1, 1+2*4000)
	for i := range 4000 {
		tone = binary.LittleEndian.AppendUint16(tone, uint16(int16(8000*math.Sin(float64(i)*2*math.Pi*1800/8000))))
	}
	f.Add(tone)
	tone2 := append([]byte{1}, tone[1:]...)
	f.Add(tone2)
	for sel := byte(2); sel < 7; sel++ {
		f.Add(append([]byte{sel}, tone[1:]...))
	}
	// A real sender's opening: CNG, then silence.
	tx, err := New(Config{T30: t30.Config{Calling: true, Transmit: true, Pages: t30.ImagePages(testPages(1, 8))}})
	if err != nil {
		f.Fatal(err)
	}
	opening := []byte{0}
	out := make([]int16, 160)
	for range 50 {
		tx.Process(make([]int16, 160), out)
		for _, s := range out {
			opening = binary.LittleEndian.AppendUint16(opening, uint16(s))
		}
	}
	f.Add(opening)
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 {
			return
		}
		// Ten seconds of audio is enough to reach every receiver state
		// and keeps each run short.
		data = data[:min(len(data), 1+2*10*SampleRate)]
		rx, err := New(Config{T30: t30.Config{ECM: true, Decoder: t30.T4Decoder{}}})
		if err != nil {
			t.Fatal(err)
		}
		if sel := data[0] % 7; sel > 0 {
			rx.hsECM = sel%2 == 0
			rx.listen([...]t30.Modem{t30.V27ter4800, t30.V29_9600, t30.V17_14400}[(sel-1)/2])
			rx.expectLong()
		}
		samples := make([]int16, (len(data)-1)/2)
		for i := range samples {
			samples[i] = int16(binary.LittleEndian.Uint16(data[1+2*i:]))
		}
		out := make([]int16, 160)
		for off := 0; off < len(samples); off += 160 {
			in := samples[off:min(off+160, len(samples))]
			rx.Process(in, out[:len(in)])
			if len(rx.rxBuf) != 0 || cap(rx.rxBuf) > 4096 || len(rx.queue) > 16 {
				t.Fatalf("buffers grow: rxBuf %d/%d, queue %d", len(rx.rxBuf), cap(rx.rxBuf), len(rx.queue))
			}
		}
	})
}
