// Package render turns the documents a business application submits (PDF,
// PostScript, TIFF, PNG, JPEG, GIF, plain UTF-8 text, and through
// LibreOffice DOCX, XLSX, ODT, ODS, RTF and HTML) into fax pages:
// bilevel rasters exactly 1728 pixels wide at 204 dpi across and standard,
// fine or superfine resolution down. It also draws the header line on sent
// pages and builds cover pages.
//
// Documents are hostile until proven otherwise: the type is decided by the
// content, not the declared type; PDF and PostScript are interpreted by a
// sandboxed Ghostscript subprocess with time, memory and page limits; image
// sizes are checked from the header before anything is decoded.
package render

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"time"

	"github.com/faxd/faxd/t38/bilevel"
)

// PageSize is the paper the document is fitted to.
type PageSize int

const (
	A4 PageSize = iota
	Letter
)

func (p PageSize) String() string {
	switch p {
	case A4:
		return "A4"
	case Letter:
		return "Letter"
	}
	return fmt.Sprintf("PageSize(%d)", int(p))
}

// heightMM is the paper length; the width is always the fax line of 1728
// pixels (215 mm), which holds both A4 and Letter.
func (p PageSize) heightMM() float64 {
	if p == Letter {
		return 279.4
	}
	return 297
}

// Resolution is the vertical fax resolution; horizontally it is always
// 204 dpi (8 pixels/mm).
type Resolution int

const (
	Standard  Resolution = iota // 3.85 lines/mm, 98 dpi
	Fine                        // 7.7 lines/mm, 196 dpi
	Superfine                   // 15.4 lines/mm, 391 dpi
)

func (r Resolution) String() string {
	switch r {
	case Standard:
		return "standard"
	case Fine:
		return "fine"
	case Superfine:
		return "superfine"
	}
	return fmt.Sprintf("Resolution(%d)", int(r))
}

// YDPI is the vertical resolution in dots per inch as TIFF and PDF write it.
func (r Resolution) YDPI() int {
	switch r {
	case Standard:
		return bilevel.YDPIStandard
	case Superfine:
		return bilevel.YDPISuperfine
	}
	return bilevel.YDPIFine
}

// linesPerMM is the exact T.4 figure; page lengths come from it rather than
// from the rounded dpi so that an A4 page is the 1143/2286 lines receivers
// expect.
func (r Resolution) linesPerMM() float64 {
	switch r {
	case Standard:
		return 3.85
	case Superfine:
		return 15.4
	}
	return 7.7
}

// PageWidth is the width in pixels of every page render produces.
const PageWidth = bilevel.WidthA4

// PageLines returns the number of scan lines of a full page.
func PageLines(size PageSize, res Resolution) int {
	return int(size.heightMM() * res.linesPerMM())
}

// ImageMode chooses how greyscale pictures become black and white.
type ImageMode int

const (
	ImageAuto      ImageMode = iota // decide from the histogram
	ImageThreshold                  // line art: a fixed threshold
	ImageDither                     // photographs: error diffusion
)

// Options control rendering. The zero value renders A4 at standard
// resolution with the default limits.
type Options struct {
	PageSize   PageSize
	Resolution Resolution
	ImageMode  ImageMode

	MaxBytes  int64         // input size; default 64 MiB
	MaxPages  int           // pages per document; default 200
	MaxPixels int64         // decoded picture size (width*height); default 50 million
	Timeout   time.Duration // whole interpretation; default 2 minutes
	// MaxImageBytes bounds the memory of one decoded picture or TIFF page:
	// width x height x bytes per pixel, read from the header before any
	// pixel is decoded (a 16-bit RGBA pixel is 8 bytes). Default 128 MiB.
	MaxImageBytes int64
	// Names are what error messages call the limits: the configuration
	// keys that set them. Empty names are the option names.
	Names LimitNames

	// Ghostscript sandbox. MemoryLimit is the address-space limit of the
	// interpreter process; default 1 GiB.
	MemoryLimit    int64
	GhostscriptBin string // default "gs" from PATH
	PrlimitBin     string // default "prlimit" from PATH (util-linux)
	// OfficeBin converts DOCX, XLSX, ODT, ODS, RTF and HTML to PDF;
	// default "soffice" from PATH. Its memory limit is at least
	// DefaultOfficeMemoryLimit.
	OfficeBin string
}

// LimitNames name the limits in error messages.
type LimitNames struct {
	MaxBytes, MaxPages, MaxPixels, MaxImageBytes string
	// OfficeCommand names OfficeBin's setting.
	OfficeCommand string
}

