package rtpaudio

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"flag"
	"fmt"
	"github.com/faxd/faxd/t38/audio/audiotest"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/faxd/faxd/t38/audio"
	"github.com/faxd/faxd/t38/bilevel"
	"github.com/faxd/faxd/t38/g711"
	"github.com/faxd/faxd/t38/t30"
	"github.com/faxd/faxd/t38/t4/t4test"
	"github.com/faxd/faxd/t38/tiff"
	"github.com/pion/rtp"
)

// spandspPeer is spandsp's audio fax terminal, built once per test binary.
func spandspPeer(tb testing.TB) string { return audiotest.SpandspFax(tb) }

// spandspTerm is the Go adapter that puts spandsp's terminal behind Run:
// each Process writes the block received to the peer and reads the block
// it sends. It is never Done; its call ends with its context.
type spandspTerm struct {
	in  io.Writer
	out *bufio.Reader
	raw []byte
	err error
	// rec, when FAXD_RTP_DUMP_DIR is set, keeps every block spandsp
	// received (see dumpDir).
	rec []int16
}

func (s *spandspTerm) Process(in, out []int16) {
	if dumpDir != "" {
		s.rec = append(s.rec, in...)
	}
	clear(out)
	if s.err != nil {
		return
	}
	s.raw = s.raw[:0]
	for _, v := range in {
		s.raw = binary.LittleEndian.AppendUint16(s.raw, uint16(v))
	}
	if _, err := s.in.Write(s.raw); err != nil {
		s.err = err
		return
	}
	if _, err := io.ReadFull(s.out, s.raw); err != nil {
		s.err = err
		return
	}
	for i := range out {
		out[i] = int16(binary.LittleEndian.Uint16(s.raw[2*i:]))
	}
}

func (s *spandspTerm) Done() bool { return false }

// ourTerm collects the pages our terminal decodes as it runs.
type ourTerm struct {
	*audio.Terminal
	got []*t30.ReceivedPage
	// rec, when FAXD_RTP_DUMP_DIR is set, keeps every block our terminal
	// received, written out when the call fails so that it can be fed to
	// a fresh terminal again (the terminal is deterministic).
	rec []int16
}

func (o *ourTerm) Process(in, out []int16) {
	if dumpDir != "" {
		o.rec = append(o.rec, in...)
	}
	o.Terminal.Process(in, out)
	for _, ev := range o.Terminal.Events() {
		if ev.Kind == t30.OutPageReceived {
			o.got = append(o.got, ev.Received)
		}
	}
}

// relay is the path between the two endpoints, one socket facing each:
// every G.711 packet is decoded, attenuated, given white noise and coded
// again, then forwarded after a random delay (so packets also overtake
// each other). Nothing is lost.
type relay struct {
	a, b      *net.UDPConn // facing endpoint A and B
	peerA     *net.UDPAddr // where A listens
	peerB     *net.UDPAddr
	gain      float64
	noise     float64 // rms
	maxJitter time.Duration
	wg        sync.WaitGroup
}

// newRelay: attenuation in dB, SNR in dB against a -13 dBm0 signal after
// the attenuation (as t38/audio's line model); seed picks the noise and
// the delays.
func newRelay(t testing.TB, attDB, snr float64, jitter time.Duration, peerA, peerB *net.UDPAddr, seed uint64) *relay {
	ca, cb := udpPair(t)
	r := &relay{a: ca, b: cb, peerA: peerA, peerB: peerB, gain: math.Pow(10, -attDB/20), maxJitter: jitter}
	sig := 32767 * math.Pow(10, (-13-3.14)/20) / math.Sqrt2 * r.gain
	r.noise = sig * math.Pow(10, -snr/20)
	r.wg.Add(2)
	go r.forward(ca, cb, peerB, seed)
	go r.forward(cb, ca, peerA, seed+1)
	return r
}

