// Package udptl frames T.38 IFP packets for UDP (T.38 clause 9.1, Annex C
// parity FEC): the UDPTLPacket wire format, a Sender that adds redundancy or
// FEC, and a Receiver that puts IFPs back in order and repairs losses.
//
// UDPTLPacket is ALIGNED PER: a 16-bit sequence number, the primary IFP as
// an open type (length determinant + octets), then a one-octet CHOICE:
// 0x00 secondary IFPs (a count, then open types, newest first) or 0x80
// fec-info (fec-npackets as an unconstrained INTEGER, a count, then the
// parity OCTET STRINGs).
package udptl

import (
	"errors"
	"fmt"
)

// Errors returned (wrapped, with detail) by Marshal and Unmarshal.
var (
	ErrTruncated = errors.New("udptl: truncated datagram")
	ErrTrailing  = errors.New("udptl: trailing bytes after datagram")
	ErrMalformed = errors.New("udptl: malformed datagram")
	ErrTooBig    = errors.New("udptl: datagram larger than the far end accepts")
)

const (
	choiceRedundancy = 0x00
	choiceFEC        = 0x80
)

// FEC is the fec-info alternative: Entries[m] is the XOR of the IFPs
// Seq+m-Span*len(Entries), stepping by len(Entries), Span of them, each
// zero-padded to the longest.
type FEC struct {
	Span    int
	Entries [][]byte
}

// Packet is one UDPTL datagram. Exactly one of Secondary and FEC is used;
// FEC != nil selects fec-info.
type Packet struct {
	Seq       uint16
	Primary   []byte
	Secondary [][]byte // newest first: Seq-1, Seq-2, ...
	FEC       *FEC
}

// Marshal encodes p.
func (p *Packet) Marshal() ([]byte, error) {
	return p.AppendMarshal(make([]byte, 0, p.Size()))
}

// Size returns the encoded length of p.
func (p *Packet) Size() int {
	n := 2 + openTypeSize(len(p.Primary)) + 1
	if p.FEC != nil {
		n += intSize(p.FEC.Span) + lengthSize(len(p.FEC.Entries))
		for _, e := range p.FEC.Entries {
			n += lengthSize(len(e)) + len(e)
		}
		return n
	}
	n += lengthSize(len(p.Secondary))
	for _, s := range p.Secondary {
		n += openTypeSize(len(s))
	}
	return n
}

// AppendMarshal appends the encoding of p to dst.
func (p *Packet) AppendMarshal(dst []byte) ([]byte, error) {
	if len(p.Primary) == 0 {
		return dst, fmt.Errorf("%w: empty primary IFP", ErrMalformed)
	}
	if len(p.Primary) >= 16384 {
		return dst, fmt.Errorf("%w: primary IFP of %d octets", ErrMalformed, len(p.Primary))
	}
	dst = append(dst, byte(p.Seq>>8), byte(p.Seq))
	dst = appendLength(dst, len(p.Primary))
	dst = append(dst, p.Primary...)
	if p.FEC != nil {
		if p.FEC.Span < 0 || p.FEC.Span > 0x7FFF {
			return dst, fmt.Errorf("%w: FEC span %d", ErrMalformed, p.FEC.Span)
		}
		if len(p.FEC.Entries) >= 16384 {
			return dst, fmt.Errorf("%w: %d FEC entries", ErrMalformed, len(p.FEC.Entries))
		}
		dst = append(dst, choiceFEC)
		// fec-npackets: unconstrained INTEGER = length octet + minimal
		// two's complement. spandsp writes 01 <span>.
		if p.FEC.Span < 128 {
			dst = append(dst, 1, byte(p.FEC.Span))
		} else {
			dst = append(dst, 2, byte(p.FEC.Span>>8), byte(p.FEC.Span))
		}
		dst = appendLength(dst, len(p.FEC.Entries))
		for _, e := range p.FEC.Entries {
			if len(e) >= 16384 {
				return dst, fmt.Errorf("%w: FEC entry of %d octets", ErrMalformed, len(e))
			}
			dst = appendLength(dst, len(e))
			dst = append(dst, e...)
		}
		return dst, nil
	}
	if len(p.Secondary) >= 16384 {
		return dst, fmt.Errorf("%w: %d secondary IFPs", ErrMalformed, len(p.Secondary))
	}
	dst = append(dst, choiceRedundancy)
	dst = appendLength(dst, len(p.Secondary))
	for k, s := range p.Secondary {
		if len(s) == 0 || len(s) >= 16384 {
			return dst, fmt.Errorf("%w: secondary IFP %d of %d octets", ErrMalformed, k, len(s))
		}
		dst = appendLength(dst, len(s))
		dst = append(dst, s...)
	}
	return dst, nil
}

// Unmarshal decodes one datagram. The parse must end exactly at the end of
// b. The IFP and FEC slices alias b.
func (p *Packet) Unmarshal(b []byte) error {
	return p.unmarshal(b, nil)
}

