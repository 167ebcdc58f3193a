package dsptest

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
)

// Oracle is spandsp's V.21 channel 2 and V.27 ter modems
// (testdata/spandsp_oracle.c) built against the installed libspandsp and
// kept running for the whole test, so that a BER sweep does not start a
// process per point; samples pass through files in a temporary directory.
type Oracle struct {
	dir string
	in  io.WriteCloser
	out *bufio.Scanner
	mu  sync.Mutex
	seq int
}

// StartOracle builds and starts the oracle; it stops when the test ends.
// The test skips when libspandsp-dev or gcc is missing.
func StartOracle(tb testing.TB) *Oracle {
	tb.Helper()
	for _, h := range []string{"fsk.h", "v27ter_rx.h"} {
		if _, err := os.Stat("/usr/include/spandsp/" + h); err != nil {
			tb.Skip("libspandsp-dev not installed (/usr/include/spandsp/" + h + " missing)")
		}
	}
	gcc, err := exec.LookPath("gcc")
	if err != nil {
		tb.Skip("gcc not installed")
	}
	_, file, _, _ := runtime.Caller(0)
	src := filepath.Join(filepath.Dir(file), "testdata", "spandsp_oracle.c")
	dir := tb.TempDir()
	bin := filepath.Join(dir, "spandsp_oracle")
	if out, err := exec.Command(gcc, "-O1", "-o", bin, src, "-lspandsp").CombinedOutput(); err != nil {
		tb.Fatalf("building spandsp oracle: %v\n%s", err, out)
	}
	cmd := exec.Command(bin)
	o := &Oracle{dir: dir}
	if o.in, err = cmd.StdinPipe(); err != nil {
		tb.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	o.out = bufio.NewScanner(stdout)
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		o.in.Close()
		cmd.Wait()
	})
	return o
}

func (o *Oracle) ask(tb testing.TB, format string, args ...any) {
	tb.Helper()
	if _, err := fmt.Fprintf(o.in, format+"\n", args...); err != nil {
		tb.Fatal(err)
	}
	if !o.out.Scan() {
		tb.Fatalf("spandsp oracle ended: %v", o.out.Err())
	}
	if ans := o.out.Text(); !strings.HasPrefix(ans, "ok") {
		tb.Fatalf("spandsp: %s", ans)
	}
}

func (o *Oracle) file(name string) string {
	o.seq++
	return filepath.Join(o.dir, fmt.Sprintf("%s-%d", name, o.seq))
}

// Modulate has spandsp's transmitter for modem ("v21" or "v27ter"; rate is
// ignored for V.21) send bits (one per byte) at level dBm0.
func (o *Oracle) Modulate(tb testing.TB, modem string, rate int, bits []uint8, level float64) []int16 {
	tb.Helper()
	o.mu.Lock()
	defer o.mu.Unlock()
	in, out := o.file("bits"), o.file("samples")
	text := make([]byte, len(bits))
	for i, b := range bits {
		text[i] = '0' + b&1
	}
	if err := os.WriteFile(in, text, 0o600); err != nil {
		tb.Fatal(err)
	}
	o.ask(tb, "tx %s %d %g %s %s", modem, rate, level, in, out)
	raw, err := os.ReadFile(out)
	if err != nil {
		tb.Fatal(err)
	}
	s := make([]int16, len(raw)/2)
	for i := range s {
		s[i] = int16(binary.LittleEndian.Uint16(raw[2*i:]))
	}
	return s
}

// Demodulate has spandsp's receiver for modem receive samples, and returns
// the bits and the events as letters: U carrier up, T trained, D carrier
// down.
func (o *Oracle) Demodulate(tb testing.TB, modem string, rate int, samples []int16) (bits []uint8, events string) {
	tb.Helper()
	o.mu.Lock()
	defer o.mu.Unlock()
	in, out := o.file("samples"), o.file("events")
	raw := make([]byte, 2*len(samples))
	for i, s := range samples {
		binary.LittleEndian.PutUint16(raw[2*i:], uint16(s))
	}
	if err := os.WriteFile(in, raw, 0o600); err != nil {
		tb.Fatal(err)
	}
	o.ask(tb, "rx %s %d %s %s", modem, rate, in, out)
	evs, err := os.ReadFile(out)
	if err != nil {
		tb.Fatal(err)
	}
	var ev []byte
	for _, c := range evs {
		switch c {
		case '0', '1':
			bits = append(bits, c-'0')
		default:
			ev = append(ev, c)
		}
	}
	return bits, string(ev)
}
