package ifp

import (
	"errors"
	"fmt"
	"strings"
)

// MaxVersion is the highest T38FaxVersion this package encodes.
const MaxVersion = 3

// MaxFieldData is the largest field-data: OCTET STRING (SIZE(1..65535)).
const MaxFieldData = 65535

// Errors returned (wrapped, with detail) by Marshal and Unmarshal.
var (
	ErrVersion       = errors.New("ifp: unsupported T.38 version")
	ErrTruncated     = errors.New("ifp: truncated packet")
	ErrTrailing      = errors.New("ifp: trailing bytes after packet")
	ErrBadLength     = errors.New("ifp: bad length")
	ErrExtensionInV0 = errors.New("ifp: extension value not allowed in T.38 version 0")
	ErrUnknownValue  = errors.New("ifp: unknown enumeration value")
	ErrMalformed     = errors.New("ifp: malformed packet")
)

// Field is one element of a Data-Field. Empty Data means field-data absent.
type Field struct {
	Type FieldType
	Data []byte
}

// Packet is one IFPPacket: either a t30-indicator or t30-data with fields.
type Packet struct {
	IsData    bool
	Indicator Indicator // when !IsData
	DataType  DataType  // when IsData
	Fields    []Field   // when IsData; nil means data-field absent
}

// NewIndicator returns an indicator packet.
func NewIndicator(i Indicator) *Packet { return &Packet{Indicator: i} }

// NewData returns a data packet with the given fields.
func NewData(t DataType, fields ...Field) *Packet {
	return &Packet{IsData: true, DataType: t, Fields: fields}
}

func checkVersion(v int) error {
	if v < 0 || v > MaxVersion {
		return fmt.Errorf("%w: %d", ErrVersion, v)
	}
	return nil
}

// Marshal encodes p in the syntax of the negotiated T38FaxVersion.
func (p *Packet) Marshal(version int) ([]byte, error) {
	return p.AppendMarshal(make([]byte, 0, p.encodedSizeHint()), version)
}

func (p *Packet) encodedSizeHint() int {
	n := 4
	for _, f := range p.Fields {
		n += 4 + len(f.Data)
	}
	return n
}

// AppendMarshal appends the encoding of p to dst.
func (p *Packet) AppendMarshal(dst []byte, version int) ([]byte, error) {
	if err := checkVersion(version); err != nil {
		return dst, err
	}
	if !p.IsData {
		return appendIndicator(dst, p.Indicator, version)
	}
	return p.appendData(dst, version)
}

// The first octet of an IFPPacket is: bit 7 data-field present (SEQUENCE
// preamble), bit 6 the Type-of-msg choice (0 indicator, 1 data), bit 5 the
// ENUMERATED extension bit. A root value follows in 4 bits; an extension
// value as a normally-small number: a 0 bit and 6 bits spilling into octet 2.
func appendIndicator(dst []byte, i Indicator, version int) ([]byte, error) {
	switch {
	case i >= 0 && i < firstExtIndicator:
		return append(dst, byte(i)<<1), nil
	case i >= firstExtIndicator && i <= MaxIndicator:
		if version == 0 {
			return dst, fmt.Errorf("%w: indicator %v", ErrExtensionInV0, i)
		}
		v := byte(i - firstExtIndicator)
		return append(dst, 0x20|v>>2, v<<6), nil
	}
	return dst, fmt.Errorf("%w: indicator %d", ErrUnknownValue, int(i))
}

