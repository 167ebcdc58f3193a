package udptl

import (
	"errors"
	"fmt"
)

// ErrNotKept: AppendRepeat was asked for a datagram the Sender no longer
// has (or never built).
var ErrNotKept = errors.New("udptl: datagram not kept for repeat")

// historySize is how many sent IFPs the Sender remembers: the most
// redundancy entries, and the widest FEC span*entries, it can produce.
const historySize = 16

// ECMode is the UDPTL error-correction scheme (SDP T38FaxUdpEC).
type ECMode int

// Error-correction schemes.
const (
	ECNone       ECMode = iota // t38UDPNoEC
	ECRedundancy               // t38UDPRedundancy
	ECFEC                      // t38UDPFEC
)

func (m ECMode) String() string {
	switch m {
	case ECNone:
		return "none"
	case ECRedundancy:
		return "redundancy"
	case ECFEC:
		return "fec"
	}
	return "ecmode(?)"
}

// Config sets what a Sender puts in each datagram.
type Config struct {
	// Redundancy is how many earlier IFPs ride along as secondaries
	// (0..15). Ignored when FEC is set.
	Redundancy int
	// FEC sends parity FEC instead of redundancy. Only set it when the far
	// end offered t38UDPFEC: many implementations cannot decode it.
	FEC bool
	// FECSpan is how many IFPs each parity entry covers, FECEntries how
	// many entries each datagram carries; span*entries <= 16.
	FECSpan, FECEntries int
	// FarMaxDatagram is the far end's T38FaxMaxDatagram; 0 means no limit.
	// Redundancy is dropped, oldest first, to stay within it.
	FarMaxDatagram int
	// FirstSeq is the sequence number of the first datagram.
	FirstSeq uint16
}

// Default FEC shape, as asterisk and freeswitch use it.
const (
	DefaultFECSpan    = 3
	DefaultFECEntries = 3
)

// Sender assigns sequence numbers and adds error recovery. Not safe for
// concurrent use.
type Sender struct {
	cfg   Config
	seq   uint16
	sent  int // datagrams built so far, saturating at historySize
	built int // the same, saturating at 1<<16
	hist  [historySize][]byte
	dg    [historySize][]byte // the datagrams built, for AppendRepeat
	fec   [][]byte            // scratch parity entries
	sec   [][]byte            // scratch secondary list
	pkt   Packet
}

// NewSender returns a Sender for cfg, clamping out-of-range values.
func NewSender(cfg Config) *Sender {
	cfg.Redundancy = max(0, min(cfg.Redundancy, historySize-1))
	if cfg.FEC {
		if cfg.FECSpan <= 0 {
			cfg.FECSpan = DefaultFECSpan
		}
		if cfg.FECEntries <= 0 {
			cfg.FECEntries = DefaultFECEntries
		}
		cfg.FECEntries = min(cfg.FECEntries, historySize)
		cfg.FECSpan = min(cfg.FECSpan, historySize/cfg.FECEntries)
	}
	return &Sender{cfg: cfg, seq: cfg.FirstSeq}
}

// Seq returns the sequence number the next datagram will carry.
func (s *Sender) Seq() uint16 { return s.seq }

// Build wraps ifp in the next datagram, with the next sequence number.
// A repeat of a packet meant to protect it against loss (spandsp sends
// indicators and sig-ends three times) is AppendRepeat, not Build: a copy
// under the same sequence number fills the gap when the first was lost and
// is dropped as a duplicate otherwise, where a copy under a new number
// reaches the far end's T.30 as a second packet.
func (s *Sender) Build(ifp []byte) ([]byte, error) {
	return s.AppendBuild(nil, ifp)
}

