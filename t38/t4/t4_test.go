package t4

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/faxd/faxd/t38/bilevel"
	"github.com/faxd/faxd/t38/t4/t4test"
)

var resolutions = []int{bilevel.YDPIStandard, bilevel.YDPIFine, bilevel.YDPISuperfine}

func TestRoundTrip(t *testing.T) {
	for _, width := range []int{bilevel.WidthA4, bilevel.WidthB4, bilevel.WidthA3} {
		for _, ydpi := range resolutions {
			if width != bilevel.WidthA4 && ydpi != bilevel.YDPIFine {
				continue // every width once, every resolution at A4
			}
			pages := t4test.Set(width, ydpi)
			for _, coding := range []Coding{MH, MR, MMR} {
				for _, align := range []bool{false, true} {
					if align && coding == MMR {
						continue // MMR has no EOLs
					}
					name := fmt.Sprintf("%d/%d/%v/align=%v", width, ydpi, coding, align)
					t.Run(name, func(t *testing.T) {
						t.Parallel()
						for i, img := range pages {
							checkRoundTrip(t, img, EncodeOptions{Coding: coding, AlignEOL: align}, i)
						}
					})
				}
			}
		}
	}
}

func checkRoundTrip(t *testing.T, img *bilevel.Image, opt EncodeOptions, page int) []byte {
	t.Helper()
	data, err := Encode(img, opt)
	if err != nil {
		t.Fatal(err)
	}
	got, st, err := Decode(data, DecodeOptions{Coding: opt.Coding, Width: img.Width})
	if err != nil {
		t.Fatalf("page %d: decode: %v", page, err)
	}
	if st.BadRows != 0 || st.Rows != img.Height || st.EndMarker == opt.NoRTC {
		t.Fatalf("page %d: stats %+v, want %d good rows, end marker %v", page, st, img.Height, !opt.NoRTC)
	}
	if !got.Equal(img) {
		t.Fatalf("page %d: pixels differ (first bad row %d)", page, firstDiff(got, img))
	}
	if st.Bytes != len(data) {
		t.Errorf("page %d: consumed %d of %d bytes", page, st.Bytes, len(data))
	}
	if opt.AlignEOL && opt.Coding != MMR {
		checkAligned(t, data, opt.Coding)
	}
	return data
}

func firstDiff(a, b *bilevel.Image) int {
	for y := 0; y < min(a.Height, b.Height); y++ {
		if !bytes.Equal(a.Row(y), b.Row(y)) {
			return y
		}
	}
	return min(a.Height, b.Height)
}

// checkAligned finds every EOL (11 zeros then a one) and checks that it
// ends on an octet boundary.
func checkAligned(t *testing.T, data []byte, coding Coding) {
	t.Helper()
	zeros, eols := 0, 0
	for i := 0; i < len(data)*8; i++ {
		if data[i>>3]&(0x80>>(i&7)) == 0 {
			zeros++
			continue
		}
		if zeros >= 11 {
			eols++
			if i&7 != 7 {
				t.Fatalf("%v: EOL ending at bit %d is not octet aligned", coding, i)
			}
		}
		zeros = 0
	}
	if eols == 0 {
		t.Fatal("no EOL found")
	}
}

// A handful of awkward rows: empty, full, single pixels at both edges,
// long runs that need several make-up codes, and odd widths.
func TestEdgeRows(t *testing.T) {
	for _, width := range []int{1, 7, 8, 9, 63, 64, 65, 1728, 2560, 2561, 5200, 6000} {
		img := bilevel.New(width, 12)
		for x := 0; x < width; x++ {
			img.SetBlack(x, 1, true) // all black
		}
		img.SetBlack(0, 2, true)
		img.SetBlack(width-1, 3, true)
		for x := 0; x < width; x += 2 {
			img.SetBlack(x, 4, true) // alternating
		}
		for x := width / 3; x < width; x++ {
			img.SetBlack(x, 5, true)
		}
		for x := 0; x < width*2/3; x++ {
			img.SetBlack(x, 6, true)
		}
		img.SetBlack(width/2, 7, true)
		for x := 1; x < width; x += 3 {
			img.SetBlack(x, 9, true)
			img.SetBlack(min(x+1, width-1), 10, true)
		}
		for _, c := range []Coding{MH, MR, MMR} {
			for _, k := range []int{1, 2, 4, 100} {
				checkRoundTrip(t, img, EncodeOptions{Coding: c, K: k}, width)
				checkRoundTrip(t, img, EncodeOptions{Coding: c, K: k, AlignEOL: true, NoRTC: true}, width)
			}
		}
	}
}

