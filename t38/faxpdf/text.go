package faxpdf

import (
	"fmt"
	"math"
	"strings"
)

// Text pages carry real text (a text layer that can be searched, copied
// and extracted), for documents faxd writes itself such as transmission
// reports. They use the standard Type 1 fonts Helvetica and
// Helvetica-Bold, which every PDF reader has built in, so no font is
// embedded, under WinAnsiEncoding: text outside that character set is
// written as '?'.

// A4 in points.
const (
	A4Width  = 595.2756
	A4Height = 841.8898
)

// Text is one line of text; X and Y (the baseline's start) are in points
// from the page's bottom-left corner.
type Text struct {
	X, Y float64
	Size float64 // points; 0 means 10
	Bold bool
	S    string
}

// Rect is a rectangle in points from the page's bottom-left corner.
type Rect struct{ X, Y, W, H float64 }

// TextPage is a page of text lines and, optionally, one fax page drawn
// reduced into a box (keeping its proportions, top-left aligned in it)
// with a thin frame around it.
type TextPage struct {
	Width, Height float64 // points; 0 means A4
	Lines         []Text
	Image         *Page
	Box           Rect
}

// Font resource names.
const (
	fontRegular = "F1"
	fontBold    = "F2"
)

// fonts writes the two font objects once per document.
func (pw *Writer) fonts() (regular, bold int) {
	if pw.fontObjs[0] == 0 {
		for i, name := range []string{"Helvetica", "Helvetica-Bold"} {
			n := pw.newObj()
			pw.begin(n)
			pw.printf("<< /Type /Font /Subtype /Type1 /BaseFont /%s /Encoding /WinAnsiEncoding >>\nendobj\n", name)
			pw.fontObjs[i] = n
		}
	}
	return pw.fontObjs[0], pw.fontObjs[1]
}

func finite(fs ...float64) bool {
	for _, f := range fs {
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return false
		}
	}
	return true
}

