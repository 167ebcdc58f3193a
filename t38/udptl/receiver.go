package udptl

import (
	"bytes"
	"fmt"
)

const (
	ringSize = 64 // slots for held and recently delivered IFPs
	// window is how far ahead of the next expected seq an IFP may be held;
	// the rest of the ring keeps delivered IFPs for FEC repair.
	window = ringSize / 2
	// resyncDistance: a jump this large means the far end restarted its
	// numbering (spandsp uses 2000 for the same test).
	resyncDistance = 2000
	maxFECGroups   = 64
)

// DefaultReorderDepth is the Receiver's default ReorderDepth.
const DefaultReorderDepth = 3

// Delivered is one IFP handed up in sequence order. IFP must not be
// modified: the Receiver keeps it for FEC repair. The slice of Delivered
// that Receive and Flush return is reused by the next call.
type Delivered struct {
	Seq uint16
	IFP []byte
	// Recovered is set when the primary never arrived and the IFP came
	// from a secondary or an FEC repair.
	Recovered bool
}

// Stats counts what a Receiver saw.
type Stats struct {
	Datagrams  uint64 // well-formed datagrams
	Malformed  uint64 // datagrams rejected by the parser
	Delivered  uint64 // IFPs delivered
	Recovered  uint64 // of those, rebuilt from redundancy or FEC
	Repaired   uint64 // of those, rebuilt by FEC
	Lost       uint64 // sequence numbers skipped, never delivered
	Duplicates uint64 // primaries for a seq already received
	Late       uint64 // primaries for a seq already given up as lost
	Resyncs    uint64 // numbering jumps treated as a restart
}

// ReceiverConfig tunes a Receiver.
type ReceiverConfig struct {
	// ReorderDepth is how far the newest seq may run ahead of a gap before
	// the gap is given up as lost: 1 never waits (what asterisk and
	// freeswitch do), larger values tolerate reordering without redundancy.
	// While IFPs are held behind a gap, call Flush if no datagram arrives
	// for a while. 0 means DefaultReorderDepth.
	ReorderDepth int
	// TrimRepaired, when set, cuts an FEC-repaired IFP to its real length:
	// parity is padded to the longest IFP it covers, so a shorter one comes
	// back with trailing zeros. ifp.Len does this for T.38 IFPs.
	TrimRepaired func([]byte) []byte
}

type slotState uint8

const (
	slotEmpty slotState = iota
	slotHeld
	slotDelivered
)

type slot struct {
	seq       uint16
	state     slotState
	recovered bool
	repaired  bool
	data      []byte
}

type fecGroup struct {
	first       uint16
	step, count int
	data        []byte
}

// Receiver turns UDPTL datagrams back into an ordered IFP stream: gaps are
// filled from secondaries (oldest first) and FEC parity, duplicates are
// dropped, reordering is tolerated up to ReorderDepth, and sequence numbers
// wrap. Not safe for concurrent use.
type Receiver struct {
	cfg     ReceiverConfig
	started bool
	next    uint16 // next seq to deliver
	highest uint16 // newest seq held
	held    int
	slots   [ringSize]slot
	groups  []fecGroup
	stats   Stats
	out     []Delivered
	pkt     Packet   // scratch: the datagram being received
	sec     [][]byte // storage for pkt's secondaries
}

// NewReceiver returns a Receiver with default settings.
func NewReceiver() *Receiver { return NewReceiverConfig(ReceiverConfig{}) }

// NewReceiverConfig returns a Receiver tuned by cfg.
func NewReceiverConfig(cfg ReceiverConfig) *Receiver {
	if cfg.ReorderDepth <= 0 {
		cfg.ReorderDepth = DefaultReorderDepth
	}
	cfg.ReorderDepth = min(cfg.ReorderDepth, window)
	return &Receiver{cfg: cfg}
}

// Stats returns the counters so far.
func (r *Receiver) Stats() Stats { return r.stats }

// Held reports how many IFPs wait behind a gap.
func (r *Receiver) Held() int { return r.held }

// Receive parses one datagram and returns the IFPs that are now in order.
// A malformed datagram changes nothing and returns an error wrapping
// ErrTruncated, ErrTrailing or ErrMalformed.
func (r *Receiver) Receive(datagram []byte) ([]Delivered, error) {
	p := &r.pkt
	err := p.unmarshal(datagram, r.sec)
	if cap(p.Secondary) > cap(r.sec) {
		r.sec = p.Secondary
	}
	if err != nil {
		*p = Packet{}
		r.stats.Malformed++
		return nil, fmt.Errorf("udptl receive: %w", err)
	}
	r.stats.Datagrams++
	r.out = r.out[:0]
	first := p.Seq - uint16(len(p.Secondary))
	if !r.started {
		r.started = true
		r.next, r.highest = first, first
	} else if d := int16(p.Seq - r.next); d > resyncDistance || d < -resyncDistance {
		r.flush()
		r.stats.Resyncs++
		r.next, r.highest = first, first
		r.groups = r.groups[:0]
		// The old stream's delivered IFPs stay in the ring to catch
		// duplicates; the new stream may reuse their numbers (a far end
		// that restarted from 0), which must not be taken for repeats.
		r.slots = [ringSize]slot{}
	}
	// Oldest first, so the stream is rebuilt in order.
	for i := len(p.Secondary); i >= 1; i-- {
		r.accept(p.Seq-uint16(i), p.Secondary[i-1], false)
	}
	r.accept(p.Seq, p.Primary, true)
	if p.FEC != nil {
		r.addFEC(p)
		r.repair()
	}
	r.drain(r.cfg.ReorderDepth)
	*p = Packet{Secondary: p.Secondary[:0]} // hold no views into datagram
	return r.out, nil
}