// Golden bytes: a 16-pixel row "4 white, 8 black, 4 white" then an empty
// row, coded by hand from the T.4 tables.
func TestGolden(t *testing.T) {
	img := bilevel.New(16, 2)
	for x := 4; x < 12; x++ {
		img.SetBlack(x, 0, true)
	}
	img.YDPI = bilevel.YDPIStandard
	cases := []struct {
		opt  EncodeOptions
		bits string
	}{
		// EOL, W4 1011, B8 000101, W4 1011; EOL, W16 101010; RTC omitted.
		{EncodeOptions{Coding: MH, NoRTC: true}, "000000000001" + "1011" + "000101" + "1011" + "000000000001" + "101010"},
		// EOL+1 and the same 1-D row; EOL+0, then the empty row against
		// it: b1=4, b2=12 < a1=16: pass; a0=12, b1=16: V0.
		{EncodeOptions{Coding: MR, NoRTC: true}, "0000000000011" + "1011" + "000101" + "1011" + "0000000000010" + "0001" + "1"},
		// MMR: the first row against white: H(4,8) then V0; then pass, V0;
		// then EOFB.
		{EncodeOptions{Coding: MMR}, "001" + "1011" + "000101" + "1" + "0001" + "1" + "000000000001000000000001"},
		// Fill before each EOL so it ends on an octet boundary.
		{EncodeOptions{Coding: MH, NoRTC: true, AlignEOL: true}, "0000" + "000000000001" + "1011" + "000101" + "1011" + "000000" + "000000000001" + "101010"},
		// Minimum row length of 40 bits: fill after the 26-bit first row.
		{EncodeOptions{Coding: MH, NoRTC: true, MinRowBits: 40}, "000000000001" + "1011" + "000101" + "1011" + "00000000000000" + "000000000001" + "101010" + "0000000000000000000000"},
	}
	for _, c := range cases {
		want := packBits(c.bits)
		got, err := Encode(img, c.opt)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%+v:\n got %08b\nwant %08b", c.opt, got, want)
		}
		back, st, err := Decode(want, DecodeOptions{Coding: c.opt.Coding, Width: 16})
		if err != nil || !back.Equal(img) || st.BadRows != 0 {
			t.Errorf("%+v: decode golden: %v %+v equal=%v", c.opt, err, st, err == nil && back.Equal(img))
		}
	}
}

func packBits(s string) []byte {
	out := make([]byte, (len(s)+7)/8)
	for i, ch := range s {
		if ch == '1' {
			out[i>>3] |= 0x80 >> (i & 7)
		}
	}
	return out
}

func TestMinRowBits(t *testing.T) {
	img := t4test.Page(t4test.Text, 1728, 98, 7)
	for _, c := range []Coding{MH, MR} {
		data := checkRoundTrip(t, img, EncodeOptions{Coding: c, MinRowBits: 1200, AlignEOL: true}, 0)
		// Every EOL-to-EOL distance must be at least the minimum.
		last, zeros, short := -1, 0, 0
		for i := 0; i < len(data)*8; i++ {
			if data[i>>3]&(0x80>>(i&7)) == 0 {
				zeros++
				continue
			}
			if zeros >= 11 {
				start := i - 11
				if last >= 0 && start-last < 1200 && start-last > 20 { // RTC EOLs are closer
					short++
				}
				last = start
			}
			zeros = 0
		}
		if short > 0 {
			t.Errorf("%v: %d rows shorter than the minimum", c, short)
		}
		plain, _ := Encode(img, EncodeOptions{Coding: c})
		if len(data) < img.Height*1200/8 || len(plain) >= len(data) {
			t.Errorf("%v: padded %d bytes, plain %d: padding missing", c, len(data), len(plain))
		}
	}
}

