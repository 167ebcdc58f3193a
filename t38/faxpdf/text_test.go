package faxpdf

import (
	"bytes"
	"errors"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/faxd/faxd/t38/bilevel"
)

func needPdftotext(t *testing.T) {
	if _, err := exec.LookPath("pdftotext"); err != nil {
		t.Skip("pdftotext not installed (poppler-utils)")
	}
}

// pdftotext extracts page n's text.
func pdftotext(t *testing.T, pdf []byte, n string) string {
	t.Helper()
	in := filepath.Join(t.TempDir(), "in.pdf")
	if err := os.WriteFile(in, pdf, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("pdftotext", "-enc", "UTF-8", "-f", n, "-l", n, in, "-").CombinedOutput()
	if err != nil {
		t.Fatalf("pdftotext: %v\n%s", err, out)
	}
	return string(out)
}

// What a text page says, pdftotext reads back, special characters
// included; a fax page beside it has no text layer.
func TestTextPageExtracts(t *testing.T) {
	needPdftotext(t)
	lines := []string{
		"Transmission report",
		"Müller & Söhne (GmbH) \\ 100 € – “quoted”",
		"Pages 3 of 3",
	}
	tp := TextPage{}
	for i, s := range lines {
		tp.Lines = append(tp.Lines, Text{X: 50, Y: 780 - float64(i)*20, Size: 12, Bold: i == 0, S: s})
	}
	var buf bytes.Buffer
	w := NewWriter(&buf, Info{Title: "report"})
	if err := w.AddPage(Page{Image: testPages(t)[0]}); err != nil {
		t.Fatal(err)
	}
	if err := w.AddTextPage(tp); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	got := pdftotext(t, buf.Bytes(), "2")
	for _, s := range lines {
		if !strings.Contains(got, s) {
			t.Errorf("page 2 text lacks %q; pdftotext gave:\n%s", s, got)
		}
	}
	if fax := strings.TrimSpace(pdftotext(t, buf.Bytes(), "1")); fax != "" {
		t.Errorf("the fax page has text %q; it is an image only", fax)
	}
}

// Characters outside WinAnsiEncoding come out as '?', never as a broken
// string; PDF's string delimiters are escaped.
func TestWinAnsiString(t *testing.T) {
	for in, want := range map[string]string{
		"plain":       "(plain)",
		"(a) \\ b":    `(\(a\) \\ b)`,
		"é€":          `(\351\200)`,
		"日本":          "(??)",
		"tab\there":   "(tab here)",
		"":            "()",
		"\xff broken": "(? broken)",
	} {
		if got := winAnsiString(in); got != want {
			t.Errorf("winAnsiString(%q) = %s, want %s", in, got, want)
		}
	}
}

// The reduced image fills its box's width, top-aligned, keeping the fax
// page's proportions; the rest of the page stays white.
func TestTextPageImageBox(t *testing.T) {
	needPdftoppm(t)
	black := bilevel.New(1728, 1000) // 8.47 x 5.10 in at 204 x 196 dpi
	black.XDPI, black.YDPI = 204, 196
	for i := range black.Pix {
		black.Pix[i] = 0xff
	}
	var buf bytes.Buffer
	tp := TextPage{Image: &Page{Image: black}, Box: Rect{X: 100, Y: 400, W: 200, H: 300}}
	if err := writeTextPage(&buf, tp); err != nil {
		t.Fatal(err)
	}
	r := rasterise(t, buf.Bytes(), 1, 72, 72)
	if r.Width != 595 && r.Width != 596 {
		t.Fatalf("page rasterised %d pixels wide at 72 dpi, want A4's 595", r.Width)
	}
	// Drawn 200 pt wide and 200*5.10/8.47 = 120 pt high, from the box's
	// top (842-700 = 142 pixels down) to about 262.
	top := r.Height - 700
	for _, p := range []struct {
		x, y  int
		black bool
	}{
		{200, top + 60, true},   // inside the image
		{105, top + 5, true},    // near its top-left corner
		{200, top + 140, false}, // in the box, below the image
		{50, 50, false},         // outside the box
		{400, top + 60, false},  // beside the box
	} {
		if got := r.Black(p.x, p.y); got != p.black {
			t.Errorf("pixel (%d, %d) black=%v, want %v", p.x, p.y, got, p.black)
		}
	}
}

// writeTextPage writes one text page as a whole document.
func writeTextPage(buf *bytes.Buffer, tp TextPage) error {
	w := NewWriter(buf, Info{})
	if err := w.AddTextPage(tp); err != nil {
		return err
	}
	return w.Close()
}

// Bad geometry or a bad image is an error and writes nothing: the
// document stays valid with its other pages.
func TestTextPageErrors(t *testing.T) {
	needPdftotext(t)
	for name, tp := range map[string]TextPage{
		"nan line":   {Lines: []Text{{X: math.NaN(), Y: 1, S: "x"}}},
		"huge size":  {Lines: []Text{{X: 1, Y: 1, Size: 1e6, S: "x"}}},
		"negative":   {Width: -1, Height: 10},
		"empty box":  {Image: &Page{Image: bilevel.New(8, 8)}},
		"bad image":  {Image: &Page{Data: []byte{0xff, 0xff}, Width: 0}, Box: Rect{W: 10, H: 10}},
		"zero image": {Image: &Page{Image: bilevel.New(0, 0)}, Box: Rect{W: 10, H: 10}},
	} {
		var buf bytes.Buffer
		w := NewWriter(&buf, Info{})
		if err := w.AddTextPage(tp); !errors.Is(err, ErrBadPage) {
			t.Errorf("%s: err %v, want ErrBadPage", name, err)
		}
		if err := w.AddTextPage(TextPage{Lines: []Text{{X: 50, Y: 700, S: "still fine"}}}); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if err := w.Close(); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if got := pdftotext(t, buf.Bytes(), "1"); !strings.Contains(got, "still fine") {
			t.Errorf("%s: the document after the error reads %q", name, got)
		}
	}
}
