package v29

import "testing"

// Real-time cost of one receiver and one transmitter: ns per 8 kHz sample
// (125000 ns would be one whole core).
func BenchmarkRxCPU(b *testing.B) {
	audio := modulate(b, 9600, -14, randomBits(9600*2, 1))
	rx, _ := NewRx(9600)
	p := make([]byte, 4096)
	b.ResetTimer()
	n := 0
	for b.Loop() {
		if n+160 > len(audio) {
			n = 0
		}
		rx.Write(audio[n : n+160])
		n += 160
		for rx.ReadBits(p) > 0 {
		}
		for _, ok := rx.PollEvent(); ok; _, ok = rx.PollEvent() {
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*160), "ns/sample")
}

func BenchmarkTxCPU(b *testing.B) {
	tx, _ := NewTx(9600)
	out := make([]int16, 160)
	bits := randomBits(9600, 1)
	b.ResetTimer()
	for b.Loop() {
		if tx.queue.Len() < 1000 {
			tx.Write(bits)
		}
		tx.Read(out)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*160), "ns/sample")
}
