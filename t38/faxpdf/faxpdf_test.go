package faxpdf

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/faxd/faxd/internal/render"
	"github.com/faxd/faxd/t38/bilevel"
	"github.com/faxd/faxd/t38/t4"
)

var update = flag.Bool("update", false, "rewrite golden files")

// benchPage is a fine text page.
func benchPage(b *testing.B) *bilevel.Image {
	text := strings.Repeat("The quick brown fox jumps over the lazy dog. 0123456789 ABCDEFGHIJKLMNOP\n", 60)
	pages, err := render.Bytes(context.Background(), []byte(text), "text/plain", render.Options{Resolution: render.Fine})
	if err != nil {
		b.Fatal(err)
	}
	return pages[0]
}

// testPages returns realistic pages: text at each resolution and a noisy
// page that exercises every code length.
func testPages(t *testing.T) []*bilevel.Image {
	t.Helper()
	var out []*bilevel.Image
	text := "Received fax test page\n\n" + strings.Repeat("The quick brown fox jumps over the lazy dog. 0123456789\n", 30)
	for _, res := range []render.Resolution{render.Standard, render.Fine, render.Superfine} {
		pages, err := render.Bytes(context.Background(), []byte(text), "text/plain", render.Options{Resolution: res})
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, pages[0])
	}
	noise := bilevel.New(bilevel.WidthA4, 300)
	noise.YDPI = bilevel.YDPIStandard
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range noise.Pix {
		noise.Pix[i] = byte(rng.Uint32())
	}
	out = append(out, noise)
	return out
}

// rasterise renders page n (1-based) of a PDF with pdftoppm at the page's
// own resolution, so one PDF pixel is one fax pixel, as a bilevel image.
func rasterise(t *testing.T, pdf []byte, n, xdpi, ydpi int) *bilevel.Image {
	t.Helper()
	dir := t.TempDir()
	in := filepath.Join(dir, "in.pdf")
	if err := os.WriteFile(in, pdf, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("pdftoppm", "-f", fmt.Sprint(n), "-l", fmt.Sprint(n),
		"-rx", fmt.Sprint(xdpi), "-ry", fmt.Sprint(ydpi), "-mono", "-aa", "no", "-aaVector", "no", in)
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("pdftoppm: %v\n%s", err, stderr.String())
	}
	return readPBM(t, out.Bytes())
}

func readPBM(t *testing.T, b []byte) *bilevel.Image {
	t.Helper()
	r := bufio.NewReader(bytes.NewReader(b))
	var w, h int
	if _, err := fmt.Fscanf(r, "P4\n%d %d\n", &w, &h); err != nil {
		t.Fatalf("pdftoppm output: %v", err)
	}
	m := bilevel.New(w, h)
	if _, err := io.ReadFull(r, m.Pix); err != nil {
		t.Fatalf("pdftoppm raster: %v", err)
	}
	return m
}

func needPdftoppm(t *testing.T) {
	if _, err := exec.LookPath("pdftoppm"); err != nil {
		t.Skip("pdftoppm not installed (poppler-utils)")
	}
}

// Every page, written from a raster, from MH/MR (transcoded) and from MMR
// (embedded), rasterises back to exactly the source pixels.
func TestPdftoppmPixelExact(t *testing.T) {
	needPdftoppm(t)
	src := testPages(t)
	var pages []Page
	var want []*bilevel.Image
	for _, img := range src {
		pages = append(pages, Page{Image: img})
		want = append(want, img)
		for _, c := range []t4.Coding{t4.MH, t4.MR, t4.MMR} {
			data, err := t4.Encode(img, t4.EncodeOptions{Coding: c, AlignEOL: c == t4.MR})
			if err != nil {
				t.Fatal(err)
			}
			pages = append(pages, Page{Data: data, Coding: c, Width: img.Width, Height: img.Height, XDPI: img.XDPI, YDPI: img.YDPI})
			want = append(want, img)
		}
	}
	var buf bytes.Buffer
	if err := Write(&buf, pages, Info{Title: "test"}); err != nil {
		t.Fatal(err)
	}
	for i, w := range want {
		got := rasterise(t, buf.Bytes(), i+1, w.XDPI, w.YDPI)
		if got.Width != w.Width || got.Height != w.Height {
			t.Fatalf("page %d: rasterised %dx%d, want %dx%d", i+1, got.Width, got.Height, w.Width, w.Height)
		}
		if !got.Equal(w) {
			diff := 0
			for y := 0; y < w.Height; y++ {
				for x := 0; x < w.Width; x++ {
					if got.Black(x, y) != w.Black(x, y) {
						diff++
					}
				}
			}
			t.Errorf("page %d: %d pixels differ", i+1, diff)
		}
	}
}

