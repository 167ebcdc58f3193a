package render

import (
	"errors"
	"fmt"

	"github.com/faxd/faxd/t38/bilevel"
	"github.com/faxd/faxd/t38/tiff"
)

// tiffMaxPages bounds the page directories read just to count them, so
// that a document over the page limit is told how many pages it has.
const tiffMaxPages = 10000

// tiffDocument renders a TIFF of any compression t38/tiff reads: Class F
// pages at a fax resolution pass through untouched, everything else is
// brought to the fax geometry at its physical size (see fromRaster). Each
// page's header is checked against the limits before its pixels are
// decoded.
func tiffDocument(data []byte, opt Options) ([]*bilevel.Image, error) {
	f, err := tiff.Open(data, tiff.Limits{
		MaxPages:  max(opt.MaxPages+1, tiffMaxPages),
		MaxWidth:  tiffMaxWidth,
		MaxHeight: tiffMaxHeight,
		// checkImage below applies opt's limits with their names first.
		MaxPixels: max(opt.MaxPixels, tiffMaxWidth*tiffMaxHeight),
	})
	if errors.Is(err, tiff.ErrLimit) {
		return nil, wrapError(KindTIFF, ErrTooManyPages, err, "the TIFF has more than %d pages; %s is %d", tiffMaxPages, opt.Names.MaxPages, opt.MaxPages)
	}
	if err != nil {
		return nil, tiffError(err, opt)
	}
	if f.NumPages() > opt.MaxPages {
		return nil, newError(KindTIFF, ErrTooManyPages, "the TIFF has %d pages; %s is %d", f.NumPages(), opt.Names.MaxPages, opt.MaxPages)
	}
	pages := make([]*bilevel.Image, 0, f.NumPages())
	for i := range f.NumPages() {
		in, err := f.Info(i)
		if err != nil {
			return nil, tiffError(err, opt)
		}
		if in.Width > tiffMaxWidth || in.Height > tiffMaxHeight {
			return nil, newError(KindTIFF, ErrTooLarge, "page %d is %dx%d pixels; faxd reads TIFF pages up to %dx%d",
				i+1, in.Width, in.Height, tiffMaxWidth, tiffMaxHeight)
		}
		bpp := float64(in.SamplesPerPixel) * float64(max(in.BitsPerSample, 8)) / 8
		if in.BitsPerSample == 1 && in.SamplesPerPixel == 1 {
			bpp = 1.0 / 8 // bilevel pages stay packed
		}
		if err := checkImage(KindTIFF, fmt.Sprintf("page %d", i+1), in.Width, in.Height, bpp, opt); err != nil {
			return nil, err
		}
		p, err := f.Page(i)
		if err != nil {
			return nil, tiffError(err, opt)
		}
		out, err := fromRaster(rasterPage{bilevel: p.Bilevel, img: p.Image, xdpi: p.XDPI, ydpi: p.YDPI}, opt)
		if err != nil {
			return nil, err
		}
		pages = append(pages, out)
	}
	return pages, nil
}

// The largest page t38/tiff is asked to read, whatever the limits.
const (
	tiffMaxWidth  = 16384
	tiffMaxHeight = 65536
)

func tiffError(err error, opt Options) error {
	switch {
	case errors.Is(err, tiff.ErrLimit):
		// checkImage ran first: what is left is the reader's own guard
		// on the unpacked samples.
		return wrapError(KindTIFF, ErrTooLarge, err, "the TIFF's unpacked samples exceed 3 x %s (%d)", opt.Names.MaxPixels, opt.MaxPixels)
	case errors.Is(err, tiff.ErrUnsupported):
		return wrapError(KindTIFF, ErrUnknownType, err, "the TIFF uses a feature faxd does not read")
	}
	return wrapError(KindTIFF, ErrCorrupt, err, "the TIFF cannot be read")
}
