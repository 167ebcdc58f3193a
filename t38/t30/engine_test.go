package t30

import (
	"bytes"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/faxd/faxd/t38/bilevel"
)

func newPair(t *testing.T, tx, rx Config, pages []*bilevel.Image) (*link, *rowCodec) {
	t.Helper()
	codec := &rowCodec{pages: pages}
	tx.Calling, tx.Transmit, tx.Pages = true, true, codec
	if tx.Ident == "" {
		tx.Ident = "+1 555 0100"
	}
	rx.Decoder = codec
	if rx.Ident == "" {
		rx.Ident = "+1 555 0199"
	}
	a, err := New(tx)
	if err != nil {
		t.Fatal(err)
	}
	b, err := New(rx)
	if err != nil {
		t.Fatal(err)
	}
	return &link{t: t, eng: [2]*Engine{a, b}}, codec
}

func checkPages(t *testing.T, l *link, want []*bilevel.Image) {
	t.Helper()
	if len(l.recv) != len(want) {
		t.Fatalf("received %d pages, want %d\n%s", len(l.recv), len(want), l.trace.String())
	}
	for i, rp := range l.recv {
		if rp.Image == nil || !rp.Image.Equal(want[i]) {
			t.Fatalf("page %d differs", i)
		}
	}
}

func TestEngineBackToBack(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, tc := range []struct {
		name   string
		tx, rx Config
		want   Coding
	}{
		{"non-ECM MR", Config{}, Config{Fine: true}, CodingMR},
		{"non-ECM MH only", Config{Codings: SupportMH}, Config{Fine: true}, CodingMH},
		{"ECM MMR", Config{ECM: true}, Config{ECM: true, Fine: true}, CodingMMR},
		{"ECM 64 MR", Config{ECM: true, ECM64: true, Codings: SupportMR | SupportMH}, Config{ECM: true, Fine: true}, CodingMR},
		{"V.29 only", Config{Modems: FamilyV29}, Config{Fine: true}, CodingMR},
		{"scan time 20ms", Config{}, Config{Fine: true, ScanTime: 20}, CodingMR},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pages := []*bilevel.Image{testPage(rng, 1728, 60, ResFine), testPage(rng, 1728, 30, ResFine), testPage(rng, 1728, 10, ResFine)}
			l, _ := newPair(t, tc.tx, tc.rx, pages)
			l.run(10 * time.Minute)
			for i, e := range l.eng {
				if r := e.Result(); !r.OK() {
					t.Fatalf("side %d: %v\n%s", i, r, l.trace.String())
				}
			}
			checkPages(t, l, pages)
			if len(l.sent) != 3 || l.sent[0].Coding != tc.want || l.eng[0].Result().NextPage != 3 {
				t.Fatalf("sent %+v", l.sent)
			}
			if got := l.eng[1].Result().RemoteIdent; got != "+1 555 0100" {
				t.Fatalf("TSI %q", got)
			}
			if got := l.eng[0].Result().RemoteIdent; got != "+1 555 0199" {
				t.Fatalf("CSI %q", got)
			}
		})
	}
}

func TestEngineResumeAndEOM(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	pages := []*bilevel.Image{testPage(rng, 1728, 20, ResFine), testPage(rng, 1728, 20, ResStandard),
		testPage(rng, 1728, 20, ResStandard), testPage(rng, 1728, 20, ResFine)}
	l, _ := newPair(t, Config{StartPage: 1}, Config{Fine: true}, pages)
	l.run(10 * time.Minute)
	if !l.eng[0].Result().OK() || !l.eng[1].Result().OK() {
		t.Fatalf("%v / %v\n%s", l.eng[0].Result(), l.eng[1].Result(), l.trace.String())
	}
	checkPages(t, l, pages[1:])
	if l.sent[0].Page != 1 || l.sent[2].Page != 3 || l.recv[0].Format.Resolution != ResStandard || l.recv[2].Format.Resolution != ResFine {
		t.Fatalf("pages %+v", l.sent)
	}
}

