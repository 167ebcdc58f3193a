// Package bilevel holds the one in-memory form of a fax page: a packed
// 1-bit raster. Every codec, renderer and file format in faxd converts to
// and from this type, so there is exactly one way to hold a page.
package bilevel

import (
	"fmt"
	"image"
	"image/color"
)

// Fax resolutions in dots per inch. Fax vertical resolutions are really
// 3.85, 7.7 and 15.4 lines/mm; TIFF Class F writes them as 98, 196 and 391.
const (
	XDPI          = 204
	YDPIStandard  = 98
	YDPIFine      = 196
	YDPISuperfine = 391
)

// Standard fax page widths in pixels at 204 dpi (A4, B4, A3).
const (
	WidthA4 = 1728
	WidthB4 = 2048
	WidthA3 = 2432
)

// Image is a packed bilevel raster. Bit value 1 is black. Pixels are stored
// most significant bit first; each row starts on a byte boundary and is
// Stride bytes long. Bits past Width in the last byte of a row are zero.
type Image struct {
	Width, Height int
	Stride        int
	Pix           []byte
	XDPI, YDPI    int
}

// New returns an all-white image of the given size at fax fine resolution.
func New(width, height int) *Image {
	if width < 0 || height < 0 {
		panic(fmt.Sprintf("bilevel: negative size %dx%d", width, height))
	}
	stride := (width + 7) / 8
	return &Image{
		Width: width, Height: height, Stride: stride,
		Pix:  make([]byte, stride*height),
		XDPI: XDPI, YDPI: YDPIFine,
	}
}

// Row returns the packed bytes of row y; it aliases the image.
func (m *Image) Row(y int) []byte { return m.Pix[y*m.Stride : (y+1)*m.Stride] }

// Black reports whether the pixel at (x, y) is black.
func (m *Image) Black(x, y int) bool {
	return m.Pix[y*m.Stride+x>>3]&(0x80>>(x&7)) != 0
}

// SetBlack paints the pixel at (x, y) black (true) or white (false).
func (m *Image) SetBlack(x, y int, black bool) {
	i, mask := y*m.Stride+x>>3, byte(0x80>>(x&7))
	if black {
		m.Pix[i] |= mask
	} else {
		m.Pix[i] &^= mask
	}
}

// Equal reports whether two images have the same size and pixels.
// Resolution is not compared: callers that care compare it themselves.
func (m *Image) Equal(o *Image) bool {
	if m.Width != o.Width || m.Height != o.Height {
		return false
	}
	for y := 0; y < m.Height; y++ {
		a, b := m.Row(y), o.Row(y)
		for i := range a {
			if a[i] != b[i] {
				return false
			}
		}
	}
	return true
}

// ColorModel, Bounds and At make an Image usable wherever the standard
// library expects an image.Image (PNG thumbnails, tests).
func (m *Image) ColorModel() color.Model { return color.GrayModel }
func (m *Image) Bounds() image.Rectangle { return image.Rect(0, 0, m.Width, m.Height) }
func (m *Image) At(x, y int) color.Color {
	if !(image.Point{x, y}.In(m.Bounds())) || !m.Black(x, y) {
		return color.Gray{Y: 0xff}
	}
	return color.Gray{Y: 0}
}
