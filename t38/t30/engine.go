package t30

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// Timers are the T.30 timers. Zero fields take the standard values.
type Timers struct {
	T1, T2, T3, T4, T5 time.Duration
}

// Standard timer values (T.30 clause 5; spandsp uses the same figures,
// slightly stretched for T2 and T4).
const (
	DefaultT1 = 35 * time.Second
	DefaultT2 = 6 * time.Second
	DefaultT3 = 10 * time.Second
	DefaultT4 = 3 * time.Second
	DefaultT5 = 60 * time.Second
)

// Durations of the fixed signals.
const (
	TCFDuration = 1500 * time.Millisecond
	CEDDuration = 3 * time.Second
	CNGDuration = 500 * time.Millisecond
)

// PageLength is the longest page a receiver accepts.
type PageLength uint8

const (
	LengthAny  PageLength = iota // unlimited
	LengthUpA4                   // A4 only
	LengthUpB4                   // up to B4
)

// Quality is the receiver's non-ECM copy-quality policy, in percent of
// bad rows: at or below GoodPercent the page gets MCF, at or below
// PoorPercent RTP (kept, but retrain), above that RTN (re-send).
type Quality struct {
	GoodPercent, PoorPercent int
}

// Config sets up one call.
type Config struct {
	Calling  bool // we placed the call (CNG) rather than answered it (CED)
	Transmit bool // we send pages; otherwise we receive them
	Ident    string
	NSF      []byte // optional non-standard facilities to send (with the T.35 country code)

	Modems ModemFamily // 0: all
	// Usable, when set, says which modems of Modems the sender can train
	// (an audio terminal may have V.17 only up to 9600, or V.27 ter only
	// at 2400): the rate chosen from DIS and every step down skip the
	// others. Nil: every modem of Modems.
	Usable    func(Modem) bool
	Codings   Codings // 0: all
	ECM       bool
	ECM64     bool // ask for 64-octet ECM frames
	Fine      bool // receiver: accept fine
	Superfine bool // receiver: accept superfine
	MaxWidth  int  // receiver: widest page in pels, 0: A3
	MaxLength PageLength
	ScanTime  int // receiver: minimum scan line time in ms (0, 5, 10, 20, 40)
	T38       bool

	Pages     PageSource // sender
	StartPage int        // sender: first page to send (page-level resume)
	Decoder   PageDecoder
	Quality   Quality // zero: 2% / 10%

	Timers   Timers
	MaxTries int // command repetitions before giving up; 0: 3
	// MaxBitRate caps the sender's first modem (2400..14400; 0: no cap):
	// a gateway profile's "at most 9600", or the step down a retry takes.
	MaxBitRate int
	// Log, when set, gets every frame in and out at debug level.
	Log *slog.Logger
	// Trace, when set, gets every control frame in and out (ECM data
	// frames excepted), each timeout and the end, as they happen: the
	// call trace an administrator reads.
	Trace  func(TraceEvent)
	MaxRTN int // re-sends of one page after RTN; 0: 3
}

// Engine is a T.30 state machine. It does no I/O and keeps no clock of its
// own: the driver feeds it received signals and the time (Tick), and drains
// Outputs. It is not safe for concurrent use.
type Engine struct {
	cfg Config
	now time.Duration
	out []Output

	st    state
	phase Phase
	x     bool // we received DIS: set the X bit

	// timers: response timer (T2/T4), T1 and T5, as absolute deadlines
	rt, t1, t5  time.Duration
	rtKind      timerKind
	pending     timerKind // armed when transmission finishes
	txPending   int
	tries       int
	lastCmd     []Output
	remoteCaps  Caps
	remoteIdent string
	remoteNSF   []byte
	params      Params
	haveParams  bool
	families    ModemFamily
	longTrain   bool
	result      *Result
	stats       []PageStats

	// sender
	page      int // index of the page being sent
	confirmed int
	postCmd   byte
	pageData  []byte
	pageFmt   PageFormat
	pageStat  PageStats
	pageStart time.Duration
	rtnCount  int
	block     int // ECM block within the page
	blocks    int
	pprCount  int
	lastPPR   PPRMap
	ecmPage   uint8 // PPS page counter in this call
	dcnReason Reason
	dcnDetail string

	// receiver
	rxBuf       []byte
	rxFrames    [256][]byte
	rxBlockN    int
	rxBlocks    [][]byte
	rxBadFrames bool
	rxPages     int
	lastResp    []Output
	lastRespFor byte // FCF of the command lastResp answered
	lastPPS     PPS
	lastPPSok   bool
	rxWasEOP    bool
	dataSeen    bool
	rxGaps      int
	rxCarrier   Modem
	// crpOwed: a damaged command arrived and CRP is to answer it, but not
	// at once: DCS is followed by TCF, and a CRP sent then goes out while
	// the far end sends TCF and is not listening (both ends' T4 then fire
	// together). CRP goes when a high-speed carrier that followed has
	// ended, or at crpAt if none started (spandsp's 200 ms "T4B").
	crpOwed bool
	crpAt   time.Duration
}

type state uint8

const (
	stIdle state = iota
	stTxWaitCaps
	stTxWaitCFR
	stTxPage
	stTxWaitPost
	stTxWaitPPS
	stTxWaitCTR
	stTxWaitERR
	stTxDCN
	stRxWaitDIS // caller polling: waiting for DIS before sending DTC
	stRxWaitDCS
	stRxWaitTCF
	stRxTCF
	stRxWaitPage
	stRxPage
	stRxWaitPost
	stRxWaitDCN
	stDone
)

var stateNames = [...]string{"idle", "tx-wait-caps", "tx-wait-cfr", "tx-page", "tx-wait-post", "tx-wait-pps",
	"tx-wait-ctr", "tx-wait-err", "tx-dcn", "rx-wait-dis", "rx-wait-dcs", "rx-wait-tcf", "rx-tcf",
	"rx-wait-page", "rx-page", "rx-wait-post", "rx-wait-dcn", "done"}

func (s state) String() string { return stateNames[s] }

type timerKind uint8

const (
	tmNone timerKind = iota
	tmT2
	tmT4
)

// ErrConfig reports an unusable Config.
var ErrConfig = errors.New("t30: bad config")

