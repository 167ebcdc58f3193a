package hdlc

// EventKind tells what an Event reports.
type EventKind uint8

const (
	// EventSync: two flags in a row after a loss of framing; the far end
	// is sending a preamble or idle flags.
	EventSync EventKind = iota + 1
	// EventFrame: a frame ended by a flag. Frame holds it without FCS;
	// FCSOK says whether the FCS matched. A frame longer than MaxLen is
	// reported with its first MaxLen octets, FCSOK false and TooLong set.
	EventFrame
	// EventAbort: seven or more ones ended a frame being collected. The
	// decoder hunts for a flag again.
	EventAbort
)

func (k EventKind) String() string {
	switch k {
	case EventSync:
		return "sync"
	case EventFrame:
		return "frame"
	case EventAbort:
		return "abort"
	}
	return "event?"
}

// Event is one thing the Decoder found.
type Event struct {
	Kind    EventKind
	Frame   []byte // EventFrame: the frame without FCS; the caller owns it
	FCSOK   bool
	TooLong bool
}

// Stats counts what the Decoder saw.
type Stats struct {
	Frames   int // frames delivered with a good FCS
	BadFCS   int // frames delivered with a bad FCS (including too long)
	Aborts   int
	Runts    int // flag-delimited bits too short or not whole octets, dropped
	Flags    int
	Resyncs  int // EventSync reported
	Overruns int // frames longer than MaxLen
}

// Decoder turns a bit stream into frames. Feed it bits with PutBit; each
// call returns at most one event. Memory is bounded by MaxLen.
type Decoder struct {
	// MaxLen is the longest frame kept, without FCS; 0 means MaxFrameLen.
	MaxLen int

	ones   int    // consecutive ones seen
	synced bool   // a flag was seen since the last abort or start
	sync   bool   // EventSync reported since the last loss of framing
	buf    []byte // octets of the frame being collected (FCS included)
	cur    byte   // octet being assembled
	nbits  int    // data bits since the last flag
	over   bool   // the frame outgrew buf
	stats  Stats
}

// Stats returns the counters so far.
func (d *Decoder) Stats() Stats { return d.stats }

// Reset forgets any partial frame and framing, as after a carrier drop.
func (d *Decoder) Reset() {
	st := d.stats
	buf := d.buf[:0]
	*d = Decoder{MaxLen: d.MaxLen, buf: buf, stats: st}
}

func (d *Decoder) maxLen() int {
	if d.MaxLen <= 0 {
		return MaxFrameLen
	}
	return d.MaxLen
}

// PutBit feeds one received bit (any nonzero value is a one).
func (d *Decoder) PutBit(bit uint8) (Event, bool) {
	if bit != 0 {
		d.ones++
		switch {
		case d.ones == 7:
			// Abort (or idle ones): the frame in progress is void. Up to
			// six of the bits collected are the abort's own zero and ones.
			inFrame := d.synced && d.nbits > 6
			d.synced, d.sync = false, false
			d.clear()
			if inFrame {
				d.stats.Aborts++
				return Event{Kind: EventAbort}, true
			}
			return Event{}, false
		case d.ones > 6:
			return Event{}, false
		case d.ones == 6:
			// A flag or an abort: not data either way.
			return Event{}, false
		}
		d.data(1)
		return Event{}, false
	}
	ones := d.ones
	d.ones = 0
	switch {
	case ones == 5:
		return Event{}, false // an inserted zero
	case ones == 6:
		return d.flag()
	case ones > 6:
		return Event{}, false // the zero that ends an abort or idle ones
	}
	d.data(0)
	return Event{}, false
}

// data collects one data bit of the current frame.
func (d *Decoder) data(b uint8) {
	if !d.synced {
		return
	}
	d.cur |= b << (d.nbits & 7)
	d.nbits++
	if d.nbits&7 == 0 {
		if d.buf == nil {
			// Allocated once, whole: appends never grow it.
			d.buf = make([]byte, 0, d.maxLen()+2)
		}
		if len(d.buf) < d.maxLen()+2 {
			d.buf = append(d.buf, d.cur)
		} else {
			d.over = true
		}
		d.cur = 0
	}
}

// flag ends the frame in progress. The flag's leading zero and five ones
// were collected as data before the sixth one told them apart; they are
// dropped here.
func (d *Decoder) flag() (Event, bool) {
	d.stats.Flags++
	wasSynced := d.synced
	n := d.nbits - 6
	buf, over := d.buf, d.over
	d.synced = true
	d.clear()
	if !wasSynced {
		return Event{}, false
	}
	if n <= 0 {
		// Back-to-back flags (possibly sharing a zero).
		if !d.sync {
			d.sync = true
			d.stats.Resyncs++
			return Event{Kind: EventSync}, true
		}
		return Event{}, false
	}
	if n%8 != 0 || n < MinFrameLen*8+16 {
		d.stats.Runts++
		return Event{}, false
	}
	if over {
		d.stats.Overruns++
		d.stats.BadFCS++
		return Event{Kind: EventFrame, Frame: append([]byte(nil), buf[:d.maxLen()]...), TooLong: true}, true
	}
	octets := buf[:n/8]
	ok := CheckFCS(octets)
	if ok {
		d.stats.Frames++
	} else {
		d.stats.BadFCS++
	}
	return Event{Kind: EventFrame, Frame: append([]byte(nil), octets[:len(octets)-2]...), FCSOK: ok}, true
}

func (d *Decoder) clear() {
	d.buf = d.buf[:0]
	d.cur, d.nbits, d.over = 0, 0, false
}

// Decode is the one-shot form: every event in bits.
func Decode(bits []uint8) []Event {
	var d Decoder
	var evs []Event
	for _, b := range bits {
		if ev, ok := d.PutBit(b); ok {
			evs = append(evs, ev)
		}
	}
	return evs
}