// Received MMR goes in byte for byte; MH is transcoded, so its bytes are
// not there but the MMR coding of the same page is.
func TestMMREmbeddedAsIs(t *testing.T) {
	img := testPages(t)[1]
	mmr, err := t4.Encode(img, t4.EncodeOptions{Coding: t4.MMR})
	if err != nil {
		t.Fatal(err)
	}
	mh, err := t4.Encode(img, t4.EncodeOptions{Coding: t4.MH})
	if err != nil {
		t.Fatal(err)
	}
	var a, b bytes.Buffer
	if err := Write(&a, []Page{{Data: mmr, Coding: t4.MMR, Width: img.Width}}, Info{}); err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(a.Bytes(), mmr) {
		t.Error("MMR data not embedded verbatim")
	}
	if !bytes.Contains(a.Bytes(), []byte(fmt.Sprintf("/Rows %d ", img.Height))) {
		t.Error("row count not found by decoding")
	}
	if err := Write(&b, []Page{{Data: mh, Coding: t4.MH, Width: img.Width, Height: img.Height}}, Info{}); err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(b.Bytes(), mh) || !bytes.Contains(b.Bytes(), mmr) {
		t.Error("MH not transcoded to the page's MMR coding")
	}
}

// The page prints at its physical size: 1728 px at 204 dpi is 609.8823 pt (rounded down),
// 1143 lines at 98 dpi are 839.76 pt.
func TestMediaBox(t *testing.T) {
	img := bilevel.New(bilevel.WidthA4, 1143)
	img.YDPI = bilevel.YDPIStandard
	var b bytes.Buffer
	if err := Write(&b, []Page{{Image: img}}, Info{}); err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(b.Bytes(), []byte("/MediaBox [0 0 609.8823 839.7551]")) {
		t.Errorf("media box wrong:\n%s", b.String()[:400])
	}
}

