package render

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"strings"
	"testing"
	"text/template"
	"time"

	"github.com/faxd/faxd/t38/bilevel"
)

func TestPageLines(t *testing.T) {
	// T.4: 3.85, 7.7 and 15.4 lines/mm over 297 mm (A4) and 279.4 mm.
	for _, tc := range []struct {
		size PageSize
		res  Resolution
		want int
	}{
		{A4, Standard, 1143}, {A4, Fine, 2286}, {A4, Superfine, 4573},
		{Letter, Standard, 1075}, {Letter, Fine, 2151}, {Letter, Superfine, 4302},
	} {
		if got := PageLines(tc.size, tc.res); got != tc.want {
			t.Errorf("%v %v: %d lines, want %d", tc.size, tc.res, got, tc.want)
		}
	}
}

// textRows returns, for each row of the page, whether it has ink between
// the side margins; runs of inked rows are text lines.
func inkedLines(p *bilevel.Image) int {
	lines, in := 0, false
	for y := 0; y < p.Height; y++ {
		ink := blackIn(p, image.Rect(0, y, p.Width, y+1)) > 0
		if ink && !in {
			lines++
		}
		in = ink
	}
	return lines
}

func TestTextFormFeeds(t *testing.T) {
	for _, tc := range []struct {
		text  string
		pages int
	}{
		{"one", 1},
		{"one\ftwo\fthree", 3},
		{"one\ftwo\f", 2},   // a trailing form feed adds no blank page
		{"one\f\fthree", 3}, // an explicit empty page is kept
		{"\r\nwindows\r\n", 1},
	} {
		pages, err := Bytes(context.Background(), []byte(tc.text), "text/plain; charset=utf-8", Options{Resolution: Fine})
		if err != nil {
			t.Fatalf("%q: %v", tc.text, err)
		}
		if len(pages) != tc.pages {
			t.Errorf("%q: %d pages, want %d", tc.text, len(pages), tc.pages)
		}
		for i, p := range pages {
			checkPage(t, p, Options{Resolution: Fine})
			words := strings.Split(tc.text, "\f")[i]
			want := 0
			if strings.TrimSpace(words) != "" {
				want = 1
			}
			if got := inkedLines(p); got != want {
				t.Errorf("%q page %d: %d lines of ink, want %d", tc.text, i+1, got, want)
			}
		}
	}
}

func TestTextLongFlowsOntoPages(t *testing.T) {
	for _, res := range []Resolution{Standard, Fine, Superfine} {
		// 100 numbered lines; line n has n%7+1 words to vary the ink.
		var b strings.Builder
		for i := 1; i <= 100; i++ {
			fmt.Fprintf(&b, "%03d%s\n", i, strings.Repeat(" lorem", i%7+1))
		}
		opt := Options{Resolution: res}
		pages, err := Bytes(context.Background(), []byte(b.String()), "", opt)
		if err != nil {
			t.Fatal(err)
		}
		total := 0
		for _, p := range pages {
			checkPage(t, p, opt)
			total += inkedLines(p)
		}
		if total != 100 {
			t.Errorf("%v: %d lines of ink over %d pages, want 100", res, total, len(pages))
		}
		// About 60 lines fit at 10 pt on A4: two pages, the second partial.
		if len(pages) != 2 || inkedLines(pages[0]) < 55 || inkedLines(pages[0]) > 70 {
			t.Errorf("%v: %d pages, %d lines on the first", res, len(pages), inkedLines(pages[0]))
		}
	}
}

func TestTextWrapsAndTabs(t *testing.T) {
	opt := Options{Resolution: Fine}
	long := strings.Repeat("word ", 60) // 300 columns: 4 lines at ~92
	pages, err := Bytes(context.Background(), []byte(long), "", opt)
	if err != nil {
		t.Fatal(err)
	}
	if got := inkedLines(pages[0]); got != 4 {
		t.Errorf("300 columns wrapped into %d lines, want 4", got)
	}
	// A tab moves the next character to column 8: its ink starts 8
	// advances from the margin, exactly where "........x" puts its x.
	tab, _ := Bytes(context.Background(), []byte("\tx"), "", opt)
	dots, _ := Bytes(context.Background(), []byte("        x"), "", opt)
	if !tab[0].Equal(dots[0]) {
		t.Error("a tab does not render like spaces to column 8")
	}
	if blackIn(tab[0], image.Rect(0, 0, PageWidth, tab[0].Height)) == 0 {
		t.Error("no ink")
	}
}

