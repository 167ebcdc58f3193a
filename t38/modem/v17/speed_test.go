package v17

import (
	"testing"

	"github.com/faxd/faxd/t38/modem/dsp/dsptest"
)

// Real-time cost of one 14400 bit/s receiver and transmitter, in ns per
// 8 kHz sample (125000 ns/sample would be one whole core per channel).
//
//	go test -run '^$' -bench CPU ./t38/modem/v17/
func BenchmarkRxCPU(b *testing.B) {
	audio := modulate(b, 14400, false, -14, randomBits(14400*3, 1))
	rx, _ := NewRx(14400)
	p := make([]byte, 4096)
	n := 0
	cpu := dsptest.CPUTime()
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
	b.ReportMetric(float64((dsptest.CPUTime()-cpu).Nanoseconds())/float64(b.N*160), "cpu-ns/sample")
}

func BenchmarkTxCPU(b *testing.B) {
	tx, _ := NewTx(14400, false)
	out := make([]int16, 160)
	cpu := dsptest.CPUTime()
	bits := randomBits(14400, 1)
	for b.Loop() {
		if tx.queue.Len() < 1000 {
			tx.Write(bits)
		}
		tx.Read(out)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*160), "ns/sample")
	b.ReportMetric(float64((dsptest.CPUTime()-cpu).Nanoseconds())/float64(b.N*160), "cpu-ns/sample")
}