// Corrupt rows: flip bits in the middle of MH and MR pages. The decoder
// must count the bad rows, resynchronise at the next EOL and decode every
// row after the damage exactly.
func TestCorruptRowsResync(t *testing.T) {
	img := t4test.Page(t4test.Text, 1728, 196, 3)
	for _, c := range []Coding{MH, MR} {
		for _, align := range []bool{false, true} {
			data, err := Encode(img, EncodeOptions{Coding: c, AlignEOL: align})
			if err != nil {
				t.Fatal(err)
			}
			rng := rand.New(rand.NewPCG(1, 2))
			bad := bytes.Clone(data)
			// Damage three places, each a few octets, well apart.
			spots := []int{len(data) / 4, len(data) / 2, len(data) * 3 / 4}
			for _, at := range spots {
				for i := range 3 {
					bad[at+i] ^= byte(1 + rng.IntN(255))
				}
			}
			got, st, err := Decode(bad, DecodeOptions{Coding: c, Width: 1728})
			if err != nil {
				t.Fatalf("%v: %v", c, err)
			}
			// Damage that hits an EOL merges two rows into one bad row, and
			// a flip can forge an EOL; either way the count moves by a row.
			if !st.EndMarker || st.Rows < img.Height-len(spots) || st.Rows > img.Height+len(spots) {
				t.Fatalf("%v align=%v: %+v, want about %d rows and RTC", c, align, st, img.Height)
			}
			if st.BadRows < len(spots) || st.BadRows > len(spots)*8 {
				t.Errorf("%v align=%v: %d bad rows for %d damaged spots", c, align, st.BadRows, len(spots))
			}
			// Every row after the last damage is right (aligned from the
			// bottom, since rows may have merged above).
			shift := st.Rows - img.Height
			diff := 0
			for y := img.Height * 85 / 100; y < img.Height; y++ {
				if !bytes.Equal(got.Row(y+shift), img.Row(y)) {
					t.Fatalf("%v: row %d after the damage is wrong", c, y)
				}
			}
			for y := 0; y < min(img.Height, st.Rows); y++ {
				if !bytes.Equal(got.Row(y), img.Row(y)) {
					diff++
				}
			}
			t.Logf("%v align=%v: %d bad rows, longest run %d, %d rows differ", c, align, st.BadRows, st.MaxBadRun, diff)
		}
	}
}

// A bad row is replaced by the one above it.
func TestBadRowRepeatsPrevious(t *testing.T) {
	img := bilevel.New(64, 3)
	for x := 10; x < 20; x++ {
		img.SetBlack(x, 0, true)
		img.SetBlack(x+30, 2, true)
	}
	data, _ := Encode(img, EncodeOptions{Coding: MH, AlignEOL: true})
	// Row 1 (all white, code 64 = make-up 11011 + term 00110101) sits
	// between the second and third EOL; replace its code with garbage.
	eols := 0
	zeros := 0
	for i := 0; i < len(data)*8; i++ {
		if data[i>>3]&(0x80>>(i&7)) == 0 {
			zeros++
			continue
		}
		if zeros >= 11 {
			eols++
			if eols == 2 {
				data[(i>>3)+1] = 0xff // the row's first octet: all ones is no code
			}
		}
		zeros = 0
	}
	got, st, err := Decode(data, DecodeOptions{Coding: MH, Width: 64})
	if err != nil {
		t.Fatal(err)
	}
	if st.BadRows != 1 || st.Rows != 3 {
		t.Fatalf("stats %+v, want 1 bad row of 3", st)
	}
	if !bytes.Equal(got.Row(1), img.Row(0)) || !bytes.Equal(got.Row(2), img.Row(2)) {
		t.Fatalf("bad row not replaced by the previous one")
	}
}