func TestEngineFTTStepDown(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	pages := []*bilevel.Image{testPage(rng, 1728, 20, ResFine)}
	l, _ := newPair(t, Config{}, Config{Fine: true}, pages)
	// Spoil the TCF at the two top speeds.
	l.mangle = func(from int, o *Output) bool {
		if o.Kind == OutTCF && o.Modem.BitRate() > 9600 {
			o.Duration = 300 * time.Millisecond
		}
		return true
	}
	l.run(10 * time.Minute)
	if !l.eng[0].Result().OK() || l.sent[0].Modem != V17_9600 {
		t.Fatalf("%v %+v\n%s", l.eng[0].Result(), l.sent, l.trace.String())
	}
}

// TestEngineUsableModems: a sender that can train only some modems of its
// families (V.17 up to 9600, no V.29 9600) starts at the best of those and
// steps down past the ones it lacks.
func TestEngineUsableModems(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	pages := []*bilevel.Image{testPage(rng, 1728, 20, ResFine)}
	lacks := map[Modem]bool{V17_14400: true, V17_12000: true, V29_9600: true}
	l, _ := newPair(t, Config{Usable: func(m Modem) bool { return !lacks[m] }}, Config{Fine: true}, pages)
	var trained []Modem
	l.mangle = func(from int, o *Output) bool {
		if o.Kind == OutTCF {
			trained = append(trained, o.Modem)
			if o.Modem == V17_9600 {
				o.Duration = 300 * time.Millisecond // spoilt: step down
			}
		}
		return true
	}
	l.run(10 * time.Minute)
	if !l.eng[0].Result().OK() {
		t.Fatalf("%v\n%s", l.eng[0].Result(), l.trace.String())
	}
	if want := []Modem{V17_9600, V17_7200}; !slices.Equal(trained, want) {
		t.Fatalf("trained %v, want %v", trained, want)
	}
}

func TestEngineCannotTrain(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	l, _ := newPair(t, Config{}, Config{Fine: true}, []*bilevel.Image{testPage(rng, 1728, 20, ResFine)})
	l.mangle = func(from int, o *Output) bool {
		if o.Kind == OutTCF {
			o.Duration = 300 * time.Millisecond
		}
		return true
	}
	l.run(10 * time.Minute)
	if r := l.eng[0].Result(); r.Reason != ReasonCannotTrain {
		t.Fatalf("sender %v", r)
	}
	if r := l.eng[1].Result(); r.Reason != ReasonDCNUnexpected {
		t.Fatalf("receiver %v", r)
	}
}

func TestEngineRTNRetry(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	pages := []*bilevel.Image{testPage(rng, 1728, 40, ResFine), testPage(rng, 1728, 40, ResFine)}
	l, _ := newPair(t, Config{}, Config{Fine: true}, pages)
	spoiled := 0
	l.mangle = func(from int, o *Output) bool {
		if o.Kind == OutImage && spoiled < 2 {
			spoiled++
			d := append([]byte(nil), o.Data...)
			for i := 10; i < len(d); i += 3 {
				d[i] ^= 0x10
			}
			o.Data = d
		}
		return true
	}
	l.run(10 * time.Minute)
	if !l.eng[0].Result().OK() || !l.eng[1].Result().OK() {
		t.Fatalf("%v / %v\n%s", l.eng[0].Result(), l.eng[1].Result(), l.trace.String())
	}
	checkPages(t, l, pages)
	if l.sent[0].Retransmissions != 2 || l.sent[0].Modem >= V17_14400 {
		t.Fatalf("stats %+v", l.sent[0])
	}
}

func TestEngineRTNExhausted(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	l, _ := newPair(t, Config{}, Config{Fine: true}, []*bilevel.Image{testPage(rng, 1728, 40, ResFine)})
	l.mangle = func(from int, o *Output) bool {
		if o.Kind == OutImage {
			o.Data = o.Data[:len(o.Data)/3]
		}
		return true
	}
	l.run(10 * time.Minute)
	if r := l.eng[0].Result(); r.Reason != ReasonRetriesExhausted || r.NextPage != 0 {
		t.Fatalf("sender %v", r)
	}
}

