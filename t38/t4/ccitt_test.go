package t4

import (
	"bytes"
	"fmt"
	"image"
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