// Feeding the data in small pieces, as a receiver does, gives the same
// page as decoding it at once.
func TestStreamingDecoder(t *testing.T) {
	img := t4test.Page(t4test.LineArt, 1728, 196, 5)
	for _, c := range []Coding{MH, MR, MMR} {
		data, _ := Encode(img, EncodeOptions{Coding: c, MinRowBits: 300})
		d, err := NewDecoder(DecodeOptions{Coding: c, Width: 1728})
		if err != nil {
			t.Fatal(err)
		}
		rng := rand.New(rand.NewPCG(9, 9))
		for p := data; len(p) > 0; {
			n := min(len(p), 1+rng.IntN(300))
			if _, err := d.Write(p[:n]); err != nil {
				t.Fatal(err)
			}
			p = p[n:]
		}
		if !d.Done() {
			t.Errorf("%v: RTC/EOFB not noticed before Close", c)
		}
		if st := d.Stats(); st.Rows != img.Height || st.BadRows != 0 {
			t.Errorf("%v: running stats %+v before Close", c, st)
		}
		got, st, err := d.Close()
		if err != nil || st.BadRows != 0 || !got.Equal(img) || !st.EndMarker || st.Bytes != len(data) {
			t.Fatalf("%v: streaming decode: err %v, stats %+v, equal %v", c, err, st, got.Equal(img))
		}
	}
}

// The streaming encoder writes the same bytes as Encode.
func TestStreamingEncoder(t *testing.T) {
	img := t4test.Page(t4test.Text, 2048, 98, 5)
	for _, c := range []Coding{MH, MR, MMR} {
		opt := EncodeOptions{Coding: c, AlignEOL: true, MinRowBits: 96}
		want, _ := Encode(img, opt)
		var buf bytes.Buffer
		e, err := NewEncoder(&buf, img.Width, img.YDPI, opt)
		if err != nil {
			t.Fatal(err)
		}
		for y := 0; y < img.Height; y++ {
			if err := e.WriteRow(img.Row(y)); err != nil {
				t.Fatal(err)
			}
		}
		if err := e.Close(); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(buf.Bytes(), want) {
			t.Fatalf("%v: streaming encoder output differs", c)
		}
	}
}

func TestMMRCorruptIsError(t *testing.T) {
	img := t4test.Page(t4test.Text, 1728, 98, 1)
	data, _ := Encode(img, EncodeOptions{Coding: MMR})
	data[len(data)/2] ^= 0xff
	data[len(data)/2+1] ^= 0x5a
	got, st, err := Decode(data, DecodeOptions{Coding: MMR, Width: 1728, Height: img.Height})
	if !errors.Is(err, ErrCorrupt) {
		// Some flips still decode; then the pixels must differ.
		if err == nil && got.Equal(img) {
			t.Fatalf("corruption unnoticed: %+v", st)
		}
	}
	if got == nil || got.Height != img.Height {
		t.Fatalf("want a full-height partial page, got %v", got)
	}
}

