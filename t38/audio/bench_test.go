package audio

import (
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/faxd/faxd/t38/t30"
)

// cpuMeter adds up the CPU our terminal's Process calls take.
type cpuMeter struct {
	cpu time.Duration
}

// BenchmarkVsSpandsp sends the three test pages between our terminal and
// spandsp's (ours sending and ours receiving, non-ECM and ECM, V.17 14400:
// both sides offer every modem) and reports each side's CPU per minute of
// fax audio, measured in the same call: ours around Terminal.Process on a
// locked thread, spandsp's around fax_rx+fax_tx.
func BenchmarkVsSpandsp(b *testing.B) {
	pages := testPages(3, 120)
	for _, recv := range []bool{false, true} {
		for _, ecm := range []bool{false, true} {
			name := map[bool]string{false: "send", true: "receive"}[recv] + map[bool]string{false: "-non-ECM", true: "-ECM"}[ecm]
			b.Run(name, func(b *testing.B) {
				runtime.LockOSThread()
				defer runtime.UnlockOSThread()
				var ours, theirs, audio time.Duration
				for range b.N {
					dir := b.TempDir()
					sendTIFF, recvTIFF := filepath.Join(dir, "s.tif"), filepath.Join(dir, "r.tif")
					cfg := t30.Config{Calling: true, Transmit: true, ECM: ecm, Pages: t30.ImagePages(pages)}
					if recv {
						writeTIFF(b, sendTIFF, pages)
						cfg = t30.Config{Calling: true, ECM: ecm, Decoder: t30.T4Decoder{}}
					}
					t, err := New(Config{T30: cfg})
					if err != nil {
						b.Fatal(err)
					}
					m := &cpuMeter{}
					pr, a, _ := spandspCallMeter(b, t, m, false, recv, ecm, "v27v29v17", sendTIFF, recvTIFF,
						newLine(6, 40, 30, 0, 5), newLine(6, 40, 30, 0, 6))
					if pr.code != 0 || pr.pages != len(pages) || pr.rate != 14400 {
						b.Fatalf("spandsp: %+v", pr)
					}
					ours += m.cpu
					theirs += pr.cpu
					audio += a
				}
				min := audio.Minutes()
				b.ReportMetric(float64(ours.Microseconds())/1000/min, "ours-cpu-ms/audio-min")
				b.ReportMetric(float64(theirs.Microseconds())/1000/min, "spandsp-cpu-ms/audio-min")
			})
		}
	}
}

// BenchmarkOursToOurs runs the three-page call (V.17 14400) between two of
// our terminals and reports CPU per audio minute for one terminal (the line
// model is not counted).
func BenchmarkOursToOurs(b *testing.B) {
	pages := testPages(3, 120)
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var cpu, audio time.Duration
	for range b.N {
		tx, rx := pair(b, pages, false, nil)
		r := connect(b, tx, rx, newLine(6, 40, 30, 0, 1), newLine(6, 40, 30, 0, 2), 5*time.Minute)
		cpu += r.txCPU + r.rxCPU
		audio += r.audio
		if !r.tx.OK() {
			b.Fatal(r.tx)
		}
	}
	b.ReportMetric(float64(cpu.Microseconds())/1000/audio.Minutes()/2, "cpu-ms/audio-min/terminal")
}