// unmarshal is Unmarshal storing the secondaries in sec's storage when it
// has room, so a Receiver parses without allocating.
func (p *Packet) unmarshal(b []byte, sec [][]byte) error {
	*p = Packet{}
	if len(b) < 2 {
		return fmt.Errorf("%w: %d octets", ErrTruncated, len(b))
	}
	p.Seq = uint16(b[0])<<8 | uint16(b[1])
	pos := 2
	var err error
	if p.Primary, err = readOpenType(b, &pos, "primary IFP"); err != nil {
		return err
	}
	if pos >= len(b) {
		return fmt.Errorf("%w: no error-recovery choice", ErrTruncated)
	}
	choice := b[pos]
	pos++
	switch choice & 0x80 {
	case choiceRedundancy:
		n, err := readLength(b, &pos, "secondary count")
		if err != nil {
			return err
		}
		if n > (len(b)-pos)/2 { // each open type is at least 2 octets
			return fmt.Errorf("%w: %d secondary IFPs in %d octets", ErrTruncated, n, len(b)-pos)
		}
		if n > 0 {
			if cap(sec) >= n {
				p.Secondary = sec[:n]
			} else {
				p.Secondary = make([][]byte, n)
			}
		}
		for k := range p.Secondary {
			if p.Secondary[k], err = readOpenType(b, &pos, "secondary IFP"); err != nil {
				return err
			}
		}
	default:
		f := &FEC{}
		if pos >= len(b) {
			return fmt.Errorf("%w: fec-npackets", ErrTruncated)
		}
		il := int(b[pos])
		pos++
		if il < 1 || il > 2 || pos+il > len(b) {
			return fmt.Errorf("%w: fec-npackets length %d", ErrMalformed, il)
		}
		if b[pos]&0x80 != 0 {
			return fmt.Errorf("%w: negative fec-npackets", ErrMalformed)
		}
		for i := 0; i < il; i++ {
			f.Span = f.Span<<8 | int(b[pos+i])
		}
		pos += il
		n, err := readLength(b, &pos, "FEC entry count")
		if err != nil {
			return err
		}
		if n > len(b)-pos { // each OCTET STRING is at least 1 octet
			return fmt.Errorf("%w: %d FEC entries in %d octets", ErrTruncated, n, len(b)-pos)
		}
		if n > 0 {
			f.Entries = make([][]byte, n)
		}
		for k := range f.Entries {
			l, err := readLength(b, &pos, "FEC entry")
			if err != nil {
				return err
			}
			if pos+l > len(b) {
				return fmt.Errorf("%w: FEC entry %d wants %d octets", ErrTruncated, k, l)
			}
			f.Entries[k] = b[pos : pos+l : pos+l]
			pos += l
		}
		p.FEC = f
	}
	if pos != len(b) {
		return fmt.Errorf("%w: %d octets", ErrTrailing, len(b)-pos)
	}
	return nil
}

func lengthSize(n int) int {
	if n < 128 {
		return 1
	}
	return 2
}

func openTypeSize(n int) int { return lengthSize(n) + n }

func intSize(v int) int {
	if v < 128 {
		return 2
	}
	return 3
}

// appendLength writes a PER length determinant; callers keep n < 16384,
// beyond which PER fragments (never needed for T.38-sized data).
func appendLength(dst []byte, n int) []byte {
	if n < 128 {
		return append(dst, byte(n))
	}
	return append(dst, 0x80|byte(n>>8), byte(n))
}

func readLength(b []byte, pos *int, what string) (int, error) {
	if *pos >= len(b) {
		return 0, fmt.Errorf("%w: %s length", ErrTruncated, what)
	}
	c := b[*pos]
	switch {
	case c&0x80 == 0:
		*pos++
		return int(c), nil
	case c&0xC0 == 0x80:
		if *pos+1 >= len(b) {
			return 0, fmt.Errorf("%w: %s length", ErrTruncated, what)
		}
		n := int(c&0x3F)<<8 | int(b[*pos+1])
		*pos += 2
		return n, nil
	}
	return 0, fmt.Errorf("%w: fragmented %s length", ErrMalformed, what)
}

// readOpenType reads a length-prefixed IFP. An empty IFP is never valid.
func readOpenType(b []byte, pos *int, what string) ([]byte, error) {
	n, err := readLength(b, pos, what)
	if err != nil {
		return nil, err
	}
	if n == 0 {
		return nil, fmt.Errorf("%w: empty %s", ErrMalformed, what)
	}
	if *pos+n > len(b) {
		return nil, fmt.Errorf("%w: %s wants %d octets, %d left", ErrTruncated, what, n, len(b)-*pos)
	}
	v := b[*pos : *pos+n : *pos+n]
	*pos += n
	return v, nil
}
