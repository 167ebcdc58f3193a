package render

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// boxPS draws, on each of n A4 pages, a black box 1 in square whose top
// left corner is 1 in from the left and 2 in from the top, plus a second
// box whose horizontal position encodes the page number.
func boxPS(n int) []byte {
	return []byte(fmt.Sprintf(`%%!PS-Adobe-3.0
<< /PageSize [595 842] >> setpagedevice
1 1 %d {
  /p exch def
  newpath 72 %d moveto 72 0 rlineto 0 72 rlineto -72 0 rlineto closepath fill
  newpath 72 p mul 72 add 144 moveto 36 0 rlineto 0 36 rlineto -36 0 rlineto closepath fill
  showpage
} for
`, n, 842-144-72))
}

// pdfFrom converts PostScript to PDF with Ghostscript's pdfwrite.
func pdfFrom(t testing.TB, ps []byte) []byte {
	t.Helper()
	dir := t.TempDir()
	in, out := filepath.Join(dir, "in.ps"), filepath.Join(dir, "out.pdf")
	if err := os.WriteFile(in, ps, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("gs", "-q", "-dSAFER", "-dBATCH", "-dNOPAUSE", "-sDEVICE=pdfwrite", "-sOutputFile="+out, in)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("pdfwrite: %v\n%s", err, b)
	}
	pdf, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return pdf
}

func TestGhostscriptBoxes(t *testing.T) {
	needGhostscript(t)
	ps := boxPS(3)
	pdf := pdfFrom(t, ps)
	for _, tc := range []struct {
		name string
		data []byte
		ct   string
		opt  Options
	}{
		{"ps-fine", ps, "application/postscript", Options{Resolution: Fine}},
		{"ps-standard", ps, "", Options{Resolution: Standard}},
		{"pdf-superfine", pdf, "application/pdf", Options{Resolution: Superfine}},
		{"pdf-fine-letter", pdf, "application/octet-stream", Options{Resolution: Fine, PageSize: Letter}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pages, err := Bytes(context.Background(), tc.data, tc.ct, tc.opt)
			if err != nil {
				t.Fatal(err)
			}
			if len(pages) != 3 {
				t.Fatalf("%d pages, want 3", len(pages))
			}
			res := tc.opt.Resolution
			for i, p := range pages {
				checkPage(t, p, tc.opt)
				// Where an A4 point (from the top left) lands once the page is
				// fitted, centred, to the fax page.
				pageIn := float64(p.Height) / float64(res.YDPI())
				s := min(float64(PageWidth)/204/8.268, pageIn/11.694)
				offX, offY := (float64(PageWidth)/204-8.268*s)/2, (pageIn-11.694*s)/2
				px := func(pt float64) int { return xAt(offX + pt/72*s) }
				py := func(pt float64) int { return yAt(offY+pt/72*s, res) }
				const m = 4 // points of slack for rounding at the edges
				box := image.Rect(px(72+m), py(144+m), px(144-m), py(216-m))
				if n := blackIn(p, box); n != box.Dx()*box.Dy() {
					t.Errorf("page %d: box interior has %d of %d black pixels", i+1, n, box.Dx()*box.Dy())
				}
				for _, r := range []image.Rectangle{
					image.Rect(0, 0, PageWidth, py(144-m)),                 // above the box
					image.Rect(px(144+m), py(144-m), PageWidth, py(216+m)), // right of it
					image.Rect(0, py(144-m), px(72-m), py(216+m)),          // left of it
					image.Rect(0, py(216+m), PageWidth, py(842-180-m)),     // down to the markers
				} {
					if n := blackIn(p, r); n != 0 {
						t.Errorf("page %d: %d black pixels in %v, want none", i+1, n, r)
					}
				}
				// The page marker: a half-inch box at x = (p+1) in; its column
				// and no other page's column has ink.
				mx := float64(72*(i+1) + 72)
				marker := image.Rect(px(mx+m), py(842-180+m), px(mx+36-m), py(842-144-m))
				if n := blackIn(p, marker); n != marker.Dx()*marker.Dy() {
					t.Errorf("page %d: page marker has %d of %d black pixels", i+1, n, marker.Dx()*marker.Dy())
				}
				other := marker.Add(image.Pt(px(mx+72)-px(mx), 0))
				if n := blackIn(p, other); n != 0 {
					t.Errorf("page %d: marker of page %d present", i+1, i+2)
				}
			}
		})
	}
}

func TestGhostscriptPageLimit(t *testing.T) {
	needGhostscript(t)
	_, err := Bytes(context.Background(), boxPS(5), "", Options{MaxPages: 3})
	wantReason(t, err, ErrTooManyPages)
	pages, err := Bytes(context.Background(), boxPS(3), "", Options{MaxPages: 3})
	if err != nil || len(pages) != 3 {
		t.Fatalf("3 pages at limit 3: %d pages, %v", len(pages), err)
	}
}

