package v17

import (
	"strconv"
	"testing"

	"github.com/faxd/faxd/t38/modem/dsp/dsptest"
)

// BER against SNR (white noise over the whole 4 kHz band, relative to the
// signal's power) for our receiver and spandsp's on the same noisy copies
// of one long-trained signal, 200000 data bits per point: from our
// transmitter, and (the "spandsp-tx" runs) from spandsp's. The metrics are
// the lowest SNR (1 dB grid) at which each receiver reaches BER ≤ 1e-5.
//
//	go test -run '^$' -bench BER -benchtime 1x ./t38/modem/v17/
func BenchmarkBER(b *testing.B) {
	for _, src := range []string{"ours-tx", "spandsp-tx"} {
		for _, rate := range rates {
			b.Run(src+"/"+strconv.Itoa(rate), func(b *testing.B) {
				bits := randomBits(200000, uint64(rate))
				// The signal starts at the first sample, and the noise with it:
				// spandsp locks onto noise alone ahead of the signal.
				signal := modulate(b, rate, false, -14, bits)[800:]
				if src == "spandsp-tx" {
					signal = dsptest.SpandspTx(b, "v17", rate, false, bits)
				}
				ours := func(a []int16) []byte { r := newReceiver(b, rate); r.feed(a); return r.bits }
				peer := func(a []int16) []byte { got, _ := dsptest.SpandspRx(b, "v17", rate, false, a); return got }
				var pts []dsptest.BERPoint
				for b.Loop() {
					pts = dsptest.SweepBER(signal, bits, 12, 40, 1, 1e-5, ours, peer)
				}
				o, p := dsptest.Threshold(pts, 1e-5)
				b.ReportMetric(o, "ours-SNR-dB@1e-5")
				b.ReportMetric(p, "spandsp-SNR-dB@1e-5")
				b.Logf("V.17 %d bit/s, %s\n%s", rate, src, dsptest.FormatBER(pts))
			})
		}
	}
}
