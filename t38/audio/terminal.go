// Package audio is a fax terminal over plain audio (G.711 after decoding):
// it drives the T.30 engine (t38/t30) with soft modems — V.21 for the
// control channel, CNG/CED tones, and high-speed image modems behind the
// small HighSpeed interface. Like the engine it has no goroutines, no I/O
// and no clock: the caller feeds blocks of received 8 kHz linear samples
// and takes the same number of samples to send; time is the sample count.
package audio

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"time"

	"github.com/faxd/faxd/t38/modem/hdlc"
	"github.com/faxd/faxd/t38/modem/tone"
	"github.com/faxd/faxd/t38/modem/v21"
	"github.com/faxd/faxd/t38/t30"
)

// SampleRate is the terminal's only sample rate.
const SampleRate = 8000

// Timing T.30 asks of a terminal on the line.
const (
	// Gap is the silence between two signals we send (T.30: 75 ms ± 20).
	Gap = 75 * time.Millisecond
	// CEDDelay is the silence before CED after answering (T.30: at least
	// 0.2 s).
	CEDDelay = 200 * time.Millisecond
	// maxWait bounds how long a signal waits for the far end to fall
	// silent: a line whose noise keeps the detector up must not stop us.
	maxWait = 3 * time.Second
	// DefaultLevel is the transmit level of every signal, in dBm0.
	DefaultLevel = -13.0
)

// Config sets up a terminal.
type Config struct {
	// T30 is the engine's configuration; its Modems field (0: all) is
	// narrowed to the families the high-speed modems below provide, so
	// that the engine never negotiates a modem the terminal does not have.
	T30 t30.Config
	// HighSpeed are the image modems; nil: V.17, V.29 and V.27 ter at
	// every rate T.30 uses.
	HighSpeed []HighSpeed
	// Level is the transmit level in dBm0 (-60..0); 0: DefaultLevel.
	Level float64
	// CarrierOn and CarrierOff are the receive levels (dBm0) at which the
	// tone detector and the V.21 receiver see a signal start and end;
	// 0: -43 and -48. A line whose noise lies between them never looks
	// silent, so a noisy line needs them raised (and the same on the
	// high-speed adapter, e.g. V27ter.CarrierOn/Off).
	CarrierOn, CarrierOff float64
	// Log gets errors; at debug level also every receiver event (tone
	// detector, V.21, high-speed modem) with the sample its block began.
	Log *slog.Logger
}

// Stats counts what the terminal heard.
type Stats struct {
	CNGHeard, CEDHeard bool
	Trainings          int // high-speed trainings recognised
	TrainingsFailed    int // high-speed signals whose training failed (or that no modem here could take)
	V21                hdlc.Stats
	HighSpeedHDLC      hdlc.Stats // ECM frames
}

// ErrConfig reports an unusable Config.
var ErrConfig = errors.New("audio: bad config")