func (p *Packet) appendData(dst []byte, version int) ([]byte, error) {
	var present byte
	if len(p.Fields) > 0 {
		present = 0x80
	}
	switch t := p.DataType; {
	case t >= 0 && t < firstExtDataType:
		dst = append(dst, present|0x40|byte(t)<<1)
	case t >= firstExtDataType && t <= MaxDataType:
		if version == 0 {
			return dst, fmt.Errorf("%w: data type %v", ErrExtensionInV0, t)
		}
		v := byte(t - firstExtDataType)
		dst = append(dst, present|0x60|v>>2, v<<6)
	default:
		return dst, fmt.Errorf("%w: data type %d", ErrUnknownValue, int(t))
	}
	if len(p.Fields) == 0 {
		return dst, nil
	}
	if len(p.Fields) >= 16384 {
		return dst, fmt.Errorf("%w: %d fields", ErrBadLength, len(p.Fields))
	}
	dst = appendLength(dst, len(p.Fields))
	half := -1 // v0: index of an octet whose low nibble is still free
	for k, f := range p.Fields {
		if len(f.Data) > MaxFieldData {
			return dst, fmt.Errorf("%w: field %d has %d octets", ErrBadLength, k, len(f.Data))
		}
		var hasData byte
		if len(f.Data) > 0 {
			hasData = 1
		}
		if version == 0 {
			// 1998 syntax: 1 presence bit + 3-bit type, not aligned. A field
			// without data leaves the octet half used, and the next field's
			// nibble fills it (aligned PER; spandsp's decoder expects this).
			if f.Type < 0 || f.Type >= firstExtFieldType {
				if f.Type.Valid() {
					return dst, fmt.Errorf("%w: field type %v", ErrExtensionInV0, f.Type)
				}
				return dst, fmt.Errorf("%w: field type %d", ErrUnknownValue, int(f.Type))
			}
			nib := hasData<<3 | byte(f.Type)
			if half >= 0 {
				dst[half] |= nib
				half = -1
			} else {
				dst = append(dst, nib<<4)
				if hasData == 0 {
					half = len(dst) - 1
				}
			}
		} else {
			// 2002 syntax as spandsp writes it: one octet per field, presence
			// bit, extension bit, 3-bit root type; extension types take two
			// octets with the index at bits 3..0 and 7..6.
			switch {
			case f.Type >= 0 && f.Type < firstExtFieldType:
				dst = append(dst, hasData<<7|byte(f.Type)<<3)
			case f.Type >= firstExtFieldType && f.Type <= MaxFieldType:
				v := byte(f.Type - firstExtFieldType)
				dst = append(dst, hasData<<7|0x40|v>>2, v<<6)
			default:
				return dst, fmt.Errorf("%w: field type %d", ErrUnknownValue, int(f.Type))
			}
		}
		if hasData == 1 {
			// Constrained OCTET STRING (1..65535): aligned 16-bit length-1.
			n := len(f.Data) - 1
			dst = append(dst, byte(n>>8), byte(n))
			dst = append(dst, f.Data...)
		}
	}
	return dst, nil
}

// appendLength writes a PER unconstrained length determinant (< 16384).
func appendLength(dst []byte, n int) []byte {
	if n < 128 {
		return append(dst, byte(n))
	}
	return append(dst, 0x80|byte(n>>8), byte(n))
}

// readLength reads a PER length determinant at b[*pos]. Fragmented lengths
// (>= 16384) never occur in T.38 and are rejected.
func readLength(b []byte, pos *int) (int, error) {
	if *pos >= len(b) {
		return 0, fmt.Errorf("%w: length determinant at offset %d", ErrTruncated, *pos)
	}
	c := b[*pos]
	switch {
	case c&0x80 == 0:
		*pos++
		return int(c), nil
	case c&0xC0 == 0x80:
		if *pos+1 >= len(b) {
			return 0, fmt.Errorf("%w: length determinant at offset %d", ErrTruncated, *pos)
		}
		n := int(c&0x3F)<<8 | int(b[*pos+1])
		*pos += 2
		return n, nil
	}
	return 0, fmt.Errorf("%w: fragmented length determinant at offset %d", ErrBadLength, *pos)
}

