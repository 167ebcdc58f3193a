package hdlc

import (
	"errors"
	"fmt"
)

// Flag is the HDLC flag octet, 01111110.
const Flag = 0x7E

// MaxFrameLen is the default longest frame, without FCS, that the Encoder
// accepts and the Decoder keeps: an ECM frame of 256 octets of data plus
// address, control, FCF and the frame number.
const MaxFrameLen = 260

// MinFrameLen is the shortest frame without FCS: address and control.
const MinFrameLen = 2

// ErrEmptyFrame and ErrFrameTooLong are the Encoder's refusals.
var (
	ErrEmptyFrame   = errors.New("hdlc: frame shorter than address and control")
	ErrFrameTooLong = errors.New("hdlc: frame too long")
)

type itemKind uint8

const (
	itemFlags itemKind = iota
	itemFrame
	itemAbort
)

type item struct {
	kind  itemKind
	n     int    // flags: how many
	frame []byte // frame: octets including FCS
}

// Encoder turns frames into a bit stream. Queue flags, frames and aborts,
// then pull bits with NextBit or Read until Pending is false. Every frame is
// closed by a flag; one flag both closes a frame and opens the next.
type Encoder struct {
	// MaxLen is the longest frame accepted (without FCS); 0 means
	// MaxFrameLen.
	MaxLen int

	queue    []item
	endsFlag bool // the last queued item ends with a flag

	// Position in queue[0].
	octet, bit int
	ones       int  // consecutive ones sent inside a frame, for stuffing
	stuffing   bool // the next bit is an inserted zero
}

// Flags queues n flags (a preamble, or fill between frames).
func (e *Encoder) Flags(n int) {
	if n <= 0 {
		return
	}
	e.queue = append(e.queue, item{kind: itemFlags, n: n})
	e.endsFlag = true
}

// Frame queues one frame (without FCS; the Encoder adds it), preceded by an
// opening flag unless the stream already ends with one, and followed by a
// closing flag. The frame is copied.
func (e *Encoder) Frame(frame []byte) error {
	max := e.MaxLen
	if max <= 0 {
		max = MaxFrameLen
	}
	switch {
	case len(frame) < MinFrameLen:
		return ErrEmptyFrame
	case len(frame) > max:
		return fmt.Errorf("%w: %d octets, at most %d", ErrFrameTooLong, len(frame), max)
	}
	if !e.endsFlag {
		e.Flags(1)
	}
	f := AppendFCS(append(make([]byte, 0, len(frame)+2), frame...))
	e.queue = append(e.queue, item{kind: itemFrame, frame: f}, item{kind: itemFlags, n: 1})
	e.endsFlag = true
	return nil
}

// Abort queues an abort: eight ones, which end any frame the far end is
// collecting without delivering it. A frame after it gets a new opening flag.
func (e *Encoder) Abort() {
	e.queue = append(e.queue, item{kind: itemAbort})
	e.endsFlag = false
}

// Pending reports whether queued bits remain.
func (e *Encoder) Pending() bool { return len(e.queue) > 0 }

// NextBit returns the next bit on the line; ok is false when the queue is
// empty (the caller then stops the carrier or queues flags).
func (e *Encoder) NextBit() (bit uint8, ok bool) {
	if len(e.queue) == 0 {
		return 0, false
	}
	it := &e.queue[0]
	switch it.kind {
	case itemFlags:
		bit = Flag >> e.bit & 1
		if e.bit++; e.bit == 8 {
			e.bit = 0
			if e.octet++; e.octet == it.n {
				e.next()
			}
		}
	case itemAbort:
		bit = 1
		if e.bit++; e.bit == 8 {
			e.next()
		}
	case itemFrame:
		if e.stuffing {
			e.stuffing = false
			e.ones = 0
			if e.bit == 0 && e.octet == len(it.frame) {
				e.next()
			}
			return 0, true
		}
		bit = it.frame[e.octet] >> e.bit & 1
		if bit == 1 {
			e.ones++
		} else {
			e.ones = 0
		}
		if e.bit++; e.bit == 8 {
			e.bit = 0
			e.octet++
		}
		// After five ones in a row a zero is inserted, even after the
		// last FCS bit, so that the closing flag stays the only six-ones run.
		if e.ones == 5 {
			e.stuffing = true
		} else if e.octet == len(it.frame) {
			e.next()
		}
	}
	return bit, true
}

func (e *Encoder) next() {
	e.queue[0] = item{}
	e.queue = e.queue[1:]
	e.octet, e.bit, e.ones, e.stuffing = 0, 0, 0, false
}

// Read fills dst with queued bits (one per element, 0 or 1) and returns how
// many it wrote; fewer than len(dst) means the queue ran empty.
func (e *Encoder) Read(dst []uint8) int {
	for i := range dst {
		b, ok := e.NextBit()
		if !ok {
			return i
		}
		dst[i] = b
	}
	return len(dst)
}

// Encode is the one-shot form: preamble flags, the frames, and the closing
// flag, as bits.
func Encode(preamble int, frames ...[]byte) ([]uint8, error) {
	var e Encoder
	e.Flags(preamble)
	n := preamble * 8
	for i, f := range frames {
		if err := e.Frame(f); err != nil {
			return nil, fmt.Errorf("frame %d: %w", i, err)
		}
		n += len(f)*10 + 40
	}
	out := make([]uint8, 0, n)
	for {
		b, ok := e.NextBit()
		if !ok {
			return out, nil
		}
		out = append(out, b)
	}
}
