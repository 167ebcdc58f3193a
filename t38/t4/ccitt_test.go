package t4

import (
	"bytes"
	"fmt"
	"image"
	"math/rand/v2"
	"testing"

	"golang.org/x/image/ccitt"

	"github.com/faxd/faxd/t38/bilevel"
	"github.com/faxd/faxd/t38/t4/t4test"
)

// golang.org/x/image/ccitt is an independent decoder: it must read our MH
// (without fill) and MMR with identical pixels.
func TestXImageCCITTDecodesOurs(t *testing.T) {
	for _, width := range []int{bilevel.WidthA4, bilevel.WidthB4, bilevel.WidthA3} {
		for _, ydpi := range resolutions {
			if width != bilevel.WidthA4 && ydpi != bilevel.YDPIFine {
				continue // every width once, every resolution at A4
			}
			for i, img := range t4test.Set(width, ydpi) {
				for _, c := range []Coding{MH, MMR} {
					data, err := Encode(img, EncodeOptions{Coding: c})
					if err != nil {
						t.Fatal(err)
					}
					sf, opts := ccitt.Group3, &ccitt.Options{Invert: true}
					if c == MMR {
						sf = ccitt.Group4
					}
					dst := image.NewGray(image.Rect(0, 0, width, img.Height))
					if err := ccitt.DecodeIntoGray(dst, bytes.NewReader(data), ccitt.MSB, sf, opts); err != nil {
						t.Fatalf("%d/%d/%d %v: x/image/ccitt: %v", width, ydpi, i, c, err)
					}
					for y := 0; y < img.Height; y++ {
						for x := 0; x < width; x++ {
							if (dst.Pix[y*dst.Stride+x] == 0xff) != img.Black(x, y) { // Invert: black is 0xff
								t.Fatalf("%s: pixel (%d,%d) differs", fmt.Sprintf("%d/%d/%d %v", width, ydpi, i, c), x, y)
							}
						}
					}
				}
			}
		}
	}
}

// Random pages of every density and odd widths, checked against
// x/image/ccitt: an encoder and decoder that agree with each other on a
// misreading of T.4 would still disagree with an independent decoder.
func TestXImageCCITTRandomPages(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 7))
	for i := 0; i < 300; i++ {
		w, h := 1+rng.IntN(400), 1+rng.IntN(30)
		img := bilevel.New(w, h)
		switch i % 3 {
		case 0: // noise of a random density
			p := rng.Float64()
			for y := 0; y < h; y++ {
				for x := 0; x < w; x++ {
					img.SetBlack(x, y, rng.Float64() < p)
				}
			}
		case 1: // random runs, long and short
			for y := 0; y < h; y++ {
				black := rng.IntN(2) == 0
				for x := 0; x < w; {
					n := 1 + rng.IntN(1+rng.IntN(w))
					for k := x; k < min(x+n, w); k++ {
						img.SetBlack(k, y, black)
					}
					x += n
					black = !black
				}
			}
		default: // rows that copy the previous one with small shifts
			for x := 0; x < w; x++ {
				img.SetBlack(x, 0, rng.IntN(7) == 0)
			}
			for y := 1; y < h; y++ {
				s := rng.IntN(5) - 2
				for x := 0; x < w; x++ {
					if sx := x + s; sx >= 0 && sx < w {
						img.SetBlack(x, y, img.Black(sx, y-1))
					}
				}
			}
		}
		for _, c := range []Coding{MH, MMR} {
			data, err := Encode(img, EncodeOptions{Coding: c})
			if err != nil {
				t.Fatal(err)
			}
			sf := ccitt.Group3
			if c == MMR {
				sf = ccitt.Group4
			}
			dst := image.NewGray(image.Rect(0, 0, w, h))
			if err := ccitt.DecodeIntoGray(dst, bytes.NewReader(data), ccitt.MSB, sf, &ccitt.Options{Invert: true}); err != nil {
				t.Fatalf("page %d (%dx%d) %v: x/image/ccitt: %v", i, w, h, c, err)
			}
			for y := 0; y < h; y++ {
				for x := 0; x < w; x++ {
					if (dst.Pix[y*dst.Stride+x] == 0xff) != img.Black(x, y) {
						t.Fatalf("page %d (%dx%d) %v: x/image/ccitt pixel (%d,%d) differs", i, w, h, c, x, y)
					}
				}
			}
			for _, k := range []int{1, 2, 3} { // and ours, MR included
				opt := EncodeOptions{Coding: c, K: k}
				if c == MH {
					opt.Coding = MR
				}
				checkRoundTrip(t, img, opt, i)
			}
		}
	}
}
