package tiff

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/faxd/faxd/t38/bilevel"
	"github.com/faxd/faxd/t38/t4"
	"github.com/faxd/faxd/t38/t4/t4test"
)

var update = flag.Bool("update", false, "rewrite golden files")

var codings = []t4.Coding{t4.MH, t4.MR, t4.MMR}

func encodeFax(t testing.TB, pages []*bilevel.Image, opt FaxOptions) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := EncodeFax(&buf, pages, opt); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestFaxRoundTrip(t *testing.T) {
	for _, ydpi := range []int{bilevel.YDPIStandard, bilevel.YDPIFine, bilevel.YDPISuperfine} {
		pages := t4test.Set(bilevel.WidthA4, ydpi)
		for _, c := range codings {
			for _, fill := range []int{1, 2} {
				for _, align := range []bool{false, true} {
					opt := FaxOptions{Coding: c, FillOrder: fill, AlignEOL: align, Software: "faxd test", DateTime: time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)}
					data := encodeFax(t, pages, opt)
					got, err := Decode(data)
					if err != nil {
						t.Fatalf("%d %v fill %d: %v", ydpi, c, fill, err)
					}
					if len(got) != len(pages) {
						t.Fatalf("%d pages, want %d", len(got), len(pages))
					}
					for i, p := range got {
						if p.Bilevel == nil || !p.Bilevel.Equal(pages[i]) {
							t.Fatalf("%d %v fill %d page %d: pixels differ", ydpi, c, fill, i)
						}
						if p.PageNumber != i || p.Coding != c || p.Stats.BadRows != 0 {
							t.Errorf("page %d: number %d coding %v stats %+v", i, p.PageNumber, p.Coding, p.Stats)
						}
						if p.XDPI != 204 || int(p.YDPI) != ydpi || p.Bilevel.YDPI != ydpi {
							t.Errorf("page %d: resolution %vx%v", i, p.XDPI, p.YDPI)
						}
					}
				}
			}
		}
	}
}