// Flush gives up on every gap and returns all held IFPs in order.
func (r *Receiver) Flush() []Delivered {
	r.out = r.out[:0]
	r.flush()
	return r.out
}

func (r *Receiver) flush() {
	for r.held > 0 {
		r.drain(1)
	}
}

func (r *Receiver) lookup(seq uint16) *slot {
	s := &r.slots[seq%ringSize]
	if s.state == slotEmpty || s.seq != seq {
		return nil
	}
	return s
}

func (r *Receiver) accept(seq uint16, data []byte, primary bool) {
	d := int16(seq - r.next)
	if d < 0 {
		if primary {
			if r.lookup(seq) != nil {
				r.stats.Duplicates++
			} else {
				r.stats.Late++
			}
		}
		return
	}
	if int(d) >= window {
		r.skipTo(seq - window + 1)
	}
	if r.lookup(seq) != nil {
		if primary {
			r.stats.Duplicates++
		}
		return
	}
	s := &r.slots[seq%ringSize]
	*s = slot{seq: seq, state: slotHeld, recovered: !primary, data: bytes.Clone(data)}
	r.held++
	if int16(seq-r.highest) > 0 {
		r.highest = seq
	}
}

// skipTo advances next to target, delivering what is held on the way.
func (r *Receiver) skipTo(target uint16) {
	for int16(target-r.next) > 0 {
		if !r.deliverNext() {
			r.stats.Lost++
			r.next++
		}
	}
}

func (r *Receiver) deliverNext() bool {
	s := r.lookup(r.next)
	if s == nil || s.state != slotHeld {
		return false
	}
	s.state = slotDelivered
	r.held--
	r.stats.Delivered++
	if s.recovered {
		r.stats.Recovered++
	}
	if s.repaired {
		r.stats.Repaired++
	}
	r.out = append(r.out, Delivered{Seq: s.seq, IFP: s.data, Recovered: s.recovered})
	r.next++
	return true
}

// drain delivers in order, giving up on a gap once the newest held seq is
// depth or more beyond it.
func (r *Receiver) drain(depth int) {
	for r.held > 0 {
		if r.deliverNext() {
			continue
		}
		if int(int16(r.highest-r.next)) < depth {
			return
		}
		r.stats.Lost++
		r.next++
	}
}

func (r *Receiver) addFEC(p *Packet) {
	span, entries := p.FEC.Span, len(p.FEC.Entries)
	if span <= 0 || entries == 0 || span*entries > window {
		return
	}
	for m, e := range p.FEC.Entries {
		if len(e) == 0 {
			continue
		}
		if len(r.groups) == maxFECGroups {
			copy(r.groups, r.groups[1:])
			r.groups = r.groups[:maxFECGroups-1]
		}
		r.groups = append(r.groups, fecGroup{
			first: p.Seq + uint16(m) - uint16(span*entries),
			step:  entries,
			count: span,
			data:  bytes.Clone(e),
		})
	}
}

// repair rebuilds any IFP that is the only one missing from a parity
// group, repeating while repairs make more groups complete.
func (r *Receiver) repair() {
	for progress := true; progress; {
		progress = false
		kept := r.groups[:0]
		for _, g := range r.groups {
			last := g.first + uint16((g.count-1)*g.step)
			if int16(last-r.next) < 0 {
				continue // all members delivered or given up
			}
			missing, nmiss := uint16(0), 0
			for k := 0; k < g.count; k++ {
				seq := g.first + uint16(k*g.step)
				if r.lookup(seq) == nil {
					missing, nmiss = seq, nmiss+1
				}
			}
			switch {
			case nmiss == 0:
				continue
			case nmiss == 1 && int16(missing-r.next) >= 0:
				data := bytes.Clone(g.data)
				for k := 0; k < g.count; k++ {
					if s := r.lookup(g.first + uint16(k*g.step)); s != nil {
						for j := 0; j < len(s.data) && j < len(data); j++ {
							data[j] ^= s.data[j]
						}
					}
				}
				if r.cfg.TrimRepaired != nil {
					data = r.cfg.TrimRepaired(data)
				}
				if len(data) > 0 {
					r.accept(missing, data, false)
					if s := r.lookup(missing); s != nil {
						s.repaired = true
					}
					progress = true
				}
				continue
			case nmiss == 1:
				continue // the one missing was already given up
			}
			kept = append(kept, g)
		}
		r.groups = kept
	}
}