func TestEngineECMPPR(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	pages := []*bilevel.Image{testPage(rng, 1728, 120, ResFine), testPage(rng, 1728, 10, ResFine)}
	l, _ := newPair(t, Config{ECM: true, ECM64: true}, Config{ECM: true, Fine: true}, pages)
	drops := 0
	l.mangle = func(from int, o *Output) bool {
		if o.Kind == OutECM && drops < 3 {
			drops++
			var keep [][]byte
			for i, f := range o.Frames {
				if i%3 != 1 {
					keep = append(keep, f)
				}
			}
			o.Frames = keep
		}
		return true
	}
	l.run(10 * time.Minute)
	if !l.eng[0].Result().OK() || !l.eng[1].Result().OK() {
		t.Fatalf("%v / %v\n%s", l.eng[0].Result(), l.eng[1].Result(), l.trace.String())
	}
	checkPages(t, l, pages)
	if l.sent[0].PPRs != 3 || l.sent[0].Retransmissions == 0 {
		t.Fatalf("stats %+v", l.sent[0])
	}
}

func TestEngineECMCTC(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	pages := []*bilevel.Image{testPage(rng, 1728, 60, ResFine)}
	l, _ := newPair(t, Config{ECM: true}, Config{ECM: true, Fine: true}, pages)
	drops := 0
	l.mangle = func(from int, o *Output) bool {
		if o.Kind == OutECM && drops < 5 {
			drops++
			o.Frames = o.Frames[1:] // frame 0 never arrives
		}
		return true
	}
	l.run(10 * time.Minute)
	if !l.eng[0].Result().OK() {
		t.Fatalf("%v\n%s", l.eng[0].Result(), l.trace.String())
	}
	checkPages(t, l, pages)
	if l.sent[0].PPRs != 5 || l.sent[0].Modem != V17_12000 {
		t.Fatalf("stats %+v\n%s", l.sent[0], l.trace.String())
	}
}

func TestEngineTimeouts(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	page := []*bilevel.Image{testPage(rng, 1728, 10, ResFine)}

	// Far end never answers at all: T1 on both ends.
	l, _ := newPair(t, Config{}, Config{Fine: true}, page)
	l.mangle = func(int, *Output) bool { return false }
	l.run(10 * time.Minute)
	if r := l.eng[0].Result(); r.Reason != ReasonT1Expired {
		t.Fatalf("sender %v", r)
	}
	if r := l.eng[1].Result(); r.Reason != ReasonT1Expired {
		t.Fatalf("receiver %v", r)
	}

	// Receiver goes silent after training: sender repeats MPS/EOP, then gives up.
	l, _ = newPair(t, Config{}, Config{Fine: true}, page)
	l.deafFrom = 9 * time.Second
	l.run(10 * time.Minute)
	if r := l.eng[0].Result(); r.Reason != ReasonNoResponse {
		t.Fatalf("sender %v\n%s", r, l.trace.String())
	}
}

func TestEngineRemoteCannotReceive(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	page := []*bilevel.Image{testPage(rng, 1728, 10, ResFine)}
	codec := &rowCodec{pages: page}
	a, _ := New(Config{Calling: true, Transmit: true, Pages: codec})
	b, _ := New(Config{Transmit: true, Pages: codec}) // answering, but has only pages to send
	l := &link{t: t, eng: [2]*Engine{a, b}}
	l.run(10 * time.Minute)
	if r := a.Result(); r.Reason != ReasonRemoteCannotReceive {
		t.Fatalf("%v", r)
	}
}

func TestEngineIncompatible(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	l, _ := newPair(t, Config{}, Config{Fine: false}, []*bilevel.Image{testPage(rng, 1728, 10, ResFine)})
	l.run(10 * time.Minute)
	if r := l.eng[0].Result(); r.Reason != ReasonIncompatible {
		t.Fatalf("%v", r)
	}
	l, _ = newPair(t, Config{}, Config{Fine: true, MaxLength: LengthUpA4}, []*bilevel.Image{testPage(rng, 1728, 3000, ResFine)})
	l.run(10 * time.Minute)
	if r := l.eng[0].Result(); r.Reason != ReasonPageTooLong {
		t.Fatalf("%v", r)
	}
}

func TestEnginePolling(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 14))
	pages := []*bilevel.Image{testPage(rng, 1728, 10, ResFine)}
	codec := &rowCodec{pages: pages}
	a, _ := New(Config{Calling: true, Fine: true, Decoder: codec}) // calling receiver polls
	b, _ := New(Config{Transmit: true, Pages: codec})
	l := &link{t: t, eng: [2]*Engine{a, b}}
	l.run(10 * time.Minute)
	if !a.Result().OK() || !b.Result().OK() {
		t.Fatalf("%v / %v\n%s", a.Result(), b.Result(), l.trace.String())
	}
	checkPages(t, l, pages)
}