// New returns an engine for one call. Call Start to begin.
func New(cfg Config) (*Engine, error) {
	if cfg.Modems == 0 {
		cfg.Modems = AllModems
	}
	if cfg.Codings == 0 {
		cfg.Codings = AllCodings
	}
	if !cfg.ECM {
		cfg.Codings &^= SupportMMR
	}
	if cfg.Codings == 0 {
		return nil, fmt.Errorf("%w: MMR alone needs ECM", ErrConfig)
	}
	if cfg.MaxWidth == 0 {
		cfg.MaxWidth = widthPels[WidthA3]
	}
	if cfg.Quality == (Quality{}) {
		cfg.Quality = Quality{GoodPercent: 2, PoorPercent: 10}
	}
	t := &cfg.Timers
	for _, p := range []struct {
		d *time.Duration
		v time.Duration
	}{{&t.T1, DefaultT1}, {&t.T2, DefaultT2}, {&t.T3, DefaultT3}, {&t.T4, DefaultT4}, {&t.T5, DefaultT5}} {
		if *p.d == 0 {
			*p.d = p.v
		}
	}
	if cfg.MaxTries == 0 {
		cfg.MaxTries = 3
	}
	if cfg.MaxRTN == 0 {
		cfg.MaxRTN = 3
	}
	if cfg.Transmit {
		if cfg.Pages == nil {
			return nil, fmt.Errorf("%w: sender without pages", ErrConfig)
		}
		if cfg.StartPage < 0 || cfg.StartPage >= cfg.Pages.NumPages() {
			return nil, fmt.Errorf("%w: start page %d of %d", ErrConfig, cfg.StartPage, cfg.Pages.NumPages())
		}
	}
	return &Engine{cfg: cfg, page: cfg.StartPage}, nil
}

// Outputs returns and clears what the engine has produced since the last call.
func (e *Engine) Outputs() []Output {
	o := e.out
	e.out = nil
	return o
}

// Done reports whether the call is over; Result is then set.
func (e *Engine) Done() bool { return e.st == stDone }

// Result is the outcome, or nil while the call goes on.
func (e *Engine) Result() *Result { return e.result }

// State names the internal state, for logs and tests.
func (e *Engine) State() string { return e.st.String() }

// NextDeadline is the earliest time a Tick can change anything, so a
// driver can sleep until then; ok is false when no timer runs.
func (e *Engine) NextDeadline() (d time.Duration, ok bool) {
	for _, t := range []time.Duration{e.rt, e.t1, e.t5, e.crpAt} {
		if t != 0 && (!ok || t < d) {
			d, ok = t, true
		}
	}
	return d, ok
}

// Start begins the call at time now.
func (e *Engine) Start(now time.Duration) {
	if e.st != stIdle {
		return
	}
	e.now = now
	e.setPhase(PhaseB)
	e.t1 = now + e.cfg.Timers.T1
	switch {
	case e.cfg.Calling:
		e.emit(Output{Kind: OutTone, Tone: ToneCNG, Duration: CNGDuration})
		if e.cfg.Transmit {
			e.st = stTxWaitCaps
		} else {
			e.st = stRxWaitDIS
		}
	default:
		e.emit(Output{Kind: OutTone, Tone: ToneCED, Duration: CEDDuration})
		e.sendDIS()
	}
}

// Tick advances the engine's time and fires expired timers.
func (e *Engine) Tick(now time.Duration) {
	if now > e.now {
		e.now = now
	}
	if e.st == stDone || e.st == stIdle {
		return
	}
	if e.t5 != 0 && e.now >= e.t5 {
		e.t5 = 0
		e.fail(ReasonT5Expired, "receiver not ready beyond T5")
		return
	}
	if e.t1 != 0 && e.now >= e.t1 {
		e.t1 = 0
		e.fail(ReasonT1Expired, "no capabilities exchange within T1 in state "+e.st.String())
		return
	}
	if e.crpAt != 0 && e.now >= e.crpAt {
		e.sendOwedCRP()
	}
	if e.rt != 0 && e.now >= e.rt {
		e.rt = 0
		e.debug("timeout", "timer", e.rtKind)
		e.trace(TraceEvent{Kind: TraceTimeout, Detail: e.rtKind.String()})
		e.timeout(e.rtKind)
	}
}

// TxDone tells the engine that the oldest transmit output has left.
func (e *Engine) TxDone() {
	if e.txPending == 0 {
		return
	}
	e.txPending--
	if e.txPending > 0 {
		return
	}
	switch e.st {
	case stTxPage:
		if e.params.ECM {
			e.sendPPS()
		} else {
			e.sendPostPage()
		}
		return
	case stTxDCN:
		e.finish(e.dcnReason, e.dcnDetail)
		return
	}
	if e.pending != tmNone {
		e.arm(e.pending)
		e.pending = tmNone
	}
}

// Hangup tells the engine the call or transport is gone.
func (e *Engine) Hangup() {
	if e.st == stDone {
		return
	}
	if e.st == stRxWaitDCN {
		e.finish(ReasonOK, "")
		return
	}
	e.finish(ReasonCallDropped, "hangup in state "+e.st.String())
}

// Abort stops the call locally: DCN is sent and the result is Cancelled.
func (e *Engine) Abort() {
	if e.st == stDone || e.st == stIdle {
		return
	}
	e.disconnect(ReasonCancelled, "aborted")
}

// RxCarrierUp reports a received preamble or training: V21 for the
// control channel, or the high-speed modem found by its training.
func (e *Engine) RxCarrierUp(m Modem) {
	if e.st == stDone {
		return
	}
	e.rxCarrier = m
	if e.crpOwed {
		switch {
		case m == V21:
			// The far end sends again (its repeat): nothing to ask for.
			e.crpOwed, e.crpAt = false, 0
		case e.st == stRxWaitTCF:
			// The DCS came whole, so the damaged frame since was noise
			// (on audio, the V.21 receiver decoding the TCF's start): the
			// CFR or FTT answers the DCS, and a CRP before it would make
			// the sender repeat a DCS we have.
			e.crpOwed, e.crpAt = false, 0
		default:
			e.crpAt = 0 // wait for the end of the TCF
		}
	}
	if e.rt != 0 {
		// The far end is talking: T2/T4 measure its silence, so they
		// restart rather than fire half-way through its signal.
		e.arm(e.rtKind)
	}
	if m == V21 {
		if e.st == stRxPage {
			e.endOfData()
		}
		return
	}
	switch e.st {
	case stRxWaitTCF:
		e.st, e.rxBuf = stRxTCF, e.rxBuf[:0]
		e.arm(tmT2)
	case stRxWaitPage, stRxWaitPost:
		if e.haveParams && m != e.params.Modem {
			// A modem other than the one set by DCS/CTC: the data cannot be
			// ours. Take it anyway; losing it is worse than decoding it.
			e.params.Modem = m
		}
		e.st = stRxPage
		if !e.params.ECM {
			e.rxBuf, e.rxGaps = e.rxBuf[:0], 0
		}
		e.setPhase(PhaseC)
		e.pageStart = e.now
		e.arm(tmT2)
	}
}