func TestTextPageLimit(t *testing.T) {
	_, err := Bytes(context.Background(), bytes.Repeat([]byte("x\f"), 20), "", Options{MaxPages: 10})
	wantReason(t, err, ErrTooManyPages)
}

func TestWrapLine(t *testing.T) {
	for _, tc := range []struct {
		in   string
		cols int
		want []string
	}{
		{"short", 10, []string{"short"}},
		{"hello world again", 11, []string{"hello world", "again"}},
		{"abcdefghijklmnop", 5, []string{"abcde", "fghij", "klmno", "p"}},
		{"trailing   ", 5, []string{"trailing"[:5], "ing"}},
	} {
		got := wrapLine(tc.in, tc.cols)
		if strings.Join(got, "|") != strings.Join(tc.want, "|") {
			t.Errorf("wrapLine(%q, %d) = %q, want %q", tc.in, tc.cols, got, tc.want)
		}
	}
}

func TestStampHeaderOnlyHeaderRows(t *testing.T) {
	for _, res := range []Resolution{Standard, Fine, Superfine} {
		opt := Options{Resolution: res}
		// A page with ink everywhere, so a stray write anywhere shows.
		pages, err := Bytes(context.Background(), encodeAs(t, KindPNG, lineArt(100, 140, image.Rect(0, 0, 100, 140))), "", opt)
		if err != nil {
			t.Fatal(err)
		}
		orig := pages[0]
		page := &bilevel.Image{Width: orig.Width, Height: orig.Height, Stride: orig.Stride, XDPI: orig.XDPI, YDPI: orig.YDPI,
			Pix: bytes.Clone(orig.Pix)}
		info := HeaderInfo{StationID: "+49 30 1234567", Name: "ACME", Time: time.Date(2026, 1, 2, 3, 4, 0, 0, time.UTC), Page: 1, Pages: 3}
		if err := StampHeader(page, info, nil); err != nil {
			t.Fatal(err)
		}
		rows := HeaderRows(res.YDPI())
		if want := map[Resolution]int{Standard: 20, Fine: 40, Superfine: 80}[res]; rows != want {
			t.Errorf("%v: header band %d rows, want %d", res, rows, want)
		}
		if !bytes.Equal(page.Pix[rows*page.Stride:], orig.Pix[rows*orig.Stride:]) {
			t.Errorf("%v: stamping changed rows below the header band", res)
		}
		band := image.Rect(0, 0, PageWidth, rows)
		ink := blackIn(page, band)
		if ink == 0 || ink > band.Dx()*band.Dy()/4 {
			t.Errorf("%v: header band has %d black pixels: not a line of text on white", res, ink)
		}
		// Page 2 of 3 differs from page 1 of 3 only in the band.
		other := &bilevel.Image{Width: orig.Width, Height: orig.Height, Stride: orig.Stride, XDPI: orig.XDPI, YDPI: orig.YDPI,
			Pix: bytes.Clone(orig.Pix)}
		info.Page = 2
		if err := StampHeader(other, info, nil); err != nil {
			t.Fatal(err)
		}
		if bytes.Equal(other.Pix, page.Pix) {
			t.Errorf("%v: page 1 and page 2 headers are identical", res)
		}
	}
}