func (r *relay) forward(from, to *net.UDPConn, dst *net.UDPAddr, seed uint64) {
	defer r.wg.Done()
	rng := rand.New(rand.NewPCG(seed, 11))
	buf := make([]byte, 1500)
	var pkt rtp.Packet
	var pcm []int16
	for {
		n, err := from.Read(buf)
		if err != nil {
			return // closed at the end of the test
		}
		if err := pkt.Unmarshal(buf[:n]); err != nil {
			continue
		}
		law := g711.ULaw
		if pkt.PayloadType == 8 {
			law = g711.ALaw
		}
		pcm = law.Decode(pcm[:0], pkt.Payload)
		for i, s := range pcm {
			y := float64(s)*r.gain + rng.NormFloat64()*r.noise
			pcm[i] = int16(max(-32768, min(32767, math.Round(y))))
		}
		pkt.Payload = law.Encode(nil, pcm)
		out, err := pkt.Marshal()
		if err != nil {
			continue
		}
		time.AfterFunc(time.Duration(rng.Int64N(int64(r.maxJitter)+1)), func() { _, _ = to.WriteToUDP(out, dst) })
	}
}

func testPages(n, rows int) []*bilevel.Image {
	var pages []*bilevel.Image
	for i := range n {
		full := t4test.Page([]t4test.Kind{t4test.Text, t4test.LineArt}[i%2], 1728, bilevel.YDPIStandard, uint64(i+1))
		m := bilevel.New(full.Width, rows)
		m.YDPI = full.YDPI
		copy(m.Pix, full.Pix[:rows*full.Stride])
		pages = append(pages, m)
	}
	return pages
}

// testDelay is the jitter delay of the end-to-end calls: these run in
// real time on a shared, often heavily loaded machine, where a process
// may be kept off the CPU for longer than the 60 ms default; the buffer
// must hide that as it hides network jitter.
const testDelay = 300 * time.Millisecond

// TestSpandspRTP sends two pages between our audio terminal and spandsp's
// audio fax terminal over RTP on loopback, through a relay adding up to
// 20 ms of random jitter, 6 dB of attenuation and noise 30 dB below the
// signal: both directions, ECM on and off, at every rate: V.27 ter 2400
// and 4800, V.29 7200 and 9600, V.17 7200, 9600, 12000 and 14400. The
// rate is set by the modems our terminal has: sending, it picks it; receiving,
// spandsp's trainings above it fail and spandsp steps down to it. Both
// sides report success at the rate and ECM mode expected, and the pages
// received (decoded by our terminal, or written by spandsp to its TIFF and
// read back) are identical to those sent. The calls run at once, in real
// time (see TestMain).
func TestSpandspRTP(t *testing.T) {
	bin := spandspPeer(t)
	pages := testPages(2, 120)
	for _, c := range []struct {
		name, modems string // spandsp's modems
		ours         []audio.HighSpeed
		rate         int
	}{
		{"v27-2400", "v27", []audio.HighSpeed{audio.V27ter{Only2400: true}}, 2400},
		{"v27-4800", "v27", nil, 4800},
		{"v29-7200", "v27v29", []audio.HighSpeed{audio.V29{Only7200: true}, audio.V27ter{}}, 7200},
		{"v29-9600", "v27v29", nil, 9600},
		// A DIS cannot offer V.17 without V.29: spandsp tries V.29 9600
		// after V.17 9600, and our receiver needs V.29 to answer it FTT.
		{"v17-7200", "v27v29v17", []audio.HighSpeed{audio.V17{Max: 7200}, audio.V29{Only7200: true}, audio.V27ter{}}, 7200},
		{"v17-9600", "v27v29v17", []audio.HighSpeed{audio.V17{Max: 9600}}, 9600},
		{"v17-12000", "v27v29v17", []audio.HighSpeed{audio.V17{Max: 12000}}, 12000},
		{"v17-14400", "v27v29v17", nil, 14400},
	} {
		for _, toOurs := range []bool{false, true} {
			for _, ecm := range []bool{false, true} {
				name := fmt.Sprintf("%s-%s-ecm%v", map[bool]string{false: "ours-to-spandsp", true: "spandsp-to-ours"}[toOurs], c.name, ecm)
				t.Run(name, func(t *testing.T) {
					t.Parallel()
					call := rtpCall{bin: bin, pages: pages, modems: c.modems, ours: c.ours, rate: c.rate, toOurs: toOurs, ecm: ecm, seed: relaySeed()}
					// Calls disturbed by the host or by spandsp's race run
					// again (the race on a new line), at most three times;
					// a failure on an undisturbed path never does.
					for try := 0; ; try++ {
						call.try = try
						r, err := call.run(t)
						switch {
						case err == nil:
							return
						case try == 3:
							t.Fatal(err)
						case starved(r.ours, r.peer):
							// The path is loopback: late packets and
							// underruns mean this host kept a real-time loop
							// off the CPU for longer than the jitter delay,
							// which is not what the test is about.
							t.Logf("call failed on a host that starved the real-time loop (ours %+v, spandsp's %+v): %v; once more", r.ours, r.peer, err)
						case r.peerStuck:
							t.Logf("call failed on spandsp's race (its log shows a phase change still queued when T2 expired): %v; once more on another line", err)
							call.seed += 1 << 32
						case r.peerShortTrain:
							t.Logf("call failed on spandsp's short training of a later page (see relaySeed): %v; once more on another line", err)
							call.seed += 1 << 32
						default:
							t.Logf("spandsp's log, last lines:\n%s", r.peerLogTail)
							t.Fatal(err)
						}
					}
				})
			}
		}
	}
}