// TestEngineLogLevels: at debug level the engine logs every frame it sends
// and receives; above it, nothing per frame reaches the handler.
func TestEngineLogLevels(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, level := range []slog.Level{slog.LevelDebug, slog.LevelInfo} {
		var buf bytes.Buffer
		log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: level}))
		pages := []*bilevel.Image{testPage(rng, 1728, 20, ResFine)}
		l, _ := newPair(t, Config{Log: log}, Config{Fine: true, Log: log}, pages)
		l.run(10 * time.Minute)
		if r := l.eng[0].Result(); !r.OK() {
			t.Fatalf("%v: %v", level, r)
		}
		rx, tx := strings.Count(buf.String(), "msg=rx "), strings.Count(buf.String(), "msg=tx ")
		if level == slog.LevelDebug && (rx == 0 || tx == 0 || !strings.Contains(buf.String(), "frame=DCS")) {
			t.Errorf("debug: %d rx and %d tx records:\n%s", rx, tx, buf.String())
		}
		if level == slog.LevelInfo && buf.Len() != 0 {
			t.Errorf("info: logged %q", buf.String())
		}
	}
}

// TestEngineMalformedFIFIsBadFrame: a frame whose FCS was good but whose
// FIF cannot be right (T.38 can join pieces of two frames when the end of
// a transmission is lost) is treated like a frame with a bad FCS: the
// command is repeated (after CRP, or the far end's T4) and the call goes
// on, where it used to end with a protocol error.
func TestEngineMalformedFIFIsBadFrame(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 14))
	pages := []*bilevel.Image{testPage(rng, 1728, 30, ResFine)}
	for _, tc := range []struct {
		name  string
		ecm   bool
		side  int  // the side whose frame is damaged
		fcf   byte // which frame
		spoil func(f []byte) []byte
		crp   bool // the receiver answers CRP
	}{
		// DCS width code 3 is reserved: the error the issue reports.
		{"DCS width code 3", false, 0, FCFDCS, func(f []byte) []byte { f[5] |= 0x03; return f }, true},
		{"DCS too short", false, 0, FCFDCS, func(f []byte) []byte { return f[:4] }, true},
		{"DIS too short", false, 1, FCFDIS, func(f []byte) []byte { return f[:4] }, false},
		{"PPS too short", true, 0, FCFPPS, func(f []byte) []byte { return f[:5] }, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, _ := newPair(t, Config{ECM: tc.ecm}, Config{ECM: tc.ecm, Fine: true}, pages)
			spoiled, seen := 0, 0
			l.mangle = func(from int, o *Output) bool {
				if from != tc.side || (o.Kind != OutFrames) {
					return true
				}
				for i, f := range o.Frames {
					if normFCF(f[2]) != tc.fcf {
						continue
					}
					seen++
					if spoiled == 0 {
						spoiled++
						fs := append([][]byte(nil), o.Frames...)
						fs[i] = tc.spoil(append([]byte(nil), f...))
						o.Frames = fs
					}
				}
				return true
			}
			l.run(10 * time.Minute)
			if spoiled != 1 {
				t.Fatalf("no %s frame to spoil\n%s", FCFName(tc.fcf), l.trace.String())
			}
			for i, e := range l.eng {
				if r := e.Result(); !r.OK() {
					t.Fatalf("side %d: %v\n%s", i, r, l.trace.String())
				}
			}
			checkPages(t, l, pages)
			if seen < 2 {
				t.Fatalf("%s sent %d times: the damaged one was not repeated\n%s", FCFName(tc.fcf), seen, l.trace.String())
			}
			if crp := strings.Contains(l.trace.String(), "CRP"); crp != tc.crp {
				t.Fatalf("CRP sent: %v, want %v\n%s", crp, tc.crp, l.trace.String())
			}
		})
	}
}

