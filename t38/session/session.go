// Package session is a T.38 terminal: it carries a T.30 engine over IFP
// packets. It turns the engine's modem-level outputs into paced IFP packets
// (indicators, V.21 and ECM HDLC octets bit-reversed, non-ECM image data,
// transferred TCF) and received IFP packets back into engine inputs. Like
// the engine it does no I/O of its own: a driver (Run for real UDP, the
// simulation for tests) feeds it received packets and the clock, and
// drains the IFP packets to send.
package session

import (
	"errors"
	"fmt"
	"time"

	"github.com/faxd/faxd/t38/ifp"
	"github.com/faxd/faxd/t38/t30"
	"github.com/faxd/faxd/t38/udptl"
)

// Clock is the session's only source of time. Tests use a virtual clock;
// Run uses the monotonic clock.
type Clock interface {
	Now() time.Duration
}

// Config sets up a session.
type Config struct {
	T30     t30.Config
	Version int // negotiated T38FaxVersion (0..3)
	// MaxIFP is the largest IFP packet the far end accepts (derived from its
	// T38FaxMaxDatagram); 0: 300.
	MaxIFP int
	// MaxBuffer is the far end's T38FaxMaxBuffer; image data is never more
	// than this far ahead of the line rate. 0: 400.
	MaxBuffer int
	// Chunk is how much line time one data packet carries; 0: 30 ms.
	Chunk time.Duration
	// Preamble is the V.21 flag time before the first frame of a burst;
	// 0: 1 s, as on the line.
	Preamble time.Duration
	// IndicatorCopies is how often each indicator packet goes out, and
	// DataEndCopies how often the packets that end a transmission do (the
	// last frame's data, its FCS-OK-sig-end, the non-ECM sig-end): the
	// copies repeat the same datagram, same sequence number, so a copy
	// that survives loss fills the gap and the others are dropped as
	// duplicates. Without them a lost end of transmission is rebuilt by
	// redundancy only from the next transmission, seconds later. 0: 3,
	// spandsp's INDICATOR_TX_COUNT and DATA_END_TX_COUNT; 1: no copies.
	IndicatorCopies, DataEndCopies int
	// CopySpacing is the time between the copies, so that one short loss
	// burst does not take them all; 0: 20 ms.
	CopySpacing time.Duration
}

// Default copy counts and spacing.
const (
	DefaultIndicatorCopies = 3
	DefaultDataEndCopies   = 3
	DefaultCopySpacing     = 20 * time.Millisecond
)

// Packet is one IFP packet to send.
type Packet struct {
	IFP []byte
	// ID numbers the session's packets from 0. A Repeat is a copy of the
	// packet with the same ID, sent earlier: the driver sends that
	// packet's datagram again, with the same sequence number
	// (udptl.Sender.AppendRepeat), not a new one.
	ID     uint32
	Repeat bool
}

// Stats counts what the session saw on the wire.
type Stats struct {
	PacketsIn, PacketsOut int
	Repeats               int // copies of packets sent (IndicatorCopies, DataEndCopies)
	Late                  int // packets that arrived after later ones had been used
	Gaps                  int // sequence numbers never received
	Malformed             int
	Foreign               int  // datagrams from another source than the peer, dropped by Run
	Latched               bool // Run took another source as the peer (see RunConfig.AnySource)
	// Filled by Run, the driver that owns the UDPTL layer (zero under
	// other drivers): datagrams sent and our UDPTL receiver's counters,
	// which show what redundancy and FEC recovered.
	DatagramsOut int
	UDPTL        udptl.Stats
}

// Session is one T.38 terminal call.
type Session struct {
	cfg   Config
	clock Clock
	eng   *t30.Engine

	// Marshalled packets to send: outBuf holds them back to back, outEnd
	// where each ends, so sending allocates nothing once warm.
	outBuf  []byte
	outEnd  []int
	outID   []uint32 // per packet in outBuf: its ID, top bit set for a repeat
	nextID  uint32
	copies  []copyDue // pending copies, in time order
	scratch ifp.Packet
	field   [1]ifp.Field
	events  []t30.Output
	stats   Stats
	err     error

	// transmit side
	queue    []t30.Output
	steps    []step
	nextStep int // steps[nextStep:] are still to send
	endAt    time.Duration
	active   bool
	lastEnd  time.Duration
	lastMod  t30.Modem

	// receive side
	expect     uint32 // next expected seq + 1 (0: none yet)
	rxMod      t30.Modem
	carrier    bool
	hdlc       []byte
	hdlcBad    bool
	lastSigEnd []byte
	gapPending bool
	started    bool
	finished   bool
}

