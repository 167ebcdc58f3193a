// Package rtpaudio carries an audio fax terminal (t38/audio) over G.711 RTP:
// a fixed-delay jitter buffer suited to modems (JitterBuffer, a state
// machine without I/O or clock of its own) and Run, the thin real-time loop
// that paces the terminal in 20 ms frames over a UDP socket.
package rtpaudio

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/faxd/faxd/t38/g711"
	"github.com/pion/rtp"
)

const (
	// SampleRate is G.711's sample (and RTP timestamp) rate.
	SampleRate = 8000
	// FrameSamples is the samples in one 20 ms frame (one RTP packet sent).
	FrameSamples = 160
	// FrameDuration is the pace of Run.
	FrameDuration = 20 * time.Millisecond

	// PayloadComfortNoise is RFC 3389 comfort noise's static payload type.
	PayloadComfortNoise = 13
	// DefaultEventPayloadType is the usual dynamic payload type of RFC 4733
	// telephone events.
	DefaultEventPayloadType = 101
)

// Config configures Run and a JitterBuffer.
type Config struct {
	// PayloadType is 0 (PCMU) or 8 (PCMA), for both directions.
	PayloadType uint8
	// JitterDelay is the fixed playout delay; 0: 60 ms. The buffer never
	// stretches time: a modem's signal must keep its sample timing.
	JitterDelay time.Duration
	// MaxJitterDelay bounds how far ahead of playout a packet may land
	// before the buffer re-anchors on it; 0: JitterDelay + 140 ms.
	MaxJitterDelay time.Duration
	// SSRC of the stream sent; 0: random.
	SSRC uint32
	// EventPayloadType is the payload type of RFC 4733 telephone events,
	// which are counted and ignored; 0: 101.
	EventPayloadType uint8
	// Log gets the start and end of a call and send errors; nil: none.
	Log *slog.Logger
}

// Stats counts what happened to a stream. Lost packets are those a
// sequence gap says never arrived (a packet arriving late or out of order
// is not lost).
type Stats struct {
	Sent     int64 // RTP packets sent
	Received int64 // audio packets of the configured payload type
	Lost     int64 // by sequence gap, not counting those that came later
	Late     int64 // arrived after their playout time: dropped
	// Duplicates were dropped; Reordered arrived after a later packet but
	// in time, and were played in their place.
	Duplicates, Reordered int64
	// ConcealedSamples were missing inside the stream (lost or late
	// packets) and played as silence; UnderrunSamples were played as
	// silence because nothing newer had arrived (the far end stopped or
	// the path stalled longer than the delay).
	ConcealedSamples, UnderrunSamples int64
	// DriftCorrections is the single samples dropped plus inserted to
	// follow the far end's clock.
	DriftCorrections int64
	Events           int64 // RFC 4733 telephone-event packets ignored
	ComfortNoise     int64 // RFC 3389 packets ignored
	UnknownPayload   int64 // packets of other payload types, dropped
	Malformed        int64 // datagrams that are not RTP, or empty or oversized audio
	Foreign          int64 // datagrams from another address than the remote
	SSRCChanges      int64 // the far end's stream restarted with a new SSRC
	Resyncs          int64 // jumps in timestamp or sequence: re-anchored
	SendErrors       int64
}

// Defaults and limits of the jitter buffer.
const (
	defaultDelay = 60 * time.Millisecond
	// driftWindow is how many packets the buffer watches before it judges
	// drift: 5 s at 20 ms. Of each window it keeps the largest lead (the
	// packet that crossed the path fastest): jitter only ever delays
	// packets, so that maximum moves with the clocks, not with the
	// jitter (within its spread divided by the window).
	driftWindow = 250
	// driftThreshold is the change of that lead (samples) that starts
	// corrections: 1 ms. They are made in quiet frames (between two
	// signals, where T.30 leaves at least 75 ms of silence), where
	// dropping or repeating samples cannot disturb a modem.
	driftThreshold = 8
	// urgentThreshold (samples, 10 ms; at most a quarter of the delay)
	// is the change beyond which corrections are also made inside a
	// signal, a single sample at a time: a page longer than a minute
	// has no pause, and the buffer must not run dry or overflow.
	urgentThreshold = 80
	// corrGap is the fewest pulls between two corrections inside a
	// signal (320 ms at 20 ms): at most about 3 samples a second
	// (375 ppm), within the timing recovery of the modems, and above
	// the ±200 ppm to follow.
	corrGap = 16
	// quietPeak bounds every sample of a quiet frame: about -36 dBm0 at
	// the peak, above the noise of a usable line (below -43 dBm0 rms,
	// the receivers' default carrier-on level) and below any signal.
	// A peak rather than a mean, so that no edge of a signal counts.
	quietPeak = 400
	// maxQuietStep is the most samples dropped or inserted in one quiet
	// frame.
	maxQuietStep = 16
	seqWindow    = 512 // sequence numbers remembered for duplicates
	// lateResync is the wholly late packets in a row that re-anchor
	// playout (a far end whose timestamps fell behind for good).
	lateResync = 5
	// seqJump is a sequence jump taken for a restart of the far end's
	// stream rather than loss.
	seqJump = 3000
)

