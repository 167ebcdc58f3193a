package render

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/faxd/faxd/t38/bilevel"
)

// The samples were made with LibreOffice from sample.html: page one has
// the heading "FAXD SAMPLE" at its top, page two "PAGE TWO"; the sheet is
// one page with FAXD SAMPLE SHEET in its first row.
var officeSamples = []struct {
	file  string
	ct    string
	kind  Kind
	pages int
}{
	{"sample.docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document", KindDOCX, 2},
	{"sample.odt", "application/vnd.oasis.opendocument.text", KindODT, 2},
	{"sample.rtf", "application/rtf", KindRTF, 2},
	{"sample.html", "text/html; charset=utf-8", KindHTML, 2},
	{"sample.xlsx", "", KindXLSX, 1},
}

func readSample(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "office", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestSniffOffice(t *testing.T) {
	for _, s := range officeSamples {
		if k := Sniff(readSample(t, s.file)); k != s.kind {
			t.Errorf("%s sniffed as %s, want %s", s.file, k, s.kind)
		}
	}
	// HTML declared as plain text is printed as text; a fragment declared
	// as HTML is HTML.
	if k := refineKind(Sniff([]byte("<html>x</html>")), "text/plain"); k != KindText {
		t.Errorf("HTML declared text/plain: %s", k)
	}
	if k := refineKind(Sniff([]byte("<p>x</p>")), "text/html"); k != KindHTML {
		t.Errorf("fragment declared text/html: %s", k)
	}
	// A ZIP that is no office document is not taken for one.
	if k := Sniff([]byte("PK\x03\x04 not really a zip")); k != KindUnknown {
		t.Errorf("broken zip sniffed as %s", k)
	}
}

// Without LibreOffice an office document is refused naming the converter
// and its setting; nothing else is tried.
func TestOfficeConverterMissing(t *testing.T) {
	t.Parallel()
	_, err := Bytes(context.Background(), readSample(t, "sample.docx"), "", Options{
		OfficeBin: "faxd-no-such-soffice", Names: LimitNames{OfficeCommand: "api.office_command"}})
	var re *Error
	if !errors.Is(err, ErrConverterMissing) || !errors.As(err, &re) || re.Kind != KindDOCX {
		t.Fatalf("err = %v, want ErrConverterMissing for a DOCX", err)
	}
	if want := "DOCX documents need LibreOffice (api.office_command = faxd-no-such-soffice)"; re.Detail[:len(want)] != want {
		t.Fatalf("detail %q", re.Detail)
	}
}

// inkIn counts black pixels in the rectangle of page m given in
// fractions of its width and height.
func inkIn(m *bilevel.Image, x0, y0, x1, y1 float64) int {
	n := 0
	for y := int(y0 * float64(m.Height)); y < int(y1*float64(m.Height)); y++ {
		for x := int(x0 * float64(m.Width)); x < int(x1*float64(m.Width)); x++ {
			if m.Black(x, y) {
				n++
			}
		}
	}
	return n
}

// Each office type is rendered through LibreOffice page by page: the page
// count, no blank page, the heading's region black and the page's foot
// white.
func TestOfficeDocuments(t *testing.T) {
	if _, err := exec.LookPath("soffice"); err != nil {
		t.Skip("LibreOffice (soffice) is not installed")
	}
	t.Parallel()
	for _, s := range officeSamples {
		t.Run(s.file, func(t *testing.T) {
			t.Parallel()
			pages, err := Bytes(context.Background(), readSample(t, s.file), s.ct, Options{Resolution: Standard, Timeout: 5 * time.Minute})
			if err != nil {
				t.Fatal(err)
			}
			if len(pages) != s.pages {
				t.Fatalf("%d pages, want %d", len(pages), s.pages)
			}
			for i, p := range pages {
				if p.Width != PageWidth || p.Height != PageLines(A4, Standard) {
					t.Fatalf("page %d is %dx%d", i+1, p.Width, p.Height)
				}
				if inkIn(p, 0, 0, 1, 1) == 0 {
					t.Fatalf("page %d is blank", i+1)
				}
				if n := inkIn(p, 0, 0, 0.6, 0.2); n < 200 {
					t.Errorf("page %d: %d black pixels where the heading is", i+1, n)
				}
				if n := inkIn(p, 0, 0.5, 1, 0.9); n != 0 {
					// Below 0.9 a spreadsheet has its page footer.
					t.Errorf("page %d: %d black pixels in the lower half, which the sample leaves empty", i+1, n)
				}
			}
		})
	}
}
