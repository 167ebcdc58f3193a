package dsp

import "fmt"

// EventKind is what a modem receiver reports besides bits.
type EventKind uint8

const (
	// CarrierUp: the signal rose above the receiver's on threshold.
	CarrierUp EventKind = iota + 1
	// TrainingDone: the training sequence was recognised and the equaliser
	// converged; data bits follow. Event.QualityDB says how well.
	TrainingDone
	// TrainingFailed: a carrier came but no usable training was found. The
	// receiver tries again when the carrier drops and returns, or when the
	// level jumps by 6 dB (a signal starting on top of line noise), so a
	// TrainingDone may follow without a new CarrierUp.
	TrainingFailed
	// CarrierDown: the signal fell below the off threshold.
	CarrierDown
)

func (k EventKind) String() string {
	switch k {
	case CarrierUp:
		return "carrier-up"
	case TrainingDone:
		return "training-done"
	case TrainingFailed:
		return "training-failed"
	case CarrierDown:
		return "carrier-down"
	}
	return fmt.Sprintf("event(%d)", uint8(k))
}

// Event is one receiver report.
type Event struct {
	Kind EventKind
	// Sample is the index (counted from the receiver's creation) of the
	// input sample at which the event was recognised.
	Sample int64
	// QualityDB is the equaliser's mean squared error relative to the
	// constellation's mean power, in dB (lower is better; -20 is a clean
	// line), at TrainingDone. T.30 uses it to judge TCF.
	QualityDB float64
	// Bits is the number of data bits delivered before a CarrierDown.
	Bits int64
}

// Queue is a FIFO of events kept in a reusable slice.
type Queue struct {
	ev   []Event
	head int
}

// Push appends an event.
func (q *Queue) Push(e Event) {
	if q.head > 0 && q.head == len(q.ev) {
		q.ev, q.head = q.ev[:0], 0
	}
	q.ev = append(q.ev, e)
}

// Pop removes the oldest event.
func (q *Queue) Pop() (Event, bool) {
	if q.head >= len(q.ev) {
		return Event{}, false
	}
	e := q.ev[q.head]
	q.head++
	return e, true
}

// BitQueue is a FIFO of bits (one per byte, 0 or 1) in a reusable slice.
type BitQueue struct {
	b    []byte
	head int
}

// Push appends one bit.
func (q *BitQueue) Push(bit uint8) {
	if q.head >= 4096 {
		q.compact()
	}
	q.b = append(q.b, bit)
}

// Append appends bits.
func (q *BitQueue) Append(bits []byte) {
	q.compact()
	q.b = append(q.b, bits...)
}

// Len is the number of bits waiting.
func (q *BitQueue) Len() int { return len(q.b) - q.head }

// Pop removes one bit; ok is false when empty.
func (q *BitQueue) Pop() (bit uint8, ok bool) {
	if q.head >= len(q.b) {
		return 0, false
	}
	bit = q.b[q.head] & 1
	q.head++
	if q.head == len(q.b) {
		q.b, q.head = q.b[:0], 0
	}
	return bit, true
}

// Read moves up to len(p) bits into p.
func (q *BitQueue) Read(p []byte) int {
	n := copy(p, q.b[q.head:])
	q.head += n
	if q.head == len(q.b) {
		q.b, q.head = q.b[:0], 0
	}
	return n
}

// Reset empties the queue.
func (q *BitQueue) Reset() { q.b, q.head = q.b[:0], 0 }

func (q *BitQueue) compact() {
	if q.head > 0 && q.head >= len(q.b)/2 {
		n := copy(q.b, q.b[q.head:])
		q.b, q.head = q.b[:n], 0
	}
}

// Buf exposes the backing slice, for tests that bound memory.
func (q *BitQueue) Buf() []byte { return q.b }
