// Package rtpaudio carries the G.711 audio phase of a fax call: PCMU/PCMA
// coding, the CNG and CED tones, and an RTP stream (github.com/pion/rtp) that
// sends a tone and listens for one.
package rtpaudio

import "github.com/faxd/faxd/t38/g711"

// Codec is a G.711 law with its SDP encoding name and static RTP payload
// type (RFC 3551); t38/g711 does the coding.
type Codec struct {
	Name        string // SDP encoding name
	PayloadType uint8
	law         g711.Law
}

var (
	// PCMU is G.711 mu-law, payload type 0.
	PCMU = Codec{Name: "PCMU", PayloadType: 0, law: g711.ULaw}
	// PCMA is G.711 A-law, payload type 8.
	PCMA = Codec{Name: "PCMA", PayloadType: 8, law: g711.ALaw}
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
func (c Codec) Encode(dst []byte, pcm []int16) []byte { return c.law.Encode(dst, pcm) }

// Decode appends the linear samples of coded to dst. Every byte is a valid
// G.711 code, so decoding cannot fail.
func (c Codec) Decode(dst []int16, coded []byte) []int16 { return c.law.Decode(dst, coded) }
