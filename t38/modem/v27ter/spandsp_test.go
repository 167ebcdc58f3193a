package v27ter

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
	"sync"
	"testing"

	"github.com/faxd/faxd/t38/modem/dsp/dsptest"
)

// spandsp builds testdata/spandsp_v27ter.c against the installed libspandsp
// and keeps it running; samples pass through files in a temporary
// directory.
type spandsp struct {
	dir string
	in  io.WriteCloser
	out *bufio.Scanner
	mu  sync.Mutex
	seq int
}

func startSpandsp(tb testing.TB) *spandsp {
	tb.Helper()
	if _, err := os.Stat("/usr/include/spandsp/v27ter_rx.h"); err != nil {
		tb.Skip("libspandsp-dev not installed (/usr/include/spandsp/v27ter_rx.h missing)")
	}
	gcc, err := exec.LookPath("gcc")
	if err != nil {
		tb.Skip("gcc not installed")
	}
	dir := tb.TempDir()
	bin := filepath.Join(dir, "spandsp_v27ter")
	if out, err := exec.Command(gcc, "-O1", "-o", bin, "testdata/spandsp_v27ter.c", "-lspandsp").CombinedOutput(); err != nil {
		tb.Fatalf("building spandsp oracle: %v\n%s", err, out)
	}
	cmd := exec.Command(bin)
	o := &spandsp{dir: dir}
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

func (o *spandsp) ask(tb testing.TB, format string, args ...any) {
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

func (o *spandsp) file(name string) string {
	o.seq++
	return filepath.Join(o.dir, fmt.Sprintf("%s-%d", name, o.seq))
}

// modulate has spandsp's v27ter_tx send bits at level.
func (o *spandsp) modulate(tb testing.TB, rate Rate, bits []uint8, level float64) []int16 {
	tb.Helper()
	o.mu.Lock()
	defer o.mu.Unlock()
	in, out := o.file("bits"), o.file("samples")
	if err := os.WriteFile(in, []byte(bitString(bits)), 0o600); err != nil {
		tb.Fatal(err)
	}
	o.ask(tb, "tx %d %g %s %s", rate, level, in, out)
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

// demodulate has spandsp's v27ter_rx receive samples; trained says whether
// it reported a successful training.
func (o *spandsp) demodulate(tb testing.TB, rate Rate, samples []int16) (bits []uint8, trained bool) {
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
	o.ask(tb, "rx %d %s %s", rate, in, out)
	evs, err := os.ReadFile(out)
	if err != nil {
		tb.Fatal(err)
	}
	for _, c := range evs {
		switch c {
		case '0', '1':
			bits = append(bits, c-'0')
		case 'T':
			trained = true
		}
	}
	return bits, trained
}

func bitString(bits []uint8) string {
	var sb strings.Builder
	for _, b := range bits {
		sb.WriteByte('0' + b)
	}
	return sb.String()
}

// Our transmitter into spandsp's receiver: it trains and gets the bits.
func TestTxIntoSpandsp(t *testing.T) {
	o := startSpandsp(t)
	for _, rate := range []Rate{Rate4800, Rate2400} {
		t.Run(fmt.Sprint(int(rate)), func(t *testing.T) {
			r := rand.New(rand.NewPCG(uint64(rate), 1))
			sent := randomBits(r, 4000)
			line := modulate(t, rate, sent, DefaultTxLevel, false)
			got, trained := o.demodulate(t, rate, pad16(line, 800, 800))
			if !trained {
				t.Fatal("spandsp did not train")
			}
			errs, n := bitErrors(sent, got)
			if errs != 0 {
				t.Fatalf("%d errors in %d bits", errs, n)
			}
		})
	}
}

// spandsp's transmitter into our receiver.
func TestSpandspIntoRx(t *testing.T) {
	o := startSpandsp(t)
	for _, rate := range []Rate{Rate4800, Rate2400} {
		t.Run(fmt.Sprint(int(rate)), func(t *testing.T) {
			r := rand.New(rand.NewPCG(uint64(rate), 5))
			sent := randomBits(r, 4000)
			line := o.modulate(t, rate, sent, DefaultTxLevel)
			got, kinds := demodulate(t, rate, pad16(line, 800, 800))
			errs, n := bitErrors(sent, got)
			if errs != 0 || fmt.Sprint(kinds) != "[carrier-up trained carrier-down]" {
				t.Fatalf("%v, %d errors in %d bits", kinds, errs, n)
			}
		})
	}
}

// BenchmarkBER puts the same noisy signal (our transmitter, white noise
// over the 4 kHz band while the signal lasts, silence around it) into our
// receiver and spandsp's and reports both bit error rates; a failed
// training counts as all bits wrong.
func BenchmarkBER(b *testing.B) {
	o := startSpandsp(b)
	for _, rate := range []Rate{Rate4800, Rate2400} {
		for _, snr := range []float64{6, 8, 10, 12, 14} {
			b.Run(fmt.Sprintf("%d/snr=%gdB", rate, snr), func(b *testing.B) {
				var ours, theirs, n int
				for i := range b.N {
					r := rand.New(rand.NewPCG(uint64(i), uint64(snr*100)+uint64(rate)))
					sent := randomBits(r, 20000)
					sig := dsptest.ToFloat(modulate(b, rate, sent, DefaultTxLevel, false))
					line := dsptest.ToInt16(dsptest.Pad(dsptest.AWGN(sig, snr, meanSquare(DefaultTxLevel), r), 800, 800))
					got, _ := demodulate(b, rate, line)
					e, m := bitErrors(sent, got)
					ours += e
					got, _ = o.demodulate(b, rate, line)
					e, _ = bitErrors(sent, got)
					theirs += e
					n += m
				}
				b.ReportMetric(float64(ours)/float64(n), "ber-ours")
				b.ReportMetric(float64(theirs)/float64(n), "ber-spandsp")
			})
		}
	}
}

// BenchmarkRx is the receiver's cost per second of 4800 bit/s signal.
func BenchmarkRx(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	line := modulate(b, Rate4800, randomBits(r, 4800), DefaultTxLevel, false)
	line = line[:SampleRate]
	b.ResetTimer()
	for range b.N {
		rx, _ := NewRx(RxConfig{Rate: Rate4800})
		rx.Process(line, nil)
	}
}
