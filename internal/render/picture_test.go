package render

import (
	"bytes"
	"context"
	"encoding/binary"
	"hash/crc32"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"testing"
)

// lineArt is a white w x h picture with a black rectangle r.
func lineArt(w, h int, r image.Rectangle) *image.NRGBA {
	m := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			c := color.NRGBA{0xff, 0xff, 0xff, 0xff}
			if (image.Point{x, y}).In(r) {
				c = color.NRGBA{0, 0, 0, 0xff}
			}
			m.SetNRGBA(x, y, c)
		}
	}
	return m
}

func encodeAs(t testing.TB, kind Kind, m image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	var err error
	switch kind {
	case KindPNG:
		err = png.Encode(&b, m)
	case KindJPEG:
		err = jpeg.Encode(&b, m, &jpeg.Options{Quality: 95})
	case KindGIF:
		err = gif.Encode(&b, m, nil)
	}
	if err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestPictureLineArt(t *testing.T) {
	// 800x600 with a box at x 200..400, y 100..300: fitted to 1728 wide the
	// scale is 2.16, and vertically 2.16*ydpi/204.
	src := lineArt(800, 600, image.Rect(200, 100, 400, 300))
	for _, kind := range []Kind{KindPNG, KindJPEG, KindGIF} {
		for _, res := range []Resolution{Standard, Fine, Superfine} {
			t.Run(kind.String()+"-"+res.String(), func(t *testing.T) {
				opt := Options{Resolution: res}
				pages, err := Bytes(context.Background(), encodeAs(t, kind, src), kind.MIMEType(), opt)
				if err != nil {
					t.Fatal(err)
				}
				if len(pages) != 1 {
					t.Fatalf("%d pages", len(pages))
				}
				p := pages[0]
				checkPage(t, p, opt)
				sx := float64(PageWidth) / 800
				sy := sx * float64(res.YDPI()) / 204
				at := func(x, y float64) image.Point { return image.Pt(int(x*sx), int(y*sy)) }
				const e = 4 // source pixels of slack at the edges for filtering
				in := image.Rectangle{at(200+e, 100+e), at(400-e, 300-e)}
				if n := blackIn(p, in); n != in.Dx()*in.Dy() {
					t.Errorf("box interior: %d of %d black", n, in.Dx()*in.Dy())
				}
				for _, r := range []image.Rectangle{
					{image.Pt(0, 0), at(800, 100-e)},
					{at(0, 300+e), image.Pt(PageWidth, p.Height)},
					{at(0, 0), at(200-e, 600)},
					{at(400+e, 0), at(800, 600)},
				} {
					if n := blackIn(p, r); n != 0 {
						t.Errorf("%d black pixels in %v outside the box", n, r)
					}
				}
			})
		}
	}
}

// A tall picture is fitted to the page length and centred.
func TestPictureTallFitsLength(t *testing.T) {
	src := lineArt(100, 1000, image.Rect(0, 0, 100, 1000)) // all black
	opt := Options{Resolution: Fine}
	pages, err := Bytes(context.Background(), encodeAs(t, KindPNG, src), "", opt)
	if err != nil {
		t.Fatal(err)
	}
	p := pages[0]
	checkPage(t, p, opt)
	// Height 2286 rows at 196 dpi = 11.66 in; width 1.166 in = 238 px.
	wantW := 100 * p.Height * 204 / (1000 * 196)
	x0 := (PageWidth - wantW) / 2
	if n := blackIn(p, image.Rect(x0+2, 0, x0+wantW-2, p.Height)); n != (wantW-4)*p.Height {
		t.Errorf("picture column not solid: %d", n)
	}
	if n := blackIn(p, image.Rect(0, 0, x0-2, p.Height)) + blackIn(p, image.Rect(x0+wantW+2, 0, PageWidth, p.Height)); n != 0 {
		t.Errorf("%d black pixels beside the picture", n)
	}
}

// A grey ramp is a photograph: dithering reproduces its tone (ink density
// follows darkness) where a threshold would give two flat halves.
func TestPicturePhotoDither(t *testing.T) {
	g := image.NewGray(image.Rect(0, 0, 256, 64))
	for y := 0; y < 64; y++ {
		for x := 0; x < 256; x++ {
			g.Pix[y*g.Stride+x] = uint8(x)
		}
	}
	data := encodeAs(t, KindPNG, g)
	density := func(p interface {
		Black(x, y int) bool
	}, x0, x1, rows int) float64 {
		n := 0
		for y := 0; y < rows; y++ {
			for x := x0; x < x1; x++ {
				if p.Black(x, y) {
					n++
				}
			}
		}
		return float64(n) / float64((x1-x0)*rows)
	}
	for _, tc := range []struct {
		mode   ImageMode
		dither bool
	}{{ImageAuto, true}, {ImageDither, true}, {ImageThreshold, false}} {
		pages, err := Bytes(context.Background(), data, "image/png", Options{Resolution: Fine, ImageMode: tc.mode})
		if err != nil {
			t.Fatal(err)
		}
		p := pages[0]
		rows := 64 * PageWidth / 256 * 196 / 204
		// Columns at a quarter and three quarters of the ramp.
		q1 := density(p, PageWidth/4-50, PageWidth/4+50, rows)
		q3 := density(p, 3*PageWidth/4-50, 3*PageWidth/4+50, rows)
		if tc.dither {
			if q1 < 0.6 || q1 > 0.9 || q3 < 0.1 || q3 > 0.4 {
				t.Errorf("mode %d: dithered densities %.2f and %.2f, want about 0.75 and 0.25", tc.mode, q1, q3)
			}
		} else if q1 != 1 || q3 != 0 {
			t.Errorf("mode %d: thresholded densities %.2f and %.2f, want 1 and 0", tc.mode, q1, q3)
		}
	}
}

// Transparent pixels are paper, not ink.
func TestPictureTransparentIsWhite(t *testing.T) {
	m := image.NewNRGBA(image.Rect(0, 0, 64, 64)) // all transparent black
	pages, err := Bytes(context.Background(), encodeAs(t, KindPNG, m), "", Options{})
	if err != nil {
		t.Fatal(err)
	}
	if n := blackIn(pages[0], image.Rect(0, 0, PageWidth, pages[0].Height)); n != 0 {
		t.Fatalf("%d black pixels from a transparent picture", n)
	}
}

// bombPNG is a valid PNG header claiming w x h with a tiny body.
func bombPNG(t testing.TB, w, h uint32) []byte {
	data := encodeAs(t, KindPNG, image.NewGray(image.Rect(0, 0, 1, 1)))
	// IHDR data starts at 16: width, height; its CRC covers type+data.
	binary.BigEndian.PutUint32(data[16:], w)
	binary.BigEndian.PutUint32(data[20:], h)
	binary.BigEndian.PutUint32(data[29:], crc32.ChecksumIEEE(data[12:29]))
	return data
}

func TestPictureBomb(t *testing.T) {
	_, err := Bytes(context.Background(), bombPNG(t, 100000, 100000), "image/png", Options{})
	re := wantReason(t, err, ErrTooLarge)
	if re.Kind != KindPNG {
		t.Fatalf("kind %v", re.Kind)
	}
	// Just under the limit the header passes and the empty body is corrupt.
	_, err = Bytes(context.Background(), bombPNG(t, 1000, 1000), "", Options{MaxPixels: 1000 * 1000})
	wantReason(t, err, ErrCorrupt)
}

func TestPictureCorrupt(t *testing.T) {
	src := lineArt(300, 200, image.Rect(10, 10, 50, 50))
	for _, kind := range []Kind{KindPNG, KindJPEG, KindGIF} {
		data := encodeAs(t, kind, src)
		for _, cut := range []int{8, 30, len(data) / 2, len(data) - 3} {
			_, err := Bytes(context.Background(), data[:cut], "", Options{})
			if err == nil && kind == KindJPEG && cut == len(data)-3 {
				continue // Go's JPEG decoder tolerates a missing EOI
			}
			wantReasonAny(t, err, ErrCorrupt)
		}
	}
}

// gradient is a smooth two-way ramp, a stand-in for a photograph.
func gradient(w, h int) *image.Gray {
	g := image.NewGray(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			g.Pix[y*g.Stride+x] = uint8((x*255/w + y*255/h) / 2)
		}
	}
	return g
}
