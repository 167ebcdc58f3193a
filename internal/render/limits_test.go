package render

import (
	"bytes"
	"compress/zlib"
	"context"
	"encoding/binary"
	"hash/crc32"
	"runtime"
	"strings"
	"testing"

	"github.com/faxd/faxd/t38/bilevel"
	"github.com/faxd/faxd/t38/tiff"
)

// rgba64PNG writes a valid w x h PNG of 16-bit RGBA zeros, row by row, so
// that the test itself never holds the decoded image: a few hundred KB
// that decode to w*h*8 bytes.
func rgba64PNG(t testing.TB, w, h int) []byte {
	t.Helper()
	var out bytes.Buffer
	out.WriteString("\x89PNG\r\n\x1a\n")
	chunk := func(typ string, data []byte) {
		binary.Write(&out, binary.BigEndian, uint32(len(data)))
		c := crc32.NewIEEE()
		c.Write([]byte(typ))
		c.Write(data)
		out.WriteString(typ)
		out.Write(data)
		binary.Write(&out, binary.BigEndian, c.Sum32())
	}
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr[0:], uint32(w))
	binary.BigEndian.PutUint32(ihdr[4:], uint32(h))
	ihdr[8], ihdr[9] = 16, 6 // 16 bits, RGBA
	chunk("IHDR", ihdr)
	var z bytes.Buffer
	zw, _ := zlib.NewWriterLevel(&z, zlib.BestCompression)
	row := make([]byte, 1+w*8) // filter byte 0, then zero samples
	for range h {
		zw.Write(row)
	}
	zw.Close()
	chunk("IDAT", z.Bytes())
	chunk("IEND", nil)
	return out.Bytes()
}

// A 7000x7000 16-bit RGBA PNG (under 50 million pixels, so the pixel
// limit alone lets it through) would take 392 MB decoded. It is refused
// from its header, naming the byte limit and the figure, and the refusal
// allocates almost nothing.
func TestPictureByteLimitFromHeader(t *testing.T) {
	data := rgba64PNG(t, 7000, 7000)
	t.Logf("PNG of %d bytes", len(data))
	opt := Options{Names: LimitNames{MaxImageBytes: "api.max_image_bytes"}}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	_, err := Bytes(context.Background(), data, "image/png", opt)
	runtime.ReadMemStats(&after)
	re := wantReason(t, err, ErrTooLarge)
	if !strings.Contains(re.Detail, "7000x7000 pixels of 8 bytes") || !strings.Contains(re.Detail, "= 441000000 bytes decoded; api.max_image_bytes is 134217728") {
		t.Errorf("detail %q", re.Detail)
	}
	alloc := after.TotalAlloc - before.TotalAlloc
	t.Logf("refusing it allocated %d bytes", alloc)
	if alloc > 8<<20 {
		t.Errorf("refusing the picture allocated %d bytes, want under 8 MiB", alloc)
	}

	// Within both limits the same kind of picture renders.
	if _, err := Bytes(context.Background(), rgba64PNG(t, 1000, 1000), "image/png", opt); err != nil {
		t.Fatalf("a 1000x1000 16-bit RGBA picture: %v", err)
	}
}

func TestPixelLimitNamed(t *testing.T) {
	_, err := Bytes(context.Background(), rgba64PNG(t, 3000, 2000), "", Options{MaxPixels: 5_000_000, Names: LimitNames{MaxPixels: "api.max_image_pixels"}})
	re := wantReason(t, err, ErrTooLarge)
	if re.Detail != "the picture is 3000x2000 = 6000000 pixels; api.max_image_pixels is 5000000" {
		t.Errorf("detail %q", re.Detail)
	}
}