// Golden bytes: a small page with fixed metadata writes exactly this file.
func TestGolden(t *testing.T) {
	img := bilevel.New(32, 8)
	for y := 0; y < 8; y++ {
		for x := 0; x < 32; x++ {
			img.SetBlack(x, y, (x/4+y/2)%2 == 0)
		}
	}
	var b bytes.Buffer
	info := Info{Title: "Fax from +49 30 1234 — Grüße", Author: "+49301234", Created: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	if err := Write(&b, []Page{{Image: img}}, info); err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "checker.pdf")
	if *update {
		if err := os.WriteFile(golden, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b.Bytes(), want) {
		t.Errorf("output differs from %s (run with -update after checking it)", golden)
	}
	checkXref(t, b.Bytes())
}

// checkXref verifies every xref entry points at "N 0 obj".
func checkXref(t testing.TB, pdf []byte) {
	t.Helper()
	s := string(pdf)
	i := strings.LastIndex(s, "startxref\n")
	var xref int
	fmt.Sscanf(s[i+len("startxref\n"):], "%d", &xref)
	if !strings.HasPrefix(s[xref:], "xref\n0 ") {
		t.Fatalf("startxref %d does not point at the xref table", xref)
	}
	var n int
	fmt.Sscanf(s[xref+len("xref\n0 "):], "%d", &n)
	lines := strings.Split(s[xref:], "\n")[3 : 3+n-1]
	for obj, l := range lines {
		var off int
		fmt.Sscanf(l, "%d", &off)
		if len(l) != 19 || !strings.HasPrefix(s[off:], fmt.Sprintf("%d 0 obj\n", obj+1)) {
			t.Errorf("xref entry %d (%q) wrong", obj+1, l)
		}
	}
}

func TestErrors(t *testing.T) {
	var b bytes.Buffer
	if err := Write(&b, nil, Info{}); !errors.Is(err, ErrNoPages) {
		t.Errorf("no pages: %v", err)
	}
	for _, p := range []Page{
		{Data: []byte{1, 2, 3}, Coding: t4.MMR},                       // no width
		{Data: nil, Coding: t4.MMR, Width: 1728},                      // no data
		{Data: []byte{0xff, 0xff}, Coding: t4.Coding(9), Width: 1728}, // unknown coding
		{Image: &bilevel.Image{}},                                     // empty image
	} {
		if err := Write(&b, []Page{p}, Info{}); !errors.Is(err, ErrBadPage) {
			t.Errorf("%+v: got %v, want ErrBadPage", p, err)
		}
	}
	pw := NewWriter(&b, Info{})
	pw.AddPage(Page{Image: bilevel.New(8, 8)})
	pw.Close()
	if err := pw.AddPage(Page{Image: bilevel.New(8, 8)}); !errors.Is(err, ErrClosed) {
		t.Errorf("add after close: %v", err)
	}
}

// A corrupt MMR page (cut short) still yields a PDF whose page has the
// declared length, the lost rows white.
func TestCorruptMMRRepaired(t *testing.T) {
	needPdftoppm(t)
	img := testPages(t)[1]
	mmr, _ := t4.Encode(img, t4.EncodeOptions{Coding: t4.MMR})
	cut := mmr[:len(mmr)/2]
	var b bytes.Buffer
	if err := Write(&b, []Page{{Data: cut, Coding: t4.MMR, Width: img.Width, Height: img.Height}}, Info{}); err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(b.Bytes(), cut) {
		t.Error("corrupt MMR embedded as is")
	}
	got := rasterise(t, b.Bytes(), 1, img.XDPI, img.YDPI)
	if got.Width != img.Width || got.Height != img.Height {
		t.Fatalf("repaired page %dx%d", got.Width, got.Height)
	}
	same := 0
	for y := 0; y < img.Height && bytes.Equal(got.Row(y), img.Row(y)); y++ {
		same++
	}
	if same == 0 || same == img.Height {
		t.Errorf("%d leading rows intact: want the decodable part kept and the rest lost", same)
	}
}

// Data in FillOrder 2 (LSB first) is turned round for PDF, which reads
// MSB first only; the caller's slice is left alone.
func TestFillOrder2(t *testing.T) {
	needPdftoppm(t)
	img := testPages(t)[0]
	for _, c := range []t4.Coding{t4.MH, t4.MMR} {
		data, err := t4.Encode(img, t4.EncodeOptions{Coding: c})
		if err != nil {
			t.Fatal(err)
		}
		msb := bytes.Clone(data)
		t4.ReverseBits(data)
		lsb := bytes.Clone(data)
		var b bytes.Buffer
		if err := Write(&b, []Page{{Data: data, Coding: c, FillOrder: 2, Width: img.Width, Height: img.Height, XDPI: img.XDPI, YDPI: img.YDPI}}, Info{}); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(data, lsb) {
			t.Fatalf("%v: caller's data modified", c)
		}
		if c == t4.MMR && !bytes.Contains(b.Bytes(), msb) {
			t.Errorf("MMR in FillOrder 2 not embedded as its MSB-first bytes")
		}
		if got := rasterise(t, b.Bytes(), 1, img.XDPI, img.YDPI); !got.Equal(img) {
			t.Errorf("%v FillOrder 2: pixels differ", c)
		}
	}
}