// TestMain lets every real-time call of TestSpandspRTP run at once (the
// calls wait on the clock, not the CPU) unless -test.parallel is given.
func TestMain(m *testing.M) {
	flag.Parse()
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == "test.parallel" })
	if !set {
		_ = flag.Set("test.parallel", "32")
	}
	os.Exit(m.Run())
}

// relaySeed is the line (noise and delays) a call starts on: the same for
// every call unless FAXD_RELAY_SEED sets another.
//
// On some lines spandsp's receiver fails in one way (FAXD_SPANDSP_LOG=1
// shows it): a noise peak right after the end of the sender's MPS, EOP or
// PPS makes its V.21 detector report a carrier up after its receiver has
// been switched off to send MCF, so no carrier down ever follows, its
// change to the page phase waits until T2 expires and the sender's repeats
// go unheard. Between two spandsp terminals on this relay it happened in
// 1 call of 32; with ours sending, in 4 of 24 (V.17 14400, with and
// without ECM). Why our signal sets it off more often is not known yet:
// a smoother end of our V.21 bursts did not change it. Such a call is run
// again on another line.
//
// A second failure of spandsp's is run again on another line too: with
// ours sending at V.17 12000 (in at least 5 of 384 calls here, all at
// 12000), its V.17 receiver fails the short training of page 2
// ("Training failed" in its page state after the MCF; its training error,
// logged by its V.17 receiver, near 3000 where others are 1-5) and never
// finds that page. Replaying the audio spandsp received (see dumpDir)
// shows that only the noise over the first 10 ms of that page's signal
// decides it: those 80 samples taken from a passing call make it pass,
// and the failing ones put into a passing call make it fail; page 1, the
// noise after it, the MPS and where page 2 falls do not matter. Over 800
// noise draws on that onset it failed our short training 3.8 % of the
// time (14400: 3.7 % of 300) and its own transmitter's 0.6 %; our signal
// with its carrier inverted 88 %, turned by ±45° 11-21 %, faded in over
// 16 samples 3 %. spandsp's short training waits for the alternation's
// phase reversal by comparing each symbol's angle with the one expected
// for its place in the alternation, so which symbol it counts first (set
// by when the onset crosses its level detector) likely decides; why our
// onset lands worse than its own is not known. The relay's noise is a
// fixed sequence for a seed, so which rate suffers is a matter of where
// each page starts in it: with seed 1, at 12000.
func relaySeed() uint64 {
	var s uint64 = 1
	fmt.Sscan(os.Getenv("FAXD_RELAY_SEED"), &s)
	return s
}

// starved says whether the host kept a real-time loop off the CPU: our
// side's playout ran dry or dropped late packets, or spandsp's dropped late
// ones. spandsp's underruns do not count: its side runs 3 s longer than
// ours, with nobody sending.
func starved(st, pst Stats) bool {
	return st.Late+pst.Late > 0 || st.UnderrunSamples > 0
}

// dumpDir (FAXD_RTP_DUMP_DIR), when set, is where a failed call leaves
// what it takes to study it without the clock: the audio our terminal
// received (<call>-try<n>.s16, signed 16-bit little-endian at 8 kHz) and
// the audio spandsp received (.peer.s16), spandsp's log (.log) and the
// debug log of our side (.ours.log), made by feeding our audio to a fresh
// terminal, which runs the very same call (the terminal is deterministic).
// spandsp is deterministic too: its peer program fed .peer.s16 in blocks
// of FrameSamples (reading its output as it goes) logs the same call
// again, and the audio can be edited to see what makes it fail.
var dumpDir = os.Getenv("FAXD_RTP_DUMP_DIR")

