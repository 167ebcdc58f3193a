package render

import (
	"bytes"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"io"

	"github.com/faxd/faxd/t38/bilevel"
)

// decodeConfig reads only the header of a picture. The pixel limit is
// checked on it before any decoding, so a tiny file claiming to be a
// 100000x100000 image (a decompression bomb) costs nothing.
func decodeConfig(data []byte, kind Kind) (image.Config, error) {
	r := bytes.NewReader(data)
	switch kind {
	case KindPNG:
		return png.DecodeConfig(r)
	case KindJPEG:
		return jpeg.DecodeConfig(r)
	case KindGIF:
		return gif.DecodeConfig(r)
	}
	return image.Config{}, ErrUnknownType
}

func decodePicture(data []byte, kind Kind) (image.Image, error) {
	r := bytes.NewReader(data)
	switch kind {
	case KindPNG:
		return png.Decode(r)
	case KindJPEG:
		return jpeg.Decode(r)
	case KindGIF:
		// The first frame: an animated GIF is not a multi-page document.
		return gif.Decode(r)
	}
	return nil, ErrUnknownType
}

// picture renders one PNG, JPEG or GIF as one page: scaled to the page
// width keeping its aspect ratio (or to the page length if it is tall),
// centred, top-aligned, then made bilevel.
func picture(r io.Reader, kind Kind, opt Options) (*bilevel.Image, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	cfg, err := decodeConfig(data, kind)
	if err != nil {
		return nil, wrapError(kind, ErrCorrupt, err, "the picture header cannot be read")
	}
	if cfg.Width <= 0 || cfg.Height <= 0 {
		return nil, newError(kind, ErrCorrupt, "the picture is %dx%d pixels", cfg.Width, cfg.Height)
	}
	if err := checkImage(kind, "the picture", cfg.Width, cfg.Height, bytesPerPixel(cfg.ColorModel), opt); err != nil {
		return nil, err
	}
	img, err := decodePicture(data, kind)
	if err != nil {
		return nil, wrapError(kind, ErrCorrupt, err, "the picture cannot be decoded")
	}
	return pictureToPage(toGray(img), opt), nil
}

// bytesPerPixel is what the decoder allocates per pixel for a colour
// model; unknown models count as the largest (16-bit RGBA).
func bytesPerPixel(m color.Model) float64 {
	switch m {
	case color.GrayModel, color.AlphaModel:
		return 1
	case color.Gray16Model, color.Alpha16Model:
		return 2
	case color.YCbCrModel:
		return 3 // 4:4:4 is the worst case
	case color.RGBAModel, color.NRGBAModel, color.CMYKModel:
		return 4
	case color.RGBA64Model, color.NRGBA64Model:
		return 8
	}
	if _, ok := m.(color.Palette); ok {
		return 1
	}
	return 8
}

// checkImage applies the pixel and the memory limit to a picture or page
// whose header says it is w x h pixels of bpp bytes each. Converting it to
// grey adds one more byte per pixel.
func checkImage(kind Kind, what string, w, h int, bpp float64, opt Options) error {
	px := int64(w) * int64(h)
	if px > opt.MaxPixels {
		return newError(kind, ErrTooLarge, "%s is %dx%d = %d pixels; %s is %d", what, w, h, px, opt.Names.MaxPixels, opt.MaxPixels)
	}
	if b := int64(float64(px) * (bpp + 1)); b > opt.MaxImageBytes {
		return newError(kind, ErrTooLarge, "%s is %dx%d pixels of %g bytes (plus 1 to make it grey) = %d bytes decoded; %s is %d",
			what, w, h, bpp, b, opt.Names.MaxImageBytes, opt.MaxImageBytes)
	}
	return nil
}

// pictureToPage fits a grey picture of square pixels onto a fax page.
func pictureToPage(g *image.Gray, opt Options) *bilevel.Image {
	page := opt.newPage()
	sw, sh := g.Rect.Dx(), g.Rect.Dy()
	ydpi := opt.Resolution.YDPI()
	// Fit the width; the vertical size follows at the fax line density.
	tw := PageWidth
	th := int((int64(sh)*int64(PageWidth)*int64(ydpi) + int64(sw)*bilevel.XDPI/2) / (int64(sw) * bilevel.XDPI))
	if th > page.Height { // too tall: fit the length instead
		th = page.Height
		tw = int((int64(sw)*int64(th)*bilevel.XDPI + int64(sh)*int64(ydpi)/2) / (int64(sh) * int64(ydpi)))
	}
	tw, th = max(tw, 1), max(th, 1)
	mode := opt.ImageMode
	if mode == ImageAuto {
		mode = ImageThreshold
		if isPhotograph(g) {
			mode = ImageDither
		}
	}
	scaled := scaleGray(g, tw, th)
	x0 := (PageWidth - tw) / 2
	if mode == ImageDither {
		dither(scaled, page, x0, 0)
	} else {
		threshold(scaled, page, x0, 0)
	}
	return page
}
