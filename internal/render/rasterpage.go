package render

import (
	"image"
	"math"

	"github.com/faxd/faxd/t38/bilevel"
)

// rasterPage is a page that arrives as pixels (TIFF) rather than as a
// description: bilevel, or grey/colour.
type rasterPage struct {
	bilevel    *bilevel.Image // set for black-and-white pages
	img        image.Image    // set for grey or colour pages
	xdpi, ydpi float64        // 0 when the file does not say
}

// maxLengthPages bounds a single raster page's length in paper lengths:
// fax allows long pages, but not endless ones.
const maxLengthPages = 3

// fromRaster converts a raster page to the fax geometry at its physical
// size: a fax-resolution bilevel page 1728 wide passes through untouched;
// other vertical resolutions are converted by repeating or merging rows;
// anything else is scaled to 204 dpi (shrunk to 1728 wide if it is wider)
// and centred. Grey and colour pages go through the picture path.
func fromRaster(p rasterPage, opt Options) (*bilevel.Image, error) {
	ydpi := opt.Resolution.YDPI()
	var w, h int
	if p.bilevel != nil {
		w, h = p.bilevel.Width, p.bilevel.Height
	} else {
		b := p.img.Bounds()
		w, h = b.Dx(), b.Dy()
	}
	if w <= 0 || h <= 0 {
		return nil, newError(KindTIFF, ErrCorrupt, "a page is %dx%d pixels", w, h)
	}
	if int64(w)*int64(h) > opt.MaxPixels {
		return nil, newError(KindTIFF, ErrTooLarge, "a page is %dx%d = %d pixels; %s is %d", w, h, int64(w)*int64(h), opt.Names.MaxPixels, opt.MaxPixels)
	}
	xdpi, sdpi := p.xdpi, p.ydpi
	if xdpi <= 0 || sdpi <= 0 {
		if p.bilevel != nil && w == PageWidth {
			xdpi, sdpi = bilevel.XDPI, float64(ydpi) // a fax page without tags
		} else {
			// Unknown resolution: treat as a picture, fitted to the width.
			xdpi = float64(w) / (float64(PageWidth) / bilevel.XDPI)
			sdpi = xdpi
		}
	}
	// Physical size at 204 dpi across, shrunk to the fax line if wider.
	tw := int(math.Round(float64(w) * bilevel.XDPI / xdpi))
	shrink := 1.0
	if tw > PageWidth {
		shrink = float64(PageWidth) / float64(tw)
		tw = PageWidth
	}
	th := int(math.Round(float64(h) * float64(ydpi) / sdpi * shrink))
	tw, th = max(tw, 1), max(th, 1)
	if th > maxLengthPages*opt.pageLines() {
		return nil, newError(KindTIFF, ErrTooLarge, "a page is %.0f mm long", float64(h)/sdpi*25.4)
	}

	var out *bilevel.Image
	switch {
	case p.bilevel != nil && tw == w && w == PageWidth:
		out = resampleRows(p.bilevel, th)
	case p.bilevel != nil && tw == w:
		out = fitPage(resampleRows(p.bilevel, th), opt) // narrower: centred
	default:
		var g *image.Gray
		if p.bilevel != nil {
			g = bilevelToGray(p.bilevel)
		} else {
			g = toGray(p.img)
		}
		out = bilevel.New(PageWidth, th)
		scaled := scaleGray(g, tw, th)
		x0 := (PageWidth - tw) / 2
		mode := opt.ImageMode
		if p.bilevel != nil {
			mode = ImageThreshold // already black and white: no dithering
		} else if mode == ImageAuto {
			mode = ImageThreshold
			if isPhotograph(g) {
				mode = ImageDither
			}
		}
		if mode == ImageDither {
			dither(scaled, out, x0, 0)
		} else {
			threshold(scaled, out, x0, 0)
		}
	}
	out.XDPI, out.YDPI = bilevel.XDPI, ydpi
	return out, nil
}

// resampleRows changes only the number of rows: each output row is the OR
// of the source rows it covers (so thin horizontal lines survive going
// from fine to standard), or a repeat of the row it falls in. The same
// height returns the image itself.
func resampleRows(m *bilevel.Image, th int) *bilevel.Image {
	if th == m.Height {
		return m
	}
	out := bilevel.New(m.Width, th)
	for y := 0; y < th; y++ {
		a := y * m.Height / th
		b := max((y+1)*m.Height/th, a+1)
		dst := out.Row(y)
		for sy := a; sy < b && sy < m.Height; sy++ {
			for i, v := range m.Row(sy)[:out.Stride] {
				dst[i] |= v
			}
		}
	}
	return out
}