// AppendBuild is Build appending to dst.
func (s *Sender) AppendBuild(dst, ifp []byte) ([]byte, error) {
	p := &s.pkt
	*p = Packet{Seq: s.seq, Primary: ifp}
	limit := s.cfg.FarMaxDatagram
	if limit > 0 && p.Size() > limit {
		return dst, ErrTooBig
	}
	if s.cfg.FEC {
		s.buildFEC(p)
		if limit > 0 && p.Size() > limit {
			// Fewer entries would change which IFPs each one covers, so
			// send no parity at all in this datagram.
			p.FEC.Span, p.FEC.Entries = 0, nil
		}
	} else {
		n := min(s.cfg.Redundancy, s.sent)
		s.sec = s.sec[:0]
		for i := 1; i <= n; i++ {
			s.sec = append(s.sec, s.hist[(int(s.seq)-i)&(historySize-1)])
		}
		p.Secondary = s.sec
		for limit > 0 && len(p.Secondary) > 0 && p.Size() > limit {
			p.Secondary = p.Secondary[:len(p.Secondary)-1]
		}
	}
	out, err := p.AppendMarshal(dst)
	if err != nil {
		return dst, err
	}
	slot := int(s.seq) & (historySize - 1)
	s.hist[slot] = append(s.hist[slot][:0], ifp...)
	s.dg[slot] = append(s.dg[slot][:0], out[len(dst):]...)
	s.seq++
	s.sent = min(s.sent+1, historySize)
	s.built = min(s.built+1, 1<<16)
	return out, nil
}

// AppendRepeat appends the datagram built earlier with sequence number
// seq, byte for byte, to dst. Only the last 16 datagrams are kept; an
// older or never built seq is ErrNotKept.
func (s *Sender) AppendRepeat(dst []byte, seq uint16) ([]byte, error) {
	back := int(s.seq - seq)
	if back < 1 || back > min(s.built, historySize) {
		return dst, fmt.Errorf("%w: %d", ErrNotKept, seq)
	}
	return append(dst, s.dg[int(seq)&(historySize-1)]...), nil
}

// buildFEC fills p.FEC. Like spandsp, it winds up: with fewer than
// span*entries earlier IFPs it sends fewer entries, and none before span.
func (s *Sender) buildFEC(p *Packet) {
	span, entries := s.cfg.FECSpan, s.cfg.FECEntries
	if s.sent < span*entries {
		entries = s.sent / span
		if s.sent < span {
			span = 0
		}
	}
	for len(s.fec) < entries {
		s.fec = append(s.fec, nil)
	}
	for m := 0; m < entries; m++ {
		e := s.fec[m][:0]
		// Entry m covers seq+m-span*entries ... seq+m-entries.
		for k := 0; k < span; k++ {
			src := s.hist[(int(s.seq)+m-span*entries+k*entries)&(historySize-1)]
			for len(e) < len(src) {
				e = append(e, 0)
			}
			for j, c := range src {
				e[j] ^= c
			}
		}
		s.fec[m] = e
	}
	p.FEC = &FEC{Span: span, Entries: s.fec[:entries]}
}

// LocalMaxDatagram is the T38FaxMaxDatagram to advertise so that the far
// end can send IFPs of up to maxIFP octets with our EC mode: sequence
// number and length octets, room for three secondaries with redundancy or
// one parity entry with FEC, plus 5%, capped at limit when limit > 0.
func LocalMaxDatagram(maxIFP int, ec ECMode, limit int) int {
	var n int
	switch ec {
	case ECRedundancy:
		n = 5 + maxIFP + 2 + 3*maxIFP
	case ECFEC:
		n = 5 + maxIFP + 4 + maxIFP
	default:
		n = 5 + maxIFP
	}
	n = n * 105 / 100
	if limit > 0 && n > limit {
		n = limit
	}
	return n
}

// FarMaxIFP is the largest IFP we may send to a far end that advertised
// farMaxDatagram, and how many redundancy entries to use (entries is the
// number wanted, lowered while the IFP would be under 80 octets, never
// below 1). 5% is held back for safety.
func FarMaxIFP(farMaxDatagram int, ec ECMode, entries int) (maxIFP, useEntries int) {
	var n int
	switch ec {
	case ECRedundancy:
		useEntries = max(entries, 1)
		for {
			n = (farMaxDatagram - 8) / (useEntries + 1)
			if n >= 80 || useEntries <= 1 {
				break
			}
			useEntries--
		}
	case ECFEC:
		n = (farMaxDatagram - 10) / 2
		useEntries = entries
	default:
		n = farMaxDatagram - 5
		useEntries = entries
	}
	return max(n*95/100, 0), useEntries
}