// RxCarrierDown reports the end of a received signal (sig-end, no-signal,
// carrier loss).
func (e *Engine) RxCarrierDown() {
	if e.rt != 0 {
		e.arm(e.rtKind)
	}
	if e.crpOwed {
		if e.rxCarrier != V21 && e.rxCarrier != ModemNone {
			e.sendOwedCRP() // the far end listens now
		} else {
			e.crpAt = e.now + crpWait
		}
	}
	switch e.st {
	case stRxTCF:
		e.checkTCF()
	case stRxPage:
		e.endOfData()
	}
}

// RxData delivers received non-ECM high-speed data (TCF or page), MSB-first.
func (e *Engine) RxData(b []byte) {
	switch e.st {
	case stRxTCF, stRxPage:
		e.rxBuf = append(e.rxBuf, b...)
		e.arm(tmT2) // data flowing: the far end is alive
	case stRxWaitPage:
		// Data without a training report: treat as the start of the page.
		e.RxCarrierUp(e.params.Modem)
		e.rxBuf = append(e.rxBuf, b...)
	}
}

// RxDataGap reports that non-ECM data was lost in transit (a T.38
// sequence gap): the page may be missing rows that no decoder can notice,
// so it counts as damaged.
func (e *Engine) RxDataGap() {
	if e.st == stRxPage && !e.params.ECM {
		e.rxGaps++
	}
}

// RxFrame delivers a received HDLC frame (V.21 control or, in ECM, a
// high-speed frame) without FCS; fcsOK says whether its FCS was good.
func (e *Engine) RxFrame(b []byte, fcsOK bool) {
	if e.st == stDone || e.st == stIdle {
		return
	}
	f, err := ParseFrame(b)
	if err != nil {
		return
	}
	if f.FCF != FCFFCD && e.debugOn() {
		e.debug("rx", "frame", FCFName(f.FCF), "fif", fmt.Sprintf("% x", f.FIF), "fcs_ok", fcsOK)
	}
	if f.FCF != FCFFCD && f.FCF != FCFRCP && e.cfg.Trace != nil { // ECM data frames: one line per block, on the sending side
		e.trace(TraceEvent{Kind: TraceRx, Frame: FCFName(f.FCF), FIF: f.FIF, FCSOK: fcsOK})
	}
	if f.FCF == FCFFCD || f.FCF == FCFRCP {
		e.rxECMFrame(b, f, fcsOK)
		return
	}
	if fcsOK {
		if err := checkFIF(f); err != nil {
			// A good FCS over an impossible FIF is damage the FCS did not
			// catch (over T.38: pieces of two frames joined after a lost
			// end of transmission). Like a bad FCS it gets the command
			// repeated (CRP, or silence until the far end's T4), instead
			// of ending the call.
			e.debug("malformed frame taken as bad", "frame", FCFName(f.FCF), "err", err)
			fcsOK = false
		}
	}
	if e.txPending > 0 && f.FCF != FCFDCN {
		// Half duplex: a station does not hear while it talks. A frame that
		// crossed ours (a repeat sent before the far end heard us) would
		// otherwise be taken as the answer to what we are sending now.
		e.debug("ignored while transmitting", "frame", FCFName(f.FCF))
		return
	}
	if !fcsOK {
		// A damaged command: ask for it again rather than wait for T4.
		if f.Final && e.isRxState() && e.st != stRxWaitDIS && e.rxCarrier == V21 {
			e.crpOwed, e.crpAt = true, e.now+crpWait
		}
		return
	}
	e.crpOwed, e.crpAt = false, 0
	if e.st == stRxPage {
		e.endOfData()
	}
	if f.FCF == FCFCRP && len(e.lastCmd) > 0 && e.isTxState() {
		e.repeatCmd()
		return
	}
	switch f.FCF {
	case FCFNSF, FCFNSS, FCFNSC:
		e.remoteNSF = append([]byte(nil), f.FIF...)
		return
	case FCFCSI, FCFTSI, FCFCIG:
		e.remoteIdent = DecodeIdent(f.FIF)
		return
	}
	if e.isTxState() {
		e.txFrame(f)
	} else {
		e.rxFrame(f)
	}
}

// checkFIF parses the FIF of the frames whose FIF has a structure the
// engine relies on; an error wraps ErrBadFIF.
func checkFIF(f Frame) error {
	var err error
	switch f.FCF {
	case FCFDIS, FCFDTC:
		_, err = DecodeCaps(f.FIF)
	case FCFDCS:
		_, err = DecodeParams(f.FIF)
	case FCFPPS, FCFEOR:
		_, err = ParsePPS(f.FIF)
	case FCFPPR:
		_, err = ParsePPR(f.FIF)
	}
	return err
}

func (e *Engine) isTxState() bool { return e.st >= stTxWaitCaps && e.st <= stTxDCN }
func (e *Engine) isRxState() bool { return e.st >= stRxWaitDIS && e.st <= stRxWaitDCN }

// ---- plumbing ----

// debugOn reports whether debug logging is on. Callers that build
// attributes (hex dumps, per-frame names) check it first, so a disabled
// level costs nothing per frame.
func (e *Engine) debugOn() bool {
	return e.cfg.Log != nil && e.cfg.Log.Enabled(context.Background(), slog.LevelDebug)
}

func (e *Engine) debug(msg string, args ...any) {
	if e.debugOn() {
		e.cfg.Log.Debug(msg, append([]any{"t", e.now, "state", e.st.String()}, args...)...)
	}
}

func (e *Engine) emit(o Output) {
	if o.Transmit() {
		e.txPending++
	}
	if e.debugOn() {
		switch o.Kind {
		case OutFrames:
			for _, f := range o.Frames {
				e.debug("tx", "frame", FCFName(f[2]), "fif", fmt.Sprintf("% x", f[3:]))
			}
		case OutTCF, OutImage, OutECM:
			e.debug("tx", "signal", o.Kind, "modem", o.Modem.String(), "octets", len(o.Data), "frames", len(o.Frames))
		}
	}
	if e.cfg.Trace != nil {
		e.traceOutput(o)
	}
	e.out = append(e.out, o)
}

func (e *Engine) setPhase(p Phase) {
	if e.phase != p {
		e.phase = p
		e.out = append(e.out, Output{Kind: OutPhase, Phase: p})
	}
}

