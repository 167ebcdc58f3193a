// Package g711 is the G.711 audio coding of RTP fax calls: mu-law (PCMU)
// and A-law (PCMA) between 8-bit codes and 16-bit linear samples, through
// tables built once at start-up. Every byte is a valid code, so decoding
// cannot fail; encoding clips to the law's range.
package g711

// Law is a G.711 companding law.
type Law uint8

const (
	ULaw Law = iota + 1 // mu-law, RTP payload type 0 (PCMU)
	ALaw                // A-law, RTP payload type 8 (PCMA)
)

func (l Law) String() string {
	switch l {
	case ULaw:
		return "PCMU"
	case ALaw:
		return "PCMA"
	}
	return "g711?"
}

// PayloadType is the law's static RTP payload type (RFC 3551).
func (l Law) PayloadType() uint8 {
	if l == ALaw {
		return 8
	}
	return 0
}

// Encode appends the codes of pcm to dst.
func (l Law) Encode(dst []byte, pcm []int16) []byte {
	t := &ulawEnc
	if l == ALaw {
		t = &alawEnc
	}
	for _, s := range pcm {
		dst = append(dst, t[uint16(s)])
	}
	return dst
}

// Decode appends the linear samples of coded to dst.
func (l Law) Decode(dst []int16, coded []byte) []int16 {
	t := &ulawDec
	if l == ALaw {
		t = &alawDec
	}
	for _, b := range coded {
		dst = append(dst, t[b])
	}
	return dst
}

// ULawEncode codes one sample as mu-law.
func ULawEncode(s int16) byte { return ulawEnc[uint16(s)] }

// ULawDecode expands one mu-law code.
func ULawDecode(b byte) int16 { return ulawDec[b] }

// ALawEncode codes one sample as A-law.
func ALawEncode(s int16) byte { return alawEnc[uint16(s)] }

// ALawDecode expands one A-law code.
func ALawDecode(b byte) int16 { return alawDec[b] }

// One code per 16-bit sample and law (64 KiB each): a table lookup is the
// cheapest per-sample cost, and RTP fax calls encode every sample.
var (
	ulawEnc, alawEnc [1 << 16]byte
	ulawDec, alawDec [256]int16
)

func init() {
	for i := range 1 << 16 {
		s := int16(uint16(i))
		ulawEnc[i] = ulawEncode(s)
		alawEnc[i] = alawEncode(s)
	}
	for b := range 256 {
		ulawDec[b] = ulawDecode(byte(b))
		alawDec[b] = alawDecode(byte(b))
	}
}

const (
	ulawBias = 0x84 // 132: moves the segment ends onto powers of two
	ulawClip = 32635
)

// ulawEncode is G.711 §3.2 directly: sign, 3-bit segment, 4-bit step, all
// bits inverted on the line. The bias is added to the whole 16-bit
// magnitude, as spandsp does, so the two low bits can round a sample up.
func ulawEncode(s int16) byte {
	x := int(s)
	sign := 0
	if x < 0 {
		x, sign = -x, 0x80
	}
	x = min(x, ulawClip) + ulawBias
	seg := 7
	for mask := 0x4000; x&mask == 0 && seg > 0; mask >>= 1 {
		seg--
	}
	return ^byte(sign | seg<<4 | (x>>(seg+3))&0x0F)
}

func ulawDecode(b byte) int16 {
	b = ^b
	seg := int(b>>4) & 7
	x := ((int(b&0x0F) << 3) + ulawBias) << seg
	x -= ulawBias
	if b&0x80 != 0 {
		return int16(-x)
	}
	return int16(x)
}

// alawEncode is G.711 §3.3 on the top 13 bits, even bits inverted on the
// line (XOR 0x55).
func alawEncode(s int16) byte {
	x := int(s) >> 3
	sign := 0x80
	if x < 0 {
		x, sign = -x-1, 0
	}
	x = min(x, 0xFFF)
	code := x >> 1
	if x >= 32 {
		seg := 1
		for v := x >> 5; v > 1; v >>= 1 {
			seg++
		}
		code = seg<<4 | (x>>seg)&0x0F
	}
	return byte(sign|code) ^ 0x55
}

func alawDecode(b byte) int16 {
	b ^= 0x55
	seg := int(b>>4) & 7
	x := int(b&0x0F)<<4 + 8
	if seg > 0 {
		x = (int(b&0x0F)<<4 + 0x108) << (seg - 1)
	}
	if b&0x80 == 0 {
		return int16(-x)
	}
	return int16(x)
}
