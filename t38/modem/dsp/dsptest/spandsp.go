package dsptest

import (
	"bytes"
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"testing"
)

// The spandsp peer: testdata/spandsp_modem.c built against the installed
// libspandsp, run once per transfer with the signal on stdin/stdout.

var (
	buildOnce sync.Once
	buildBin  string
	buildErr  string
)

// spandspBinary builds the peer once per test binary.
func spandspBinary(t testing.TB) string {
	t.Helper()
	if _, err := os.Stat("/usr/include/spandsp/v29rx.h"); err != nil {
		t.Skip("libspandsp-dev not installed (/usr/include/spandsp/v29rx.h missing)")
	}
	gcc, err := exec.LookPath("gcc")
	if err != nil {
		t.Skip("gcc not installed")
	}
	buildOnce.Do(func() {
		_, file, _, _ := runtime.Caller(0)
		src := filepath.Join(filepath.Dir(file), "testdata", "spandsp_modem.c")
		dir, err := os.MkdirTemp("", "spandsp_modem")
		if err != nil {
			buildErr = err.Error()
			return
		}
		bin := filepath.Join(dir, "spandsp_modem")
		if out, err := exec.Command(gcc, "-O2", "-o", bin, src, "-lspandsp").CombinedOutput(); err != nil {
			buildErr = "building spandsp peer: " + err.Error() + "\n" + string(out)
			return
		}
		buildBin = bin
	})
	if buildErr != "" {
		t.Fatal(buildErr)
	}
	return buildBin
}

func peerArgs(mode, modem string, rate int, short bool, extra ...string) []string {
	a := []string{mode, modem, strconv.Itoa(rate)}
	if short {
		a = append(a, "short")
	}
	return append(a, extra...)
}

// SpandspTx modulates bits (one per byte) with spandsp's transmitter for
// modem "v29" or "v17" at rate, and returns the audio. With short (V.17)
// the first half of the bits goes after a long training and the second
// half, after 200 ms of silence, after a short one.
func SpandspTx(t testing.TB, modem string, rate int, short bool, bits []byte) []int16 {
	t.Helper()
	return spandspTx(t, modem, rate, short, bits)
}

// SpandspTxTEP is SpandspTx with talker echo protection: the training
// starts with unmodulated carrier and a short silence.
func SpandspTxTEP(t testing.TB, modem string, rate int, bits []byte) []int16 {
	t.Helper()
	return spandspTx(t, modem, rate, false, bits, "tep")
}

func spandspTx(t testing.TB, modem string, rate int, short bool, bits []byte, extra ...string) []int16 {
	t.Helper()
	in := make([]byte, len(bits))
	for i, b := range bits {
		in[i] = '0' + b&1
	}
	cmd := exec.Command(spandspBinary(t), peerArgs("tx", modem, rate, short, extra...)...)
	cmd.Stdin = bytes.NewReader(in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("spandsp %s tx %d: %v\n%s", modem, rate, err, stderr.String())
	}
	audio := make([]int16, len(out)/2)
	for i := range audio {
		audio[i] = int16(binary.LittleEndian.Uint16(out[2*i:]))
	}
	return audio
}

// SpandspRx demodulates audio with spandsp's receiver and returns the bits
// and the events as letters: U carrier up, T trained, F training failed,
// D carrier down.
func SpandspRx(t testing.TB, modem string, rate int, short bool, audio []int16) (bits []byte, events string) {
	t.Helper()
	in := make([]byte, 2*len(audio))
	for i, v := range audio {
		binary.LittleEndian.PutUint16(in[2*i:], uint16(v))
	}
	cmd := exec.Command(spandspBinary(t), peerArgs("rx", modem, rate, short)...)
	cmd.Stdin = bytes.NewReader(in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("spandsp %s rx %d: %v\n%s", modem, rate, err, stderr.String())
	}
	var ev []byte
	for _, c := range out {
		switch c {
		case '0', '1':
			bits = append(bits, c-'0')
		default:
			ev = append(ev, c)
		}
	}
	return bits, string(ev)
}
