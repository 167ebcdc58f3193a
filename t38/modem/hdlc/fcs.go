// Package hdlc is bit-level HDLC framing as T.30 uses it on V.21 and in ECM:
// flags, zero-bit insertion, the 16-bit frame check sequence and aborts.
//
// Bits are octets' least significant bit first, as HDLC sends them, so the
// frames are exactly the byte slices the t30 engine builds and consumes
// (address, control, FCF, FIF), without FCS. The Encoder turns frames into
// bits and the Decoder turns bits back into frames; neither does I/O, reads
// a clock or starts a goroutine.
package hdlc

// The FCS is the CRC of ITU-T V.42 / ISO 13239 with generator
// x^16 + x^12 + x^5 + 1, register preset to all ones, processed LSB first
// and sent ones-complemented, low octet first.
var fcsTable = func() (t [256]uint16) {
	for i := range t {
		c := uint16(i)
		for range 8 {
			if c&1 != 0 {
				c = c>>1 ^ 0x8408 // the generator, bit-reversed
			} else {
				c >>= 1
			}
		}
		t[i] = c
	}
	return t
}()

// fcsGood is the register left over when a frame and its own FCS are run
// through the CRC: every correctly received frame ends on it.
const fcsGood = 0xF0B8

func crcUpdate(crc uint16, b []byte) uint16 {
	for _, x := range b {
		crc = crc>>8 ^ fcsTable[byte(crc)^x]
	}
	return crc
}

// FCS returns the frame check sequence of frame as it is sent: the
// complemented CRC. The low octet goes on the line first.
func FCS(frame []byte) uint16 { return ^crcUpdate(0xFFFF, frame) }

// AppendFCS returns frame with its two FCS octets appended.
func AppendFCS(frame []byte) []byte {
	f := FCS(frame)
	return append(frame, byte(f), byte(f>>8))
}

// CheckFCS reports whether the last two octets of b are the FCS of the rest.
func CheckFCS(b []byte) bool { return len(b) >= 2 && crcUpdate(0xFFFF, b) == fcsGood }