// Endless pages end at the page limit, not at the time limit.
func TestGhostscriptEndlessPages(t *testing.T) {
	needGhostscript(t)
	t.Parallel()
	_, err := Bytes(context.Background(), []byte("%!PS\n{ 0 0 moveto 100 100 lineto stroke showpage } loop\n"), "",
		Options{MaxPages: 3, Timeout: time.Minute})
	wantReason(t, err, ErrTooManyPages)
}

func TestGhostscriptInfiniteLoop(t *testing.T) {
	needGhostscript(t)
	t.Parallel()
	_, err := Bytes(context.Background(), []byte("%!PS\n{} loop\n"), "", Options{Timeout: 1500 * time.Millisecond})
	wantReason(t, err, ErrTimeout)
}

func TestGhostscriptCallerCancel(t *testing.T) {
	needGhostscript(t)
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	_, err := Bytes(ctx, []byte("%!PS\n{} loop\n"), "", Options{})
	if err == nil || !strings.Contains(err.Error(), context.DeadlineExceeded.Error()) {
		t.Fatalf("want the caller's deadline, got %v", err)
	}
	var re *Error
	if ok := errors.As(err, &re); ok {
		t.Fatalf("a cancelled caller is not the document's fault, got %v", re)
	}
}

func TestGhostscriptSandbox(t *testing.T) {
	needGhostscript(t)
	victim := filepath.Join(t.TempDir(), "written-by-postscript")
	for _, tc := range []struct{ name, ps string }{
		{"read-passwd", "%!PS\n(/etc/passwd) (r) file 100 string readstring pop print\nshowpage\n"},
		{"write-file", "%!PS\n(" + victim + ") (w) file dup (owned) writestring closefile\nshowpage\n"},
		{"pipe", "%!PS\n(%pipe%touch " + victim + ") (w) file closefile\nshowpage\n"},
		{"deletefile", "%!PS\n(/etc/hostname) deletefile\nshowpage\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Bytes(context.Background(), []byte(tc.ps), "", Options{})
			wantReason(t, err, ErrForbidden)
			if _, err := os.Stat(victim); err == nil {
				t.Fatalf("the document created %s", victim)
			}
		})
	}
}

func TestGhostscriptMemoryLimit(t *testing.T) {
	needGhostscript(t)
	// Two gigabytes of strings: refused at 200 MB of address space.
	ps := "%!PS\n/a [ 0 1 200 { pop 10000000 string } for ] def\nshowpage\n"
	_, err := Bytes(context.Background(), []byte(ps), "", Options{MemoryLimit: 200 << 20})
	wantReason(t, err, ErrResources)
}

func TestGhostscriptCorrupt(t *testing.T) {
	needGhostscript(t)
	pdf := pdfFrom(t, boxPS(2))
	for _, tc := range []struct {
		name string
		data []byte
	}{
		{"ps-syntax", []byte("%!PS\n/foo { ( unbalanced \nshowpage\n")},
		{"ps-undefined", []byte("%!PS\nnosuchoperator\nshowpage\n")},
		{"pdf-garbage", append([]byte("%PDF-1.4\n"), bytes.Repeat([]byte{0xde, 0xad, 0xbe, 0xef}, 1000)...)},
		{"pdf-header-only", []byte("%PDF-1.7\n%%EOF\n")},
		{"pdf-truncated-at-64", pdf[:64]},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Bytes(context.Background(), tc.data, "", Options{Timeout: 20 * time.Second})
			if err == nil {
				t.Fatal("corrupt document rendered without error")
			}
			re := wantReasonAny(t, err, ErrCorrupt, ErrEmpty)
			if re.Detail == "" {
				t.Fatalf("error %q has no detail for the sender", err)
			}
		})
	}
	// A PDF cut in half still has a header and some objects: Ghostscript
	// either repairs it or fails, but must answer.
	if _, err := Bytes(context.Background(), pdf[:len(pdf)/2], "", Options{Timeout: 20 * time.Second}); err != nil {
		wantReasonAny(t, err, ErrCorrupt, ErrEmpty)
	}
}

func wantReasonAny(t *testing.T, err error, reasons ...error) *Error {
	t.Helper()
	var re *Error
	if !errors.As(err, &re) {
		t.Fatalf("error %v (%T) is not a *render.Error", err, err)
	}
	for _, r := range reasons {
		if re.Reason == r {
			return re
		}
	}
	t.Fatalf("error %q: reason %v, want one of %v", err, re.Reason, reasons)
	return nil
}

func TestGhostscriptMissing(t *testing.T) {
	_, err := Bytes(context.Background(), boxPS(1), "", Options{GhostscriptBin: "/nonexistent/gs"})
	wantReason(t, err, ErrRenderer)
}