// Terminal is one audio fax call.
type Terminal struct {
	cfg   Config
	eng   *t30.Engine
	level float64
	log   *slog.Logger
	debug bool // log receiver events (cfg.Log at debug level)
	mods  map[t30.Modem]HighSpeed
	n     int64 // samples processed

	// transmit side
	queue  []t30.Output
	cur    signal          // the signal going out, nil between signals
	hold   int             // samples of silence before the next signal
	cng    *tone.Generator // CNG cadence kept up while the caller waits
	waited int             // samples the next signal has waited for silence
	events []t30.Output

	// receive side
	det    *tone.Detector
	detEvs []tone.Event
	v21    *v21.FrameRx
	v21Evs []v21.FrameEvent
	v21Up  bool // a V.21 preamble or frame was reported to the engine
	// v21Rest: V.21 was not fed during a tone; it restarts after it.
	v21Rest bool
	// v21DownAt is the sample at which the V.21 carrier dropped, while
	// the drop is held back (v21Bridge); -1: none pending.
	v21DownAt int64
	v21Final  bool // the burst's final frame has come
	v21Flags  bool // V.21 flags were heard since the last final frame
	hsModem   t30.Modem
	hsECM     bool
	tcfNext   bool    // DCS came: the next high-speed signal is TCF
	hsRaw     bool    // the current high-speed signal is octets (TCF, non-ECM page), not HDLC
	hs        ModemRx // nil until DCS names a modem we have
	hsEvs     []RxEvent
	hsUp      bool // the engine knows the high-speed carrier is up
	hsRest    bool // a trained high-speed signal ended and we have not sent since
	hsFailed  bool // a training failed; the engine hears of it when the signal ends
	v21Heard  bool // V.21 was heard since the high-speed carrier came: a failed training was V.21
	hdlc      hdlc.Decoder
	acc, nb   uint8 // non-ECM bits being packed MSB-first
	rxBuf     []byte
	noModem   bool  // DCS named a modem we do not have: judge by energy
	foreign   bool  // energy seen since that DCS's burst ended
	v21End    int64 // sample at which the last V.21 burst ended; -1: silence heard since
	finalAt   int64 // sample at which the last final V.21 frame came; -1: silence heard since
	silent    bool  // the tone detector hears nothing on the line
	stats     Stats
}

// signal is one thing being sent: fill writes samples, returns how many
// and whether the signal has ended.
type signal interface {
	fill(dst []int16) (int, bool)
}

// New makes a terminal; the call starts at once (CNG or CED first).
func New(cfg Config) (*Terminal, error) {
	if cfg.HighSpeed == nil {
		cfg.HighSpeed = []HighSpeed{V17{}, V29{}, V27ter{}}
	}
	level := cfg.Level
	if level == 0 {
		level = DefaultLevel
	}
	if math.IsNaN(level) || level < -60 || level > 0 {
		return nil, fmt.Errorf("%w: level %g dBm0 outside -60..0", ErrConfig, cfg.Level)
	}
	t := &Terminal{cfg: cfg, level: level, log: cfg.Log, mods: map[t30.Modem]HighSpeed{}}
	if t.log == nil {
		t.log = slog.New(slog.DiscardHandler)
	}
	t.debug = t.log.Enabled(context.Background(), slog.LevelDebug)
	var fam t30.ModemFamily
	for _, h := range cfg.HighSpeed {
		for _, m := range h.Modems() {
			if m.Family() == 0 {
				return nil, fmt.Errorf("%w: %v is not an image modem", ErrConfig, m)
			}
			if _, dup := t.mods[m]; !dup {
				t.mods[m] = h
			}
			fam |= m.Family()
		}
	}
	if fam == 0 {
		return nil, fmt.Errorf("%w: no high-speed modem", ErrConfig)
	}
	if cfg.T30.Modems != 0 {
		// The caller may narrow the choice, never widen it.
		fam &= cfg.T30.Modems
		if fam == 0 {
			return nil, fmt.Errorf("%w: T30.Modems names no family the high-speed modems have", ErrConfig)
		}
	}
	cfg.T30.Modems = fam
	cfg.T30.T38 = false
	// Send only at rates an adapter has (V.17 up to 9600, V.27 ter at 2400
	// only, ...), within what the caller allows.
	usable := cfg.T30.Usable
	cfg.T30.Usable = func(m t30.Modem) bool {
		_, ok := t.mods[m]
		return ok && (usable == nil || usable(m))
	}
	eng, err := t30.New(cfg.T30)
	if err != nil {
		return nil, fmt.Errorf("audio: %w", err)
	}
	t.eng = eng
	if t.det, err = tone.NewDetector(tone.DetectorConfig{OnLevel: cfg.CarrierOn, OffLevel: cfg.CarrierOff}); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	if t.v21, err = v21.NewFrameRx(v21.RxConfig{OnLevel: cfg.CarrierOn, OffLevel: cfg.CarrierOff}); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	t.silent, t.v21End, t.finalAt, t.v21DownAt = true, -1, -1, -1
	if !cfg.T30.Calling {
		t.hold = samplesOf(CEDDelay)
	}
	eng.Start(0)
	t.pump()
	return t, nil
}