// A TIFF over the page limit is told how many pages it has and which
// limit it broke; a TIFF page over the byte limit likewise.
func TestTIFFLimitsNamed(t *testing.T) {
	pages := make([]*bilevel.Image, 300)
	for i := range pages {
		pages[i] = bilevel.New(1728, 8)
	}
	var b bytes.Buffer
	if err := tiff.EncodeFax(&b, pages, tiff.FaxOptions{}); err != nil {
		t.Fatal(err)
	}
	_, err := Bytes(context.Background(), b.Bytes(), "image/tiff", Options{MaxPages: 200, Names: LimitNames{MaxPages: "api.max_pages"}})
	re := wantReason(t, err, ErrTooManyPages)
	if re.Detail != "the TIFF has 300 pages; api.max_pages is 200" {
		t.Errorf("detail %q", re.Detail)
	}

	g := rgba64TIFFHeader(600, 600)
	_, err = Bytes(context.Background(), g, "image/tiff", Options{MaxImageBytes: 1 << 20})
	re = wantReason(t, err, ErrTooLarge)
	if !strings.Contains(re.Detail, "page 1 is 600x600 pixels of") || !strings.Contains(re.Detail, "max_image_bytes is 1048576") {
		t.Errorf("detail %q", re.Detail)
	}
}

// rgba64TIFFHeader is a TIFF whose one page claims w x h pixels of four
// 16-bit samples; its pixel data is absent, as it is never read.
func rgba64TIFFHeader(w, h uint32) []byte {
	type entry struct {
		tag, typ uint16
		count    uint32
		value    uint32
	}
	const bpsAt = 8 + 2 + 8*12 + 4
	entries := []entry{
		{256, 4, 1, w}, {257, 4, 1, h}, {258, 3, 4, bpsAt}, {259, 3, 1, 1}, {262, 3, 1, 2},
		{273, 4, 1, bpsAt + 8}, {277, 3, 1, 4}, {279, 4, 1, w * h * 8},
	}
	var b bytes.Buffer
	b.WriteString("II*\x00")
	binary.Write(&b, binary.LittleEndian, uint32(8))
	binary.Write(&b, binary.LittleEndian, uint16(len(entries)))
	for _, e := range entries {
		binary.Write(&b, binary.LittleEndian, e)
	}
	binary.Write(&b, binary.LittleEndian, uint32(0))
	binary.Write(&b, binary.LittleEndian, [4]uint16{16, 16, 16, 16})
	return b.Bytes()
}

// Text declared in ISO-8859-1, ISO-8859-15 or Windows-1252 renders the
// same glyphs as the same text in UTF-8; an unknown charset is refused by
// name.
func TestTextCharsets(t *testing.T) {
	render := func(data []byte, ct string) []*bilevel.Image {
		t.Helper()
		pages, err := Bytes(context.Background(), data, ct, Options{Resolution: Fine})
		if err != nil {
			t.Fatalf("%s: %v", ct, err)
		}
		return pages
	}
	same := func(a, b []*bilevel.Image) bool {
		if len(a) != len(b) {
			return false
		}
		for i := range a {
			if !bytes.Equal(a[i].Pix, b[i].Pix) {
				return false
			}
		}
		return true
	}
	utf := render([]byte("Café crème à 5 €\n"), "text/plain; charset=utf-8")
	for _, c := range []struct {
		ct   string
		data []byte
	}{
		{"text/plain; charset=windows-1252", []byte("Caf\xe9 cr\xe8me \xe0 5 \x80\n")},
		{"text/plain; charset=ISO-8859-15", []byte("Caf\xe9 cr\xe8me \xe0 5 \xa4\n")},
	} {
		if !same(render(c.data, c.ct), utf) {
			t.Errorf("%s renders differently from UTF-8", c.ct)
		}
	}
	latin1 := render([]byte("\xe9t\xe9\n"), "text/plain; charset=iso-8859-1")
	if !same(latin1, render([]byte("été\n"), "text/plain")) {
		t.Error("ISO-8859-1 é renders differently from UTF-8 é")
	}
	if same(latin1, render([]byte("ete\n"), "text/plain")) {
		t.Error("the accents were lost: é renders as e")
	}

	_, err := Bytes(context.Background(), []byte("hello"), "text/plain; charset=x-klingon", Options{})
	re := wantReason(t, err, ErrUnknownType)
	if !strings.Contains(re.Detail, `charset "x-klingon"`) {
		t.Errorf("detail %q", re.Detail)
	}
}