// dump writes what a failed call leaves for study; cfg is our terminal's,
// rec and peerRec what it and spandsp received.
func dump(t *testing.T, try int, cfg audio.Config, rec, peerRec []int16, plog string) {
	base := filepath.Join(dumpDir, fmt.Sprintf("%s-try%d", strings.ReplaceAll(t.Name(), "/", "_"), try))
	for name, a := range map[string][]int16{".s16": rec, ".peer.s16": peerRec} {
		raw := make([]byte, 2*len(a))
		for i, s := range a {
			binary.LittleEndian.PutUint16(raw[2*i:], uint16(s))
		}
		if err := os.WriteFile(base+name, raw, 0o600); err != nil {
			t.Error(err)
		}
	}
	if err := os.WriteFile(base+".log", []byte(plog), 0o600); err != nil {
		t.Error(err)
	}
	var ours bytes.Buffer
	cfg.Log = slog.New(slog.NewTextHandler(&ours, &slog.HandlerOptions{Level: slog.LevelDebug}))
	cfg.T30.Log = cfg.Log
	term, err := audio.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]int16, FrameSamples)
	for i := 0; i+FrameSamples <= len(rec); i += FrameSamples {
		term.Process(rec[i:i+FrameSamples], out)
	}
	fmt.Fprintf(&ours, "replay ended: %v\n", term.Result())
	if err := os.WriteFile(base+".ours.log", ours.Bytes(), 0o600); err != nil {
		t.Error(err)
	}
	t.Logf("the audio both sides received, spandsp's log and ours dumped to %s.*", base)
}

// rtpCall is one call of TestSpandspRTP.
type rtpCall struct {
	bin    string
	pages  []*bilevel.Image
	modems string            // spandsp's
	ours   []audio.HighSpeed // nil: every modem
	rate   int               // expected
	toOurs bool              // spandsp sends
	ecm    bool
	seed   uint64 // the relay's
	try    int    // names the dump
}

// rtpResult is what a call leaves to judge a failure by.
type rtpResult struct {
	ours, peer Stats
	// peerStuck: spandsp's log shows its race (a phase change still
	// queued when T2 expired; see relaySeed).
	peerStuck bool
	// peerShortTrain: spandsp's receiver failed the short training of a
	// page after the first, without ECM (see relaySeed).
	peerShortTrain bool
	// peerLogTail is the end of spandsp's log, shown when a call fails.
	peerLogTail string
}