func samplesOf(d time.Duration) int { return int(d * SampleRate / time.Second) }

// Now is the call time: the samples processed so far.
func (t *Terminal) Now() time.Duration { return time.Duration(t.n) * time.Second / SampleRate }

// Engine exposes the T.30 engine (state for logs and tests).
func (t *Terminal) Engine() *t30.Engine { return t.eng }

// Done reports whether the call is over and everything has been sent.
func (t *Terminal) Done() bool { return t.eng.Done() && t.cur == nil && len(t.queue) == 0 }

// Result is the engine's result once done.
func (t *Terminal) Result() *t30.Result { return t.eng.Result() }

// Events returns and clears the engine's events (phases, pages, result).
func (t *Terminal) Events() []t30.Output {
	e := t.events
	t.events = nil
	return e
}

// Stats returns what the terminal heard so far.
func (t *Terminal) Stats() Stats {
	s := t.stats
	s.V21 = t.v21.Stats()
	s.HighSpeedHDLC = t.hdlc.Stats()
	return s
}

// Hangup tells the terminal the call has gone.
func (t *Terminal) Hangup() {
	t.eng.Tick(t.Now())
	t.eng.Hangup()
	t.queue, t.cur, t.cng = nil, nil, nil
	t.pump()
}

// Process takes one block of received samples and fills out, of the same
// length, with the samples to send. Blocks of 10-40 ms suit the engine's
// timers; any length works.
func (t *Terminal) Process(in, out []int16) {
	t.eng.Tick(t.Now())
	t.receive(in)
	t.n += int64(len(in))
	t.eng.Tick(t.Now())
	t.pump()
	t.transmit(out)
}

// pump collects engine outputs: transmit outputs join the queue, the rest
// become events.
func (t *Terminal) pump() {
	for _, o := range t.eng.Outputs() {
		if o.Transmit() {
			t.queue = append(t.queue, o)
		} else {
			t.events = append(t.events, o)
		}
	}
}

func (t *Terminal) transmit(out []int16) {
	for i := 0; i < len(out); {
		switch {
		case t.cur != nil:
			k, done := t.cur.fill(out[i:])
			i += k
			if done {
				t.endSignal()
			}
		case t.hold > 0:
			k := min(t.hold, len(out)-i)
			clear(out[i : i+k])
			i += k
			t.hold -= k
		case len(t.queue) > 0 && !t.silent && t.waited < samplesOf(maxWait):
			// Half duplex: the far end is still sending (the tail of its
			// frames after the one the engine answers, say). Speak 75 ms
			// after it stops, not over it.
			k := len(out) - i
			clear(out[i:])
			i += k
			t.waited += k
		case len(t.queue) > 0 && t.cng != nil:
			// Anything else we send ends the calling tone, a gap first.
			t.cng = nil
			t.hold = samplesOf(Gap)
		case len(t.queue) > 0:
			t.waited = 0
			o := t.queue[0]
			t.queue = t.queue[1:]
			t.cur = t.begin(o)
		case t.cng != nil:
			i += t.cng.Generate(out[i:])
		default:
			clear(out[i:])
			i = len(out)
		}
	}
}

// endSignal closes the signal that just left: the engine hears TxDone and
// the next signal waits for the gap.
func (t *Terminal) endSignal() {
	c, _ := t.cur.(*toneSignal)
	t.cur = nil
	t.hold = samplesOf(Gap)
	if c != nil && c.cng {
		// CNG repeats (0.5 s on, 3 s off) until the far end answers; the
		// engine only needs to know that the first burst has gone. Its
		// cadence goes on without a gap.
		t.cng, t.hold = c.g, 0
	}
	t.eng.TxDone()
	t.pump()
}