func (e *Engine) arm(k timerKind) {
	e.rtKind = k
	switch k {
	case tmT2:
		e.rt = e.now + e.cfg.Timers.T2
	case tmT4:
		e.rt = e.now + e.t4()
	default:
		e.rt = 0
	}
}

// crpWait is how long a CRP waits after the damaged command's carrier
// for a TCF that may follow.
const crpWait = 200 * time.Millisecond

// sendOwedCRP sends the CRP a damaged command is owed, unless the state
// moved on or we are talking.
func (e *Engine) sendOwedCRP() {
	owed := e.crpOwed
	e.crpOwed, e.crpAt = false, 0
	if owed && e.isRxState() && e.st != stRxWaitDIS && e.txPending == 0 {
		e.respond(0, buildFrame(FCFCRP, e.x, true, nil))
	}
}

// t4 is T4 for this end. The answering end waits 15% longer (3.45 s by
// default, T.30's upper tolerance, spandsp's figure): when both ends
// repeat on the same T4 after a collision (each one's command sent while
// the other talked) they hear each other's signals end at the same moment
// and collide again on every repetition until they give up; with
// different T4 the caller's repetition starts first and the answerer,
// hearing it, holds its own.
func (e *Engine) t4() time.Duration {
	if e.cfg.Calling {
		return e.cfg.Timers.T4
	}
	return e.cfg.Timers.T4 * 115 / 100
}

// awaitAfterTx arms timer k once everything queued has been sent.
func (e *Engine) awaitAfterTx(k timerKind) {
	e.rt = 0
	if e.txPending > 0 {
		e.pending = k
		return
	}
	e.arm(k)
}

// command sends a command burst, remembers it for repetition and waits
// T4 for the answer.
func (e *Engine) command(outs ...Output) {
	e.lastCmd = outs
	e.tries = 1
	for _, o := range outs {
		e.emit(o)
	}
	e.awaitAfterTx(tmT4)
}

func (e *Engine) repeatCmd() {
	if e.tries >= e.cfg.MaxTries {
		e.disconnect(ReasonNoResponse, fmt.Sprintf("no valid response after %d tries in state %s", e.tries, e.st))
		return
	}
	e.tries++
	for _, o := range e.lastCmd {
		e.emit(o)
	}
	e.awaitAfterTx(tmT4)
}

func frames(fs ...[]byte) Output { return Output{Kind: OutFrames, Modem: V21, Frames: fs} }

// respond sends a response and remembers it, so a repeated command gets
// the same answer again.
func (e *Engine) respond(cmd byte, fs ...[]byte) {
	o := frames(fs...)
	e.lastResp, e.lastRespFor = []Output{o}, cmd
	e.emit(o)
}

func (e *Engine) resendResp() {
	for _, o := range e.lastResp {
		e.emit(o)
	}
}

// disconnect sends DCN and then finishes with reason.
func (e *Engine) disconnect(r Reason, detail string) {
	e.rt, e.t1, e.t5 = 0, 0, 0
	e.crpOwed, e.crpAt = false, 0
	e.setPhase(PhaseE)
	e.st = stTxDCN
	e.dcnReason, e.dcnDetail = r, detail
	e.emit(frames(buildFrame(FCFDCN, e.x, true, nil)))
}

func (e *Engine) fail(r Reason, detail string) {
	switch r {
	case ReasonCallDropped:
		e.finish(r, detail)
	default:
		e.disconnect(r, detail)
	}
}

func (e *Engine) finish(r Reason, detail string) {
	if e.st == stDone {
		return
	}
	e.debug("done", "reason", r.String(), "detail", detail)
	e.trace(TraceEvent{Kind: TraceDone, Detail: r.String() + ": " + detail})
	e.setPhase(PhaseE)
	e.st = stDone
	e.rt, e.t1, e.t5 = 0, 0, 0
	e.crpOwed, e.crpAt = false, 0
	res := &Result{Reason: r, Detail: detail, RemoteIdent: e.remoteIdent, RemoteNSF: e.remoteNSF, Stats: e.stats}
	if e.cfg.Transmit {
		res.Pages, res.NextPage = e.confirmed, e.page
	} else {
		res.Pages = e.rxPages
	}
	e.result = res
	e.out = append(e.out, Output{Kind: OutDone, Result: res})
}

func (e *Engine) timeout(k timerKind) {
	switch e.st {
	case stTxWaitCaps:
		if !e.cfg.Calling {
			e.sendDIS() // answering transmitter: repeat DIS until T1
		}
	case stRxWaitDIS:
		// keep waiting for DIS until T1
	case stTxWaitCFR, stTxWaitPost, stTxWaitPPS, stTxWaitCTR, stTxWaitERR:
		e.repeatCmd()
	case stRxWaitDCS:
		if e.t1 != 0 {
			e.sendDIS() // no DCS yet: repeat DIS (or DTC) until T1
			return
		}
		e.fail(ReasonT2Expired, "no command after FTT/RTN/RTP")
	case stRxWaitDCN:
		e.finish(ReasonOK, "") // every page confirmed; the far end just never said goodbye
	case stRxTCF:
		e.checkTCF()
	case stRxPage:
		e.endOfData()
	default:
		e.fail(ReasonT2Expired, "timeout in state "+e.st.String())
	}
}

// ---- capabilities ----

func (e *Engine) ourCaps() Caps {
	c := Caps{
		T38: e.cfg.T38, CanReceive: !e.cfg.Transmit, ReadyToTransmit: e.cfg.Transmit && !e.cfg.Calling,
		Modems: e.cfg.Modems, Fine: e.cfg.Fine, Superfine: e.cfg.Superfine,
		MR: e.cfg.Codings.has(CodingMR), MMR: e.cfg.Codings.has(CodingMMR), ECM: e.cfg.ECM,
		ECM64Preferred: e.cfg.ECM64, ScanTimeMs: e.cfg.ScanTime,
		MaxLength: [...]int{LengthUnlimited, LengthA4, LengthB4}[e.cfg.MaxLength%3],
	}
	for i, p := range widthPels {
		if p <= e.cfg.MaxWidth {
			c.MaxWidth = i
		}
	}
	return c
}

