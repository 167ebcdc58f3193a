// Package faxpdf writes received faxes as PDF files people can open. Each
// page is one image XObject holding the fax data itself under the
// CCITTFaxDecode filter: MMR data received as MMR is embedded byte for
// byte, MH and MR data are transcoded to MMR (decoded and re-coded, never
// re-rasterised or scaled), and the page size follows the fax resolution
// so a page prints at its true physical size.
//
// Pages faxd writes itself (transmission reports) can also be text pages
// with a text layer (text.go).
//
// The writer is a minimal hand-written PDF 1.4 producer: header, objects,
// cross-reference table and trailer. It streams: pages are written as they
// are added and only their object offsets are kept.
package faxpdf

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"time"
	"unicode/utf16"

	"github.com/faxd/faxd/t38/bilevel"
	"github.com/faxd/faxd/t38/t4"
)

// Page is one fax page: either Image, or coded Data with its geometry.
type Page struct {
	Image *bilevel.Image // set for a page held as a raster

	Data   []byte    // coded page
	Coding t4.Coding // coding of Data
	// FillOrder of Data as in TIFF: 1 (or 0) most significant bit first,
	// 2 least significant first (as bits arrive on the line and spandsp
	// stores them). PDF knows only the first; Data is not modified.
	FillOrder int
	Width     int // pixels per row of Data
	Height    int // rows of Data; 0 = find out by decoding
	// Resolution in dots per inch; 0 means 204 x 196 (fine).
	XDPI, YDPI int
}

// Info is the document information dictionary.
type Info struct {
	Title   string
	Author  string // e.g. the sender's station id
	Subject string
	Created time.Time // zero: omitted (keeps output reproducible)
}

// Errors.
var (
	ErrNoPages = errors.New("faxpdf: no pages")
	ErrBadPage = errors.New("faxpdf: bad page")
	ErrClosed  = errors.New("faxpdf: writer closed")
	errNoRows  = errors.New("no rows decoded")
)

// Writer writes a PDF one page at a time.
type Writer struct {
	w       *bufio.Writer
	n       int64   // bytes written so far
	offsets []int64 // offsets[i] is object i+1's; 0 = reserved, not yet written
	pages   []int   // page object numbers
	info    Info
	err     error
	closed  bool
	// fontObjs are the regular and bold font objects of text pages
	// (text.go), written with the first text page; 0 until then.
	fontObjs [2]int
}

// Object numbers fixed up front: the catalog and page tree are written
// last, when the page list is known.
const (
	objCatalog = 1
	objPages   = 2
	objInfo    = 3
)

// NewWriter starts a PDF on w.
func NewWriter(w io.Writer, info Info) *Writer {
	pw := &Writer{w: bufio.NewWriterSize(w, 64<<10), info: info, offsets: make([]int64, 3)}
	// The binary comment marks the file as binary for transfer programs.
	pw.printf("%%PDF-1.4\n%%\xe2\xe3\xcf\xd3\n")
	return pw
}

func (pw *Writer) printf(format string, args ...any) {
	if pw.err != nil {
		return
	}
	n, err := fmt.Fprintf(pw.w, format, args...)
	pw.n += int64(n)
	pw.err = err
}

func (pw *Writer) write(b []byte) {
	if pw.err != nil {
		return
	}
	n, err := pw.w.Write(b)
	pw.n += int64(n)
	pw.err = err
}

// newObj reserves an object number.
func (pw *Writer) newObj() int {
	pw.offsets = append(pw.offsets, 0)
	return len(pw.offsets)
}

// begin starts writing object num at the current offset.
func (pw *Writer) begin(num int) {
	pw.offsets[num-1] = pw.n
	pw.printf("%d 0 obj\n", num)
}

// AddPage codes (if needed) and writes one page.
func (pw *Writer) AddPage(p Page) error {
	if pw.closed {
		return ErrClosed
	}
	if pw.err != nil {
		return pw.err
	}
	mmr, w, h, err := pageMMR(p)
	if err != nil {
		return err
	}
	xdpi, ydpi := p.XDPI, p.YDPI
	if p.Image != nil {
		xdpi, ydpi = p.Image.XDPI, p.Image.YDPI
	}
	if xdpi <= 0 {
		xdpi = bilevel.XDPI
	}
	if ydpi <= 0 {
		ydpi = bilevel.YDPIFine
	}
	// Physical size in points: pixels / dpi * 72.
	wpt := float64(w) * 72 / float64(xdpi)
	hpt := float64(h) * 72 / float64(ydpi)

	page, content, img := pw.newObj(), pw.newObj(), pw.newObj()
	pw.pages = append(pw.pages, page)

	pw.begin(page)
	pw.printf("<< /Type /Page /Parent %d 0 R /MediaBox [0 0 %s %s] /Resources << /XObject << /Im0 %d 0 R >> >> /Contents %d 0 R >>\nendobj\n",
		objPages, num(wpt), num(hpt), img, content)

	cs := fmt.Sprintf("q %s 0 0 %s 0 0 cm /Im0 Do Q\n", num(wpt), num(hpt))
	pw.begin(content)
	pw.printf("<< /Length %d >>\nstream\n%sendstream\nendobj\n", len(cs), cs)

	// K -1: pure two-dimensional (T.6). BlackIs1 false: the filter yields 0
	// for black, which DeviceGray paints black.
	pw.begin(img)
	pw.printf("<< /Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace /DeviceGray /BitsPerComponent 1"+
		" /Filter /CCITTFaxDecode /DecodeParms << /K -1 /Columns %d /Rows %d /BlackIs1 false >> /Length %d >>\nstream\n",
		w, h, w, h, len(mmr))
	pw.write(mmr)
	pw.printf("\nendstream\nendobj\n")
	return pw.err
}

