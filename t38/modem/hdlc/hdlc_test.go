package hdlc

import (
	"bytes"
	"encoding/hex"
	"math/rand/v2"
	"strings"
	"testing"
)

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func bitString(bits []uint8) string {
	var sb strings.Builder
	for _, b := range bits {
		sb.WriteByte('0' + b)
	}
	return sb.String()
}

func parseBits(s string) []uint8 {
	out := make([]uint8, len(s))
	for i := range s {
		out[i] = s[i] - '0'
	}
	return out
}

// disFrame is a DIS as the t30 engine builds it (address, control, FCF,
// FIF; octets in transmission order, LSB first): the non-ECM DIS observed
// from spandsp in t38/t30's golden tests.
const disFrame = "ff 13 80 04 ee f8 80 80 91 80 80 80 18"

func TestFCSGolden(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want uint16
	}{
		// The catalogued check value of CRC-16/X-25 (the HDLC FCS).
		{hex.EncodeToString([]byte("123456789")), 0x906E},
		// Computed by spandsp's crc_itu16_append for the DIS frame.
		{disFrame, 0xE7E4},
	} {
		b := unhex(t, tc.in)
		if got := FCS(b); got != tc.want {
			t.Errorf("FCS(%s) = %#04x, want %#04x", tc.in, got, tc.want)
		}
		withFCS := AppendFCS(b)
		if !CheckFCS(withFCS) {
			t.Errorf("CheckFCS rejects %x", withFCS)
		}
		withFCS[len(withFCS)-3] ^= 0x10
		if CheckFCS(withFCS) {
			t.Errorf("CheckFCS accepts a corrupted %x", withFCS)
		}
	}
}

// The bits spandsp's hdlc_tx sends for two preamble flags and the frame
// ff 13: the 0 after five ones is inserted twice, FCS low octet first.
const goldenBits = "01111110" + "01111110" + "1111101111100010001011100101001011" + "01111110"

func TestEncodeGolden(t *testing.T) {
	bits, err := Encode(2, []byte{0xFF, 0x13})
	if err != nil {
		t.Fatal(err)
	}
	if got := bitString(bits); got != goldenBits {
		t.Fatalf("bits\n got %s\nwant %s", got, goldenBits)
	}
	evs := Decode(parseBits(goldenBits))
	if len(evs) != 2 || evs[0].Kind != EventSync || evs[1].Kind != EventFrame || !evs[1].FCSOK ||
		!bytes.Equal(evs[1].Frame, []byte{0xFF, 0x13}) {
		t.Fatalf("decoded %+v", evs)
	}
}

func TestRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	frames := [][]byte{unhex(t, disFrame), {0xFF, 0xFF, 0xFF, 0xFF, 0xFF}, {0x7E, 0x7E}, {0x00, 0x00}, {0xFF, 0xFF}}
	for range 200 {
		f := make([]byte, MinFrameLen+r.IntN(MaxFrameLen-1))
		for i := range f {
			// Many ones, to exercise stuffing.
			f[i] = byte(r.Uint32()) | byte(r.Uint32())
		}
		frames = append(frames, f)
	}
	bits, err := Encode(4, frames...)
	if err != nil {
		t.Fatal(err)
	}
	// No six ones in a row except in flags: every run of six ones is a
	// flag (followed by a zero), never seven.
	if strings.Contains(bitString(bits), "1111111") {
		t.Fatal("seven ones in a row outside an abort")
	}
	var got [][]byte
	for _, ev := range Decode(bits) {
		switch ev.Kind {
		case EventFrame:
			if !ev.FCSOK {
				t.Fatalf("bad FCS on %x", ev.Frame)
			}
			got = append(got, ev.Frame)
		case EventAbort:
			t.Fatal("unexpected abort")
		}
	}
	if len(got) != len(frames) {
		t.Fatalf("%d frames back, want %d", len(got), len(frames))
	}
	for i := range frames {
		if !bytes.Equal(got[i], frames[i]) {
			t.Fatalf("frame %d: got %x want %x", i, got[i], frames[i])
		}
	}
}

func TestBitErrorGivesBadFCS(t *testing.T) {
	bits, _ := Encode(2, unhex(t, disFrame))
	// Flip one data bit well inside the frame (after the two flags and
	// the opening flag of the frame).
	bits[8*3+40] ^= 1
	var frames, bad int
	for _, ev := range Decode(bits) {
		if ev.Kind == EventFrame {
			frames++
			if !ev.FCSOK {
				bad++
			}
		}
	}
	// Either the frame comes back with a bad FCS or, if the flip broke the
	// octet alignment, it is dropped: never a good frame.
	var d Decoder
	for _, b := range bits {
		d.PutBit(b)
	}
	st := d.Stats()
	if st.Frames != 0 || bad+st.Runts != 1 {
		t.Fatalf("frames %d bad %d stats %+v", frames, bad, st)
	}
}

