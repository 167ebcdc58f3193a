package audio

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/faxd/faxd/t38/bilevel"
	"github.com/faxd/faxd/t38/modem/v21"
	"github.com/faxd/faxd/t38/t30"
)

// The loss experiment: whole calls over the test line with a share of the
// 20 ms packets lost each way, for four pairs of terminals on the same
// seeds (spandsp to spandsp, ours to spandsp, spandsp to ours, ours to
// ours), counting the calls that complete: both sides report success and
// every page arrives identical (a page accepted with ECM errors is a
// failure).

// lossPoints are the packet-loss shares measured, in percent.
var lossPoints = []float64{0, 0.1, 0.2, 0.5, 1, 2}

// lossPairs name the four pairs, sender first.
var lossPairs = []string{"spandsp-spandsp", "ours-spandsp", "spandsp-ours", "ours-ours"}

// lossPages is what every loss call sends: two short pages, so that a call
// lasts about 20 s of audio at V.17 14400.
func lossPages() []*bilevel.Image { return testPages(2, 120) }

// party is one end of a loss call.
type party interface {
	process(in, out []int16)
	done() bool
	// finish ends the party and says whether its side of the call
	// succeeded with want pages (identical ones, for a receiver).
	finish(tb testing.TB, want []*bilevel.Image) (bool, string)
}

// oursParty is our terminal.
type oursParty struct {
	t    *Terminal
	recv bool
	got  []*t30.ReceivedPage
}

func newOursParty(tb testing.TB, send bool, pages []*bilevel.Image) *oursParty {
	tb.Helper()
	cfg := t30.Config{Calling: send, Ident: "+1 555 0100", ECM: true}
	if send {
		cfg.Transmit, cfg.Pages = true, t30.ImagePages(pages)
	} else {
		cfg.Decoder = t30.T4Decoder{}
	}
	if os.Getenv("AUDIO_LOSS_TRACE") != "" {
		who := map[bool]string{false: "receiver", true: "sender"}[send]
		cfg.Trace = func(ev t30.TraceEvent) {
			tb.Logf("%s %8.3f %-6v %-5s %v %s %v", who, ev.At.Seconds(), ev.Kind, ev.Frame, ev.FCSOK, ev.Detail, ev.Modem)
		}
	}
	t, err := New(Config{T30: cfg})
	if err != nil {
		tb.Fatal(err)
	}
	return &oursParty{t: t, recv: !send}
}

func (o *oursParty) process(in, out []int16) {
	o.t.Process(in, out)
	for _, ev := range o.t.Events() {
		if ev.Kind == t30.OutPageReceived {
			o.got = append(o.got, ev.Received)
		}
	}
}

func (o *oursParty) done() bool { return o.t.Done() }

func (o *oursParty) finish(_ testing.TB, want []*bilevel.Image) (bool, string) {
	if r := o.t.Result(); r == nil || !r.OK() {
		return false, fmt.Sprintf("ours: %v (in %s)", r, o.t.Engine().State())
	}
	if !o.recv {
		return true, ""
	}
	if len(o.got) != len(want) {
		return false, fmt.Sprintf("ours received %d pages of %d", len(o.got), len(want))
	}
	for i, p := range o.got {
		if p.Stats.ECMErrors {
			return false, fmt.Sprintf("ours accepted page %d with ECM errors", i+1)
		}
		if p.Image == nil || !p.Image.Equal(want[i]) {
			return false, fmt.Sprintf("ours received page %d different", i+1)
		}
	}
	return true, ""
}

// spandspParty is spandsp's audio fax terminal in the test peer.
type spandspParty struct {
	cmd        *exec.Cmd
	stdin      io.WriteCloser
	stdout     io.Reader
	raw        []byte
	send       bool
	recvTIFF   string
	mu         sync.Mutex
	stderr     strings.Builder
	ended      bool // the peer printed phase_e
	stderrDone chan struct{}
	broken     error
}