// sendDIS sends our identification and capabilities: DIS when answering,
// DTC when a calling receiver polls.
func (e *Engine) sendDIS() {
	var fs [][]byte
	if len(e.cfg.NSF) > 0 {
		fs = append(fs, buildFrame(FCFNSF, e.x, false, e.cfg.NSF))
	}
	caps := e.ourCaps()
	if e.cfg.Calling { // polling: CIG + DTC
		if e.cfg.Ident != "" {
			fs = append(fs, buildFrame(FCFCIG, false, false, EncodeIdent(e.cfg.Ident)))
		}
		fs = append(fs, buildFrame(FCFDTC, false, true, caps.Encode()))
	} else {
		if e.cfg.Ident != "" {
			fs = append(fs, buildFrame(FCFCSI, false, false, EncodeIdent(e.cfg.Ident)))
		}
		fs = append(fs, buildFrame(FCFDIS, false, true, caps.Encode()))
	}
	e.emit(frames(fs...))
	if e.cfg.Transmit {
		e.st = stTxWaitCaps
	} else {
		e.st = stRxWaitDCS
	}
	e.awaitAfterTx(tmT4)
}

// ---- sender ----

func (e *Engine) txFrame(f Frame) {
	if f.FCF == FCFDCN {
		if e.st == stTxDCN {
			return
		}
		if e.st == stTxWaitCFR {
			e.finish(ReasonRemoteRejected, "DCN in answer to DCS")
			return
		}
		e.finish(ReasonDCNUnexpected, "DCN in state "+e.st.String())
		return
	}
	switch e.st {
	case stTxWaitCaps:
		switch {
		case f.FCF == FCFDIS && e.cfg.Calling, f.FCF == FCFDTC && !e.cfg.Calling:
			e.x = f.FCF == FCFDIS
			e.gotCaps(f.FIF)
		case f.FCF == FCFDCS:
			e.disconnect(ReasonIncompatible, "the far end wants to send too")
		}
	case stTxWaitCFR:
		switch f.FCF {
		case FCFCFR:
			e.startPage()
		case FCFFTT:
			next := e.stepDown(e.params.Modem)
			if next == ModemNone {
				e.disconnect(ReasonCannotTrain, "FTT at "+e.params.Modem.String())
				return
			}
			e.params.Modem = next
			e.sendDCS()
		case FCFDIS, FCFDTC:
			// Our DCS was not heard: the far end repeats its DIS.
			e.repeatCmd()
		}
	case stTxWaitPost:
		e.postPageResponse(f)
	case stTxWaitPPS:
		e.ppsResponse(f)
	case stTxWaitCTR, stTxWaitERR:
		if f.FCF == FCFMCF {
			// The answer to our last PPS, late: the block is complete.
			e.blockDone()
			return
		}
		if f.FCF == FCFCTR && e.st == stTxWaitCTR {
			e.longTrain = true
			e.pageStat.Modem, e.pageStat.BitRate = e.params.Modem, e.params.Modem.BitRate()
			e.sendBlock(&e.lastPPR)
		}
		if f.FCF == FCFERR && e.st == stTxWaitERR {
			e.pageStat.ECMErrors = true
			e.blockDone()
		}
	}
}

// gotCaps negotiates the session from the far end's DIS/DTC and sends DCS.
func (e *Engine) gotCaps(fif []byte) {
	caps, err := DecodeCaps(fif)
	if err != nil {
		e.disconnect(ReasonProtocolError, err.Error())
		return
	}
	e.remoteCaps = caps
	e.t1 = 0
	if !caps.CanReceive {
		e.disconnect(ReasonRemoteCannotReceive, "DIS bit 10 clear")
		return
	}
	e.families = e.cfg.Modems & caps.Modems
	start := ModemNone
	if e.haveParams {
		start = e.params.Modem // after EOM keep the speed reached
	}
	if start == ModemNone && e.cfg.MaxBitRate > 0 {
		start = topModem(e.cfg.MaxBitRate)
	}
	m := e.bestModem(start)
	if m == ModemNone && e.cfg.MaxBitRate == 0 {
		m = e.bestModem(ModemNone)
	}
	if m == ModemNone {
		e.disconnect(ReasonIncompatible, "no common modem")
		return
	}
	e.params = Params{T38: e.cfg.T38 && caps.T38, Receive: true, Modem: m, Length: LengthUnlimited,
		ECM: e.cfg.ECM && caps.ECM}
	e.params.ECM64 = e.params.ECM && (e.cfg.ECM64 || caps.ECM64Preferred)
	e.haveParams = true
	if !e.pageParams() {
		return
	}
	e.sendDCS()
}

// bestModem is the first usable modem of the common families at or below
// start (ModemNone: from the top).
func (e *Engine) bestModem(start Modem) Modem {
	m := bestModem(e.families, start)
	for m != ModemNone && !e.usable(m) {
		m = stepDown(e.families, m)
	}
	return m
}

// stepDown is the next usable modem below cur in the common families.
func (e *Engine) stepDown(cur Modem) Modem {
	m := stepDown(e.families, cur)
	for m != ModemNone && !e.usable(m) {
		m = stepDown(e.families, m)
	}
	return m
}

func (e *Engine) usable(m Modem) bool { return e.cfg.Usable == nil || e.cfg.Usable(m) }

// pageParams fits DCS to the current page; false when it cannot be sent.
func (e *Engine) pageParams() bool {
	info, err := e.cfg.Pages.PageInfo(e.page)
	if err != nil {
		e.disconnect(ReasonPageSource, err.Error())
		return false
	}
	caps, p := e.remoteCaps, &e.params
	wc, ok := WidthCode(info.Width)
	if !ok || wc > caps.MaxWidth {
		e.disconnect(ReasonIncompatible, fmt.Sprintf("page %d is %d pels wide", e.page, info.Width))
		return false
	}
	if (info.Resolution == ResFine && !caps.Fine) || (info.Resolution == ResSuperfine && !caps.Superfine) {
		e.disconnect(ReasonIncompatible, fmt.Sprintf("page %d is %s resolution", e.page, info.Resolution))
		return false
	}
	switch {
	case caps.MaxLength == LengthA4 && info.Rows > info.Resolution.linesA4(),
		caps.MaxLength == LengthB4 && info.Rows > info.Resolution.linesB4():
		e.disconnect(ReasonPageTooLong, fmt.Sprintf("page %d has %d rows", e.page, info.Rows))
		return false
	}
	p.Width, p.Resolution = wc, info.Resolution
	p.Length = caps.MaxLength
	switch {
	case p.ECM && caps.MMR && e.cfg.Codings.has(CodingMMR):
		p.Coding = CodingMMR
	case caps.MR && e.cfg.Codings.has(CodingMR):
		p.Coding = CodingMR
	case e.cfg.Codings.has(CodingMH):
		p.Coding = CodingMH
	default:
		e.disconnect(ReasonIncompatible, "no common coding")
		return false
	}
	p.ScanTimeMs = caps.ScanTimeMs
	if caps.ScanHalfAtFine && info.Resolution != ResStandard {
		p.ScanTimeMs /= 2
	}
	if p.ECM {
		p.ScanTimeMs = 0
	}
	e.pageStat = PageStats{Page: e.page, Width: info.Width, Rows: info.Rows, Resolution: info.Resolution}
	return true
}

