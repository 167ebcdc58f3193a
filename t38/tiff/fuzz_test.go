package tiff

import (
	"bytes"
	"image"
	"image/color"
	"os"
	"path/filepath"
	"testing"

	xtiff "golang.org/x/image/tiff"

	"github.com/faxd/faxd/t38/bilevel"
)

// FuzzDecode feeds arbitrary bytes to the reader: it must return pages or
// an error, within the limits, and never panic or hang.
func FuzzDecode(f *testing.F) {
	golden, _ := filepath.Glob("testdata/golden-*.tif")
	for _, g := range golden {
		if b, err := os.ReadFile(g); err == nil {
			f.Add(b)
		}
	}
	small := bilevel.New(40, 12)
	for y := 0; y < 12; y++ {
		small.SetBlack(y*3, y, true)
	}
	for _, c := range codings {
		for _, fill := range []int{1, 2} {
			var buf bytes.Buffer
			EncodeFax(&buf, []*bilevel.Image{small, small}, FaxOptions{Coding: c, FillOrder: fill, AlignEOL: true})
			f.Add(buf.Bytes())
		}
	}
	grey := image.NewGray(image.Rect(0, 0, 9, 5))
	rgb := image.NewRGBA(image.Rect(0, 0, 9, 5))
	pal := image.NewPaletted(image.Rect(0, 0, 9, 5), color.Palette{color.White, color.Black})
	for i := range grey.Pix {
		grey.Pix[i] = uint8(i * 5)
	}
	for _, img := range []image.Image{grey, rgb, pal} {
		for _, comp := range []xtiff.CompressionType{xtiff.Uncompressed, xtiff.Deflate} {
			var buf bytes.Buffer
			xtiff.Encode(&buf, img, &xtiff.Options{Compression: comp, Predictor: comp == xtiff.Deflate})
			f.Add(buf.Bytes())
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		lim := Limits{MaxPages: 20, MaxWidth: 4000, MaxHeight: 4000, MaxPixels: 1 << 21}
		tf, err := Open(data, lim)
		if err != nil {
			return
		}
		for i := range tf.NumPages() {
			p, err := tf.Page(i)
			if err != nil {
				continue
			}
			switch {
			case p.Bilevel != nil:
				if int64(p.Bilevel.Width)*int64(p.Bilevel.Height) > lim.MaxPixels || len(p.Bilevel.Pix) != p.Bilevel.Stride*p.Bilevel.Height {
					t.Fatalf("page %d: %dx%d escapes the limits", i, p.Bilevel.Width, p.Bilevel.Height)
				}
				if p.Coding != 0 && p.Stats.BadRows > p.Bilevel.Height {
					t.Fatalf("page %d: %d bad rows of %d", i, p.Stats.BadRows, p.Bilevel.Height)
				}
			case p.Image != nil:
				if b := p.Image.Bounds(); int64(b.Dx())*int64(b.Dy()) > lim.MaxPixels {
					t.Fatalf("page %d: %v escapes the limits", i, b)
				}
			default:
				t.Fatalf("page %d: neither bilevel nor image", i)
			}
		}
	})
}
