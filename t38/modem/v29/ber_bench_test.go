package v29

import (
	"testing"

	"github.com/faxd/faxd/t38/modem/dsp/dsptest"
)

// BER against SNR (white noise over the whole 4 kHz band, relative to the
// signal's power) for our receiver and spandsp's on the same noisy copies
// of one signal, 200000 data bits per point: from our transmitter, and
// (the "spandsp-tx" runs) from spandsp's. The metrics are the lowest SNR
// (1 dB grid) at which each receiver reaches BER ≤ 1e-5.
//
//	go test -run '^$' -bench BER -benchtime 1x ./t38/modem/v29/
func BenchmarkBER(b *testing.B) {
	for _, src := range []string{"ours-tx", "spandsp-tx"} {
		for _, rate := range []int{9600, 7200, 4800} {
			b.Run(src+"/"+itoa(rate), func(b *testing.B) {
				bits := randomBits(200000, uint64(rate))
				// The signal starts at the first sample, and the noise with it:
				// noise alone ahead of the signal is another test (see
				// TestSignalAfterLoudNoise), and spandsp locks onto it.
				signal := modulate(b, rate, -14, bits)[800:]
				if src == "spandsp-tx" {
					signal = dsptest.SpandspTx(b, "v29", rate, false, bits)
				}
				ours := func(a []int16) []byte { got, _, _ := demodulate(b, rate, a); return got }
				peer := func(a []int16) []byte { got, _ := dsptest.SpandspRx(b, "v29", rate, false, a); return got }
				var pts []dsptest.BERPoint
				for b.Loop() {
					pts = dsptest.SweepBER(signal, bits, 8, 35, 1, 1e-5, ours, peer)
				}
				o, p := dsptest.Threshold(pts, 1e-5)
				b.ReportMetric(o, "ours-SNR-dB@1e-5")
				b.ReportMetric(p, "spandsp-SNR-dB@1e-5")
				b.Logf("V.29 %d bit/s, %s\n%s", rate, src, dsptest.FormatBER(pts))
			})
		}
	}
}
