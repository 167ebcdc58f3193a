package tiff

import (
	"image"
	"image/color"
	"math"

	"github.com/faxd/faxd/t38/bilevel"
)

// Fax returns the page as a fax page width pixels wide at 204 dpi by ydpi
// lines per inch (98, 196 or 391; 0 keeps the nearest of them to the
// page's own resolution). Grey and colour pages are thresholded: callers
// that want photographs dithered convert Page.Image themselves and use
// Rescale.
func (p Page) Fax(width, ydpi int) *bilevel.Image {
	src := p.Bilevel
	if src == nil {
		src = Threshold(p.Image)
	}
	return Rescale(src, p.XDPI, p.YDPI, width, ydpi)
}

// Threshold makes a bilevel image: pixels darker than middle grey are black.
func Threshold(img image.Image) *bilevel.Image {
	b := img.Bounds()
	out := bilevel.New(b.Dx(), b.Dy())
	if g, ok := img.(*image.Gray); ok {
		for y := 0; y < b.Dy(); y++ {
			row := g.Pix[y*g.Stride : y*g.Stride+b.Dx()]
			for x, v := range row {
				if v < 128 {
					out.Pix[y*out.Stride+x>>3] |= 0x80 >> (x & 7)
				}
			}
		}
		return out
	}
	for y := 0; y < b.Dy(); y++ {
		for x := 0; x < b.Dx(); x++ {
			if color.GrayModel.Convert(img.At(b.Min.X+x, b.Min.Y+y)).(color.Gray).Y < 128 {
				out.Pix[y*out.Stride+x>>3] |= 0x80 >> (x & 7)
			}
		}
	}
	return out
}

// faxYDPI picks the fax vertical resolution nearest to ydpi.
func faxYDPI(ydpi float64) int {
	switch {
	case ydpi <= 0:
		return bilevel.YDPIFine
	case ydpi < 147:
		return bilevel.YDPIStandard
	case ydpi < 290:
		return bilevel.YDPIFine
	}
	return bilevel.YDPISuperfine
}

// Rescale resamples a bilevel page scanned at xdpi by ydpi to fax
// resolution: 204 dpi across, outYDPI down (0 = nearest fax resolution),
// width pixels wide (0 = 1728). A page that is too wide after scaling is
// shrunk to fit, a narrower one is centred. Unknown resolutions (0) are
// taken as fax resolution. Downscaling uses the black share of each
// source box, so thin lines survive.
func Rescale(src *bilevel.Image, xdpi, ydpi float64, width, outYDPI int) *bilevel.Image {
	if width <= 0 {
		width = bilevel.WidthA4
	}
	if xdpi <= 0 {
		xdpi = bilevel.XDPI
	}
	if ydpi <= 0 {
		ydpi = xdpi
		if xdpi == bilevel.XDPI {
			ydpi = bilevel.YDPIFine
		}
	}
	if outYDPI <= 0 {
		outYDPI = faxYDPI(ydpi)
	}
	// 200 and 204 dpi are the same fax resolution in practice (the
	// difference is within T.4 tolerance); only real changes rescale.
	sx := float64(bilevel.XDPI) / xdpi
	if math.Abs(sx-1) < 0.025 {
		sx = 1
	}
	sy := float64(outYDPI) / ydpi
	if math.Abs(sy-1) < 0.025 {
		sy = 1
	}
	if w := float64(src.Width) * sx; w > float64(width)*1.01 {
		f := float64(width) / w // too wide: shrink both ways
		sx, sy = sx*f, sy*f
	}
	dw := min(width, int(math.Round(float64(src.Width)*sx)))
	dh := max(1, int(math.Round(float64(src.Height)*sy)))
	out := bilevel.New(width, dh)
	out.XDPI, out.YDPI = bilevel.XDPI, outYDPI
	off := (width - dw) / 2
	if sx == 1 && sy == 1 {
		for y := 0; y < dh && y < src.Height; y++ {
			copyBits(out.Row(y), off, src.Row(y), min(src.Width, width))
		}
		return out
	}
	for y := 0; y < dh; y++ {
		y0 := int(float64(y) / sy)
		y1 := max(y0+1, int(float64(y+1)/sy))
		y1 = min(y1, src.Height)
		for x := 0; x < dw; x++ {
			x0 := int(float64(x) / sx)
			x1 := min(max(x0+1, int(float64(x+1)/sx)), src.Width)
			black, total := 0, 0
			for yy := y0; yy < y1; yy++ {
				for xx := x0; xx < x1; xx++ {
					if src.Black(xx, yy) {
						black++
					}
					total++
				}
			}
			if total > 0 && 2*black >= total {
				out.SetBlack(off+x, y, true)
			}
		}
	}
	return out
}

// copyBits copies n pixels from the start of src to dst at bit offset off.
func copyBits(dst []byte, off int, src []byte, n int) {
	if off&7 == 0 {
		copy(dst[off>>3:], src[:(n+7)/8])
		if r := (off + n) & 7; r != 0 && (off+n)>>3 < len(dst) {
			dst[(off+n)>>3] &= byte(0xff << (8 - r))
		}
		return
	}
	for x := 0; x < n; x++ {
		if src[x>>3]&(0x80>>(x&7)) != 0 {
			d := off + x
			dst[d>>3] |= 0x80 >> (d & 7)
		}
	}
}