// Golden bytes for a tiny two-page MH file: the container layout is
// fixed, so any change to it shows here.
func TestGoldenFile(t *testing.T) {
	a := bilevel.New(16, 2)
	for x := 4; x < 12; x++ {
		a.SetBlack(x, 0, true)
	}
	a.YDPI = 98
	b := bilevel.New(16, 1)
	b.SetBlack(0, 0, true)
	for _, c := range codings {
		data := encodeFax(t, []*bilevel.Image{a, b}, FaxOptions{Coding: c, Software: "faxd", DateTime: time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)})
		path := filepath.Join("testdata", fmt.Sprintf("golden-%v.tif", c))
		if *update {
			if err := os.WriteFile(path, data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(data, want) {
			t.Errorf("%v: file differs from %s (run with -update after checking)", c, path)
		}
		pages, err := Decode(want)
		if err != nil || len(pages) != 2 || !pages[0].Bilevel.Equal(a) || !pages[1].Bilevel.Equal(b) {
			t.Errorf("%v: golden file does not decode back: %v", c, err)
		}
	}
}

func TestWriteRawFaxKeepsData(t *testing.T) {
	img := t4test.Page(t4test.Text, 1728, 196, 4)
	data, _ := t4.Encode(img, t4.EncodeOptions{Coding: t4.MR, AlignEOL: true})
	t4.ReverseBits(data) // as spandsp holds received data
	var buf bytes.Buffer
	raw := RawPage{Data: data, Coding: t4.MR, Width: 1728, Height: img.Height, XDPI: 204, YDPI: 196, FillOrder: 2, AlignEOL: true, BadRows: 3, MaxBadRun: 2}
	if err := WriteRawFax(&buf, []RawPage{raw}, RawOptions{Software: "faxd"}); err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(buf.Bytes(), data) {
		t.Fatal("raw data not stored as is")
	}
	f, err := Open(buf.Bytes(), DefaultLimits)
	if err != nil {
		t.Fatal(err)
	}
	d := f.ifds[0]
	if d.uint(tagBadFaxLines, 0) != 3 || d.uint(tagConsecBadLines, 0) != 2 || d.uint(tagCleanFaxData, 9) != 2 || d.uint(tagT4Options, 0) != 5 || d.uint(tagFillOrder, 0) != 2 {
		t.Fatal("receive-quality or T.4 tags wrong")
	}
	p, err := f.Page(0)
	if err != nil || !p.Bilevel.Equal(img) {
		t.Fatalf("decode: %v", err)
	}
}

func TestRescale(t *testing.T) {
	// A 300 dpi A4 page with a 3-pixel frame: at 204x196 it is 1687 wide,
	// centred in 1728, and the frame survives.
	src := bilevel.New(2480, 3508)
	for x := 0; x < src.Width; x++ {
		for k := 0; k < 3; k++ {
			src.SetBlack(x, 100+k, true)
		}
	}
	for y := 0; y < src.Height; y++ {
		for k := 0; k < 3; k++ {
			src.SetBlack(200+k, y, true)
		}
	}
	got := Rescale(src, 300, 300, 1728, 196)
	if got.Width != 1728 || got.Height != 2292 || got.XDPI != 204 || got.YDPI != 196 {
		t.Fatalf("size %dx%d at %dx%d", got.Width, got.Height, got.XDPI, got.YDPI)
	}
	off := (1728 - 1687) / 2
	near := func(x, y int) bool { // black within a pixel of (x, y)
		for dy := -1; dy <= 1; dy++ {
			for dx := -1; dx <= 1; dx++ {
				if got.Black(x+dx, y+dy) {
					return true
				}
			}
		}
		return false
	}
	if !near(off+500, 66) || !near(off+136, 1000) || got.Black(off-1, 66) || near(off+500, 500) || near(off+300, 1000) {
		t.Fatal("frame lines lost or misplaced")
	}
	// 200x200 becomes 204x196 without any change of size across.
	src = bilevel.New(1728, 2200)
	src.SetBlack(5, 5, true)
	got = Rescale(src, 200, 200, 1728, 0)
	if got.Width != 1728 || got.Height != 2200 || got.YDPI != 196 || !got.Black(5, 5) {
		t.Fatalf("200x200: %dx%d y %d", got.Width, got.Height, got.YDPI)
	}
	// Standard resolution halves the rows.
	got = Rescale(src, 204, 196, 1728, 98)
	if got.Height != 1100 {
		t.Fatalf("to standard: %d rows", got.Height)
	}
}

func TestHostileFiles(t *testing.T) {
	good := encodeFax(t, t4test.Set(1728, 98)[:1], FaxOptions{Coding: t4.MH})
	le := func(b []byte, off int, v uint32) []byte {
		b = bytes.Clone(b)
		b[off], b[off+1], b[off+2], b[off+3] = byte(v), byte(v>>8), byte(v>>16), byte(v>>24)
		return b
	}
	// An IFD whose next pointer points to itself.
	ifdOff := int(uint32(good[4]) | uint32(good[5])<<8 | uint32(good[6])<<16 | uint32(good[7])<<24)
	n := int(good[ifdOff]) | int(good[ifdOff+1])<<8
	loop := le(good, ifdOff+2+12*n, uint32(ifdOff))
	cases := map[string]struct {
		data []byte
		want error
	}{
		"empty":     {nil, ErrFormat},
		"not tiff":  {[]byte("%PDF-1.4 hello there"), ErrFormat},
		"bigtiff":   {[]byte{'I', 'I', 43, 0, 8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, ErrUnsupported},
		"ifd past":  {le(good, 4, 1<<30), ErrFormat},
		"ifd loop":  {loop, ErrFormat},
		"truncated": {good[:ifdOff+10], ErrFormat},
	}
	for name, c := range cases {
		_, err := Decode(c.data)
		if !errors.Is(err, c.want) {
			t.Errorf("%s: got %v, want %v", name, err, c.want)
		}
	}
	// A huge declared size is refused before anything is allocated.
	f, err := Open(good, DefaultLimits)
	if err != nil {
		t.Fatal(err)
	}
	f.limits.MaxHeight = 100
	if _, err := f.Page(0); !errors.Is(err, ErrLimit) {
		t.Errorf("height limit: %v", err)
	}
	if _, err := Open(good, Limits{MaxPages: 1, MaxWidth: 1, MaxHeight: 1, MaxPixels: 1}); err != nil {
		t.Errorf("open with tight limits: %v", err)
	}
	if _, err := Open(good, Limits{MaxPages: 1, MaxBytes: 100}); !errors.Is(err, ErrLimit) {
		t.Errorf("byte limit: %v", err)
	}
	// Many pages sharing one strip: each is small to store, large decoded.
	many := encodeFax(t, []*bilevel.Image{bilevel.New(1728, 2000), bilevel.New(1728, 2000), bilevel.New(1728, 2000)}, FaxOptions{Coding: t4.MMR})
	f, err = Open(many, Limits{MaxPages: 10, MaxWidth: 2000, MaxHeight: 2000, MaxPixels: 1 << 22, MaxDecoded: 2 * 216 * 2000})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.All(); !errors.Is(err, ErrLimit) {
		t.Errorf("decoded-size limit: %v", err)
	}
}
