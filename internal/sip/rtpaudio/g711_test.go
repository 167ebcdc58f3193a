package rtpaudio

import (
	"testing"
)

// Golden codes: the G.711 end points and zero, as every conforming coder has them.
func TestG711Golden(t *testing.T) {
	enc := []struct {
		in   int16
		u, a byte
	}{
		{0, 0xFF, 0xD5},
		{32767, 0x80, 0xAA},
		{-32768, 0x00, 0x2A},
		{-1, 0x7F, 0x55},
	}
	for _, c := range enc {
		if got := PCMU.Encode(nil, []int16{c.in})[0]; got != c.u {
			t.Errorf("PCMU.Encode(%d) = %#02x, want %#02x", c.in, got, c.u)
		}
		if got := PCMA.Encode(nil, []int16{c.in})[0]; got != c.a {
			t.Errorf("PCMA.Encode(%d) = %#02x, want %#02x", c.in, got, c.a)
		}
	}
	dec := []struct {
		code byte
		u, a int16
	}{
		{0xFF, 0, 848},
		{0x7F, 0, -848},
		{0x80, 32124, 5504},
		{0x00, -32124, -5504},
		{0xD5, 716, 8},
		{0x55, -716, -8},
		{0xAA, 5372, 32256},
		{0x2A, -5372, -32256},
	}
	for _, c := range dec {
		if got := PCMU.Decode(nil, []byte{c.code})[0]; got != c.u {
			t.Errorf("PCMU.Decode(%#02x) = %d, want %d", c.code, got, c.u)
		}
		if got := PCMA.Decode(nil, []byte{c.code})[0]; got != c.a {
			t.Errorf("PCMA.Decode(%#02x) = %d, want %d", c.code, got, c.a)
		}
	}
}

// The coders are monotonic and their error stays inside one step of the
// segment, which is what makes a sine survive the round trip.
func TestG711RoundTripError(t *testing.T) {
	for _, c := range []Codec{PCMU, PCMA} {
		prev := int16(-32768)
		for x := -32768; x <= 32767; x += 7 {
			s := int16(x)
			back := c.Decode(nil, c.Encode(nil, []int16{s}))[0]
			if back < prev {
				t.Fatalf("%s not monotonic at %d: %d < %d", c.Name, s, back, prev)
			}
			prev = back
			diff := int(back) - int(s)
			if diff < 0 {
				diff = -diff
			}
			lim := 1100 // largest half-step of the top segment
			if a := abs(int(s)); a < 1000 {
				lim = 40
			}
			if diff > lim {
				t.Fatalf("%s(%d) round trip %d, error %d > %d", c.Name, s, back, diff, lim)
			}
		}
	}
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

func FuzzG711Decode(f *testing.F) {
	f.Add([]byte{0x00, 0x7F, 0x80, 0xFF, 0x55, 0xD5})
	f.Add([]byte("any payload bytes"))
	f.Fuzz(func(t *testing.T, coded []byte) {
		for _, c := range []Codec{PCMU, PCMA} {
			pcm := c.Decode(nil, coded)
			if len(pcm) != len(coded) {
				t.Fatalf("%s: %d samples from %d bytes", c.Name, len(pcm), len(coded))
			}
			// Decoding is a fixed point after one encode: decode(encode(decode(b))) == decode(b).
			again := c.Decode(nil, c.Encode(nil, pcm))
			for i := range pcm {
				if again[i] != pcm[i] {
					t.Fatalf("%s: byte %#02x decodes to %d but re-codes to %d", c.Name, coded[i], pcm[i], again[i])
				}
			}
		}
	})
}