// JitterBuffer turns RTP packets into a continuous stream of samples
// played out a fixed delay after the first packet. It has no clock: every
// Push and Pull is given the time it happens (any monotonic origin). Pull
// is meant to be called at a steady pace (every 20 ms for 160 samples).
type JitterBuffer struct {
	law      g711.Law
	pt, evt  uint8
	delay    int64 // samples
	limit    int64 // farthest end of data ahead of play (samples)
	urgentAt int
	mask     int64
	ring     []int16
	valid    []bool
	pkt      rtp.Packet
	dec      []int16

	started bool
	ssrc    uint32
	tsRef   uint32
	tsExt   int64
	seqRef  uint16
	seqExt  int64
	maxSeq  int64
	minSeq  int64
	seen    [seqWindow]int64 // extended seq + 1; 0: empty

	play   int64 // extended timestamp of the next sample to play
	newest int64 // end of the newest audio received
	first  int64 // where the stream was anchored: silence before it is no loss
	playAt int64 // playout position at playT (the last pull)
	playT  time.Duration
	pulled bool // a Pull since the stream was anchored
	last   int16
	// lateRun is the audio packets in a row that came too late.
	lateRun int

	leadMax   int64
	leadN     int
	ref       int64
	haveRef   bool
	pending   int // corrections to make: > 0 drop samples, < 0 insert
	urgent    bool
	sinceCorr int

	st Stats
}

// ErrPayloadType is returned for a payload type that is not G.711.
var ErrPayloadType = errors.New("rtpaudio: payload type must be 0 (PCMU) or 8 (PCMA)")

// withDefaults checks cfg and fills its defaults.
func (cfg Config) withDefaults() (Config, error) {
	if cfg.PayloadType != 0 && cfg.PayloadType != 8 {
		return cfg, fmt.Errorf("%w, not %d", ErrPayloadType, cfg.PayloadType)
	}
	if cfg.JitterDelay == 0 {
		cfg.JitterDelay = defaultDelay
	}
	if cfg.JitterDelay < 0 || cfg.JitterDelay > 2*time.Second {
		return cfg, fmt.Errorf("rtpaudio: jitter delay %v out of range (0 to 2 s)", cfg.JitterDelay)
	}
	if cfg.MaxJitterDelay == 0 {
		cfg.MaxJitterDelay = cfg.JitterDelay + 140*time.Millisecond
	}
	if cfg.MaxJitterDelay < cfg.JitterDelay+2*FrameDuration || cfg.MaxJitterDelay > 4*time.Second {
		return cfg, fmt.Errorf("rtpaudio: max jitter delay %v must be at least the jitter delay %v + 40 ms, and at most 4 s", cfg.MaxJitterDelay, cfg.JitterDelay)
	}
	if cfg.EventPayloadType == 0 {
		cfg.EventPayloadType = DefaultEventPayloadType
	}
	if cfg.EventPayloadType > 127 || cfg.EventPayloadType == cfg.PayloadType {
		return cfg, fmt.Errorf("rtpaudio: event payload type %d invalid", cfg.EventPayloadType)
	}
	return cfg, nil
}

// NewJitterBuffer makes a buffer for cfg's payload type and delays.
func NewJitterBuffer(cfg Config) (*JitterBuffer, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	b := &JitterBuffer{law: g711.ULaw, pt: cfg.PayloadType, evt: cfg.EventPayloadType}
	if cfg.PayloadType == 8 {
		b.law = g711.ALaw
	}
	b.delay = samplesOf(cfg.JitterDelay)
	b.urgentAt = int(min(urgentThreshold, b.delay/4))
	b.limit = samplesOf(cfg.MaxJitterDelay) + FrameSamples
	n := int64(1)
	for n < b.limit+2*FrameSamples {
		n <<= 1
	}
	b.mask = n - 1
	b.ring = make([]int16, n)
	b.valid = make([]bool, n)
	return b, nil
}