// run makes the call; it returns an error for a call that did not deliver
// what it should and fails t for a broken harness.
func (c rtpCall) run(t *testing.T) (res rtpResult, err error) {
	pages, toOurs, ecm, rate := c.pages, c.toOurs, c.ecm, c.rate
	dir := t.TempDir()
	sendTIFF, recvTIFF := filepath.Join(dir, "send.tif"), filepath.Join(dir, "recv.tif")
	cfg := t30.Config{Calling: !toOurs, Ident: "+1 555 0100", ECM: ecm}
	send := "-"
	if toOurs {
		cfg.Decoder = t30.T4Decoder{}
		var buf bytes.Buffer
		if err := tiff.EncodeFax(&buf, pages, tiff.FaxOptions{}); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(sendTIFF, buf.Bytes(), 0o600); err != nil {
			t.Fatal(err)
		}
		send = sendTIFF
	} else {
		cfg.Transmit, cfg.Pages = true, t30.ImagePages(pages)
	}
	acfg := audio.Config{T30: cfg, HighSpeed: c.ours}
	if os.Getenv("FAXD_SPANDSP_LOG") != "" {
		// Our side's log beside spandsp's.
		acfg.Log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
		acfg.T30.Log = acfg.Log
	}
	term, err := audio.New(acfg)
	if err != nil {
		t.Fatal(err)
	}
	ours := &ourTerm{Terminal: term}

	b2i := map[bool]string{false: "0", true: "1"}
	// spandsp's log is always kept: it tells its race from our failures.
	args := []string{b2i[toOurs], send, recvTIFF, b2i[ecm], c.modems, fmt.Sprint(FrameSamples), "log"}
	cmd := exec.Command(c.bin, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	peer := &spandspTerm{in: stdin, out: bufio.NewReader(stdout)}

	ourConn, peerConn := udpPair(t)
	rl := newRelay(t, 6, 30, 20*time.Millisecond, ourConn.LocalAddr().(*net.UDPAddr), peerConn.LocalAddr().(*net.UDPAddr), c.seed)
	rcfg := Config{JitterDelay: testDelay}

	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	peerCtx, peerStop := context.WithCancel(ctx)
	defer peerStop()
	peerDone := make(chan Stats, 1)
	go func() {
		st, _ := Run(peerCtx, peerConn, rl.b.LocalAddr().(*net.UDPAddr), peer, rcfg)
		peerDone <- st
	}()
	var st, pst Stats
	st, runErr := Run(ctx, ourConn, rl.a.LocalAddr().(*net.UDPAddr), ours, rcfg)
	// spandsp ends its call a little after ours (it hears our last frame
	// and the line go quiet): give it 3 s of line, then end its side.
	select {
	case <-time.After(3 * time.Second):
	case <-ctx.Done():
	}
	peerStop()
	pst = <-peerDone
	stdin.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("spandsp peer: %v\n%s", err, stderr.String())
	}
	if peer.err != nil {
		t.Fatalf("talking to spandsp: %v\n%s", peer.err, stderr.String())
	}
	t.Logf("our RTP stats %+v; spandsp side %+v", st, pst)
	if os.Getenv("FAXD_SPANDSP_LOG") != "" {
		t.Logf("spandsp log:\n%s", stderr.String())
	}
	plog := stderr.String()
	defer func() {
		if err != nil && dumpDir != "" {
			dump(t, c.try, acfg, ours.rec, peer.rec, plog)
		}
	}()
	res = rtpResult{ours: st, peer: pst, peerStuck: strings.Contains(plog, "T2 expired") && strings.Contains(plog, "Flushing queued phase"),
		peerLogTail: plog[max(0, len(plog)-4000):]}
	// State 10 is spandsp's non-ECM page reception; a training that
	// failed there after one that succeeded is a later page's.
	if i := strings.Index(plog, "Non-ECM signal status is Training succeeded (-4) in state 10"); i >= 0 {
		res.peerShortTrain = strings.Contains(plog[i:], "Non-ECM signal status is Training failed (-5) in state 10")
	}
	if runErr != nil {
		return res, fmt.Errorf("our side: %v (engine in %s)", runErr, term.Engine().State())
	}
	if r := term.Result(); r == nil || !r.OK() {
		return res, fmt.Errorf("our result %v", r)
	}
	lines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
	var code, npages, prate, pecm int
	var us int64
	if _, err := fmt.Sscanf(lines[len(lines)-1], "result %d pages %d rate %d ecm %d cpu_us %d", &code, &npages, &prate, &pecm, &us); err != nil {
		t.Fatalf("spandsp peer said %q: %v", lines[len(lines)-1], err)
	}
	// Phase E code 0 is T30_ERR_OK.
	if code != 0 || npages != len(pages) || prate != rate || (pecm != 0) != ecm {
		return res, fmt.Errorf("spandsp: result %d, %d pages at %d, ECM %d; want OK, %d pages at %d, ECM %v", code, npages, prate, pecm, len(pages), rate, ecm)
	}
	var recv []*bilevel.Image
	if toOurs {
		for _, p := range ours.got {
			recv = append(recv, p.Image)
		}
	} else {
		b, err := os.ReadFile(recvTIFF)
		if err != nil {
			t.Fatal(err)
		}
		ps, err := tiff.Decode(b)
		if err != nil {
			t.Fatalf("spandsp's TIFF: %v", err)
		}
		for _, p := range ps {
			recv = append(recv, p.Bilevel)
		}
	}
	if len(recv) != len(pages) {
		return res, fmt.Errorf("%d pages arrived, %d sent", len(recv), len(pages))
	}
	for i := range pages {
		if recv[i] == nil || !recv[i].Equal(pages[i]) {
			return res, fmt.Errorf("page %d differs", i+1)
		}
	}
	// The relay loses nothing: every packet either side sent while the
	// other listened was received. (Late ones are possible: a loaded
	// machine can hold a process off the CPU for longer than the delay.)
	if st.Received == 0 || st.Lost != 0 || pst.Lost != 0 {
		t.Errorf("packets lost on a lossless path: ours %+v, spandsp's %+v", st, pst)
	}
	return res, nil
}