func newSpandspParty(tb testing.TB, send bool, pages []*bilevel.Image) *spandspParty {
	tb.Helper()
	bin := spandspPeer(tb)
	dir := tb.TempDir()
	sendTIFF, recvTIFF := filepath.Join(dir, "send.tif"), filepath.Join(dir, "recv.tif")
	arg := "-"
	if send {
		writeTIFF(tb, sendTIFF, pages)
		arg = sendTIFF
	}
	b2i := map[bool]string{false: "0", true: "1"}
	p := &spandspParty{send: send, recvTIFF: recvTIFF, raw: make([]byte, 2*160), stderrDone: make(chan struct{})}
	p.cmd = exec.Command(bin, b2i[send], arg, recvTIFF, "1", "v27v29v17", "160")
	var err error
	if p.stdin, err = p.cmd.StdinPipe(); err != nil {
		tb.Fatal(err)
	}
	if p.stdout, err = p.cmd.StdoutPipe(); err != nil {
		tb.Fatal(err)
	}
	errPipe, err := p.cmd.StderrPipe()
	if err != nil {
		tb.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	go func() {
		defer close(p.stderrDone)
		sc := bufio.NewScanner(errPipe)
		for sc.Scan() {
			p.mu.Lock()
			p.stderr.WriteString(sc.Text() + "\n")
			if strings.HasPrefix(sc.Text(), "phase_e ") {
				p.ended = true
			}
			p.mu.Unlock()
		}
	}()
	return p
}

func (p *spandspParty) process(in, out []int16) {
	if p.broken != nil {
		clear(out)
		return
	}
	for i, s := range in {
		binary.LittleEndian.PutUint16(p.raw[2*i:], uint16(s))
	}
	if _, err := p.stdin.Write(p.raw[:2*len(in)]); err != nil {
		p.broken = fmt.Errorf("writing to spandsp: %w", err)
		return
	}
	if _, err := io.ReadFull(p.stdout, p.raw[:2*len(out)]); err != nil {
		p.broken = fmt.Errorf("reading from spandsp: %w", err)
		return
	}
	for i := range out {
		out[i] = int16(binary.LittleEndian.Uint16(p.raw[2*i:]))
	}
}

func (p *spandspParty) done() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.ended
}

func (p *spandspParty) finish(tb testing.TB, want []*bilevel.Image) (bool, string) {
	tb.Helper()
	p.stdin.Close()
	// Read stderr to its end before Wait closes the pipe.
	<-p.stderrDone
	werr := p.cmd.Wait()
	p.mu.Lock()
	out := p.stderr.String()
	p.mu.Unlock()
	if p.broken != nil || werr != nil {
		tb.Fatalf("spandsp peer: %v %v\n%s", p.broken, werr, out)
	}
	// fax_free may still call the phase E handler after the result line.
	var last string
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "result ") {
			last = l
		}
	}
	var r peerResult
	var us int64
	if _, err := fmt.Sscanf(last, "result %d pages %d rate %d ecm %d cpu_us %d", &r.code, &r.pages, &r.rate, &r.ecm, &us); err != nil {
		tb.Fatalf("spandsp peer said %q: %v", out, err)
	}
	// Phase E code 0 is T30_ERR_OK.
	if r.code != 0 || r.pages != len(want) {
		return false, fmt.Sprintf("spandsp: code %d, %d pages", r.code, r.pages)
	}
	if p.send {
		return true, ""
	}
	if _, err := os.Stat(p.recvTIFF); err != nil {
		return false, fmt.Sprintf("spandsp's TIFF: %v", err)
	}
	got := readTIFF(tb, p.recvTIFF)
	if len(got) != len(want) {
		return false, fmt.Sprintf("spandsp wrote %d pages of %d", len(got), len(want))
	}
	for i := range want {
		if got[i] == nil || !got[i].Equal(want[i]) {
			return false, fmt.Sprintf("spandsp received page %d different", i+1)
		}
	}
	return true, ""
}

