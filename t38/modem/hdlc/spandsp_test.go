package hdlc

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// spandsp builds testdata/spandsp_hdlc.c against the installed libspandsp
// and keeps it running; each query is one line in, answer lines out.
type spandsp struct {
	in  io.WriteCloser
	out *bufio.Scanner
}

func startSpandsp(t *testing.T) *spandsp {
	t.Helper()
	if _, err := os.Stat("/usr/include/spandsp/hdlc.h"); err != nil {
		t.Skip("libspandsp-dev not installed (/usr/include/spandsp/hdlc.h missing)")
	}
	gcc, err := exec.LookPath("gcc")
	if err != nil {
		t.Skip("gcc not installed")
	}
	bin := filepath.Join(t.TempDir(), "spandsp_hdlc")
	if out, err := exec.Command(gcc, "-O1", "-o", bin, "testdata/spandsp_hdlc.c", "-lspandsp").CombinedOutput(); err != nil {
		t.Fatalf("building spandsp oracle: %v\n%s", err, out)
	}
	cmd := exec.Command(bin)
	o := &spandsp{}
	if o.in, err = cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	o.out = bufio.NewScanner(stdout)
	o.out.Buffer(make([]byte, 1<<20), 1<<20)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		o.in.Close()
		cmd.Wait()
	})
	return o
}

func (o *spandsp) line(t *testing.T) string {
	t.Helper()
	if !o.out.Scan() {
		t.Fatalf("spandsp oracle ended: %v", o.out.Err())
	}
	return o.out.Text()
}

func (o *spandsp) send(t *testing.T, format string, args ...any) {
	t.Helper()
	if _, err := fmt.Fprintf(o.in, format+"\n", args...); err != nil {
		t.Fatal(err)
	}
}

func randomFrames(r *rand.Rand, n int) [][]byte {
	var frames [][]byte
	for range n {
		f := make([]byte, MinFrameLen+r.IntN(64))
		for i := range f {
			f[i] = byte(r.Uint32()) | byte(r.Uint32()) // many ones: stuffing
		}
		frames = append(frames, f)
	}
	return frames
}

// Our encoder's bits decode in spandsp's hdlc_rx and spandsp's hdlc_tx bits
// decode in ours, frame for frame.
func TestAgainstSpandsp(t *testing.T) {
	o := startSpandsp(t)
	r := rand.New(rand.NewPCG(3, 4))
	frames := append([][]byte{unhex(t, disFrame)}, randomFrames(r, 50)...)

	o.send(t, "fcs %s", strings.ReplaceAll(disFrame, " ", ""))
	f := FCS(unhex(t, disFrame))
	if got, want := o.line(t), fmt.Sprintf("fcs %02x%02x", byte(f), byte(f>>8)); got != want {
		t.Fatalf("spandsp %q, ours %q", got, want)
	}

	// Ours -> spandsp.
	bits, err := Encode(3, frames...)
	if err != nil {
		t.Fatal(err)
	}
	o.send(t, "rx %s", bitString(bits))
	for i, f := range frames {
		want := "frame " + hex.EncodeToString(f) + " ok"
		if got := o.line(t); got != want {
			t.Fatalf("frame %d: spandsp got %q, want %q", i, got, want)
		}
	}
	if got := o.line(t); got != "end" {
		t.Fatalf("spandsp found more: %q", got)
	}

	// Spandsp -> ours.
	var hexes []string
	for _, f := range frames {
		hexes = append(hexes, hex.EncodeToString(f))
	}
	o.send(t, "tx 3 %s", strings.Join(hexes, " "))
	ans := o.line(t)
	s, ok := strings.CutPrefix(ans, "bits ")
	if !ok {
		t.Fatalf("spandsp: %q", ans)
	}
	var got [][]byte
	for _, ev := range Decode(parseBits(s)) {
		if ev.Kind == EventFrame {
			if !ev.FCSOK {
				t.Fatalf("bad FCS on %x", ev.Frame)
			}
			got = append(got, ev.Frame)
		}
	}
	if len(got) != len(frames) {
		t.Fatalf("decoded %d of spandsp's %d frames", len(got), len(frames))
	}
	for i := range frames {
		if !bytes.Equal(got[i], frames[i]) {
			t.Fatalf("frame %d: %x, want %x", i, got[i], frames[i])
		}
	}
}