func TestStampHeaderTemplate(t *testing.T) {
	if _, err := ParseHeaderTemplate("{{.NoSuchField}}"); err == nil {
		t.Error("a template naming a missing field was accepted")
	}
	if _, err := ParseHeaderTemplate("{{.Page"); err == nil {
		t.Error("an unparsable template was accepted")
	}
	tmpl, err := ParseHeaderTemplate("{{.StationID}}")
	if err != nil {
		t.Fatal(err)
	}
	a, b := bilevel.New(PageWidth, 500), bilevel.New(PageWidth, 500)
	StampHeader(a, HeaderInfo{StationID: "111"}, tmpl)
	StampHeader(b, HeaderInfo{StationID: "111", Page: 9, Pages: 9}, tmpl)
	if !a.Equal(b) {
		t.Error("a template without the page counter still depends on it")
	}
	c := bilevel.New(PageWidth, 500)
	StampHeader(c, HeaderInfo{StationID: "222"}, tmpl)
	if a.Equal(c) {
		t.Error("the station id does not show")
	}
	// A right-aligned part ends near the right edge.
	r, _ := template.New("r").Parse("\tX")
	d := bilevel.New(PageWidth, 500)
	StampHeader(d, HeaderInfo{}, r)
	if blackIn(d, image.Rect(PageWidth*3/4, 0, PageWidth, 40)) == 0 || blackIn(d, image.Rect(0, 0, PageWidth*3/4, 40)) != 0 {
		t.Error("the part after a tab is not right-aligned")
	}
}

func TestCoverPage(t *testing.T) {
	data := CoverData{To: "Bob", ToNumber: "+1 555 0100", From: "Alice", Subject: "Report", Pages: 3,
		Time: time.Date(2026, 1, 2, 3, 4, 0, 0, time.UTC), Comment: "Please call me."}
	for _, res := range []Resolution{Standard, Fine} {
		opt := Options{Resolution: res}
		p, err := CoverPage(data, nil, opt)
		if err != nil {
			t.Fatal(err)
		}
		checkPage(t, p, opt)
		// The box: some row carries a rule spanning most of the page.
		rules := 0
		for y := 0; y < p.Height; y++ {
			if blackIn(p, image.Rect(100, y, PageWidth-100, y+1)) == PageWidth-200 {
				rules++
			}
		}
		if rules < 8 { // top, bottom and 6 separators, at least a row each
			t.Errorf("%v: %d rows of rule, want a ruled box", res, rules)
		}
		// Different data, different page.
		d2 := data
		d2.To = "Carol"
		p2, _ := CoverPage(d2, nil, opt)
		if p.Equal(p2) {
			t.Errorf("%v: the recipient does not show", res)
		}
	}
	long := data
	long.Comment = strings.Repeat("line\n", 200)
	_, err := CoverPage(long, nil, Options{})
	wantReason(t, err, ErrTooLarge)
	bad, _ := template.New("c").Parse("{{.Nope}}")
	if _, err := CoverPage(data, bad, Options{}); err == nil {
		t.Error("template execution error not reported")
	}
	if _, err := ParseCoverTemplate("{{.Nope}}"); err == nil {
		t.Error("bad cover template accepted")
	}
}

// Renderings share only the parsed fonts: concurrent calls must give the
// same pages as a lone one (run under -race in CI's cgo build).
func TestConcurrentRendering(t *testing.T) {
	data := []byte("concurrent\tpage\fsecond")
	want, err := Bytes(context.Background(), data, "", Options{})
	if err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, 4)
	for i := 0; i < 4; i++ {
		go func() {
			got, err := Bytes(context.Background(), data, "", Options{})
			if err == nil && (len(got) != len(want) || !got[0].Equal(want[0]) || !got[1].Equal(want[1])) {
				err = fmt.Errorf("pages differ from a lone rendering")
			}
			errs <- err
		}()
	}
	for i := 0; i < 4; i++ {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}

func TestStampHeaders(t *testing.T) {
	tmpl, err := ParseHeaderTemplate("{{.Page}}/{{.Pages}}")
	if err != nil {
		t.Fatal(err)
	}
	pages := []*bilevel.Image{bilevel.New(PageWidth, 100), bilevel.New(PageWidth, 100)}
	if err := StampHeaders(pages, HeaderInfo{}, tmpl); err != nil {
		t.Fatal(err)
	}
	want := bilevel.New(PageWidth, 100)
	StampHeader(want, HeaderInfo{Page: 2, Pages: 2}, tmpl)
	if !pages[1].Equal(want) || pages[0].Equal(want) {
		t.Error("pages not numbered 1/2 and 2/2")
	}
}