func (e *Engine) sendDCS() {
	e.setPhase(PhaseB)
	var fs [][]byte
	if len(e.cfg.NSF) > 0 {
		fs = append(fs, buildFrame(FCFNSS, e.x, false, e.cfg.NSF))
	}
	if e.cfg.Ident != "" {
		fs = append(fs, buildFrame(FCFTSI, e.x, false, EncodeIdent(e.cfg.Ident)))
	}
	fs = append(fs, buildFrame(FCFDCS, e.x, true, e.params.Encode()))
	e.st = stTxWaitCFR
	e.command(frames(fs...), Output{Kind: OutTCF, Modem: e.params.Modem, LongTrain: true, Duration: TCFDuration})
}

func (e *Engine) pageFormat() PageFormat {
	p := e.params
	return PageFormat{Coding: p.Coding, Resolution: p.Resolution, Width: widthPels[p.Width],
		K: p.Resolution.kFactor(), ECM: p.ECM, MinRowBits: p.MinRowBits()}
}

// startPage encodes the current page (once per format) and sends it.
func (e *Engine) startPage() {
	f := e.pageFormat()
	if e.pageData == nil || f != e.pageFmt {
		data, err := e.cfg.Pages.Encode(e.page, f)
		if err != nil {
			e.disconnect(ReasonPageSource, fmt.Sprintf("page %d: %v", e.page, err))
			return
		}
		e.pageData, e.pageFmt = data, f
	}
	e.setPhase(PhaseC)
	e.pageStart = e.now
	p := e.params
	e.pageStat.Modem, e.pageStat.BitRate, e.pageStat.Coding, e.pageStat.ECM = p.Modem, p.Modem.BitRate(), p.Coding, p.ECM
	e.pageStat.Bytes = len(e.pageData)
	e.st = stTxPage
	e.rt = 0
	if !p.ECM {
		e.emit(Output{Kind: OutImage, Modem: p.Modem, Data: e.pageData})
		return
	}
	fs := p.FrameSize()
	nframes := (len(e.pageData) + fs - 1) / fs
	if nframes == 0 {
		nframes = 1
	}
	e.blocks = (nframes + 255) / 256
	e.block, e.pprCount = 0, 0
	e.sendBlock(nil)
}

// nextPostCmd is MPS, EOM (the next page needs new DCS) or EOP.
func (e *Engine) nextPostCmd() byte {
	if e.page+1 >= e.cfg.Pages.NumPages() {
		return FCFEOP
	}
	a, err1 := e.cfg.Pages.PageInfo(e.page)
	b, err2 := e.cfg.Pages.PageInfo(e.page + 1)
	if err1 != nil || err2 != nil || a.Width != b.Width || a.Resolution != b.Resolution {
		return FCFEOM
	}
	return FCFMPS
}

func (e *Engine) sendPostPage() {
	e.setPhase(PhaseD)
	e.postCmd = e.nextPostCmd()
	e.st = stTxWaitPost
	e.command(frames(buildFrame(e.postCmd, e.x, true, nil)))
}

func (e *Engine) postPageResponse(f Frame) {
	switch f.FCF {
	case FCFMCF, FCFPIP:
		e.pageConfirmed()
		e.afterPage(false)
	case FCFRTP:
		e.pageConfirmed()
		e.afterPage(true)
	case FCFRTN, FCFPIN:
		e.rtnCount++
		e.pageStat.Retransmissions++
		if e.rtnCount > e.cfg.MaxRTN {
			e.disconnect(ReasonRetriesExhausted, fmt.Sprintf("page %d rejected %d times", e.page, e.rtnCount))
			return
		}
		if next := e.stepDown(e.params.Modem); next != ModemNone {
			e.params.Modem = next
		}
		e.sendDCS() // after CFR the same page goes again
	}
}

// afterPage moves on once a page is confirmed; retrain asks for DCS+TCF
// before the next page (RTP).
func (e *Engine) afterPage(retrain bool) {
	switch e.postCmd {
	case FCFEOP:
		e.disconnect(ReasonOK, "")
	case FCFEOM:
		// Back to phase B: the far end sends DIS again.
		e.st = stTxWaitCaps
		e.setPhase(PhaseB)
		e.t1 = e.now + e.cfg.Timers.T1
		e.rt = 0
	default:
		if !e.pageParams() {
			return
		}
		if retrain {
			e.sendDCS()
			return
		}
		e.startPage()
	}
}

func (e *Engine) pageConfirmed() {
	st := e.pageStat
	st.Duration = e.now - e.pageStart
	e.stats = append(e.stats, st)
	e.out = append(e.out, Output{Kind: OutPageSent, Stats: &st})
	e.confirmed++
	e.page++
	e.ecmPage++
	e.rtnCount = 0
	e.pageData = nil
}

// ---- sender, ECM ----

func (e *Engine) sendBlock(resend *PPRMap) {
	fs := e.params.FrameSize()
	start := e.block * 256 * fs
	var out [][]byte
	n := e.blockFrames()
	for i := 0; i < n; i++ {
		if resend != nil && !resend.Has(i) {
			continue
		}
		chunk := make([]byte, fs) // the last frame is zero padded
		off := start + i*fs
		if off < len(e.pageData) {
			copy(chunk, e.pageData[off:min(off+fs, len(e.pageData))])
		}
		out = append(out, FCD(i, chunk))
	}
	out = append(out, RCP(), RCP(), RCP())
	e.st = stTxPage
	e.rt = 0
	e.emit(Output{Kind: OutECM, Modem: e.params.Modem, LongTrain: e.longTrain, Frames: out})
	e.longTrain = false
}

func (e *Engine) blockFrames() int {
	fs := e.params.FrameSize()
	nframes := max((len(e.pageData)+fs-1)/fs, 1)
	return min(nframes-e.block*256, 256)
}

func (e *Engine) pps() PPS {
	fcf2 := byte(FCF2Null)
	if e.block == e.blocks-1 {
		e.postCmd = e.nextPostCmd()
		fcf2 = e.postCmd
	}
	return PPS{FCF2: fcf2, Page: e.ecmPage, Block: uint8(e.block), Frames: e.blockFrames()}
}

