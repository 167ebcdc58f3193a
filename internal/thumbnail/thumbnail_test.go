package thumbnail

import (
	"bytes"
	"errors"
	"image/png"
	"math/rand/v2"
	"testing"

	"github.com/faxd/faxd/t38/bilevel"
)

func page(ydpi, rows int) *bilevel.Image {
	m := bilevel.New(bilevel.WidthA4, rows)
	m.YDPI = ydpi
	return m
}

// Standard and fine pages of the same paper give thumbnails of the same
// height: the aspect ratio is physical.
func TestPhysicalAspect(t *testing.T) {
	std, _ := Gray(page(bilevel.YDPIStandard, 1143), 200)
	fine, _ := Gray(page(bilevel.YDPIFine, 2286), 200)
	if std.Rect.Dx() != 200 || fine.Rect.Dx() != 200 {
		t.Fatalf("widths %d, %d", std.Rect.Dx(), fine.Rect.Dx())
	}
	// 297 mm over the 215.9 mm fax line at 200 px: 275 px.
	if std.Rect.Dy() != 275 || fine.Rect.Dy() != 275 {
		t.Errorf("heights %d (standard), %d (fine), want 275", std.Rect.Dy(), fine.Rect.Dy())
	}
}

func TestAreaAverage(t *testing.T) {
	m := page(bilevel.YDPIFine, 2286)
	// Left half black; a 50% checkerboard in the bottom right quarter.
	for y := 0; y < m.Height; y++ {
		for x := 0; x < m.Width; x++ {
			switch {
			case x < m.Width/2:
				m.SetBlack(x, y, true)
			case y >= m.Height/2:
				m.SetBlack(x, y, (x+y)%2 == 0)
			}
		}
	}
	g, err := Gray(m, 100)
	if err != nil {
		t.Fatal(err)
	}
	w, h := g.Rect.Dx(), g.Rect.Dy()
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			v := int(g.GrayAt(x, y).Y)
			want := 255
			switch {
			case x < w/2:
				want = 0
			case y > h/2: // rows straddling the middle are mixed: skip it
				want = 128
			case y == h/2:
				continue
			}
			if v < want-2 || v > want+2 {
				t.Fatalf("pixel (%d,%d) = %d, want %d", x, y, v, want)
			}
		}
	}
}

// Thin text survives: a one-pixel line every 8 rows averages to grey,
// where dropping rows would lose it or keep it at random.
func TestThinLinesBecomeGrey(t *testing.T) {
	m := page(bilevel.YDPIFine, 2286)
	for y := 0; y < m.Height; y += 8 {
		for x := 0; x < m.Width; x++ {
			m.SetBlack(x, y, true)
		}
	}
	g, _ := Gray(m, 200)
	sum := 0
	for i, v := range g.Pix {
		// Each thumbnail row covers 8.3 page rows: one or two lines.
		if v < 190 || v > 235 {
			t.Fatalf("pixel %d = %d, want light grey", i, v)
		}
		sum += int(v)
	}
	// 1/8 ink overall: 255*7/8 = 223.
	if mean := sum / len(g.Pix); mean < 220 || mean > 226 {
		t.Errorf("mean %d, want about 223", mean)
	}
}

func TestCountBits(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	row := make([]byte, 16)
	for i := range row {
		row[i] = byte(rng.Uint32())
	}
	for a := 0; a < 128; a++ {
		for b := a; b <= 128; b++ {
			want := 0
			for x := a; x < b; x++ {
				if row[x>>3]&(0x80>>(x&7)) != 0 {
					want++
				}
			}
			if got := countBits(row, a, b); got != want {
				t.Fatalf("countBits(%d, %d) = %d, want %d", a, b, got, want)
			}
		}
	}
}

func TestPNG(t *testing.T) {
	var b bytes.Buffer
	if err := PNG(&b, page(bilevel.YDPIStandard, 1143), DefaultWidth); err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(&b)
	if err != nil {
		t.Fatal(err)
	}
	if img.Bounds().Dx() != DefaultWidth || img.Bounds().Dy() != 275 {
		t.Fatalf("PNG is %v", img.Bounds())
	}
	if err := PNG(&b, &bilevel.Image{}, 10); !errors.Is(err, ErrBadSize) {
		t.Errorf("empty page: %v", err)
	}
	if _, err := Gray(page(98, 10), 0); !errors.Is(err, ErrBadSize) {
		t.Errorf("zero width: %v", err)
	}
}

func BenchmarkThumbnail(b *testing.B) {
	m := page(bilevel.YDPIFine, 2286)
	rng := rand.New(rand.NewPCG(5, 6))
	for i := range m.Pix {
		m.Pix[i] = byte(rng.Uint32()) & byte(rng.Uint32())
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Gray(m, DefaultWidth); err != nil {
			b.Fatal(err)
		}
	}
}