// Unmarshal decodes b, which must hold exactly one IFP packet in the syntax
// of the negotiated T38FaxVersion. Field data aliases b.
func (p *Packet) Unmarshal(b []byte, version int) error {
	_, err := p.decode(b, version, true)
	return err
}

// Len returns the length of the IFP packet at the start of b, which may be
// followed by anything (FEC-repaired packets come back zero-padded).
func Len(b []byte, version int) (int, error) {
	var p Packet
	return p.decode(b, version, false)
}

// decode reads one packet from the start of b and returns its length; with
// exact, anything after it is an error.
func (p *Packet) decode(b []byte, version int, exact bool) (int, error) {
	if err := checkVersion(version); err != nil {
		return 0, err
	}
	*p = Packet{}
	if len(b) == 0 {
		return 0, fmt.Errorf("%w: empty", ErrTruncated)
	}
	present := b[0]&0x80 != 0
	isData := b[0]&0x40 != 0
	ext := b[0]&0x20 != 0
	pos := 1
	var value int
	if !ext {
		value = int(b[0]>>1) & 0x0F
	} else {
		if version == 0 {
			return 0, fmt.Errorf("%w: first octet %#02x", ErrExtensionInV0, b[0])
		}
		if len(b) < 2 {
			return 0, fmt.Errorf("%w: extension value needs 2 octets", ErrTruncated)
		}
		if b[0]&0x10 != 0 {
			return 0, fmt.Errorf("%w: extension index >= 64", ErrUnknownValue)
		}
		value = int(b[0]&0x0F)<<2 | int(b[1]>>6)
		pos = 2
	}
	if !isData {
		if present {
			return 0, fmt.Errorf("%w: indicator packet with a data field", ErrMalformed)
		}
		i := Indicator(value)
		if ext {
			i += firstExtIndicator
		}
		if !i.Valid() {
			return 0, fmt.Errorf("%w: indicator %d", ErrUnknownValue, int(i))
		}
		if exact && pos != len(b) {
			return 0, fmt.Errorf("%w: %d after indicator %v", ErrTrailing, len(b)-pos, i)
		}
		p.Indicator = i
		return pos, nil
	}
	t := DataType(value)
	if ext {
		t += firstExtDataType
	}
	if !t.Valid() || (!ext && t >= firstExtDataType) {
		return 0, fmt.Errorf("%w: data type %d", ErrUnknownValue, int(t))
	}
	p.IsData = true
	p.DataType = t
	if !present {
		if exact && pos != len(b) {
			return 0, fmt.Errorf("%w: %d after data header without data field", ErrTrailing, len(b)-pos)
		}
		return pos, nil
	}
	count, err := readLength(b, &pos)
	if err != nil {
		return 0, err
	}
	if count == 0 {
		return 0, fmt.Errorf("%w: data field with no fields", ErrMalformed)
	}
	// Each field takes at least half an octet; refuse counts the packet
	// cannot hold before allocating for them.
	if count > 2*(len(b)-pos) {
		return 0, fmt.Errorf("%w: %d fields in %d octets", ErrTruncated, count, len(b)-pos)
	}
	var end int
	if version == 0 {
		p.Fields, end, err = decodeFieldsV0(b, pos, count, true)
		if err == nil && exact && end != len(b) {
			err = fmt.Errorf("%w: %d after %d fields", ErrTrailing, len(b)-end, count)
		}
		if err != nil && exact {
			// spandsp's own v0 encoder gives every field a whole octet even
			// when it has no data; its decoder then misreads what follows.
			// Accept that layout when the correct one does not parse.
			if alt, end2, err2 := decodeFieldsV0(b, pos, count, false); err2 == nil && end2 == len(b) {
				p.Fields, end, err = alt, end2, nil
			}
		}
	} else {
		p.Fields, end, err = decodeFieldsV1(b, pos, count)
		if err == nil && exact && end != len(b) {
			err = fmt.Errorf("%w: %d after %d fields", ErrTrailing, len(b)-end, count)
		}
	}
	if err != nil {
		p.Fields = nil
		return 0, err
	}
	return end, nil
}