// step is one packet of a laid-out transmission, kept flat (no
// *ifp.Packet each) and marshalled only when it is due.
type step struct {
	at        time.Duration
	data      bool
	indicator ifp.Indicator // !data
	dataType  ifp.DataType  // data: one field
	fieldType ifp.FieldType
	chunk     []byte
	copies    int // how often it goes out in all
}

// copyDue is a repeat of an already sent packet, due at a time.
type copyDue struct {
	at  time.Duration
	id  uint32
	ifp []byte
}

const repeatBit = 1 << 31

// ErrVersion reports an unsupported T.38 version.
var ErrVersion = errors.New("session: unsupported T.38 version")

// New makes a session; Start begins the call.
func New(cfg Config, clock Clock) (*Session, error) {
	if cfg.Version < 0 || cfg.Version > ifp.MaxVersion {
		return nil, fmt.Errorf("%w: %d", ErrVersion, cfg.Version)
	}
	if cfg.MaxIFP == 0 {
		cfg.MaxIFP = 300
	}
	if cfg.MaxBuffer == 0 {
		cfg.MaxBuffer = 400
	}
	if cfg.Chunk == 0 {
		cfg.Chunk = 30 * time.Millisecond
	}
	if cfg.Preamble == 0 {
		cfg.Preamble = time.Second
	}
	if cfg.IndicatorCopies <= 0 {
		cfg.IndicatorCopies = DefaultIndicatorCopies
	}
	if cfg.DataEndCopies <= 0 {
		cfg.DataEndCopies = DefaultDataEndCopies
	}
	if cfg.CopySpacing <= 0 {
		cfg.CopySpacing = DefaultCopySpacing
	}
	cfg.T30.T38 = true
	eng, err := t30.New(cfg.T30)
	if err != nil {
		return nil, fmt.Errorf("session: %w", err)
	}
	return &Session{cfg: cfg, clock: clock, eng: eng}, nil
}

// Engine exposes the T.30 engine (for state in logs and tests).
func (s *Session) Engine() *t30.Engine { return s.eng }

// Start begins the call.
func (s *Session) Start() {
	if s.started {
		return
	}
	s.started = true
	s.eng.Start(s.clock.Now())
	s.pump()
}

// Outgoing returns and clears the IFP packets to send, in order. The
// caller owns them.
func (s *Session) Outgoing() []Packet {
	if len(s.outEnd) == 0 {
		return nil
	}
	o := make([]Packet, len(s.outEnd))
	start := 0
	for i, end := range s.outEnd {
		o[i] = s.packet(i, start, end)
		start = end
	}
	// The packets now belong to the caller: start a new buffer.
	s.outBuf, s.outEnd, s.outID = nil, s.outEnd[:0], s.outID[:0]
	return o
}

// DrainOutgoing passes each IFP packet to send to f, in order, and clears
// them. A packet's bytes are valid only during its call to f: the session
// reuses the memory, so a driver that sends at once allocates nothing.
func (s *Session) DrainOutgoing(f func(Packet)) {
	start := 0
	for i, end := range s.outEnd {
		f(s.packet(i, start, end))
		start = end
	}
	s.outBuf, s.outEnd, s.outID = s.outBuf[:0], s.outEnd[:0], s.outID[:0]
}

func (s *Session) packet(i, start, end int) Packet {
	id := s.outID[i]
	return Packet{IFP: s.outBuf[start:end:end], ID: id &^ repeatBit, Repeat: id&repeatBit != 0}
}

// Events returns and clears the engine's events (phases, pages, result).
func (s *Session) Events() []t30.Output {
	e := s.events
	s.events = nil
	return e
}

// Done reports whether the call is over and everything has been sent.
// The copies of the last packets count: they protect the final DCN.
func (s *Session) Done() bool {
	return s.eng.Done() && !s.active && len(s.queue) == 0 && len(s.copies) == 0
}

// Result is the engine's result once done.
func (s *Session) Result() *t30.Result { return s.eng.Result() }

// Stats returns the wire counters.
func (s *Session) Stats() Stats { return s.stats }

// Hangup tells the session the call has gone (BYE, socket closed).
func (s *Session) Hangup() {
	s.eng.Tick(s.clock.Now())
	s.eng.Hangup()
	s.queue, s.steps, s.nextStep, s.active = nil, s.steps[:0], 0, false
	s.copies = s.copies[:0] // nobody is listening any more
	s.pump()
}