// begin turns one engine transmit output into a signal.
func (t *Terminal) begin(o t30.Output) signal {
	t.hsRest = false // what we send may be answered with a high-speed signal
	s, err := t.newSignal(o)
	if err != nil {
		// Only a modem the engine was not offered or a frame HDLC refuses
		// gets here: send nothing, so the far end times out and the
		// engine's own timers decide.
		t.log.Error("audio: cannot send", "kind", o.Kind, "modem", o.Modem, "err", err)
		return silence(0)
	}
	return s
}

func (t *Terminal) newSignal(o t30.Output) (signal, error) {
	switch o.Kind {
	case t30.OutTone:
		if o.Tone == t30.ToneCNG {
			g, err := tone.NewCNG(t.level)
			if err != nil {
				return nil, err
			}
			return &toneSignal{g: g, left: samplesOf(o.Duration), cng: true}, nil
		}
		g, err := tone.NewCED(t.level, max(tone.MinCED, min(tone.MaxCED, o.Duration)))
		if err != nil {
			return nil, err
		}
		return &toneSignal{g: g, left: -1}, nil
	case t30.OutFrames:
		f, err := v21.NewFrameTx(t.level)
		if err != nil {
			return nil, err
		}
		if err := f.Send(o.Frames); err != nil {
			return nil, err
		}
		return v21Signal{f}, nil
	case t30.OutTCF, t30.OutImage, t30.OutECM:
		h, ok := t.mods[o.Modem]
		if !ok {
			return nil, fmt.Errorf("no modem %v", o.Modem)
		}
		tx, err := h.NewTx(o.Modem, t.level, o.LongTrain)
		if err != nil {
			return nil, err
		}
		var src BitSource
		switch o.Kind {
		case t30.OutTCF:
			src = &zeros{n: int(int64(o.Duration) * int64(o.Modem.BitRate()) / int64(time.Second))}
		case t30.OutImage:
			src = &msbFirst{data: o.Data}
		default:
			enc := &hdlc.Encoder{}
			// 200 ms of flags after the training let the receiver's HDLC
			// find its octets before the first frame.
			enc.Flags(o.Modem.BitRate() / (8 * 5))
			for i, fr := range o.Frames {
				if err := enc.Frame(fr); err != nil {
					return nil, fmt.Errorf("ECM frame %d: %w", i, err)
				}
			}
			src = enc
		}
		return &hsSignal{tx: tx, src: src}, nil
	}
	return nil, fmt.Errorf("output kind %d", o.Kind)
}

type silence int

func (silence) fill([]int16) (int, bool) { return 0, true }

type toneSignal struct {
	g    *tone.Generator
	left int // samples still to send; -1: until the generator ends
	cng  bool
}

func (s *toneSignal) fill(dst []int16) (int, bool) {
	if s.left < 0 {
		n := s.g.Generate(dst)
		return n, n < len(dst)
	}
	n := s.g.Generate(dst[:min(len(dst), s.left)])
	s.left -= n
	return n, s.left == 0
}

type v21Signal struct{ f *v21.FrameTx }

func (s v21Signal) fill(dst []int16) (int, bool) {
	n := s.f.Modulate(dst)
	return n, n < len(dst)
}

type hsSignal struct {
	tx  ModemTx
	src BitSource
}

func (s *hsSignal) fill(dst []int16) (int, bool) {
	n := s.tx.Modulate(dst, s.src)
	return n, n < len(dst)
}

type zeros struct{ n int }

func (z *zeros) NextBit() (uint8, bool) {
	if z.n <= 0 {
		return 0, false
	}
	z.n--
	return 0, true
}

// msbFirst sends the engine's page data, each octet's most significant bit
// first, as T.4 data goes on the line in coding order.
type msbFirst struct {
	data []byte
	i    int
	bit  uint
}

func (m *msbFirst) NextBit() (uint8, bool) {
	if m.i >= len(m.data) {
		return 0, false
	}
	b := m.data[m.i] >> (7 - m.bit) & 1
	if m.bit++; m.bit == 8 {
		m.bit, m.i = 0, m.i+1
	}
	return b, true
}
