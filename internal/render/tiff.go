package render

import (
	"errors"

	"github.com/faxd/faxd/t38/bilevel"
	"github.com/faxd/faxd/t38/tiff"
)

// tiffDocument renders a TIFF of any compression t38/tiff reads: Class F
// pages at a fax resolution pass through untouched, everything else is
// brought to the fax geometry at its physical size (see fromRaster).
func tiffDocument(data []byte, opt Options) ([]*bilevel.Image, error) {
	f, err := tiff.Open(data, tiff.Limits{
		MaxPages:  opt.MaxPages + 1, // one more, to tell "too many" apart
		MaxWidth:  16384,
		MaxHeight: 65536,
		MaxPixels: opt.MaxPixels,
	})
	if err != nil {
		return nil, tiffError(err)
	}
	if f.NumPages() > opt.MaxPages {
		return nil, newError(KindTIFF, ErrTooManyPages, "the document has more than %d pages", opt.MaxPages)
	}
	pages := make([]*bilevel.Image, 0, f.NumPages())
	for i := range f.NumPages() {
		p, err := f.Page(i)
		if err != nil {
			return nil, tiffError(err)
		}
		out, err := fromRaster(rasterPage{bilevel: p.Bilevel, img: p.Image, xdpi: p.XDPI, ydpi: p.YDPI}, opt)
		if err != nil {
			return nil, err
		}
		pages = append(pages, out)
	}
	return pages, nil
}

func tiffError(err error) error {
	switch {
	case errors.Is(err, tiff.ErrLimit):
		return wrapError(KindTIFF, ErrTooLarge, err, "the TIFF exceeds a size limit")
	case errors.Is(err, tiff.ErrUnsupported):
		return wrapError(KindTIFF, ErrUnknownType, err, "the TIFF uses a feature faxd does not read")
	}
	return wrapError(KindTIFF, ErrCorrupt, err, "the TIFF cannot be read")
}