func (e *Engine) sendPPS() {
	e.setPhase(PhaseD)
	e.st = stTxWaitPPS
	e.command(frames(buildFrame(FCFPPS, e.x, true, e.pps().fif(e.x))))
}

func (e *Engine) ppsResponse(f Frame) {
	switch f.FCF {
	case FCFMCF:
		e.t5 = 0
		e.blockDone()
	case FCFPPR:
		e.t5 = 0
		m, err := ParsePPR(f.FIF)
		if err != nil || m.Count() == 0 {
			e.blockDone() // nothing asked for: as good as MCF
			return
		}
		e.pprCount++
		e.lastPPR = m
		e.pageStat.PPRs++
		e.pageStat.Retransmissions += m.Count()
		e.pageStat.Modem, e.pageStat.BitRate = e.params.Modem, e.params.Modem.BitRate()
		if e.pprCount%4 != 0 {
			e.sendBlock(&m)
			return
		}
		// Four PPRs for one block: slow down (CTC) or give the block up (EOR).
		if next := e.stepDown(e.params.Modem); next != ModemNone && e.pprCount < 16 {
			e.params.Modem = next
			e.st = stTxWaitCTR
			fif := []byte{0, modemCode(next)}
			e.command(frames(buildFrame(FCFCTC, e.x, true, fif)))
			return
		}
		e.st = stTxWaitERR
		e.command(frames(buildFrame(FCFEOR, e.x, true, e.pps().fif(e.x))))
	case FCFRNR:
		if e.t5 == 0 {
			e.t5 = e.now + e.cfg.Timers.T5
		}
		e.command(frames(buildFrame(FCFRR, e.x, true, nil)))
	}
}

func (e *Engine) blockDone() {
	e.pprCount = 0
	if e.block+1 < e.blocks {
		e.block++
		e.sendBlock(nil)
		return
	}
	e.pageConfirmed()
	e.afterPage(false)
}

// ---- receiver ----

func (e *Engine) rxFrame(f Frame) {
	switch f.FCF {
	case FCFDCN:
		switch {
		case e.st == stRxWaitDCN || e.rxWasEOP:
			e.finish(ReasonOK, "")
		default:
			e.finish(ReasonDCNUnexpected, "DCN in state "+e.st.String())
		}
		return
	case FCFDIS:
		if e.st == stRxWaitDIS {
			e.x = true
			caps, err := DecodeCaps(f.FIF)
			if err != nil {
				e.disconnect(ReasonProtocolError, err.Error())
				return
			}
			if !caps.ReadyToTransmit {
				e.disconnect(ReasonRemoteCannotTransmit, "DIS bit 9 clear")
				return
			}
			e.sendDIS() // CIG + DTC
		}
		return
	case FCFDCS:
		e.gotDCS(f.FIF)
		return
	}
	switch e.st {
	case stRxWaitPage, stRxWaitPost, stRxWaitDCN, stRxWaitDCS:
	default:
		return
	}
	// Repeated command: our answer was lost.
	if len(e.lastResp) > 0 && f.FCF == e.lastRespFor && e.st != stRxWaitPost {
		if f.FCF != FCFPPS || e.samePPS(f.FIF) {
			e.resendResp()
			return
		}
	}
	switch f.FCF {
	case FCFMPS, FCFEOP, FCFEOM, FCFMPS | FCFPRI, FCFEOP | FCFPRI, FCFEOM | FCFPRI:
		if e.params.ECM || e.st != stRxWaitPost {
			return
		}
		e.postPage(f.FCF &^ FCFPRI)
	case FCFPPS:
		if e.params.ECM {
			e.gotPPS(f.FIF, false)
		}
	case FCFEOR:
		if e.params.ECM {
			e.gotPPS(f.FIF, true)
		}
	case FCFRR:
		e.resendResp()
	case FCFCTC:
		if len(f.FIF) >= 2 {
			if m, ok := dcsModem[f.FIF[1]&0x3C]; ok {
				e.params.Modem = m
			}
		}
		e.respond(FCFCTC, buildFrame(FCFCTR, e.x, true, nil))
		e.st = stRxWaitPost
		e.arm(tmT2)
	}
}

func (e *Engine) samePPS(fif []byte) bool {
	p, err := ParsePPS(fif)
	return err == nil && e.lastPPSok && p.Page == e.lastPPS.Page && p.Block == e.lastPPS.Block
}

func (e *Engine) gotDCS(fif []byte) {
	p, err := DecodeParams(fif)
	if err != nil {
		e.disconnect(ReasonProtocolError, err.Error())
		return
	}
	c := e.ourCaps()
	switch {
	case p.Modem.Family()&e.cfg.Modems == 0:
		e.disconnect(ReasonIncompatible, "DCS modem "+p.Modem.String())
		return
	case !e.cfg.Codings.has(p.Coding) || (p.Coding == CodingMMR && !p.ECM):
		e.disconnect(ReasonIncompatible, "DCS coding "+p.Coding.String())
		return
	case p.ECM && !e.cfg.ECM:
		e.disconnect(ReasonIncompatible, "DCS asks for ECM")
		return
	case p.Width > c.MaxWidth, (p.Resolution == ResFine && !c.Fine), (p.Resolution == ResSuperfine && !c.Superfine):
		e.disconnect(ReasonIncompatible, "DCS page format")
		return
	}
	e.t1 = 0
	e.params, e.haveParams = p, true
	e.rxWasEOP = false
	e.st = stRxWaitTCF
	e.setPhase(PhaseB)
	e.lastResp = nil
	e.arm(tmT2)
}

// checkTCF judges the training check: at least 1 s of the 1.5 s of zeros
// must arrive unbroken.
func (e *Engine) checkTCF() {
	need := e.params.Modem.BitRate() / 8 // octets per second
	run, best := 0, 0
	for _, b := range e.rxBuf {
		if b == 0 {
			run++
			best = max(best, run)
		} else {
			run = 0
		}
	}
	e.rxBuf = e.rxBuf[:0]
	if best >= need {
		e.respond(FCFDCS, buildFrame(FCFCFR, e.x, true, nil))
		e.st = stRxWaitPage
		e.rxResetBlock()
		e.rxBlocks = nil
		e.arm(tmT2)
		return
	}
	e.respond(FCFDCS, buildFrame(FCFFTT, e.x, true, nil))
	e.st = stRxWaitDCS
	e.arm(tmT2)
}

func (e *Engine) endOfData() {
	e.st = stRxWaitPost
	e.dataSeen = true
	e.setPhase(PhaseD)
	e.arm(tmT2)
}

