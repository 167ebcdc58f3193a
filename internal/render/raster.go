package render

import (
	"image"

	"golang.org/x/image/draw"

	"github.com/faxd/faxd/t38/bilevel"
)

// squareLines is how many rows at 204 dpi (square pixels) cover n fax rows
// at the given vertical resolution. Text and pictures are drawn with
// square pixels first and squeezed vertically afterwards, because fonts
// and photographs have no notion of 204x98 dpi.
func squareLines(n int, res Resolution) int {
	return (n*bilevel.XDPI + res.YDPI() - 1) / res.YDPI()
}

// inkThreshold is the mean grey below which a resampled text pixel is
// black. Text strokes squeezed to standard resolution come out grey, and a
// threshold above the midpoint keeps one-pixel strokes from vanishing.
const inkThreshold = 160

// grayToRows resamples src vertically (area averaging) into rows
// [y0, y0+n) of dst, thresholding at thr; src is as wide as dst and is
// copied from its column 0. Rows are written whole: white stays white.
func grayToRows(src *image.Gray, dst *bilevel.Image, y0, n int, thr int) {
	sh := src.Rect.Dy()
	w := min(src.Rect.Dx(), dst.Width)
	acc := make([]int, w)
	for y := 0; y < n && y0+y < dst.Height; y++ {
		// Source span [a, b) in 1/n units: row y covers sh/n source rows.
		a, b := y*sh, (y+1)*sh
		for i := range acc {
			acc[i] = 0
		}
		for sy := a / n; sy*n < b && sy < sh; sy++ {
			lo, hi := max(a, sy*n), min(b, (sy+1)*n)
			wgt := hi - lo
			row := src.Pix[sy*src.Stride : sy*src.Stride+w]
			for x, v := range row {
				acc[x] += int(v) * wgt
			}
		}
		out := dst.Row(y0 + y)
		clear(out)
		limit := thr * sh
		for x, v := range acc {
			if v < limit {
				out[x>>3] |= 0x80 >> (x & 7)
			}
		}
	}
}

// toGray flattens any image onto white (transparent areas are paper, not
// ink) as 8-bit luminance, with fast paths for what decoders usually give.
func toGray(src image.Image) *image.Gray {
	b := src.Bounds()
	switch s := src.(type) {
	case *image.Gray:
		return s
	case *image.YCbCr:
		// JFIF luma is full-range grey already.
		g := image.NewGray(image.Rect(0, 0, b.Dx(), b.Dy()))
		for y := 0; y < b.Dy(); y++ {
			copy(g.Pix[y*g.Stride:y*g.Stride+b.Dx()], s.Y[s.YOffset(b.Min.X, b.Min.Y+y):])
		}
		return g
	}
	g := image.NewGray(image.Rect(0, 0, b.Dx(), b.Dy()))
	for i := range g.Pix {
		g.Pix[i] = 0xff
	}
	draw.Draw(g, g.Rect, src, b.Min, draw.Over)
	return g
}

// isPhotograph decides between dithering and thresholding: line art and
// scanned text are nearly all paper and ink, photographs live in the
// middle tones.
func isPhotograph(g *image.Gray) bool {
	var hist [256]int
	w, h := g.Rect.Dx(), g.Rect.Dy()
	// A sample of rows is enough for a histogram and bounds the cost.
	step := max(1, h/512)
	n := 0
	for y := 0; y < h; y += step {
		for _, v := range g.Pix[y*g.Stride : y*g.Stride+w] {
			hist[v]++
		}
		n += w
	}
	mid := 0
	for v := 48; v < 208; v++ {
		mid += hist[v]
	}
	return n > 0 && mid*4 > n // more than a quarter in the middle tones
}

// threshold writes g into dst at (x0, y0), black below 128.
func threshold(g *image.Gray, dst *bilevel.Image, x0, y0 int) {
	w, h := g.Rect.Dx(), g.Rect.Dy()
	for y := 0; y < h && y0+y < dst.Height; y++ {
		row := g.Pix[y*g.Stride : y*g.Stride+w]
		for x, v := range row {
			if v < 128 && x0+x < dst.Width {
				dst.SetBlack(x0+x, y0+y, true)
			}
		}
	}
}

// dither writes g into dst at (x0, y0) with Floyd–Steinberg error
// diffusion, serpentine so that the error does not drift to one side.
func dither(g *image.Gray, dst *bilevel.Image, x0, y0 int) {
	w, h := g.Rect.Dx(), g.Rect.Dy()
	// Two rows of error with a one-pixel guard on each side.
	cur := make([]int32, w+2)
	next := make([]int32, w+2)
	for y := 0; y < h && y0+y < dst.Height; y++ {
		row := g.Pix[y*g.Stride : y*g.Stride+w]
		ltr := y%2 == 0
		for i := 0; i < w; i++ {
			x, dir := i, 1
			if !ltr {
				x, dir = w-1-i, -1
			}
			v := int32(row[x]) + cur[x+1]/16
			var e int32
			if v < 128 {
				e = v
				if x0+x < dst.Width {
					dst.SetBlack(x0+x, y0+y, true)
				}
			} else {
				e = v - 255
			}
			cur[x+1+dir] += e * 7
			next[x+1-dir] += e * 3
			next[x+1] += e * 5
			next[x+1+dir] += e
		}
		cur, next = next, cur
		clear(next)
	}
}

// fitPage makes a page exactly PageWidth wide: wider rasters are scaled
// down keeping their aspect ratio, narrower ones are centred on white.
// The length is left alone: fax pages may be longer than the paper.
func fitPage(m *bilevel.Image, opt Options) *bilevel.Image {
	if m.Width == PageWidth {
		return m
	}
	if m.Width < PageWidth {
		out := bilevel.New(PageWidth, m.Height)
		out.XDPI, out.YDPI = m.XDPI, m.YDPI
		off := (PageWidth - m.Width) / 2
		for y := 0; y < m.Height; y++ {
			for x := 0; x < m.Width; x++ {
				if m.Black(x, y) {
					out.SetBlack(off+x, y, true)
				}
			}
		}
		return out
	}
	g := bilevelToGray(m)
	h := max(1, m.Height*PageWidth/m.Width)
	out := bilevel.New(PageWidth, h)
	out.XDPI, out.YDPI = m.XDPI, m.YDPI
	threshold(scaleGray(g, PageWidth, h), out, 0, 0)
	return out
}

func bilevelToGray(m *bilevel.Image) *image.Gray {
	g := image.NewGray(image.Rect(0, 0, m.Width, m.Height))
	for y := 0; y < m.Height; y++ {
		row := g.Pix[y*g.Stride : y*g.Stride+m.Width]
		for x := range row {
			if m.Black(x, y) {
				row[x] = 0
			} else {
				row[x] = 0xff
			}
		}
	}
	return g
}
