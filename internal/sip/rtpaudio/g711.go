// Package rtpaudio carries the G.711 audio phase of a fax call: PCMU/PCMA
// coding, the CNG and CED tones, and an RTP stream (github.com/pion/rtp) that
// sends a tone and listens for one.
package rtpaudio

// Codec is a G.711 law with its static RTP payload type (RFC 3551).
type Codec struct {
	Name        string // SDP encoding name
	PayloadType uint8
	encode      func(int16) byte
	decode      func(byte) int16
}

var (
	// PCMU is G.711 mu-law, payload type 0.
	PCMU = Codec{Name: "PCMU", PayloadType: 0, encode: ULawEncode, decode: ULawDecode}
	// PCMA is G.711 A-law, payload type 8.
	PCMA = Codec{Name: "PCMA", PayloadType: 8, encode: ALawEncode, decode: ALawDecode}
)

// CodecByPayloadType returns the codec of a static payload type.
func CodecByPayloadType(pt uint8) (Codec, bool) {
	switch pt {
	case 0:
		return PCMU, true
	case 8:
		return PCMA, true
	}
	return Codec{}, false
}

// Encode appends the coded form of pcm to dst.
func (c Codec) Encode(dst []byte, pcm []int16) []byte {
	for _, s := range pcm {
		dst = append(dst, c.encode(s))
	}
	return dst
}

// Decode appends the linear samples of coded to dst. Every byte is a valid
// G.711 code, so decoding cannot fail.
func (c Codec) Decode(dst []int16, coded []byte) []int16 {
	for _, b := range coded {
		dst = append(dst, c.decode(b))
	}
	return dst
}

const (
	ulawBias = 0x84 // 132: shifts the segment boundaries onto powers of two
	ulawClip = 32635
)

// ULawEncode codes one 16-bit linear sample as mu-law (G.711 §3.2): sign,
// 3-bit segment, 4-bit mantissa, all bits inverted on the wire.
func ULawEncode(s int16) byte {
	x := int(s)
	sign := 0
	if x < 0 {
		x = -x
		sign = 0x80
	}
	if x > ulawClip {
		x = ulawClip
	}
	x += ulawBias
	seg := 7
	for mask := 0x4000; x&mask == 0 && seg > 0; mask >>= 1 {
		seg--
	}
	mant := (x >> (seg + 3)) & 0x0F
	return ^byte(sign | seg<<4 | mant)
}

// ULawDecode expands one mu-law code to a 16-bit linear sample.
func ULawDecode(b byte) int16 {
	b = ^b
	seg := int(b>>4) & 7
	mant := int(b & 0x0F)
	x := ((mant << 3) + ulawBias) << seg
	x -= ulawBias
	if b&0x80 != 0 {
		return int16(-x)
	}
	return int16(x)
}

// ALawEncode codes one 16-bit linear sample as A-law (G.711 §3.3), with the
// even bits inverted on the wire (XOR 0x55).
func ALawEncode(s int16) byte {
	x := int(s) >> 3 // A-law works on 13 bits
	sign := 0x80
	if x < 0 {
		x = -x - 1
		sign = 0
	}
	if x > 0xFFF {
		x = 0xFFF
	}
	var code int
	if x < 32 {
		code = x >> 1
	} else {
		seg := 1
		for v := x >> 5; v > 1; v >>= 1 {
			seg++
		}
		code = seg<<4 | (x>>seg)&0x0F
	}
	return byte(sign|code) ^ 0x55
}

// ALawDecode expands one A-law code to a 16-bit linear sample.
func ALawDecode(b byte) int16 {
	b ^= 0x55
	seg := int(b>>4) & 7
	mant := int(b & 0x0F)
	var x int
	if seg == 0 {
		x = mant<<4 + 8
	} else {
		x = (mant<<4 + 0x108) << (seg - 1)
	}
	if b&0x80 == 0 {
		return int16(-x)
	}
	return int16(x)
}
