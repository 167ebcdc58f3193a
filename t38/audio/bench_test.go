package audio

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/faxd/faxd/t38/t30"
)

// cpuMeter adds up the CPU our terminal's Process calls take.
type cpuMeter struct {
	cpu time.Duration
	// rec, when set, keeps every block our terminal received, so the call
	// can be replayed through a fresh terminal (BenchmarkReplay).
	rec *[]int16
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

// BenchmarkReplay measures our terminal alone, without spandsp or the line
// model in the loop: it records what our terminal received in one call
// with spandsp's terminal (as BenchmarkVsSpandsp, V.17 14400, 3 pages),
// then feeds that audio, 20 ms blocks, to fresh terminals with the same
// configuration. The terminal is deterministic (no clock, no randomness),
// so each replay runs the very same call; cpu-ms/audio-min is the thread
// CPU of the replays, comparable between builds on one machine.
func BenchmarkReplay(b *testing.B) {
	pages := testPages(3, 120)
	for _, recv := range []bool{false, true} {
		for _, ecm := range []bool{false, true} {
			name := map[bool]string{false: "send", true: "receive"}[recv] + map[bool]string{false: "-non-ECM", true: "-ECM"}[ecm]
			cfg := func() t30.Config {
				if recv {
					return t30.Config{Calling: true, ECM: ecm, Decoder: t30.T4Decoder{}}
				}
				return t30.Config{Calling: true, Transmit: true, ECM: ecm, Pages: t30.ImagePages(pages)}
			}
			// Recorded here, not in the sub-benchmark, which runs more
			// than once.
			dir := b.TempDir()
			sendTIFF, recvTIFF := filepath.Join(dir, "s.tif"), filepath.Join(dir, "r.tif")
			if recv {
				writeTIFF(b, sendTIFF, pages)
			}
			rec := replayAudio(b, name, recv, ecm, cfg, sendTIFF, recvTIFF)
			b.Run(name, func(b *testing.B) {
				out := make([]int16, 160)
				runtime.LockOSThread()
				defer runtime.UnlockOSThread()
				b.ResetTimer()
				c0 := threadCPU()
				for range b.N {
					t, err := New(Config{T30: cfg()})
					if err != nil {
						b.Fatal(err)
					}
					for i := 0; i+160 <= len(rec); i += 160 {
						t.Process(rec[i:i+160], out)
						t.Events()
					}
					if r := t.Result(); r == nil || !r.OK() || r.Pages != len(pages) {
						b.Fatalf("replay ended %+v", r)
					}
				}
				cpu := threadCPU() - c0
				b.StopTimer()
				audio := time.Duration(len(rec)) * time.Second / SampleRate
				b.ReportMetric(float64(cpu.Microseconds())/1000/float64(b.N)/audio.Minutes(), "cpu-ms/audio-min")
			})
		}
	}
}

// replayAudio records what our terminal receives in a call with spandsp's
// terminal, or reads it back from FAXD_AUDIO_REPLAY_DIR.
func replayAudio(b *testing.B, name string, recv, ecm bool, cfg func() t30.Config, sendTIFF, recvTIFF string) []int16 {
	b.Helper()
	var file string
	if dir := os.Getenv("FAXD_AUDIO_REPLAY_DIR"); dir != "" {
		file = filepath.Join(dir, name+".s16")
		if raw, err := os.ReadFile(file); err == nil {
			rec := make([]int16, len(raw)/2)
			for i := range rec {
				rec[i] = int16(binary.LittleEndian.Uint16(raw[2*i:]))
			}
			return rec
		}
	}
	t, err := New(Config{T30: cfg()})
	if err != nil {
		b.Fatal(err)
	}
	var rec []int16
	pr, _, _ := spandspCallMeter(b, t, &cpuMeter{rec: &rec}, false, recv, ecm, "v27v29v17", sendTIFF, recvTIFF,
		newLine(6, 40, 30, 0, 5), newLine(6, 40, 30, 0, 6))
	if pr.code != 0 || pr.pages != 3 || pr.rate != 14400 {
		b.Fatalf("spandsp: %+v", pr)
	}
	if file != "" {
		raw := make([]byte, 2*len(rec))
		for i, s := range rec {
			binary.LittleEndian.PutUint16(raw[2*i:], uint16(s))
		}
		if err := os.WriteFile(file, raw, 0o600); err != nil {
			b.Fatal(err)
		}
	}
	return rec
}