// AddTextPage writes one page of text (and the reduced image, if any).
func (pw *Writer) AddTextPage(p TextPage) error {
	if pw.closed {
		return ErrClosed
	}
	if pw.err != nil {
		return pw.err
	}
	w, h := p.Width, p.Height
	if w == 0 && h == 0 {
		w, h = A4Width, A4Height
	}
	if !finite(w, h) || w <= 0 || h <= 0 || w > 14400 || h > 14400 {
		return fmt.Errorf("%w: text page of %gx%g pt", ErrBadPage, w, h)
	}
	for i, l := range p.Lines {
		if !finite(l.X, l.Y, l.Size) || l.Size < 0 || l.Size > 1000 {
			return fmt.Errorf("%w: text line %d at (%g, %g) size %g", ErrBadPage, i+1, l.X, l.Y, l.Size)
		}
	}
	// The image is checked (and coded) before anything is written, so a
	// bad one leaves the document as it was.
	var mmr []byte
	var iw, ih int
	var xdpi, ydpi int
	if p.Image != nil {
		b := p.Box
		if !finite(b.X, b.Y, b.W, b.H) || b.W <= 0 || b.H <= 0 {
			return fmt.Errorf("%w: image box %+v", ErrBadPage, b)
		}
		var err error
		if mmr, iw, ih, err = pageMMR(*p.Image); err != nil {
			return err
		}
		xdpi, ydpi = p.Image.XDPI, p.Image.YDPI
		if p.Image.Image != nil {
			xdpi, ydpi = p.Image.Image.XDPI, p.Image.Image.YDPI
		}
		if xdpi <= 0 {
			xdpi = 204
		}
		if ydpi <= 0 {
			ydpi = 196
		}
	}
	regular, bold := pw.fonts()
	page, content := pw.newObj(), pw.newObj()
	img := 0
	if mmr != nil {
		img = pw.newObj()
	}
	pw.pages = append(pw.pages, page)

	var cs strings.Builder
	if mmr != nil {
		// Fit the page's physical proportions into the box.
		inW, inH := float64(iw)/float64(xdpi), float64(ih)/float64(ydpi)
		s := math.Min(p.Box.W/inW, p.Box.H/inH)
		dw, dh := inW*s, inH*s
		x, y := p.Box.X, p.Box.Y+p.Box.H-dh
		fmt.Fprintf(&cs, "q %s 0 0 %s %s %s cm /Im0 Do Q\n", num(dw), num(dh), num(x), num(y))
		fmt.Fprintf(&cs, "q 0.5 w %s %s %s %s re S Q\n", num(x), num(y), num(dw), num(dh))
	}
	for _, l := range p.Lines {
		size, font := l.Size, fontRegular
		if size == 0 {
			size = 10
		}
		if l.Bold {
			font = fontBold
		}
		fmt.Fprintf(&cs, "BT /%s %s Tf %s %s Td %s Tj ET\n", font, num(size), num(l.X), num(l.Y), winAnsiString(l.S))
	}

	pw.begin(page)
	pw.printf("<< /Type /Page /Parent %d 0 R /MediaBox [0 0 %s %s] /Resources << /Font << /%s %d 0 R /%s %d 0 R >>",
		objPages, num(w), num(h), fontRegular, regular, fontBold, bold)
	if img != 0 {
		pw.printf(" /XObject << /Im0 %d 0 R >>", img)
	}
	pw.printf(" >> /Contents %d 0 R >>\nendobj\n", content)

	pw.begin(content)
	pw.printf("<< /Length %d >>\nstream\n%sendstream\nendobj\n", cs.Len(), cs.String())

	if img != 0 {
		pw.begin(img)
		pw.printf("<< /Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace /DeviceGray /BitsPerComponent 1"+
			" /Filter /CCITTFaxDecode /DecodeParms << /K -1 /Columns %d /Rows %d /BlackIs1 false >> /Length %d >>\nstream\n",
			iw, ih, iw, ih, len(mmr))
		pw.write(mmr)
		pw.printf("\nendstream\nendobj\n")
	}
	return pw.err
}

// winAnsi maps the characters WinAnsiEncoding places in 0x80-0x9F; from
// 0xA0 to 0xFF it agrees with Latin-1, below 0x80 with ASCII.
var winAnsi = map[rune]byte{
	'€': 0x80, '‚': 0x82, 'ƒ': 0x83, '„': 0x84, '…': 0x85, '†': 0x86, '‡': 0x87, 'ˆ': 0x88, '‰': 0x89,
	'Š': 0x8A, '‹': 0x8B, 'Œ': 0x8C, 'Ž': 0x8E, '‘': 0x91, '’': 0x92, '“': 0x93, '”': 0x94, '•': 0x95,
	'–': 0x96, '—': 0x97, '˜': 0x98, '™': 0x99, 'š': 0x9A, '›': 0x9B, 'œ': 0x9C, 'ž': 0x9E, 'Ÿ': 0x9F,
}

// winAnsiString encodes s as a PDF literal string in WinAnsiEncoding.
// Control characters become spaces and characters outside the encoding
// '?', so any input yields a valid string.
func winAnsiString(s string) string {
	b := []byte{'('}
	for _, r := range s {
		var c byte
		switch {
		case r < 0x20 || r == 0x7F:
			c = ' '
		case r < 0x7F:
			c = byte(r)
		case r >= 0xA0 && r <= 0xFF:
			c = byte(r)
		default:
			var ok bool
			if c, ok = winAnsi[r]; !ok {
				c = '?'
			}
		}
		switch {
		case c == '(' || c == ')' || c == '\\':
			b = append(b, '\\', c)
		case c >= 0x80:
			b = fmt.Appendf(b, "\\%03o", c)
		default:
			b = append(b, c)
		}
	}
	return string(append(b, ')'))
}
