// Package t4 is faxd's codec for fax page data: ITU-T T.4 one-dimensional
// (MH) and two-dimensional (MR) coding and T.6 (MMR) coding, both ways.
//
// Coded data is packed most significant bit first in each octet (TIFF
// FillOrder 1); ReverseBits converts data in the other order. The decoder
// behaves like a fax receiver: a corrupt MH or MR row is counted, replaced
// by the row above, and decoding resumes at the next EOL.
package t4

import (
	"errors"
	"fmt"
)

// Coding is a fax page coding scheme.
type Coding int

// The codings; the values match the T.30 DCS coding choices used in faxd.
const (
	MH  Coding = 1 // T.4 one-dimensional (Modified Huffman)
	MR  Coding = 2 // T.4 two-dimensional (Modified READ)
	MMR Coding = 3 // T.6 (Modified Modified READ)
)

func (c Coding) String() string {
	switch c {
	case MH:
		return "MH"
	case MR:
		return "MR"
	case MMR:
		return "MMR"
	}
	return fmt.Sprintf("Coding(%d)", int(c))
}

// Limits that keep hostile input from exhausting memory. A fax row is at
// most 4864 pixels (A3 at 400 dpi); a page longer than DefaultMaxHeight
// rows is almost certainly not a page.
const (
	MaxWidth         = 1 << 15
	DefaultMaxHeight = 1 << 15
)

// Errors reported by the codec.
var (
	ErrBadWidth   = errors.New("unsupported page width")
	ErrBadCoding  = errors.New("unknown coding")
	ErrBadImage   = errors.New("malformed image")
	ErrCorrupt    = errors.New("corrupt coded data")
	ErrTooLong    = errors.New("page too long")
	ErrBadOptions = errors.New("bad encode options")
)

// Bounds on EncodeOptions.
const (
	MaxMinRowBits = 1 << 14
	MaxK          = 1 << 16
)

// ReverseBits reverses the bit order of every octet in place, converting
// between FillOrder 1 (MSB first) and FillOrder 2 (LSB first, the order
// bits travel on the line and spandsp keeps them).
func ReverseBits(b []byte) {
	for i, v := range b {
		b[i] = reverse[v]
	}
}

var reverse = func() (t [256]byte) {
	for i := range t {
		v := byte(i)
		v = v>>4 | v<<4
		v = (v&0xcc)>>2 | (v&0x33)<<2
		v = (v&0xaa)>>1 | (v&0x55)<<1
		t[i] = v
	}
	return t
}()
