package render

import (
	"bytes"
	"fmt"
	"image"
	"strings"
	"sync"

	"golang.org/x/image/font"
	"golang.org/x/image/font/gofont/gomono"
	"golang.org/x/image/font/gofont/gomonobold"
	"golang.org/x/image/font/opentype"
	"golang.org/x/image/math/fixed"

	"github.com/faxd/faxd/t38/bilevel"
)

// The bundled fonts, parsed once. Go Mono is metric-compatible monospace
// and ships inside the module, so text renders identically everywhere.
var (
	monoFont = sync.OnceValues(func() (*opentype.Font, error) { return opentype.Parse(gomono.TTF) })
	boldFont = sync.OnceValues(func() (*opentype.Font, error) { return opentype.Parse(gomonobold.TTF) })
)

// typeface draws strings onto a grey canvas at 204 dpi with a per-rune
// glyph cache; font.Face rasterises every glyph on every call otherwise.
// Not safe for concurrent use: make one per rendering.
type typeface struct {
	face    font.Face
	adv     int // advance of every glyph, the font being monospace
	ascent  int
	descent int
	height  int // baseline to baseline
	cache   map[rune]*glyph
}

type glyph struct {
	mask *image.Alpha // coverage, origin at the dot
	off  image.Point  // top-left of the mask relative to the dot
}

func newTypeface(bold bool, sizePt float64) (*typeface, error) {
	f, err := monoFont()
	if bold {
		f, err = boldFont()
	}
	if err != nil {
		return nil, fmt.Errorf("render: bundled font: %w", err)
	}
	face, err := opentype.NewFace(f, &opentype.FaceOptions{Size: sizePt, DPI: bilevel.XDPI, Hinting: font.HintingFull})
	if err != nil {
		return nil, fmt.Errorf("render: bundled font: %w", err)
	}
	m := face.Metrics()
	adv, _ := face.GlyphAdvance('M')
	return &typeface{
		face:    face,
		adv:     adv.Round(),
		ascent:  m.Ascent.Ceil(),
		descent: m.Descent.Ceil(),
		height:  m.Height.Ceil(),
		cache:   map[rune]*glyph{},
	}, nil
}

func (t *typeface) glyph(r rune) *glyph {
	if g, ok := t.cache[r]; ok {
		return g
	}
	g := &glyph{}
	dr, mask, mp, _, ok := t.face.Glyph(fixed.Point26_6{}, r)
	if ok && !dr.Empty() {
		// The face reuses its mask buffer: keep a copy.
		a := image.NewAlpha(image.Rect(0, 0, dr.Dx(), dr.Dy()))
		for y := 0; y < dr.Dy(); y++ {
			for x := 0; x < dr.Dx(); x++ {
				_, _, _, al := mask.At(mp.X+x, mp.Y+y).RGBA()
				a.Pix[y*a.Stride+x] = uint8(al >> 8)
			}
		}
		g.mask, g.off = a, dr.Min
	}
	t.cache[r] = g
	return g
}

// draw paints s in black with its baseline at y, starting at x, and
// returns the x after it. Ink outside dst is clipped.
func (t *typeface) draw(dst *image.Gray, x, y int, s string) int {
	for _, r := range s {
		g := t.glyph(r)
		if g.mask != nil {
			blitInk(dst, g.mask, x+g.off.X, y+g.off.Y)
		}
		x += t.adv
	}
	return x
}

// width is the advance of s in pixels.
func (t *typeface) width(s string) int { return t.adv * len([]rune(s)) }

// blitInk darkens dst by the mask's coverage (black ink over paper).
func blitInk(dst *image.Gray, m *image.Alpha, x0, y0 int) {
	b := dst.Rect
	for y := 0; y < m.Rect.Dy(); y++ {
		dy := y0 + y
		if dy < b.Min.Y || dy >= b.Max.Y {
			continue
		}
		for x := 0; x < m.Rect.Dx(); x++ {
			dx := x0 + x
			if dx < b.Min.X || dx >= b.Max.X {
				continue
			}
			a := int(m.Pix[y*m.Stride+x])
			if a == 0 {
				continue
			}
			i := dst.PixOffset(dx, dy)
			dst.Pix[i] = uint8(int(dst.Pix[i]) * (255 - a) / 255)
		}
	}
}

