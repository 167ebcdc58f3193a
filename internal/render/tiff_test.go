package render

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	xtiff "golang.org/x/image/tiff"

	"github.com/faxd/faxd/t38/bilevel"
	"github.com/faxd/faxd/t38/t4"
	"github.com/faxd/faxd/t38/tiff"
)

func classF(t *testing.T, pages []*bilevel.Image, c t4.Coding, fillOrder int) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := tiff.EncodeFax(&b, pages, tiff.FaxOptions{Coding: c, FillOrder: fillOrder}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// Class F pages at the target resolution come out pixel for pixel; at
// another resolution they are resampled, not re-rasterised.
func TestTIFFClassF(t *testing.T) {
	src := []*bilevel.Image{faxPage(bilevel.YDPIFine, 2286), faxPage(bilevel.YDPIFine, 1500)}
	src[1].SetBlack(5, 5, true)
	for _, c := range []t4.Coding{t4.MH, t4.MR, t4.MMR} {
		data := classF(t, src, c, 2)
		pages, err := Bytes(context.Background(), data, "image/tiff", Options{Resolution: Fine})
		if err != nil {
			t.Fatalf("%v: %v", c, err)
		}
		if len(pages) != 2 {
			t.Fatalf("%v: %d pages", c, len(pages))
		}
		for i := range pages {
			if !pages[i].Equal(src[i]) || pages[i].YDPI != bilevel.YDPIFine {
				t.Errorf("%v page %d: not passed through as is", c, i+1)
			}
		}
		std, err := Bytes(context.Background(), data, "", Options{Resolution: Standard})
		if err != nil {
			t.Fatal(err)
		}
		if std[0].Height != 1143 || std[1].Height != 750 || std[0].YDPI != bilevel.YDPIStandard {
			t.Errorf("%v: standard pages %d and %d rows", c, std[0].Height, std[1].Height)
		}
	}
}

// A greyscale TIFF (Deflate, written by x/image/tiff) goes through the
// picture path.
func TestTIFFGrey(t *testing.T) {
	g := image.NewGray(image.Rect(0, 0, 864, 100))
	for i := range g.Pix {
		g.Pix[i] = 0xff
	}
	for y := 25; y < 75; y++ {
		for x := 216; x < 648; x++ {
			g.Pix[y*g.Stride+x] = 0
		}
	}
	var b bytes.Buffer
	if err := xtiff.Encode(&b, g, &xtiff.Options{Compression: xtiff.Deflate}); err != nil {
		t.Fatal(err)
	}
	pages, err := Bytes(context.Background(), b.Bytes(), "image/tiff", Options{Resolution: Fine})
	if err != nil {
		t.Fatal(err)
	}
	p := pages[0]
	if p.Width != PageWidth {
		t.Fatalf("width %d", p.Width)
	}
	in := image.Rect(436, 52, 1292, 140)
	if n := blackIn(p, in); n != in.Dx()*in.Dy() {
		t.Errorf("box interior %d of %d", n, in.Dx()*in.Dy())
	}
	if n := blackIn(p, image.Rect(0, 0, PageWidth, p.Height)); n > (1296-432+8)*(145-48+8) {
		t.Errorf("%d black pixels: more than the box", n)
	}
}

func TestTIFFHostile(t *testing.T) {
	one := classF(t, []*bilevel.Image{faxPage(bilevel.YDPIFine, 300)}, t4.MMR, 1)
	for _, cut := range []int{4, 8, 20, len(one) / 2} {
		_, err := Bytes(context.Background(), one[:cut], "", Options{})
		wantReasonAny(t, err, ErrCorrupt, ErrTooLarge)
	}
	three := classF(t, []*bilevel.Image{bilevel.New(PageWidth, 10), bilevel.New(PageWidth, 10), bilevel.New(PageWidth, 10)}, t4.MMR, 1)
	_, err := Bytes(context.Background(), three, "", Options{MaxPages: 2})
	wantReason(t, err, ErrTooManyPages)
	_, err = Bytes(context.Background(), one, "", Options{MaxPixels: 1000})
	wantReason(t, err, ErrTooLarge)
}

// Files written by libtiff in other compressions render to the same page.
func TestTIFFFromLibtiff(t *testing.T) {
	if _, err := exec.LookPath("tiffcp"); err != nil {
		t.Skip("tiffcp not installed (libtiff-tools)")
	}
	src := faxPage(bilevel.YDPIFine, 400)
	dir := t.TempDir()
	in := filepath.Join(dir, "in.tif")
	if err := os.WriteFile(in, classF(t, []*bilevel.Image{src}, t4.MMR, 1), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []string{"none", "lzw", "zip", "packbits", "g3:2d:fill", "g4"} {
		out := filepath.Join(dir, "out-"+strings.ReplaceAll(c, ":", "-")+".tif")
		if b, err := exec.Command("tiffcp", "-c", c, in, out).CombinedOutput(); err != nil {
			t.Fatalf("tiffcp -c %s: %v %s", c, err, b)
		}
		data, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		pages, err := Bytes(context.Background(), data, "image/tiff", Options{Resolution: Fine})
		if err != nil {
			t.Fatalf("%s: %v", c, err)
		}
		if len(pages) != 1 || !pages[0].Equal(src) {
			t.Errorf("%s: page differs from the source", c)
		}
	}
}

// The same PostScript through our PBM path and through Ghostscript's own
// tiffg4 device read back by our TIFF reader: identical pages.
func TestTIFFMatchesGhostscriptPath(t *testing.T) {
	needGhostscript(t)
	dir := t.TempDir()
	ps := filepath.Join(dir, "in.ps")
	if err := os.WriteFile(ps, boxPS(2), 0o600); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out.tif")
	cmd := exec.Command("gs", "-q", "-dSAFER", "-dBATCH", "-dNOPAUSE", "-sDEVICE=tiffg4", "-r204x196",
		fmt.Sprintf("-g%dx%d", PageWidth, PageLines(A4, Fine)), "-dFIXEDMEDIA", "-dFitPage", "-sOutputFile="+out, ps)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("gs tiffg4: %v %s", err, b)
	}
	tif, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	opt := Options{Resolution: Fine}
	a, err := Bytes(context.Background(), boxPS(2), "", opt)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Bytes(context.Background(), tif, "", opt)
	if err != nil {
		t.Fatal(err)
	}
	if len(a) != 2 || len(b) != 2 {
		t.Fatalf("%d and %d pages", len(a), len(b))
	}
	for i := range a {
		if !a[i].Equal(b[i]) {
			t.Errorf("page %d differs between the PBM and the tiffg4 paths", i+1)
		}
	}
}