func readFieldData(b []byte, pos *int, k int) ([]byte, error) {
	if *pos+2 > len(b) {
		return nil, fmt.Errorf("%w: field %d data length", ErrTruncated, k)
	}
	n := (int(b[*pos])<<8 | int(b[*pos+1])) + 1
	if n > MaxFieldData {
		return nil, fmt.Errorf("%w: field %d data length %d", ErrBadLength, k, n)
	}
	*pos += 2
	if *pos+n > len(b) {
		return nil, fmt.Errorf("%w: field %d wants %d octets, %d left", ErrTruncated, k, n, len(b)-*pos)
	}
	d := b[*pos : *pos+n : *pos+n]
	*pos += n
	return d, nil
}

func decodeFieldsV0(b []byte, pos, count int, packed bool) ([]Field, int, error) {
	fields := make([]Field, count)
	half := false // the previous field used only the high nibble of b[pos]
	for k := range fields {
		if pos >= len(b) {
			return nil, 0, fmt.Errorf("%w: field %d of %d", ErrTruncated, k, count)
		}
		var nib byte
		if half {
			nib = b[pos] & 0x0F
			pos++
			half = false
		} else {
			nib = b[pos] >> 4
			if nib&0x08 != 0 || !packed {
				pos++
			} else {
				half = true
			}
		}
		fields[k].Type = FieldType(nib & 0x07)
		if nib&0x08 != 0 {
			d, err := readFieldData(b, &pos, k)
			if err != nil {
				return nil, 0, err
			}
			fields[k].Data = d
		}
	}
	if half {
		pos++ // the last field ended mid-octet; the rest is padding
	}
	return fields, pos, nil
}

func decodeFieldsV1(b []byte, pos, count int) ([]Field, int, error) {
	fields := make([]Field, count)
	for k := range fields {
		if pos >= len(b) {
			return nil, 0, fmt.Errorf("%w: field %d of %d", ErrTruncated, k, count)
		}
		c := b[pos]
		if c&0x40 == 0 {
			fields[k].Type = FieldType(c>>3) & 0x07
			pos++
		} else {
			if pos+1 >= len(b) {
				return nil, 0, fmt.Errorf("%w: extension field type %d", ErrTruncated, k)
			}
			if c&0x30 != 0 {
				return nil, 0, fmt.Errorf("%w: field %d extension octet %#02x", ErrUnknownValue, k, c)
			}
			t := firstExtFieldType + FieldType(int(c&0x0F)<<2|int(b[pos+1]>>6))
			if !t.Valid() {
				return nil, 0, fmt.Errorf("%w: field type %d", ErrUnknownValue, int(t))
			}
			fields[k].Type = t
			pos += 2
		}
		if c&0x80 != 0 {
			d, err := readFieldData(b, &pos, k)
			if err != nil {
				return nil, 0, err
			}
			fields[k].Data = d
		}
	}
	return fields, pos, nil
}

// String renders p for logs, e.g. "v21 [hdlc-data(1)=ff hdlc-fcs-OK]".
func (p *Packet) String() string {
	if !p.IsData {
		return p.Indicator.String()
	}
	var sb strings.Builder
	sb.WriteString(p.DataType.String())
	sb.WriteString(" [")
	for k, f := range p.Fields {
		if k > 0 {
			sb.WriteByte(' ')
		}
		sb.WriteString(f.Type.String())
		if len(f.Data) > 0 {
			fmt.Fprintf(&sb, "(%d)=", len(f.Data))
			const show = 8
			if len(f.Data) > show {
				fmt.Fprintf(&sb, "%x...", f.Data[:show])
			} else {
				fmt.Fprintf(&sb, "%x", f.Data)
			}
		}
	}
	sb.WriteByte(']')
	return sb.String()
}
