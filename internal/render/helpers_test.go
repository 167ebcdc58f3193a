package render

import (
	"errors"
	"image"
	"os/exec"
	"testing"

	"github.com/faxd/faxd/t38/bilevel"
)

// needGhostscript skips when the named binaries are missing (CI has them).
func needGhostscript(t testing.TB) {
	t.Helper()
	for _, bin := range []string{"gs", "prlimit"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Skipf("%s not installed (ghostscript / util-linux)", bin)
		}
	}
}

// blackIn counts black pixels of m inside r.
func blackIn(m *bilevel.Image, r image.Rectangle) int {
	r = r.Intersect(image.Rect(0, 0, m.Width, m.Height))
	n := 0
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			if m.Black(x, y) {
				n++
			}
		}
	}
	return n
}

func checkPage(t *testing.T, m *bilevel.Image, opt Options) {
	t.Helper()
	if m.Width != PageWidth || m.Stride != PageWidth/8 || len(m.Pix) != m.Stride*m.Height {
		t.Fatalf("page is %dx%d stride %d len %d, want width %d", m.Width, m.Height, m.Stride, len(m.Pix), PageWidth)
	}
	if want := PageLines(opt.PageSize, opt.Resolution); m.Height != want {
		t.Fatalf("page has %d lines, want %d", m.Height, want)
	}
	if m.XDPI != bilevel.XDPI || m.YDPI != opt.Resolution.YDPI() {
		t.Fatalf("page resolution %dx%d, want %dx%d", m.XDPI, m.YDPI, bilevel.XDPI, opt.Resolution.YDPI())
	}
}

// wantReason asserts err is an *Error carrying the sentinel reason.
func wantReason(t *testing.T, err, reason error) *Error {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want %v", reason)
	}
	var re *Error
	if !errors.As(err, &re) {
		t.Fatalf("error %v (%T) is not a *render.Error", err, err)
	}
	if !errors.Is(err, reason) {
		t.Fatalf("error %q: want reason %v", err, reason)
	}
	return re
}

// yAt converts a distance from the top in inches to a row.
func yAt(inches float64, res Resolution) int { return int(inches * float64(res.YDPI())) }

// xAt converts a distance from the left in inches to a column.
func xAt(inches float64) int { return int(inches * bilevel.XDPI) }