// fillRect paints a solid black rectangle.
func fillRect(dst *image.Gray, r image.Rectangle) {
	r = r.Intersect(dst.Rect)
	for y := r.Min.Y; y < r.Max.Y; y++ {
		clear(dst.Pix[dst.PixOffset(r.Min.X, y):dst.PixOffset(r.Max.X, y)])
	}
}

// whiteCanvas returns (or clears and reuses) a white grey canvas.
func whiteCanvas(c *image.Gray, w, h int) *image.Gray {
	if c == nil || c.Rect.Dx() != w || c.Rect.Dy() != h {
		c = image.NewGray(image.Rect(0, 0, w, h))
	}
	for i := range c.Pix {
		c.Pix[i] = 0xff
	}
	return c
}

// Text page layout, in points: 10 pt Go Mono (about 92 columns on the fax
// line), margins that keep clear of the header line and of the edges a
// receiver's printer may not reach.
const (
	textSizePt       = 10
	textMarginSide   = 82 // pixels at 204 dpi: 0.4 in
	textMarginTop    = 102
	textMarginBottom = 82
	tabWidth         = 8
)

// text renders plain UTF-8 text: tabs every 8 columns, form feed starts a
// new page, long lines wrap (at a space where one is near), and pages
// break when full.
func text(data []byte, opt Options) ([]*bilevel.Image, error) {
	tf, err := newTypeface(false, textSizePt)
	if err != nil {
		return nil, err
	}
	lines := opt.pageLines()
	sq := squareLines(lines, opt.Resolution)
	cols := (PageWidth - 2*textMarginSide) / tf.adv
	perPage := (sq - textMarginTop - textMarginBottom) / tf.height
	left := (PageWidth - cols*tf.adv) / 2

	pagesText := layoutText(data, cols, perPage)
	if len(pagesText) > opt.MaxPages {
		return nil, newError(KindText, ErrTooManyPages, "the text needs %d pages; %s is %d", len(pagesText), opt.Names.MaxPages, opt.MaxPages)
	}
	out := make([]*bilevel.Image, 0, len(pagesText))
	var canvas *image.Gray
	for _, pl := range pagesText {
		canvas = whiteCanvas(canvas, PageWidth, sq)
		y := textMarginTop + tf.ascent
		for _, l := range pl {
			tf.draw(canvas, left, y, l)
			y += tf.height
		}
		page := opt.newPage()
		grayToRows(canvas, page, 0, lines, inkThreshold)
		out = append(out, page)
	}
	return out, nil
}

// layoutText splits text into pages of at most perPage lines of at most
// cols runes. A trailing form feed does not make an empty last page.
func layoutText(data []byte, cols, perPage int) [][]string {
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	s := strings.ReplaceAll(string(data), "\r\n", "\n")
	s = strings.ReplaceAll(s, "\r", "\n")
	sheets := strings.Split(s, "\f")
	if len(sheets) > 1 && strings.TrimRight(sheets[len(sheets)-1], "\n") == "" {
		sheets = sheets[:len(sheets)-1]
	}
	var pages [][]string
	for _, sheet := range sheets {
		sheet = strings.TrimSuffix(sheet, "\n")
		var cur []string
		for _, line := range strings.Split(sheet, "\n") {
			for _, l := range wrapLine(expandTabs(line), cols) {
				if len(cur) == perPage {
					pages = append(pages, cur)
					cur = nil
				}
				cur = append(cur, l)
			}
		}
		pages = append(pages, cur)
	}
	return pages
}

func expandTabs(s string) string {
	if !strings.Contains(s, "\t") {
		return s
	}
	var b strings.Builder
	col := 0
	for _, r := range s {
		if r == '\t' {
			n := tabWidth - col%tabWidth
			b.WriteString(strings.Repeat(" ", n))
			col += n
			continue
		}
		b.WriteRune(r)
		col++
	}
	return b.String()
}

// wrapLine breaks a line into pieces of at most cols runes, at the last
// space of a piece when that space is in its second half.
func wrapLine(s string, cols int) []string {
	r := []rune(strings.TrimRight(s, " "))
	if len(r) <= cols {
		return []string{string(r)}
	}
	var out []string
	for len(r) > cols {
		cut, skip := cols, 0
		for i := cols; i > cols/2; i-- {
			if r[i] == ' ' {
				cut, skip = i, 1
				break
			}
		}
		out = append(out, strings.TrimRight(string(r[:cut]), " "))
		r = r[cut+skip:]
	}
	return append(out, string(r))
}