// Abort stops the call locally (operator cancel, shutdown): DCN goes out
// and the result is Cancelled.
func (s *Session) Abort() {
	s.eng.Tick(s.clock.Now())
	s.eng.Abort()
	s.pump()
}

// NextDeadline is when Tick next has work to do.
func (s *Session) NextDeadline() (time.Duration, bool) {
	d, ok := s.eng.NextDeadline()
	if s.active {
		t := s.endAt
		if s.nextStep < len(s.steps) {
			t = s.steps[s.nextStep].at
		}
		if !ok || t < d {
			d, ok = t, true
		}
	}
	if len(s.copies) > 0 && (!ok || s.copies[0].at < d) {
		d, ok = s.copies[0].at, true
	}
	return d, ok
}

// Tick sends whatever is due and fires the engine's timers.
func (s *Session) Tick() {
	now := s.clock.Now()
	s.eng.Tick(now)
	s.pump()
	s.sendCopies(now)
	for s.active {
		s.sendDue(now)
		if s.nextStep < len(s.steps) || now < s.endAt {
			break
		}
		s.active = false
		s.lastEnd = s.endAt
		s.eng.TxDone()
		s.pump()
	}
}

// pump collects engine outputs: transmit outputs join the queue, the rest
// become events.
func (s *Session) pump() {
	for _, o := range s.eng.Outputs() {
		if o.Transmit() {
			s.queue = append(s.queue, o)
		} else {
			s.events = append(s.events, o)
		}
	}
	if !s.active && len(s.queue) > 0 {
		o := s.queue[0]
		s.queue = s.queue[1:]
		s.begin(o)
		// A burst that starts now sends its first packets at once.
		s.sendDue(s.clock.Now())
	}
}

// sendDue sends the laid-out packets that are due at now.
func (s *Session) sendDue(now time.Duration) {
	for s.nextStep < len(s.steps) && s.steps[s.nextStep].at <= now {
		s.send(&s.steps[s.nextStep])
		s.steps[s.nextStep].chunk = nil // let the page data go once sent
		s.nextStep++
	}
}

// sendCopies sends the repeats that are due at now.
func (s *Session) sendCopies(now time.Duration) {
	n := 0
	for n < len(s.copies) && s.copies[n].at <= now {
		c := &s.copies[n]
		s.outBuf = append(s.outBuf, c.ifp...)
		s.outEnd = append(s.outEnd, len(s.outBuf))
		s.outID = append(s.outID, c.id|repeatBit)
		s.stats.Repeats++
		n++
	}
	if n > 0 {
		s.copies = append(s.copies[:0], s.copies[n:]...)
	}
}

// scheduleCopies queues the repeats of a packet just sent, spaced out, in
// time order among those already pending.
func (s *Session) scheduleCopies(now time.Duration, id uint32, b []byte, copies int) {
	b = append([]byte(nil), b...)
	for k := 1; k < copies; k++ {
		c := copyDue{at: now + time.Duration(k)*s.cfg.CopySpacing, id: id, ifp: b}
		i := len(s.copies)
		for i > 0 && s.copies[i-1].at > c.at {
			i--
		}
		s.copies = append(s.copies, copyDue{})
		copy(s.copies[i+1:], s.copies[i:])
		s.copies[i] = c
	}
}

func (s *Session) send(st *step) {
	p := &s.scratch
	if st.data {
		s.field[0] = ifp.Field{Type: st.fieldType, Data: st.chunk}
		*p = ifp.Packet{IsData: true, DataType: st.dataType, Fields: s.field[:]}
	} else {
		*p = ifp.Packet{Indicator: st.indicator}
	}
	b, err := p.AppendMarshal(s.outBuf, s.cfg.Version)
	if err != nil {
		// Only a programming error gets here: every packet is built from
		// known values.
		s.err = err
		return
	}
	s.stats.PacketsOut++
	start := len(s.outBuf)
	s.outBuf = b
	s.outEnd = append(s.outEnd, len(b))
	id := s.nextID &^ repeatBit
	s.nextID++
	s.outID = append(s.outID, id)
	if st.copies > 1 {
		s.scheduleCopies(s.clock.Now(), id, b[start:], st.copies)
	}
}

// Err reports an internal encoding error, if one happened.
func (s *Session) Err() error { return s.err }
