package audio

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"github.com/faxd/faxd/t38/audio/audiotest"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/faxd/faxd/t38/bilevel"
	"github.com/faxd/faxd/t38/t30"
	"github.com/faxd/faxd/t38/tiff"
)

// spandspPeer is spandsp's audio fax terminal, built once per test binary.
func spandspPeer(tb testing.TB) string { return audiotest.SpandspFax(tb) }

// peerResult is what the spandsp peer reported at its end.
type peerResult struct {
	code, pages, rate, ecm int
	cpu                    time.Duration
}

// spandspCall runs our terminal against spandsp's audio fax terminal,
// block by block, through one line each way. ours sends when spandspSends
// is false. It returns spandsp's report and the audio time.
func spandspCall(tb testing.TB, ours *Terminal, calling, spandspSends, ecm bool, modems, sendTIFF, recvTIFF string, ab, ba *line) (peerResult, time.Duration, []*t30.ReceivedPage) {
	tb.Helper()
	return spandspCallMeter(tb, ours, nil, calling, spandspSends, ecm, modems, sendTIFF, recvTIFF, ab, ba)
}

// spandspCallMeter is spandspCall that, with a meter, adds up the thread CPU
// our Process calls take. modems is what spandsp offers: v27, v27v29 or
// v27v29v17.
func spandspCallMeter(tb testing.TB, ours *Terminal, m *cpuMeter, calling, spandspSends, ecm bool, modems, sendTIFF, recvTIFF string, ab, ba *line) (peerResult, time.Duration, []*t30.ReceivedPage) {
	tb.Helper()
	bin := spandspPeer(tb)
	const block = 160
	send := "-"
	if spandspSends {
		send = sendTIFF
	}
	b2i := map[bool]string{false: "0", true: "1"}
	args := []string{b2i[calling], send, recvTIFF, b2i[ecm], modems, fmt.Sprint(block)}
	if os.Getenv("AUDIO_SPANDSP_LOG") != "" {
		args = append(args, "log")
	}
	cmd := exec.Command(bin, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		tb.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	ourIn, ourOut := make([]int16, block), make([]int16, block)
	peerIn, peerOut := make([]int16, block), make([]int16, block)
	raw := make([]byte, 2*block)
	var doneAt time.Duration = -1
	var got []*t30.ReceivedPage
	for {
		if m != nil {
			if m.rec != nil {
				*m.rec = append(*m.rec, ourIn...)
			}
			c0 := threadCPU()
			ours.Process(ourIn, ourOut)
			m.cpu += threadCPU() - c0
		} else {
			ours.Process(ourIn, ourOut)
		}
		ab.pass(ourOut, peerIn)
		for i, s := range peerIn {
			binary.LittleEndian.PutUint16(raw[2*i:], uint16(s))
		}
		if _, err := stdin.Write(raw); err != nil {
			tb.Fatalf("writing to spandsp: %v\n%s", err, stderr.String())
		}
		if _, err := io.ReadFull(stdout, raw); err != nil {
			tb.Fatalf("reading from spandsp: %v\n%s", err, stderr.String())
		}
		for i := range peerOut {
			peerOut[i] = int16(binary.LittleEndian.Uint16(raw[2*i:]))
		}
		ba.pass(peerOut, ourIn)
		for _, ev := range ours.Events() {
			if ev.Kind == t30.OutPageReceived {
				got = append(got, ev.Received)
			}
		}
		if ours.Done() && doneAt < 0 {
			doneAt = ours.Now()
		}
		// spandsp ends its call a little after ours (it waits for the
		// line to go quiet); 5 s of audio is plenty.
		if doneAt >= 0 && ours.Now() > doneAt+5*time.Second {
			break
		}
		if ours.Now() > 6*time.Minute {
			tb.Fatalf("call still running after 6 min of audio: ours in %s", ours.Engine().State())
		}
	}
	stdin.Close()
	if err := cmd.Wait(); err != nil {
		tb.Fatalf("spandsp peer: %v\n%s", err, stderr.String())
	}
	if len(cmd.Args) > 7 {
		tb.Log(stderr.String())
	}
	var r peerResult
	lines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
	var us int64
	if _, err := fmt.Sscanf(lines[len(lines)-1], "result %d pages %d rate %d ecm %d cpu_us %d", &r.code, &r.pages, &r.rate, &r.ecm, &us); err != nil {
		tb.Fatalf("spandsp peer said %q: %v", lines[len(lines)-1], err)
	}
	r.cpu = time.Duration(us) * time.Microsecond
	return r, doneAt, got
}

func writeTIFF(tb testing.TB, name string, pages []*bilevel.Image) {
	tb.Helper()
	var buf bytes.Buffer
	if err := tiff.EncodeFax(&buf, pages, tiff.FaxOptions{}); err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(name, buf.Bytes(), 0o600); err != nil {
		tb.Fatal(err)
	}
}

func readTIFF(tb testing.TB, name string) []*bilevel.Image {
	tb.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		tb.Fatal(err)
	}
	ps, err := tiff.Decode(b)
	if err != nil {
		tb.Fatalf("spandsp's TIFF: %v", err)
	}
	var out []*bilevel.Image
	for _, p := range ps {
		out = append(out, p.Bilevel)
	}
	return out
}