// TestEngineT4Asymmetric: the answering end waits T4 + 15% before it
// repeats (DIS here), the calling end T4 (DCS here), so that two ends
// that collided once do not repeat in step and collide on every try.
func TestEngineT4Asymmetric(t *testing.T) {
	rng := rand.New(rand.NewPCG(15, 16))
	codec := &rowCodec{pages: []*bilevel.Image{testPage(rng, 1728, 10, ResFine)}}
	ans, err := New(Config{Decoder: codec, Fine: true})
	if err != nil {
		t.Fatal(err)
	}
	call, err := New(Config{Calling: true, Transmit: true, Pages: codec})
	if err != nil {
		t.Fatal(err)
	}
	sent := func(e *Engine, now time.Duration) []Output {
		e.Tick(now)
		outs := e.Outputs()
		for _, o := range outs {
			if o.Transmit() {
				e.TxDone()
			}
		}
		return outs
	}
	ans.Start(0)
	outs := sent(ans, 5*time.Second) // CED, CSI+DIS have left at 5 s
	var dis []byte
	for _, o := range outs {
		if o.Kind == OutFrames {
			dis = o.Frames[len(o.Frames)-1]
		}
	}
	if d, ok := ans.NextDeadline(); !ok || d != 5*time.Second+DefaultT4*115/100 {
		t.Fatalf("answerer repeats DIS at %v, want %v", d, 5*time.Second+DefaultT4*115/100)
	}
	call.Start(0)
	sent(call, 4*time.Second)
	call.RxCarrierUp(V21)
	call.RxFrame(dis, true)
	call.RxCarrierDown()
	sent(call, 9*time.Second) // TSI+DCS and TCF have left at 9 s
	if d, ok := call.NextDeadline(); !ok || d != 9*time.Second+DefaultT4 {
		t.Fatalf("caller repeats DCS at %v, want %v", d, 9*time.Second+DefaultT4)
	}
}

// TestEngineNoiseBeforeTCFNoCRP: a damaged "frame" the V.21 receiver makes
// of the start of a TCF (an audio line: the V.21 detector also hears the
// high-speed signal) arrives after a whole DCS. The receiver must answer
// the TCF with CFR alone: a CRP in front of it makes the sender repeat the
// DCS it already got right (and skip the CFR that follows in the burst).
func TestEngineNoiseBeforeTCFNoCRP(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	codec := &rowCodec{pages: []*bilevel.Image{testPage(rng, 1728, 30, ResStandard)}}
	tx, err := New(Config{Calling: true, Transmit: true, Pages: codec, Modems: FamilyV27ter})
	if err != nil {
		t.Fatal(err)
	}
	rx, err := New(Config{Decoder: codec})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Duration(0)
	// pass hands every control frame from sent to the other engine as a
	// V.21 burst, and returns from's TCF.
	pass := func(from, to *Engine) []Output {
		var rest []Output
		for _, o := range from.Outputs() {
			if !o.Transmit() {
				continue
			}
			from.TxDone()
			if o.Kind == OutTCF {
				rest = append(rest, o)
			}
			if o.Kind != OutFrames {
				continue
			}
			to.RxCarrierUp(V21)
			for _, f := range o.Frames {
				to.RxFrame(f, true)
			}
			to.RxCarrierDown()
		}
		now += 3 * time.Second
		from.Tick(now)
		to.Tick(now)
		return rest
	}
	rx.Start(0)
	tx.Start(0)
	pass(tx, rx) // CNG
	pass(rx, tx) // CED, DIS
	sig := pass(tx, rx)
	if len(sig) != 1 || sig[0].Kind != OutTCF {
		t.Fatalf("after DIS the sender sent %v, want DCS then TCF", sig)
	}
	// Noise decoded as a final frame with a bad FCS, then the TCF.
	rx.RxCarrierUp(V21)
	rx.RxFrame([]byte{0xff, 0x13, 0xe6}, false)
	rx.RxCarrierUp(sig[0].Modem)
	rx.RxData(make([]byte, sig[0].Modem.BitRate()/8*3/2))
	rx.RxCarrierDown()
	var got []string
	for _, o := range rx.Outputs() {
		for _, f := range o.Frames {
			got = append(got, FCFName(f[2]))
		}
	}
	if strings.Join(got, " ") != "CFR" {
		t.Fatalf("receiver answered the TCF with %v, want CFR alone", got)
	}
}
