package render

import (
	"bytes"
	"image"
	"testing"

	"github.com/faxd/faxd/t38/bilevel"
)

func faxPage(ydpi, rows int) *bilevel.Image {
	m := bilevel.New(PageWidth, rows)
	m.YDPI = ydpi
	for y := 0; y < rows; y += 7 {
		for x := y % PageWidth; x < PageWidth; x += 13 {
			m.SetBlack(x, y, true)
		}
	}
	return m
}

func TestRasterPassThrough(t *testing.T) {
	src := faxPage(bilevel.YDPIFine, 2286)
	pix := bytes.Clone(src.Pix)
	out, err := fromRaster(rasterPage{bilevel: src, xdpi: 204, ydpi: 196}, Options{Resolution: Fine}.withDefaults())
	if err != nil {
		t.Fatal(err)
	}
	if out != src || !bytes.Equal(out.Pix, pix) {
		t.Fatal("a fine 1728-wide page was not passed through as is")
	}
}

// Standard to fine repeats each row; fine to standard ORs row pairs.
func TestRasterResolutionChange(t *testing.T) {
	std := faxPage(bilevel.YDPIStandard, 1143)
	fine, err := fromRaster(rasterPage{bilevel: std, xdpi: 204, ydpi: 98}, Options{Resolution: Fine}.withDefaults())
	if err != nil {
		t.Fatal(err)
	}
	if fine.Height != 2286 || fine.YDPI != bilevel.YDPIFine {
		t.Fatalf("standard to fine: %d rows at %d dpi", fine.Height, fine.YDPI)
	}
	for y := 0; y < fine.Height; y++ {
		if !bytes.Equal(fine.Row(y), std.Row(y/2)) {
			t.Fatalf("fine row %d is not standard row %d", y, y/2)
		}
	}
	back, err := fromRaster(rasterPage{bilevel: fine, xdpi: 204, ydpi: 196}, Options{Resolution: Standard}.withDefaults())
	if err != nil {
		t.Fatal(err)
	}
	if !back.Equal(std) {
		t.Fatal("fine to standard does not give the original standard page back")
	}
}

// A 200x200 dpi A4 scan (1654 wide) keeps its physical size: scaled to
// 204 dpi (1687 wide) and centred; a 300 dpi one likewise.
func TestRasterScanScaled(t *testing.T) {
	for _, dpi := range []int{200, 300} {
		w, h := 827*dpi/100, 1169*dpi/100 // 8.27 x 11.69 in
		src := bilevel.New(w, h)
		// A black box 1 in square at (1 in, 1 in).
		for y := dpi; y < 2*dpi; y++ {
			for x := dpi; x < 2*dpi; x++ {
				src.SetBlack(x, y, true)
			}
		}
		opt := Options{Resolution: Fine}.withDefaults()
		out, err := fromRaster(rasterPage{bilevel: src, xdpi: float64(dpi), ydpi: float64(dpi)}, opt)
		if err != nil {
			t.Fatal(err)
		}
		if out.Width != PageWidth || out.Height != 2291 { // 11.69 in at 196 dpi
			t.Fatalf("%d dpi: %dx%d", dpi, out.Width, out.Height)
		}
		off := (PageWidth - 1687) / 2
		in := image.Rect(off+204+4, 196+4, off+408-4, 392-4)
		if n := blackIn(out, in); n != in.Dx()*in.Dy() {
			t.Errorf("%d dpi: box interior %d of %d black", dpi, n, in.Dx()*in.Dy())
		}
		if n := blackIn(out, image.Rect(0, 0, PageWidth, out.Height)); n > (204+8)*(196+8) || n < (204-8)*(196-8) {
			t.Errorf("%d dpi: %d black pixels, want a 204x196 box", dpi, n)
		}
	}
}

func TestRasterLimits(t *testing.T) {
	opt := Options{Resolution: Standard, MaxPixels: 1000}.withDefaults()
	_, err := fromRaster(rasterPage{bilevel: bilevel.New(100, 100)}, opt)
	wantReason(t, err, ErrTooLarge)
	opt = Options{Resolution: Standard}.withDefaults()
	_, err = fromRaster(rasterPage{bilevel: bilevel.New(PageWidth, 4*1143), xdpi: 204, ydpi: 98}, opt)
	wantReason(t, err, ErrTooLarge)
	_, err = fromRaster(rasterPage{img: image.NewGray(image.Rect(0, 0, 0, 5))}, opt)
	wantReason(t, err, ErrCorrupt)
}

// A grey page without resolution tags is treated as a picture: fitted to
// the width.
func TestRasterGrey(t *testing.T) {
	g := image.NewGray(image.Rect(0, 0, 864, 100))
	for i := range g.Pix {
		g.Pix[i] = 0xff
	}
	for y := 25; y < 75; y++ {
		for x := 216; x < 648; x++ {
			g.Pix[y*g.Stride+x] = 0
		}
	}
	out, err := fromRaster(rasterPage{img: g}, Options{Resolution: Fine}.withDefaults())
	if err != nil {
		t.Fatal(err)
	}
	// Scale 2 across, 2*196/204 down.
	if out.Width != PageWidth || out.Height != 192 {
		t.Fatalf("%dx%d", out.Width, out.Height)
	}
	in := image.Rect(436, 52, 1292, 140)
	if n := blackIn(out, in); n != in.Dx()*in.Dy() {
		t.Errorf("box interior %d of %d", n, in.Dx()*in.Dy())
	}
}