// TestSpandsp sends a three-page fax from our terminal to spandsp's audio
// fax terminal and back, with and without ECM, over the same impaired line
// as TestOursToOurs: with V.27 ter only on spandsp's side, with V.29 and
// V.27 ter, and with all three (V.17 14400 is chosen); and with spandsp
// sending to a terminal that lacks the top rates, so that spandsp falls
// back after failed trainings.
func TestSpandsp(t *testing.T) {
	pages := testPages(3, 120)
	v27 := []HighSpeed{V27ter{}}
	for _, tc := range []struct {
		name        string
		ecm, toOurs bool
		ourCall     bool
		modems      string      // what spandsp offers
		hs          []HighSpeed // ours; nil: all
		want        int         // bit rate of the pages
	}{
		{"ours-to-spandsp", false, false, true, "v27", nil, 4800},
		{"ours-to-spandsp-ecm", true, false, true, "v27", nil, 4800},
		{"spandsp-to-ours", false, true, false, "v27", v27, 4800},
		{"spandsp-to-ours-ecm", true, true, false, "v27", v27, 4800},
		// ours has V.27 ter 2400 only: spandsp's 4800 TCF fails, it falls back
		{"spandsp-to-ours-2400", false, true, false, "v27", []HighSpeed{V27ter{Only2400: true}}, 2400},
		{"spandsp-to-ours-2400-ecm", true, true, false, "v27", []HighSpeed{V27ter{Only2400: true}}, 2400},
		{"ours-to-spandsp-v29", false, false, true, "v27v29", nil, 9600},
		{"spandsp-to-ours-v29-ecm", true, true, false, "v27v29", nil, 9600},
		{"ours-to-spandsp-v17", false, false, true, "v27v29v17", nil, 14400},
		{"ours-to-spandsp-v17-ecm", true, false, true, "v27v29v17", nil, 14400},
		{"spandsp-to-ours-v17", false, true, false, "v27v29v17", nil, 14400},
		{"spandsp-to-ours-v17-ecm", true, true, false, "v27v29v17", nil, 14400},
		// ours has V.17 up to 9600: spandsp's 14400 and 12000 trainings fail
		{"spandsp-to-ours-v17-9600", false, true, false, "v27v29v17", []HighSpeed{V17{Max: 9600}, V29{}, V27ter{}}, 9600},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			sendTIFF, recvTIFF := filepath.Join(dir, "send.tif"), filepath.Join(dir, "recv.tif")
			cfg := t30.Config{Calling: tc.ourCall, Ident: "+1 555 0100", ECM: tc.ecm}
			if tc.toOurs {
				cfg.Decoder = t30.T4Decoder{}
				writeTIFF(t, sendTIFF, pages)
			} else {
				cfg.Transmit, cfg.Pages = true, t30.ImagePages(pages)
			}
			want := tc.want
			ours, err := New(Config{T30: cfg, HighSpeed: tc.hs})
			if err != nil {
				t.Fatal(err)
			}
			pr, audio, got := spandspCall(t, ours, !tc.ourCall, tc.toOurs, tc.ecm, tc.modems, sendTIFF, recvTIFF,
				newLine(6, 40, 30, 0, 3), newLine(6, 40, 30, 0, 4))
			if r := ours.Result(); r == nil || !r.OK() {
				t.Fatalf("our result %v", r)
			}
			// Phase E code 0 is T30_ERR_OK.
			if pr.code != 0 || pr.pages != len(pages) || pr.rate != want || (pr.ecm != 0) != tc.ecm {
				t.Fatalf("spandsp: %+v, want OK, %d pages at %d, ECM %v", pr, len(pages), want, tc.ecm)
			}
			var recv []*bilevel.Image
			if tc.toOurs {
				for _, p := range got {
					recv = append(recv, p.Image)
				}
			} else {
				recv = readTIFF(t, recvTIFF)
			}
			if len(recv) != len(pages) {
				t.Fatalf("%d pages arrived, %d sent", len(recv), len(pages))
			}
			for i := range pages {
				if recv[i] == nil || !recv[i].Equal(pages[i]) {
					t.Errorf("page %d differs: %s", i+1, diff(recv[i], pages[i]))
				}
			}
			// Our side lacking spandsp's top rate must have made it fall back.
			if tc.hs != nil && want != 4800 && ours.Stats().TrainingsFailed == 0 {
				t.Errorf("spandsp reached %d without a failed training on our side", want)
			}
			t.Logf("%v of audio; spandsp CPU %v; our stats %+v", audio, pr.cpu, ours.Stats())
		})
	}
}
