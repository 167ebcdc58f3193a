package render

import (
	"bytes"
	"fmt"
	"image"
	"strings"
	"text/template"
	"time"

	"github.com/faxd/faxd/t38/bilevel"
)

// CoverData is what a cover page template can print.
type CoverData struct {
	To, ToNumber     string
	Company          string // the recipient's company (broadcast recipients)
	From, FromNumber string
	Subject          string
	Comment          string
	Pages            int // document pages, not counting the cover
	Time             time.Time
	// Vars are a broadcast recipient's free variables, for a custom
	// template ({{.Vars.account}}); the built-in layout does not show them.
	Vars map[string]string
}

// DefaultCoverTemplate shows the layout rules CoverPage understands:
// lines starting with "# " are titles (large, centred); the "Label: value"
// lines that follow are drawn as a ruled table in a box; after the first
// blank line comes free text.
const DefaultCoverTemplate = `# FAX
To: {{.To}}{{if .Company}}
Company: {{.Company}}{{end}}
Fax: {{.ToNumber}}
From: {{.From}}
Fax: {{.FromNumber}}
Date: {{.Time.Format "2006-01-02 15:04 MST"}}
Subject: {{.Subject}}
Pages: {{.Pages}} (plus this cover page)

{{.Comment}}
`

// ParseCoverTemplate checks a cover page template at configuration time.
func ParseCoverTemplate(s string) (*template.Template, error) {
	t, err := template.New("cover").Parse(s)
	if err != nil {
		return nil, fmt.Errorf("render: cover template: %w", err)
	}
	var b bytes.Buffer
	if err := t.Execute(&b, CoverData{Time: time.Now()}); err != nil {
		return nil, fmt.Errorf("render: cover template: %w", err)
	}
	return t, nil
}

var defaultCover = template.Must(template.New("cover").Parse(DefaultCoverTemplate))

const (
	coverTitlePt = 28
	coverBoxPt   = 12
	coverRule    = 3 // pixels at 204 dpi
)

// CoverPage renders a one-page cover sheet from a template (nil uses
// DefaultCoverTemplate) at the page size and resolution of opt.
func CoverPage(data CoverData, tmpl *template.Template, opt Options) (*bilevel.Image, error) {
	opt = opt.withDefaults()
	if tmpl == nil {
		tmpl = defaultCover
	}
	var b bytes.Buffer
	if err := tmpl.Execute(&b, data); err != nil {
		return nil, fmt.Errorf("render: cover template: %w", err)
	}
	titles, rows, body := parseCover(b.String())

	title, err := newTypeface(true, coverTitlePt)
	if err != nil {
		return nil, err
	}
	boxFace, err := newTypeface(false, coverBoxPt)
	if err != nil {
		return nil, err
	}
	bodyFace, err := newTypeface(false, textSizePt)
	if err != nil {
		return nil, err
	}
	lines := opt.pageLines()
	sq := squareLines(lines, opt.Resolution)
	canvas := whiteCanvas(nil, PageWidth, sq)
	side := textMarginSide
	bottom := sq - textMarginBottom
	y := textMarginTop

	for _, t := range titles {
		y += title.ascent
		title.draw(canvas, (PageWidth-title.width(t))/2, y, t)
		y += title.descent + title.height/3
	}

	if len(rows) > 0 {
		y += boxFace.height / 2
		labelCols := 0
		for _, r := range rows {
			labelCols = max(labelCols, len([]rune(r[0])))
		}
		pad := boxFace.adv
		split := side + pad + labelCols*boxFace.adv + pad
		valueCols := (PageWidth - side - split - 2*pad) / boxFace.adv
		top := y
		for i, r := range rows {
			vals := wrapLine(r[1], valueCols)
			h := len(vals)*boxFace.height + pad
			if y+h > bottom {
				return nil, newError(KindText, ErrTooLarge, "the cover page text does not fit on one page")
			}
			if i > 0 {
				fillRect(canvas, image.Rect(side, y, PageWidth-side, y+coverRule/2+1))
			}
			base := y + pad/2 + boxFace.ascent
			boxFace.draw(canvas, side+pad, base, r[0])
			for _, v := range vals {
				boxFace.draw(canvas, split+pad, base, v)
				base += boxFace.height
			}
			y += h
		}
		drawBox(canvas, image.Rect(side, top, PageWidth-side, y), coverRule)
		fillRect(canvas, image.Rect(split, top, split+coverRule/2+1, y))
		y += boxFace.height
	}

	cols := (PageWidth - 2*side) / bodyFace.adv
	for _, para := range body {
		for _, l := range wrapLine(expandTabs(para), cols) {
			if y+bodyFace.height > bottom {
				return nil, newError(KindText, ErrTooLarge, "the cover page text does not fit on one page")
			}
			y += bodyFace.height
			bodyFace.draw(canvas, side, y, l)
		}
	}
	page := opt.newPage()
	grayToRows(canvas, page, 0, lines, inkThreshold)
	return page, nil
}

// parseCover splits template output into titles, table rows and body
// lines following the rules of DefaultCoverTemplate.
func parseCover(s string) (titles []string, rows [][2]string, body []string) {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	i := 0
	for ; i < len(lines) && strings.HasPrefix(lines[i], "# "); i++ {
		titles = append(titles, strings.TrimSpace(lines[i][2:]))
	}
	for ; i < len(lines) && strings.TrimSpace(lines[i]) != ""; i++ {
		label, value, ok := strings.Cut(lines[i], ":")
		if !ok {
			label, value = "", lines[i]
		}
		rows = append(rows, [2]string{strings.TrimSpace(label), strings.TrimSpace(value)})
	}
	for ; i < len(lines) && strings.TrimSpace(lines[i]) == ""; i++ {
	}
	for ; i < len(lines); i++ {
		body = append(body, strings.Map(func(r rune) rune {
			if r < 0x20 && r != '\t' || r == 0x7f {
				return ' '
			}
			return r
		}, lines[i]))
	}
	return titles, rows, body
}
