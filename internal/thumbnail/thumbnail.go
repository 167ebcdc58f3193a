// Package thumbnail makes small grey previews of fax pages for the admin
// console and notification mails.
//
// A fax page is mostly white with thin black strokes; dropping pixels
// (nearest neighbour) loses text entirely, so every thumbnail pixel is
// the average of the page area it covers, which turns text into readable
// grey. Fax pixels are not square (204 x 98 dpi at standard resolution),
// so the thumbnail's height follows the physical page, not the rows.
package thumbnail

import (
	"errors"
	"image"
	"image/png"
	"io"
	"math/bits"

	"github.com/faxd/faxd/t38/bilevel"
)

// DefaultWidth is the thumbnail width the console uses.
const DefaultWidth = 200

// ErrBadSize is returned for an empty page or a non-positive width.
var ErrBadSize = errors.New("thumbnail: bad size")

// Gray returns a width-pixel-wide grey preview of the page, with the
// height that keeps the page's physical aspect ratio. A width larger than
// the page is clamped to the page width (thumbnails never upscale).
func Gray(m *bilevel.Image, width int) (*image.Gray, error) {
	if m == nil || m.Width <= 0 || m.Height <= 0 || width <= 0 {
		return nil, ErrBadSize
	}
	xdpi, ydpi := m.XDPI, m.YDPI
	if xdpi <= 0 || ydpi <= 0 {
		xdpi, ydpi = 1, 1
	}
	width = min(width, m.Width)
	// Physical height in thumbnail pixels: rows/ydpi inches at width/
	// (Width/xdpi) pixels per inch.
	height := int((int64(m.Height)*int64(width)*int64(xdpi) + int64(m.Width)*int64(ydpi)/2) / (int64(m.Width) * int64(ydpi)))
	height = max(1, min(height, m.Height))
	g := image.NewGray(image.Rect(0, 0, width, height))

	// Column spans are the same for every output row: precompute them.
	x0 := make([]int, width+1)
	for i := range x0 {
		x0[i] = i * m.Width / width
	}
	black := make([]int, width)
	for ty := 0; ty < height; ty++ {
		y0, y1 := ty*m.Height/height, (ty+1)*m.Height/height
		clear(black)
		for y := y0; y < y1; y++ {
			row := m.Row(y)
			for tx := 0; tx < width; tx++ {
				black[tx] += countBits(row, x0[tx], x0[tx+1])
			}
		}
		out := g.Pix[ty*g.Stride : ty*g.Stride+width]
		for tx := range out {
			area := (x0[tx+1] - x0[tx]) * (y1 - y0)
			out[tx] = uint8(255 - (black[tx]*255+area/2)/area)
		}
	}
	return g, nil
}

// countBits counts the set bits of row in the bit range [a, b).
func countBits(row []byte, a, b int) int {
	n := 0
	for a < b {
		i, off := a>>3, a&7
		take := min(8-off, b-a)
		v := row[i] << off >> (8 - take)
		n += bits.OnesCount8(v)
		a += take
	}
	return n
}

// PNG writes the preview of the page as a greyscale PNG.
func PNG(w io.Writer, m *bilevel.Image, width int) error {
	g, err := Gray(m, width)
	if err != nil {
		return err
	}
	enc := png.Encoder{CompressionLevel: png.BestSpeed}
	return enc.Encode(w, g)
}
