package t30

import (
	"fmt"

	"github.com/faxd/faxd/t38/bilevel"
	"github.com/faxd/faxd/t38/t4"
)

// ImagePages is a PageSource over in-memory pages, coded with t4.
type ImagePages []*bilevel.Image

// ResolutionOf maps a page's vertical dpi to a fax resolution.
func ResolutionOf(ydpi int) Resolution {
	switch {
	case ydpi >= 300:
		return ResSuperfine
	case ydpi >= 150:
		return ResFine
	}
	return ResStandard
}

// YDPI is the TIFF/bilevel vertical dpi of a resolution.
func (r Resolution) YDPI() int {
	return [...]int{bilevel.YDPIStandard, bilevel.YDPIFine, bilevel.YDPISuperfine}[r%3]
}

func (p ImagePages) NumPages() int { return len(p) }

func (p ImagePages) PageInfo(n int) (PageInfo, error) {
	if n < 0 || n >= len(p) {
		return PageInfo{}, fmt.Errorf("t30: no page %d of %d", n, len(p))
	}
	m := p[n]
	return PageInfo{Width: m.Width, Rows: m.Height, Resolution: ResolutionOf(m.YDPI)}, nil
}

func (p ImagePages) Encode(n int, f PageFormat) ([]byte, error) {
	if n < 0 || n >= len(p) {
		return nil, fmt.Errorf("t30: no page %d of %d", n, len(p))
	}
	return t4.Encode(p[n], t4.EncodeOptions{Coding: t4.Coding(f.Coding), K: f.K, MinRowBits: f.MinRowBits})
}

// T4Decoder decodes received pages with t4. A non-ECM page that ends
// without RTC lost its tail: that counts as one more bad row, so the copy
// quality check sees it.
type T4Decoder struct{}

func (T4Decoder) Decode(data []byte, f PageFormat) (DecodedPage, error) {
	img, st, err := t4.Decode(data, t4.DecodeOptions{Coding: t4.Coding(f.Coding), Width: f.Width})
	if img != nil {
		img.YDPI = f.Resolution.YDPI()
	}
	d := DecodedPage{Image: img, Rows: st.Rows, BadRows: st.BadRows}
	if !st.EndMarker {
		d.BadRows++
		d.Rows = max(d.Rows, d.BadRows)
	}
	return d, err
}
