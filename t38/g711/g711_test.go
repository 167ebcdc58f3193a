package g711

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestGolden checks fixed points of G.711 itself: silence, the largest
// codes, and the decoded value of codes whose figures the recommendation's
// tables give.
func TestGolden(t *testing.T) {
	for _, c := range []struct {
		law  Law
		s    int16
		code byte
	}{
		{ULaw, 0, 0xFF}, {ULaw, -1, 0x7F}, {ULaw, 32767, 0x80}, {ULaw, -32768, 0x00},
		{ALaw, 0, 0xD5}, {ALaw, -1, 0x55}, {ALaw, 32767, 0xAA}, {ALaw, -32768, 0x2A},
	} {
		if got := c.law.Encode(nil, []int16{c.s})[0]; got != c.code {
			t.Errorf("%v encode %d = %#02x, want %#02x", c.law, c.s, got, c.code)
		}
	}
	for _, c := range []struct {
		law  Law
		code byte
		s    int16
	}{
		{ULaw, 0xFF, 0}, {ULaw, 0x80, 32124}, {ULaw, 0x00, -32124}, {ULaw, 0xFE, 8},
		{ALaw, 0xD5, 8}, {ALaw, 0xAA, 32256}, {ALaw, 0x2A, -32256}, {ALaw, 0x55, -8},
	} {
		if got := c.law.Decode(nil, []byte{c.code})[0]; got != c.s {
			t.Errorf("%v decode %#02x = %d, want %d", c.law, c.code, got, c.s)
		}
	}
}

// TestRoundTrip: every code decodes to a sample that encodes back to it,
// except mu-law's negative zero (0x7F), which is the same sample as 0xFF.
func TestRoundTrip(t *testing.T) {
	for _, law := range []Law{ULaw, ALaw} {
		for b := range 256 {
			s := law.Decode(nil, []byte{byte(b)})[0]
			got := law.Encode(nil, []int16{s})[0]
			if got != byte(b) && !(law == ULaw && b == 0x7F && got == 0xFF) {
				t.Errorf("%v: %#02x -> %d -> %#02x", law, b, s, got)
			}
		}
	}
}

// TestSpandsp compares every sample's code and every code's sample with
// spandsp's G.711.
func TestSpandsp(t *testing.T) {
	if _, err := os.Stat("/usr/include/spandsp/g711.h"); err != nil {
		t.Skip("libspandsp-dev not installed (/usr/include/spandsp/g711.h missing)")
	}
	gcc, err := exec.LookPath("gcc")
	if err != nil {
		t.Skip("gcc not installed")
	}
	bin := filepath.Join(t.TempDir(), "spandsp_g711")
	if out, err := exec.Command(gcc, "-O1", "-o", bin, "testdata/spandsp_g711.c", "-lspandsp").CombinedOutput(); err != nil {
		t.Fatalf("building spandsp oracle: %v\n%s", err, out)
	}
	out, err := exec.Command(bin).Output()
	if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	n, bad := 0, 0
	for sc.Scan() {
		var kind string
		var a, b int
		if _, err := fmt.Sscanf(sc.Text(), "%s %d %d", &kind, &a, &b); err != nil {
			t.Fatalf("oracle line %q: %v", sc.Text(), err)
		}
		var got int
		switch kind {
		case "u":
			got = int(ULawEncode(int16(a)))
		case "a":
			got = int(ALawEncode(int16(a)))
		case "U":
			got = int(ULawDecode(byte(a)))
		case "A":
			got = int(ALawDecode(byte(a)))
		}
		if n++; got != b {
			if bad++; bad < 10 {
				t.Errorf("%s %d: ours %d, spandsp %d", kind, a, got, b)
			}
		}
	}
	if n != 2*65536+2*256 {
		t.Fatalf("oracle gave %d lines", n)
	}
	if bad > 0 {
		t.Errorf("%d of %d differ", bad, n)
	}
}

// FuzzLaw: decoding any bytes and encoding the samples again gives the same
// bytes (mu-law's negative zero aside), and encoding any samples never
// moves them by more than the law's step at that level.
func FuzzLaw(f *testing.F) {
	f.Add([]byte{0, 0x7F, 0x80, 0xFF, 0x55, 0xD5})
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, law := range []Law{ULaw, ALaw} {
			pcm := law.Decode(nil, data)
			back := law.Encode(nil, pcm)
			for i := range data {
				if back[i] != data[i] && !(law == ULaw && data[i] == 0x7F && back[i] == 0xFF) {
					t.Fatalf("%v: %#02x -> %d -> %#02x", law, data[i], pcm[i], back[i])
				}
			}
			samples := make([]int16, len(data)/2)
			for i := range samples {
				samples[i] = int16(uint16(data[2*i]) | uint16(data[2*i+1])<<8)
			}
			dec := law.Decode(nil, law.Encode(nil, samples))
			for i, s := range samples {
				// The top segment's step is 1024 in both laws; above the
				// largest code (32124 mu-law, 32256 A-law) the error grows
				// to at most 643 by clipping.
				if d := int(dec[i]) - int(s); d > 1024+643 || d < -(1024+643) {
					t.Fatalf("%v: %d came back as %d", law, s, dec[i])
				}
			}
		}
	})
}

func BenchmarkDecode(b *testing.B) {
	in := make([]byte, 160)
	out := make([]int16, 0, 160)
	b.SetBytes(160)
	for range b.N {
		out = ULaw.Decode(out[:0], in)
	}
}

func BenchmarkEncode(b *testing.B) {
	in := make([]int16, 160)
	out := make([]byte, 0, 160)
	b.SetBytes(160)
	for range b.N {
		out = ULaw.Encode(out[:0], in)
	}
}
