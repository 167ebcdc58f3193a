package tone

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// spandsp's MODEM_CONNECT_TONES_* numbers.
const (
	spandspCNG     = 1
	spandspANS     = 2
	spandspANSamPR = 5
)

type spandsp struct {
	dir string
	in  io.WriteCloser
	out *bufio.Scanner
	seq int
}

// startSpandsp builds testdata/spandsp_tones.c against the installed
// libspandsp and keeps it running.
func startSpandsp(t *testing.T) *spandsp {
	t.Helper()
	if _, err := os.Stat("/usr/include/spandsp/modem_connect_tones.h"); err != nil {
		t.Skip("libspandsp-dev not installed (/usr/include/spandsp/modem_connect_tones.h missing)")
	}
	gcc, err := exec.LookPath("gcc")
	if err != nil {
		t.Skip("gcc not installed")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "spandsp_tones")
	if out, err := exec.Command(gcc, "-O1", "-o", bin, "testdata/spandsp_tones.c", "-lspandsp").CombinedOutput(); err != nil {
		t.Fatalf("building spandsp oracle: %v\n%s", err, out)
	}
	cmd := exec.Command(bin)
	o := &spandsp{dir: dir}
	if o.in, err = cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	o.out = bufio.NewScanner(stdout)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		o.in.Close()
		cmd.Wait()
	})
	return o
}

// ask sends a command and returns the lines before "ok".
func (o *spandsp) ask(t *testing.T, format string, args ...any) []string {
	t.Helper()
	if _, err := fmt.Fprintf(o.in, format+"\n", args...); err != nil {
		t.Fatal(err)
	}
	var lines []string
	for o.out.Scan() {
		l := o.out.Text()
		if l == "ok" {
			return lines
		}
		if strings.HasPrefix(l, "error") {
			t.Fatalf("spandsp: %s", l)
		}
		lines = append(lines, l)
	}
	t.Fatalf("spandsp oracle ended: %v", o.out.Err())
	return nil
}

func (o *spandsp) generate(t *testing.T, tone, n int) []int16 {
	t.Helper()
	o.seq++
	path := filepath.Join(o.dir, fmt.Sprintf("tx-%d", o.seq))
	o.ask(t, "tx %d %d %s", tone, n, path)
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	x := make([]int16, len(raw)/2)
	for i := range x {
		x[i] = int16(binary.LittleEndian.Uint16(raw[2*i:]))
	}
	return x
}

// detect returns the tone codes spandsp's detector for tone reported.
func (o *spandsp) detect(t *testing.T, tone int, x []int16) []string {
	t.Helper()
	o.seq++
	path := filepath.Join(o.dir, fmt.Sprintf("rx-%d", o.seq))
	raw := make([]byte, 2*len(x))
	for i, v := range x {
		binary.LittleEndian.PutUint16(raw[2*i:], uint16(v))
	}
	if err := os.WriteFile(path, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	var codes []string
	for _, l := range o.ask(t, "rx %d %s", tone, path) {
		if f := strings.Fields(l); len(f) == 3 && f[1] != "0" {
			codes = append(codes, f[1])
		}
	}
	return codes
}

// spandsp's generators into our detector, ours into spandsp's detector.
func TestAgainstSpandsp(t *testing.T) {
	o := startSpandsp(t)
	r := rand.New(rand.NewPCG(9, 9))

	for _, tc := range []struct {
		name string
		code int
		want Tone
	}{
		{"CNG", spandspCNG, ToneCNG},
		{"ANS", spandspANS, ToneCED},
		{"ANSam-PR", spandspANSamPR, ToneCED},
	} {
		x := o.generate(t, tc.code, 4*SampleRate)
		var got []Tone
		for _, e := range detect(t, line(x, DefaultLevel, 10, r)) {
			if e.Kind == EventToneOn {
				got = append(got, e.Tone)
			}
		}
		// Four seconds hold two CNG bursts.
		if len(got) == 0 || len(got) > 2 || got[0] != tc.want || got[len(got)-1] != tc.want {
			t.Errorf("spandsp %s -> our detector: %v, want %v", tc.name, got, tc.want)
		}
	}

	cng, _ := NewCNG(DefaultLevel)
	ced, _ := NewCED(DefaultLevel, DefaultCED)
	ansam, _ := NewANSam(DefaultLevel, DefaultCED)
	for _, tc := range []struct {
		name string
		g    *Generator
		code int
	}{
		{"CNG", cng, spandspCNG},
		{"CED", ced, spandspANS},
		{"ANSam", ansam, spandspANSamPR},
	} {
		// spandsp's notch detector wants a cleaner line than ours (at
		// 10 dB SNR it hears nothing): 30 dB.
		x := gen(t, tc.g, nil, 4*SampleRate)
		got := o.detect(t, tc.code, line(x, DefaultLevel, 30, r))
		if want := fmt.Sprint(tc.code); len(got) == 0 || got[0] != want {
			t.Errorf("our %s -> spandsp detector: reported %v, want %s", tc.name, got, want)
		}
	}
}