func (e *Engine) rxFormat() PageFormat {
	p := e.params
	return PageFormat{Coding: p.Coding, Resolution: p.Resolution, Width: widthPels[p.Width],
		K: p.Resolution.kFactor(), ECM: p.ECM}
}

func (e *Engine) rxStats(data []byte) PageStats {
	p := e.params
	return PageStats{Page: e.rxPages, Modem: p.Modem, BitRate: p.Modem.BitRate(), Coding: p.Coding, ECM: p.ECM,
		Resolution: p.Resolution, Width: widthPels[p.Width], Bytes: len(data), Duration: e.now - e.pageStart}
}

// postPage answers MPS/EOP/EOM after a non-ECM page with MCF, RTP or RTN.
func (e *Engine) postPage(cmd byte) {
	data := append([]byte(nil), e.rxBuf...)
	rp := &ReceivedPage{Format: e.rxFormat(), Data: data, Stats: e.rxStats(data)}
	resp := byte(FCFMCF)
	if e.cfg.Decoder != nil {
		d, err := e.cfg.Decoder.Decode(data, rp.Format)
		rp.Image, rp.Stats.Rows, rp.Stats.BadRows = d.Image, d.Rows, d.BadRows+e.rxGaps
		pct := 100
		if d.Rows > 0 && err == nil {
			pct = rp.Stats.BadRows * 100 / max(d.Rows, rp.Stats.BadRows)
		}
		switch {
		case pct > e.cfg.Quality.PoorPercent:
			resp = FCFRTN
		case pct > e.cfg.Quality.GoodPercent:
			resp = FCFRTP
		}
	}
	e.respond(cmd, buildFrame(resp, e.x, true, nil))
	if resp != FCFRTN {
		e.acceptPage(rp)
	}
	e.nextAfterPost(cmd, resp)
}

func (e *Engine) acceptPage(rp *ReceivedPage) {
	e.rxPages++
	e.stats = append(e.stats, rp.Stats)
	e.out = append(e.out, Output{Kind: OutPageReceived, Received: rp})
}

// nextAfterPost picks the state after answering a post-page command.
func (e *Engine) nextAfterPost(cmd, resp byte) {
	e.rxBuf = e.rxBuf[:0]
	good := resp == FCFMCF
	switch {
	case cmd == FCFEOP && resp == FCFRTP:
		// The last page is kept; the sender has nothing more to retrain for.
		e.rxWasEOP = true
		e.st = stRxWaitDCN
	case cmd == FCFEOM && resp != FCFRTN:
		e.setPhase(PhaseB)
		e.t1 = e.now + e.cfg.Timers.T1
		lr, lf := e.lastResp, e.lastRespFor
		e.sendDIS()
		e.lastResp, e.lastRespFor = lr, lf
		return
	case cmd == FCFEOP && good:
		e.rxWasEOP = true
		e.st = stRxWaitDCN
	case good:
		e.st = stRxWaitPage
	default: // RTN/RTP: the sender retrains with DCS+TCF
		e.st = stRxWaitDCS
	}
	e.arm(tmT2)
}

func (e *Engine) rxResetBlock() {
	for i := range e.rxFrames {
		e.rxFrames[i] = nil
	}
}

func (e *Engine) rxECMFrame(b []byte, f Frame, ok bool) {
	if !e.params.ECM {
		return
	}
	switch e.st {
	case stRxWaitPage, stRxWaitPost:
		if f.FCF == FCFRCP {
			return // the repeats of RCP after the first
		}
		e.RxCarrierUp(e.params.Modem)
	case stRxPage:
	default:
		return
	}
	if f.FCF == FCFRCP {
		if ok && e.st == stRxPage {
			e.endOfData()
		}
		return
	}
	e.arm(tmT2)
	if !ok {
		return
	}
	n, data, err := ParseFCD(b)
	if err != nil {
		return
	}
	e.rxFrames[n] = data
}

// gotPPS checks the block against the frame count in PPS (or EOR) and
// answers MCF, PPR or ERR.
func (e *Engine) gotPPS(fif []byte, eor bool) {
	p, err := ParsePPS(fif)
	if err != nil {
		e.respond(FCFPPS, buildFrame(FCFCRP, e.x, true, nil))
		return
	}
	if e.samePPS(fif) {
		// This block was accepted already (our MCF was lost, perhaps the
		// far end even went through CTC): confirm it again, keep nothing.
		e.rxResetBlock()
		e.respond(FCFPPS, buildFrame(FCFMCF, e.x, true, nil))
		e.st = stRxWaitPage
		if p.FCF2 == FCFEOP {
			e.st = stRxWaitDCN
		}
		e.arm(tmT2)
		return
	}
	if e.st == stRxPage {
		e.endOfData()
	}
	var missing PPRMap
	bad := 0
	for i := 0; i < p.Frames; i++ {
		if e.rxFrames[i] == nil {
			missing.Set(i)
			bad++
		}
	}
	if bad > 0 && !eor {
		e.respond(FCFPPS, buildFrame(FCFPPR, e.x, true, missing[:]))
		e.st = stRxWaitPost // the re-sent frames come next
		e.arm(tmT2)
		return
	}
	fs := e.params.FrameSize()
	blk := make([]byte, 0, p.Frames*fs)
	for i := 0; i < p.Frames; i++ {
		d := e.rxFrames[i]
		if d == nil {
			d = make([]byte, fs)
			e.rxBadFrames = true
		}
		blk = append(blk, d...)
	}
	e.rxBlocks = append(e.rxBlocks, blk)
	e.rxResetBlock()
	resp := byte(FCFMCF)
	cmd := byte(FCFPPS)
	if eor {
		resp, cmd = FCFERR, FCFEOR
	}
	e.respond(cmd, buildFrame(resp, e.x, true, nil))
	e.lastPPS, e.lastPPSok = p, true
	if p.FCF2 == FCF2Null {
		e.st = stRxWaitPage
		e.arm(tmT2)
		return
	}
	var data []byte
	for _, b := range e.rxBlocks {
		data = append(data, b...)
	}
	e.rxBlocks = nil
	rp := &ReceivedPage{Format: e.rxFormat(), Data: data, Stats: e.rxStats(data)}
	rp.Stats.ECMErrors = e.rxBadFrames
	e.rxBadFrames = false
	if e.cfg.Decoder != nil {
		d, _ := e.cfg.Decoder.Decode(data, rp.Format)
		rp.Image, rp.Stats.Rows, rp.Stats.BadRows = d.Image, d.Rows, d.BadRows
	}
	e.acceptPage(rp)
	e.nextAfterPost(p.FCF2&^FCFPRI, FCFMCF)
}