// lossCall runs one call of a pair (e.g. "ours-spandsp": ours sends) with
// loss percent of the 20 ms packets lost each way, on the lines of seed,
// and says whether it completed (and if not, why).
func lossCall(tb testing.TB, pairName string, loss float64, seed uint64) (bool, string) {
	tb.Helper()
	pages := lossPages()
	sender, receiver, _ := strings.Cut(pairName, "-")
	mk := func(who string, send bool) party {
		if who == "ours" {
			return newOursParty(tb, send, pages)
		}
		return newSpandspParty(tb, send, pages)
	}
	a, b := mk(sender, true), mk(receiver, false)
	ab, ba := newLine(6, 40, 30, 0, 2*seed+101), newLine(6, 40, 30, 0, 2*seed+102)
	ab.loss, ba.loss = loss/100, loss/100
	const block = 160
	aIn, aOut := make([]int16, block), make([]int16, block)
	bIn, bOut := make([]int16, block), make([]int16, block)
	// Both ends keep running 2 s after both are done, so that the last
	// DCN is heard; 5 min of audio bounds a call that went wrong.
	const tail, limit = 2 * SampleRate, 5 * 60 * SampleRate
	doneAt := -1
	for n := 0; n < limit; n += block {
		a.process(aIn, aOut)
		b.process(bIn, bOut)
		ab.pass(aOut, bIn)
		ba.pass(bOut, aIn)
		if doneAt < 0 && a.done() && b.done() {
			doneAt = n
		}
		if doneAt >= 0 && n > doneAt+tail {
			break
		}
	}
	if os.Getenv("AUDIO_LOSS_TRACE") != "" {
		tb.Logf("lost blocks sender to receiver %v, back %v", ab.lost, ba.lost)
	}
	okA, whyA := a.finish(tb, pages)
	okB, whyB := b.finish(tb, pages)
	if doneAt < 0 {
		return false, "still running after 5 min of audio; " + whyA + " " + whyB
	}
	return okA && okB, strings.TrimSpace(whyA + " " + whyB)
}

// lossTable runs seeds calls per pair and loss point, two at a time, and
// returns the completed calls: table[pair][point].
func lossTable(tb testing.TB, pairs []string, seeds int, logFail bool) [][]int {
	tb.Helper()
	table := make([][]int, len(pairs))
	for i := range table {
		table[i] = make([]int, len(lossPoints))
	}
	type job struct{ p, l, seed int }
	jobs := make(chan job)
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				ok, why := lossCall(tb, pairs[j.p], lossPoints[j.l], uint64(j.seed))
				mu.Lock()
				if ok {
					table[j.p][j.l]++
				} else if logFail {
					tb.Logf("%s at %.1f%% seed %d failed: %s", pairs[j.p], lossPoints[j.l], j.seed, why)
				}
				mu.Unlock()
			}
		}()
	}
	for l := range lossPoints {
		for seed := range seeds {
			for p := range pairs {
				jobs <- job{p, l, seed}
			}
		}
	}
	close(jobs)
	wg.Wait()
	return table
}

// formatLossTable is the table as Markdown, one row per loss point.
func formatLossTable(pairs []string, table [][]int, seeds int) string {
	var sb strings.Builder
	sb.WriteString("| packet loss |")
	for _, p := range pairs {
		sb.WriteString(" " + p + " |")
	}
	sb.WriteString("\n|---:|")
	for range pairs {
		sb.WriteString("---:|")
	}
	sb.WriteString("\n")
	for l, loss := range lossPoints {
		fmt.Fprintf(&sb, "| %.1f %% |", loss)
		for p := range pairs {
			fmt.Fprintf(&sb, " %d/%d |", table[p][l], seeds)
		}
		sb.WriteString("\n")
	}
	return sb.String()
}