// Defaults applied by withDefaults.
const (
	DefaultMaxBytes    = 64 << 20
	DefaultMaxPages    = 200
	DefaultMaxPixels   = 50_000_000
	DefaultMaxImage    = 128 << 20
	DefaultTimeout     = 2 * time.Minute
	DefaultMemoryLimit = 1 << 30
)

func (o Options) withDefaults() Options {
	if o.MaxBytes <= 0 {
		o.MaxBytes = DefaultMaxBytes
	}
	if o.MaxPages <= 0 {
		o.MaxPages = DefaultMaxPages
	}
	if o.MaxPixels <= 0 {
		o.MaxPixels = DefaultMaxPixels
	}
	if o.MaxImageBytes <= 0 {
		o.MaxImageBytes = DefaultMaxImage
	}
	for _, n := range []struct {
		name *string
		def  string
	}{{&o.Names.MaxBytes, "max_bytes"}, {&o.Names.MaxPages, "max_pages"}, {&o.Names.MaxPixels, "max_pixels"}, {&o.Names.MaxImageBytes, "max_image_bytes"}, {&o.Names.OfficeCommand, "office_command"}} {
		if *n.name == "" {
			*n.name = n.def
		}
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.MemoryLimit <= 0 {
		o.MemoryLimit = DefaultMemoryLimit
	}
	if o.GhostscriptBin == "" {
		o.GhostscriptBin = "gs"
	}
	if o.OfficeBin == "" {
		o.OfficeBin = "soffice"
	}
	if o.PrlimitBin == "" {
		o.PrlimitBin = "prlimit"
	}
	return o
}

func (o Options) pageLines() int { return PageLines(o.PageSize, o.Resolution) }

// newPage returns a white page of the configured size.
func (o Options) newPage() *bilevel.Image {
	m := bilevel.New(PageWidth, o.pageLines())
	m.XDPI, m.YDPI = bilevel.XDPI, o.Resolution.YDPI()
	return m
}

// Document renders a whole document into fax pages. contentType is the
// declared MIME type; it may be empty or application/octet-stream, in which
// case the content alone decides. A declared type that contradicts the
// content is rejected. Errors are *Error values wrapping one of the
// sentinel errors (ErrUnknownType, ErrTooLarge, ...).
func Document(ctx context.Context, r io.Reader, contentType string, opt Options) ([]*bilevel.Image, error) {
	opt = opt.withDefaults()
	data, err := io.ReadAll(io.LimitReader(r, opt.MaxBytes+1))
	if err != nil {
		return nil, fmt.Errorf("render: reading document: %w", err)
	}
	return Bytes(ctx, data, contentType, opt)
}

// Bytes is Document for a document already in memory.
func Bytes(ctx context.Context, data []byte, contentType string, opt Options) ([]*bilevel.Image, error) {
	opt = opt.withDefaults()
	if int64(len(data)) > opt.MaxBytes {
		return nil, newError(Sniff(data), ErrTooLarge, "the document is %d bytes; %s is %d", len(data), opt.Names.MaxBytes, opt.MaxBytes)
	}
	data, contentType, err := fromCharset(data, contentType)
	if err != nil {
		return nil, err
	}
	kind := refineKind(Sniff(data), contentType)
	if len(data) == 0 {
		return nil, newError(KindUnknown, ErrEmpty, "the document is empty")
	}
	if err := checkDeclared(kind, contentType); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("render: %w", err)
	}
	var pages []*bilevel.Image
	switch kind {
	case KindPDF, KindPostScript:
		pages, err = ghostscript(ctx, data, kind, opt)
	case KindPNG, KindJPEG, KindGIF:
		var p *bilevel.Image
		p, err = picture(bytes.NewReader(data), kind, opt)
		pages = []*bilevel.Image{p}
	case KindText:
		pages, err = text(data, opt)
	case KindTIFF:
		pages, err = tiffDocument(data, opt)
	case KindDOCX, KindXLSX, KindODT, KindODS, KindRTF, KindHTML:
		pages, err = office(ctx, data, kind, opt)
	default:
		return nil, newError(KindUnknown, ErrUnknownType,
			"the document is not PDF, PostScript, TIFF, PNG, JPEG, GIF, UTF-8 text, HTML, DOCX, XLSX, ODT, ODS or RTF")
	}
	if err != nil {
		return nil, err
	}
	if len(pages) == 0 {
		return nil, newError(kind, ErrEmpty, "the document has no pages")
	}
	if len(pages) > opt.MaxPages {
		return nil, newError(kind, ErrTooManyPages, "the %s has %d pages; %s is %d", kind, len(pages), opt.Names.MaxPages, opt.MaxPages)
	}
	return pages, nil
}