// Close writes the page tree, catalog, info, cross-reference table and
// trailer. It does not close the underlying writer.
func (pw *Writer) Close() error {
	if pw.closed {
		return ErrClosed
	}
	pw.closed = true
	if pw.err != nil {
		return pw.err
	}
	if len(pw.pages) == 0 {
		return ErrNoPages
	}
	pw.begin(objPages)
	pw.printf("<< /Type /Pages /Count %d /Kids [", len(pw.pages))
	for i, p := range pw.pages {
		if i > 0 {
			pw.printf(" ")
		}
		pw.printf("%d 0 R", p)
	}
	pw.printf("] >>\nendobj\n")

	pw.begin(objCatalog)
	pw.printf("<< /Type /Catalog /Pages %d 0 R >>\nendobj\n", objPages)

	pw.begin(objInfo)
	pw.printf("<< /Producer %s", textString("faxd"))
	for _, kv := range [][2]string{{"Title", pw.info.Title}, {"Author", pw.info.Author}, {"Subject", pw.info.Subject}} {
		if kv[1] != "" {
			pw.printf(" /%s %s", kv[0], textString(kv[1]))
		}
	}
	if !pw.info.Created.IsZero() {
		pw.printf(" /CreationDate (D:%sZ)", pw.info.Created.UTC().Format("20060102150405"))
	}
	pw.printf(" >>\nendobj\n")

	xref := pw.n
	pw.printf("xref\n0 %d\n0000000000 65535 f \n", len(pw.offsets)+1)
	for _, off := range pw.offsets {
		pw.printf("%010d 00000 n \n", off)
	}
	pw.printf("trailer\n<< /Size %d /Root %d 0 R /Info %d 0 R >>\nstartxref\n%d\n%%%%EOF\n",
		len(pw.offsets)+1, objCatalog, objInfo, xref)
	if pw.err != nil {
		return pw.err
	}
	return pw.w.Flush()
}

// Write writes a whole PDF of pages to w.
func Write(w io.Writer, pages []Page, info Info) error {
	pw := NewWriter(w, info)
	for i, p := range pages {
		if err := pw.AddPage(p); err != nil {
			return fmt.Errorf("page %d: %w", i+1, err)
		}
	}
	return pw.Close()
}

// pageMMR returns the page as MMR data with its size. Received MMR that
// decodes cleanly is used as is; anything else goes through the decoder,
// which also repairs what a viewer could not show (MH/MR bad rows are
// already replaced by the decoder; MMR cut short is completed in white).
func pageMMR(p Page) (data []byte, w, h int, err error) {
	if p.Image != nil {
		img := p.Image
		if img.Width <= 0 || img.Height <= 0 {
			return nil, 0, 0, fmt.Errorf("%w: %dx%d image", ErrBadPage, img.Width, img.Height)
		}
		data, err := t4.Encode(img, t4.EncodeOptions{Coding: t4.MMR})
		if err != nil {
			return nil, 0, 0, fmt.Errorf("%w: %w", ErrBadPage, err)
		}
		return data, img.Width, img.Height, nil
	}
	if p.Width <= 0 || p.Width > t4.MaxWidth || p.Height < 0 || len(p.Data) == 0 {
		return nil, 0, 0, fmt.Errorf("%w: %d bytes of %v, %dx%d", ErrBadPage, len(p.Data), p.Coding, p.Width, p.Height)
	}
	if p.FillOrder == 2 {
		rev := make([]byte, len(p.Data))
		copy(rev, p.Data)
		t4.ReverseBits(rev)
		p.Data = rev
	}
	img, stats, derr := t4.Decode(p.Data, t4.DecodeOptions{Coding: p.Coding, Width: p.Width, Height: p.Height})
	if img == nil || img.Height == 0 {
		if derr == nil {
			derr = errNoRows
		}
		return nil, 0, 0, fmt.Errorf("%w: %w", ErrBadPage, derr)
	}
	if p.Coding == t4.MMR && derr == nil && stats.BadRows == 0 {
		return p.Data, p.Width, img.Height, nil
	}
	if p.Height > 0 && img.Height < p.Height { // keep the declared length
		full := bilevel.New(img.Width, p.Height)
		copy(full.Pix, img.Pix)
		full.XDPI, full.YDPI = img.XDPI, img.YDPI
		img = full
	}
	data, err = t4.Encode(img, t4.EncodeOptions{Coding: t4.MMR})
	if err != nil {
		return nil, 0, 0, fmt.Errorf("%w: %w", ErrBadPage, err)
	}
	return data, img.Width, img.Height, nil
}

// num formats a PDF real (no exponent) to 1/10000 pt, rounded down:
// rasterisers size the page as ceil(pt*dpi/72), and rounding up would add
// a blank column or row at the fax resolution.
func num(f float64) string { return strconv.FormatFloat(math.Floor(f*1e4)/1e4, 'f', 4, 64) }

// textString encodes a PDF text string as UTF-16BE with a byte order
// mark, in hex, so any name or number survives without escaping rules.
func textString(s string) string {
	b := []byte("<FEFF")
	for _, u := range utf16.Encode([]rune(s)) {
		b = fmt.Appendf(b, "%04X", u)
	}
	return string(append(b, '>'))
}