// TestLossCompletion runs a few calls per loss point between two of our
// terminals and between two of spandsp's, on the same seeds, and requires
// ours to complete at least as many as spandsp's at every point.
func TestLossCompletion(t *testing.T) {
	if testing.Short() {
		t.Skip("whole calls at six loss points")
	}
	spandspPeer(t) // skips without spandsp
	pairs := []string{"spandsp-spandsp", "ours-ours"}
	const seeds = 3
	table := lossTable(t, pairs, seeds, true)
	t.Logf("completed calls of %d per point:\n%s", seeds, formatLossTable(pairs, table, seeds))
	for l, loss := range lossPoints {
		if table[1][l] < table[0][l] {
			t.Errorf("at %.1f%% loss ours-ours completed %d calls, spandsp-spandsp %d", loss, table[1][l], table[0][l])
		}
	}
	if table[1][0] != seeds {
		t.Errorf("without loss ours-ours completed %d of %d calls", table[1][0], seeds)
	}
}

// BenchmarkLossCompletion measures the completion table for all four pairs
// with 20 seeds per point and reports each pair's completion rate (per
// cent) at each point.
func BenchmarkLossCompletion(b *testing.B) {
	spandspPeer(b)
	const seeds = 20
	for range b.N {
		t0 := time.Now()
		table := lossTable(b, lossPairs, seeds, false)
		b.Logf("completed calls of %d per point (%v):\n%s", seeds, time.Since(t0).Round(time.Second), formatLossTable(lossPairs, table, seeds))
		for p, name := range lossPairs {
			for l, loss := range lossPoints {
				b.ReportMetric(100*float64(table[p][l])/seeds, fmt.Sprintf("%%-%s@%.1f%%", name, loss))
			}
		}
	}
}

// TestV21Bridge: a 20 ms hole (a lost packet played as silence) in the
// middle of a V.21 burst drops the V.21 receiver's carrier; the terminal
// must not report that to the engine as the end of the burst, yet must
// report the real end once the burst is over.
func TestV21Bridge(t *testing.T) {
	fr := []byte{0xff, 0x03, 0x42, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}
	dcs := []byte{0xff, 0x13, 0x83, 0, 0x46, 0x80}
	for _, holeMs := range []int{500, 1200} { // in the preamble, in the first frame
		tx, err := v21.NewFrameTx(-13)
		if err != nil {
			t.Fatal(err)
		}
		if err := tx.Send([][]byte{fr, dcs}); err != nil {
			t.Fatal(err)
		}
		var sig []int16
		buf := make([]int16, 160)
		for {
			n := tx.Modulate(buf)
			sig = append(sig, buf[:n]...)
			if n < len(buf) {
				break
			}
		}
		burstEnd := len(sig)
		clear(sig[holeMs*8 : holeMs*8+160])
		sig = append(sig, make([]int16, SampleRate)...) // 1 s of silence after
		term, err := New(Config{T30: t30.Config{Decoder: t30.T4Decoder{}}})
		if err != nil {
			t.Fatal(err)
		}
		out := make([]int16, 160)
		upAt, drops := -1, 0
		for i := 0; i+160 <= len(sig); i += 160 {
			was := term.v21Up
			term.Process(sig[i:i+160], out)
			if term.v21Up && upAt < 0 {
				upAt = i
			}
			if was && !term.v21Up {
				drops++
				if i+160 <= burstEnd { // a block wholly inside the burst
					t.Errorf("hole at %d ms: the engine heard the V.21 carrier drop at sample %d, inside the burst (ends %d)", holeMs, i, burstEnd)
				}
			}
		}
		if upAt < 0 || upAt > holeMs*8 {
			t.Errorf("hole at %d ms: V.21 carrier reported at sample %d, want before the hole", holeMs, upAt)
		}
		if drops != 1 || term.v21Up {
			t.Errorf("hole at %d ms: %d drops reported, carrier still up %v; want the burst's end once", holeMs, drops, term.v21Up)
		}
	}
}