func samplesOf(d time.Duration) int64 { return int64(d) * SampleRate / int64(time.Second) }

// Stats returns the counters so far (Sent and Foreign are Run's).
func (b *JitterBuffer) Stats() Stats {
	s := b.st
	s.Lost = max(s.Lost, 0)
	return s
}

// Push takes one datagram that arrived at now. Anything that is not a
// usable audio packet is counted and dropped; it never fails.
func (b *JitterBuffer) Push(datagram []byte, now time.Duration) {
	if err := b.pkt.Unmarshal(datagram); err != nil || b.pkt.Version != 2 {
		b.st.Malformed++
		return
	}
	b.PushPacket(&b.pkt, now)
}

// PushPacket is Push for a packet already parsed.
func (b *JitterBuffer) PushPacket(p *rtp.Packet, now time.Duration) {
	switch p.PayloadType {
	case b.pt:
	case b.evt:
		// Events share the stream's sequence numbers: account for them
		// so they do not look like a gap.
		b.st.Events++
		if b.started && p.SSRC == b.ssrc {
			b.sequence(p.SequenceNumber)
		}
		return
	case PayloadComfortNoise:
		b.st.ComfortNoise++
		if b.started && p.SSRC == b.ssrc {
			b.sequence(p.SequenceNumber)
		}
		return
	default:
		b.st.UnknownPayload++
		return
	}
	n := int64(len(p.Payload))
	if n == 0 || n > b.limit-b.delay {
		b.st.Malformed++
		return
	}
	b.st.Received++
	if !b.started || p.SSRC != b.ssrc {
		if b.started {
			b.st.SSRCChanges++
		}
		b.started = true
		b.ssrc = p.SSRC
		b.resetSeq(p.SequenceNumber)
		b.anchor(p.Timestamp)
	} else if !b.sequence(p.SequenceNumber) {
		return
	}
	ts := b.extTS(p.Timestamp)
	end := ts + n
	if end <= b.play {
		b.st.Late++
		b.leadSample(end, now)
		// Several late in a row: the far end's clock jumped back (or
		// stalled and kept its timestamps); play it from here on.
		if b.lateRun++; b.lateRun < lateResync {
			return
		}
		b.st.Resyncs++
		b.anchor(p.Timestamp)
		ts, end = b.extTS(p.Timestamp), b.extTS(p.Timestamp)+n
	}
	b.lateRun = 0
	if end-b.play > b.limit {
		// Too far ahead for the buffer: the far end's timestamps jumped.
		b.st.Resyncs++
		b.anchor(p.Timestamp)
		ts = b.extTS(p.Timestamp)
		end = ts + n
	}
	b.dec = b.law.Decode(b.dec[:0], p.Payload)
	for i, s := range b.dec {
		pos := ts + int64(i)
		if pos < b.play {
			continue // the part already played
		}
		b.ring[pos&b.mask] = s
		b.valid[pos&b.mask] = true
	}
	if ts < b.play {
		b.st.Late++ // partly: the rest is played
	}
	if end > b.newest {
		b.newest = end
	}
	b.leadSample(end, now)
}

// anchor starts playout of a stream whose packet with timestamp ts just
// arrived: that packet plays JitterDelay from now.
func (b *JitterBuffer) anchor(ts uint32) {
	b.tsRef, b.tsExt = ts, 1<<32 // well away from zero, so wrap never goes negative
	b.play = b.tsExt - b.delay
	b.newest, b.first = b.tsExt, b.tsExt
	b.pulled = false
	clear(b.valid)
	b.leadN, b.haveRef, b.pending, b.urgent = 0, false, 0, false
}

// extTS extends a 32-bit timestamp to 64 bits around the newest one seen,
// so that wrap-around is continuous.
func (b *JitterBuffer) extTS(ts uint32) int64 {
	e := b.tsExt + int64(int32(ts-b.tsRef))
	if e > b.tsExt {
		b.tsRef, b.tsExt = ts, e
	}
	return e
}

func (b *JitterBuffer) resetSeq(seq uint16) {
	b.seqRef, b.seqExt = seq, 1<<20
	b.maxSeq, b.minSeq = b.seqExt, b.seqExt
	clear(b.seen[:])
	b.seen[b.seqExt%seqWindow] = b.seqExt + 1
}

