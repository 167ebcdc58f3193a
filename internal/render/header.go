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

// HeaderInfo is what a header template can print.
type HeaderInfo struct {
	StationID string    // our fax number as sent in TSI
	Name      string    // sender (company) name
	To        string    // the number dialled
	Time      time.Time // when the fax is sent
	Page      int       // 1-based
	Pages     int
}

// DefaultHeaderTemplate prints the date, sender and page counter. A tab
// separates the left-aligned part from the right-aligned part.
const DefaultHeaderTemplate = `{{.Time.Format "2006-01-02 15:04"}}  {{.Name}}  {{.StationID}}` + "\t" + `Page {{.Page}} of {{.Pages}}`

// ParseHeaderTemplate checks a header template (configuration time) so a
// typo is reported before the first fax rather than on it.
func ParseHeaderTemplate(s string) (*template.Template, error) {
	t, err := template.New("header").Option("missingkey=error").Parse(s)
	if err != nil {
		return nil, fmt.Errorf("render: header template: %w", err)
	}
	if _, err := execHeader(t, HeaderInfo{Time: time.Now(), Page: 1, Pages: 1}); err != nil {
		return nil, err
	}
	return t, nil
}

var defaultHeader = template.Must(template.New("header").Parse(DefaultHeaderTemplate))

// HeaderRows is the height of the header band: 40 rows at fine resolution
// (about 5 mm), the same physical height at other resolutions.
func HeaderRows(ydpi int) int {
	return max(1, (40*ydpi+bilevel.YDPIFine/2)/bilevel.YDPIFine)
}

const headerSizePt = 7

// StampHeader draws the header line into the top rows of img, replacing
// what was there (senders leave a top margin; the page is not scaled).
// tmpl nil uses DefaultHeaderTemplate.
func StampHeader(img *bilevel.Image, info HeaderInfo, tmpl *template.Template) error {
	if tmpl == nil {
		tmpl = defaultHeader
	}
	s, err := execHeader(tmpl, info)
	if err != nil {
		return err
	}
	left, right, _ := strings.Cut(s, "\t")
	tf, err := newTypeface(false, headerSizePt)
	if err != nil {
		return err
	}
	xdpi, ydpi := img.XDPI, img.YDPI
	if xdpi <= 0 {
		xdpi = bilevel.XDPI
	}
	if ydpi <= 0 {
		ydpi = bilevel.YDPIFine
	}
	rows := min(HeaderRows(ydpi), img.Height)
	sq := max(1, (rows*xdpi+ydpi/2)/ydpi)
	canvas := whiteCanvas(nil, img.Width, sq)
	margin := img.Width / 20
	base := (sq + tf.ascent - tf.descent) / 2
	// The right part wins when both do not fit: the page counter matters
	// more than the tail of a long name.
	rw := tf.width(right)
	leftRoom := img.Width - 2*margin - rw - 2*tf.adv
	left = clipRunes(left, leftRoom/max(1, tf.adv))
	tf.draw(canvas, margin, base, left)
	if right != "" {
		tf.draw(canvas, max(margin, img.Width-margin-rw), base, right)
	}
	grayToRows(canvas, img, 0, rows, inkThreshold)
	return nil
}

func execHeader(t *template.Template, info HeaderInfo) (string, error) {
	var b bytes.Buffer
	if err := t.Execute(&b, info); err != nil {
		return "", fmt.Errorf("render: header template: %w", err)
	}
	// One line: the band has room for nothing else. The first tab splits
	// left from right; any other control character becomes a space.
	s := strings.Trim(b.String(), " \r\n")
	left, right, found := strings.Cut(s, "\t")
	blank := func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}
	left, right = strings.Map(blank, left), strings.Map(blank, right)
	if found {
		return left + "\t" + right, nil
	}
	return left, nil
}

func clipRunes(s string, n int) string {
	r := []rune(s)
	if n <= 0 {
		return ""
	}
	if len(r) <= n {
		return s
	}
	return string(r[:n])
}

// drawBox draws the outline of r with lines t pixels thick.
func drawBox(c *image.Gray, r image.Rectangle, t int) {
	fillRect(c, image.Rect(r.Min.X, r.Min.Y, r.Max.X, r.Min.Y+t))
	fillRect(c, image.Rect(r.Min.X, r.Max.Y-t, r.Max.X, r.Max.Y))
	fillRect(c, image.Rect(r.Min.X, r.Min.Y, r.Min.X+t, r.Max.Y))
	fillRect(c, image.Rect(r.Max.X-t, r.Min.Y, r.Max.X, r.Max.Y))
}

// StampHeaders stamps every page of a document, numbering them 1..n of n
// (info.Page and info.Pages are overwritten).
func StampHeaders(pages []*bilevel.Image, info HeaderInfo, tmpl *template.Template) error {
	info.Pages = len(pages)
	for i, p := range pages {
		info.Page = i + 1
		if err := StampHeader(p, info, tmpl); err != nil {
			return fmt.Errorf("page %d: %w", i+1, err)
		}
	}
	return nil
}