func TestAbort(t *testing.T) {
	var e Encoder
	e.Flags(2)
	frame := unhex(t, disFrame)
	// Half a frame, then an abort, then a whole frame.
	half, _ := Encode(0, frame)
	half = half[8 : 8+50]
	var bits []uint8
	for {
		b, ok := e.NextBit()
		if !ok {
			break
		}
		bits = append(bits, b)
	}
	bits = append(bits, half...)
	e.Abort()
	if err := e.Frame(frame); err != nil {
		t.Fatal(err)
	}
	buf := make([]uint8, 4096)
	n := e.Read(buf)
	if n == len(buf) || e.Pending() {
		t.Fatal("encoder did not drain")
	}
	bits = append(bits, buf[:n]...)
	var kinds []EventKind
	for _, ev := range Decode(bits) {
		kinds = append(kinds, ev.Kind)
		if ev.Kind == EventFrame && (!ev.FCSOK || !bytes.Equal(ev.Frame, frame)) {
			t.Fatalf("frame after abort: %+v", ev)
		}
	}
	want := []EventKind{EventSync, EventAbort, EventFrame}
	if len(kinds) != len(want) {
		t.Fatalf("events %v, want %v", kinds, want)
	}
	for i := range want {
		if kinds[i] != want[i] {
			t.Fatalf("events %v, want %v", kinds, want)
		}
	}
}

func TestEncoderRefusals(t *testing.T) {
	var e Encoder
	if err := e.Frame([]byte{0xFF}); err == nil {
		t.Error("one-octet frame accepted")
	}
	if err := e.Frame(make([]byte, MaxFrameLen+1)); err == nil {
		t.Error("long frame accepted")
	}
	e.MaxLen = 10
	if err := e.Frame(make([]byte, 11)); err == nil {
		t.Error("frame longer than MaxLen accepted")
	}
	if e.Pending() {
		t.Error("refused frames were queued")
	}
}

func TestTooLong(t *testing.T) {
	var enc Encoder
	enc.MaxLen = 100
	if err := enc.Frame(bytes.Repeat([]byte{0x55}, 100)); err != nil {
		t.Fatal(err)
	}
	bits := make([]uint8, 2000)
	bits = bits[:enc.Read(bits)]
	d := Decoder{MaxLen: 40}
	var got []Event
	for _, b := range bits {
		if ev, ok := d.PutBit(b); ok {
			got = append(got, ev)
		}
	}
	if len(got) != 1 || !got[0].TooLong || got[0].FCSOK || len(got[0].Frame) != 40 {
		t.Fatalf("events %+v", got)
	}
	if d.Stats().Overruns != 1 {
		t.Fatalf("stats %+v", d.Stats())
	}
}

// Flags that share their zero (011111101111110) still frame.
func TestSharedZeroFlags(t *testing.T) {
	frame := []byte{0xFF, 0x13, 0x80}
	body, _ := Encode(0, frame)
	body = body[8:] // drop the opening flag Encode adds
	bits := parseBits("0111111" + "0111111" + "0111111" + "0")
	bits = append(bits, body...)
	evs := Decode(bits)
	if len(evs) != 2 || evs[0].Kind != EventSync || evs[1].Kind != EventFrame || !evs[1].FCSOK {
		t.Fatalf("events %+v", evs)
	}
}

func FuzzDecode(f *testing.F) {
	f.Add([]byte(goldenBits), uint16(0))
	f.Add([]byte{0x7E, 0x7E, 0xFF, 0x13, 0x7E}, uint16(8))
	f.Fuzz(func(t *testing.T, data []byte, maxLen uint16) {
		d := Decoder{MaxLen: int(maxLen % 512)}
		limit := d.maxLen()
		// Each input octet is eight bits, LSB first.
		for _, x := range data {
			for i := range 8 {
				ev, ok := d.PutBit(x >> i & 1)
				if ok && len(ev.Frame) > limit {
					t.Fatalf("frame of %d octets beyond MaxLen %d", len(ev.Frame), limit)
				}
				if ok && ev.Kind == EventFrame && ev.FCSOK && !CheckFCS(AppendFCS(ev.Frame)) {
					t.Fatal("inconsistent FCS")
				}
			}
			if cap(d.buf) > limit+2 {
				t.Fatalf("buffer grew to %d", cap(d.buf))
			}
		}
	})
}

func FuzzRoundTrip(f *testing.F) {
	f.Add(unhex(f, disFrame))
	f.Fuzz(func(t *testing.T, frame []byte) {
		bits, err := Encode(1, frame)
		if len(frame) < MinFrameLen || len(frame) > MaxFrameLen {
			if err == nil {
				t.Fatal("bad frame accepted")
			}
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		evs := Decode(bits)
		if len(evs) != 1 || !evs[0].FCSOK || !bytes.Equal(evs[0].Frame, frame) {
			t.Fatalf("events %+v", evs)
		}
	})
}

// After Reset (a carrier drop) a half-received frame is gone and the next
// one needs its own opening flag; the counters stay.
func TestReset(t *testing.T) {
	frame := unhex(t, disFrame)
	bits, _ := Encode(2, frame)
	var d Decoder
	for _, b := range bits {
		d.PutBit(b)
	}
	for _, b := range bits[:40] {
		d.PutBit(b)
	}
	d.Reset()
	var got []Event
	// Without a flag first, the tail of a frame is ignored.
	for _, b := range bits[40:] {
		if ev, ok := d.PutBit(b); ok {
			got = append(got, ev)
		}
	}
	for _, b := range bits {
		if ev, ok := d.PutBit(b); ok {
			got = append(got, ev)
		}
	}
	if len(got) != 2 || got[0].Kind != EventSync || got[1].Kind != EventFrame || !got[1].FCSOK {
		t.Fatalf("events %+v", got)
	}
	if st := d.Stats(); st.Frames != 2 {
		t.Fatalf("stats %+v", st)
	}
}