// sequence accounts for a packet's sequence number and says whether it is
// new (false: a duplicate or far too old, dropped and counted).
func (b *JitterBuffer) sequence(seq uint16) bool {
	e := b.seqExt + int64(int16(seq-b.seqRef))
	if d := e - b.maxSeq; d > seqJump || d < -seqJump {
		// A restart of the sender's numbering, not 3000 losses.
		b.st.Resyncs++
		b.resetSeq(seq)
		return true
	}
	if e > b.seqExt {
		b.seqRef, b.seqExt = seq, e
	}
	slot := e % seqWindow
	if b.seen[slot] == e+1 {
		b.st.Duplicates++
		return false
	}
	if e <= b.maxSeq-seqWindow {
		b.st.Late++
		return false
	}
	b.seen[slot] = e + 1
	switch {
	case e > b.maxSeq:
		b.st.Lost += e - b.maxSeq - 1
		b.maxSeq = e
	case e < b.minSeq:
		// Before the first packet heard: not lost itself, but the numbers
		// between it and the first are now a gap (a packet of them that
		// comes later is taken off the lost again).
		b.st.Lost += b.minSeq - e - 1
		b.minSeq = e
		b.st.Reordered++
	default:
		b.st.Lost--
		b.st.Reordered++
	}
	return true
}

// leadSample adds how far ahead of the playout clock a packet's end
// arrived to the drift window, and judges drift when the window is full.
func (b *JitterBuffer) leadSample(end int64, now time.Duration) {
	if !b.pulled {
		return // the playout clock is not running yet
	}
	pos := b.playAt + samplesOf(now-b.playT)
	if lead := end - pos; b.leadN == 0 || lead > b.leadMax {
		b.leadMax = lead
	}
	b.leadN++
	if b.leadN < driftWindow {
		return
	}
	b.leadN = 0
	if !b.haveRef {
		b.ref, b.haveRef = b.leadMax, true
		return
	}
	// Correct the whole change. Every correction restarts the window,
	// so the next judgement is made on leads measured after it.
	err := int(b.leadMax - b.ref)
	b.pending, b.urgent = 0, false
	if err > driftThreshold || err < -driftThreshold {
		b.pending = err
		b.urgent = err > b.urgentAt || err < -b.urgentAt
	}
}

// quiet says whether the n samples from the playout position have all
// arrived and are below the quiet level (a missing one may be the start
// of a signal still on its way).
func (b *JitterBuffer) quiet(n int) bool {
	for p := b.play; p < b.play+int64(n); p++ {
		if i := p & b.mask; !b.valid[i] || b.ring[i] > quietPeak || b.ring[i] < -quietPeak {
			return false
		}
	}
	return true
}

// Pull fills dst with the samples due at now, concealing what is missing
// with silence. Before any packet it plays silence.
func (b *JitterBuffer) Pull(dst []int16, now time.Duration) {
	if !b.started {
		clear(dst)
		return
	}
	corr := 0
	b.sinceCorr++
	if b.pending != 0 && len(dst) >= 2 {
		if b.quiet(len(dst)) {
			// Between signals: the whole step at once, at the start.
			k := min(max(b.pending, -maxQuietStep), maxQuietStep, len(dst)/2)
			b.pending -= k
			b.st.DriftCorrections += int64(max(k, -k))
			b.leadN = 0
			for ; k > 0; k-- {
				b.valid[b.play&b.mask] = false
				b.play++
			}
			n := -k
			clear(dst[:n])
			dst = dst[n:]
			b.playAt, b.playT, b.pulled = b.play-int64(n), now, true
			for i := range dst {
				dst[i] = b.take()
			}
			return
		}
		if b.urgent && b.sinceCorr >= corrGap {
			corr = 1
			if b.pending < 0 {
				corr = -1
			}
			b.pending -= corr
			b.sinceCorr = 0
			b.leadN = 0
			b.st.DriftCorrections++
		}
	}
	b.playAt, b.playT, b.pulled = b.play, now, true
	mid := len(dst) / 2
	for i := range dst {
		if i == mid && corr != 0 {
			if corr < 0 {
				// Insert: hold the last sample one sample longer.
				dst[i] = b.last
				continue
			}
			b.take() // drop one sample
		}
		dst[i] = b.take()
	}
}

// take plays the sample at the playout position.
func (b *JitterBuffer) take() int16 {
	i := b.play & b.mask
	var s int16
	switch {
	case b.valid[i]:
		s = b.ring[i]
		b.valid[i] = false
	case b.play < b.first:
	case b.play < b.newest:
		b.st.ConcealedSamples++
	default:
		b.st.UnderrunSamples++
	}
	b.play++
	b.last = s
	return s
}