func TestHeightAndLimits(t *testing.T) {
	img := t4test.Page(t4test.Text, 1728, 98, 1)
	data, _ := Encode(img, EncodeOptions{Coding: MR})
	got, st, err := Decode(data, DecodeOptions{Coding: MR, Width: 1728, Height: 100})
	if err != nil || got.Height != 100 || st.BadRows != 0 {
		t.Fatalf("height 100: %v %+v", err, st)
	}
	got, st, err = Decode(data[:len(data)/2], DecodeOptions{Coding: MR, Width: 1728, Height: img.Height})
	if err != nil || got.Height != img.Height || st.BadRows < img.Height/3 {
		t.Fatalf("truncated: %v %+v", err, st)
	}
	// One bit per row: an all-white MMR page is tiny; the limit must stop it.
	long := bytes.Repeat([]byte{0xff}, 1<<13)
	_, _, err = Decode(long, DecodeOptions{Coding: MMR, Width: 1728, MaxHeight: 1000})
	if !errors.Is(err, ErrTooLong) {
		t.Fatalf("want ErrTooLong, got %v", err)
	}
	if _, _, err := Decode(nil, DecodeOptions{Coding: MH, Width: 0}); !errors.Is(err, ErrBadWidth) {
		t.Fatalf("want ErrBadWidth, got %v", err)
	}
	if _, err := Encode(img, EncodeOptions{Coding: 9}); !errors.Is(err, ErrBadCoding) {
		t.Fatalf("want ErrBadCoding, got %v", err)
	}
	if _, err := Encode(img, EncodeOptions{Coding: MH, MinRowBits: 1 << 30}); !errors.Is(err, ErrBadOptions) {
		t.Fatalf("want ErrBadOptions, got %v", err)
	}
}

func TestReverseBits(t *testing.T) {
	b := []byte{0x01, 0x80, 0xf0, 0x35}
	ReverseBits(b)
	if !bytes.Equal(b, []byte{0x80, 0x01, 0x0f, 0xac}) {
		t.Fatalf("got %x", b)
	}
}

// RLE rows are MH code words, octet aligned, without EOLs; build such
// data from our MH coder row by row.
func TestDecodeRLE(t *testing.T) {
	img := t4test.Page(t4test.LineArt, 1728, 98, 2)
	var data []byte
	for y := 0; y < img.Height; y++ {
		rc, _ := newRowCoder(img.Width, 98, EncodeOptions{Coding: MH})
		rc.cur = changes(rc.cur[:0], img.Row(y), img.Width)
		rc.code1D()
		rc.w.flush()
		data = append(data, rc.w.buf...)
	}
	got, st, err := DecodeRLE(data, img.Width, img.Height)
	if err != nil || st.BadRows != 0 || !got.Equal(img) || st.Bytes != len(data) {
		t.Fatalf("RLE: %v %+v equal=%v", err, st, err == nil && got.Equal(img))
	}
}

func TestDecodeIntoBuffer(t *testing.T) {
	img := t4test.Page(t4test.Text, 1728, 98, 3)
	data, _ := Encode(img, EncodeOptions{Coding: MR})
	buf := bytes.Repeat([]byte{0x5a}, len(img.Pix)) // stale pixels must go
	got, _, err := Decode(data, DecodeOptions{Coding: MR, Width: 1728, Height: img.Height, Buffer: buf})
	if err != nil || !got.Equal(img) || &got.Pix[0] != &buf[0] {
		t.Fatalf("decode into buffer: %v, equal %v, reused %v", err, err == nil && got.Equal(img), &got.Pix[0] == &buf[0])
	}
}

// Two EOLs with nothing between them are a lost row, not RTC: the page
// goes on (RTC is three or more).
func TestDoubleEOLIsALostRow(t *testing.T) {
	img := bilevel.New(16, 3)
	for x := 4; x < 12; x++ {
		img.SetBlack(x, 0, true)
		img.SetBlack(x-4, 2, true)
	}
	// EOL row0 EOL EOL row2 RTC, by hand: the EOL of row 1 is there,
	// its data is gone.
	bits := "000000000001" + "1011" + "000101" + "1011" + // EOL W4 B8 W4
		"000000000001" + "000000000001" + // EOL (row 1 lost) EOL
		"00110101" + "000101" + "10011" + // W0 B8 W8
		strings.Repeat("000000000001", 6)
	got, st, err := Decode(packBits(bits), DecodeOptions{Coding: MH, Width: 16})
	if err != nil || st.Rows != 3 || st.BadRows != 1 || !st.EndMarker {
		t.Fatalf("%v %+v", err, st)
	}
	if !bytes.Equal(got.Row(1), img.Row(0)) || !bytes.Equal(got.Row(2), img.Row(2)) {
		t.Fatal("rows around the lost one are wrong")
	}
}
