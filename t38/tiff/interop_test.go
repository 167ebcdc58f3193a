package tiff

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	xtiff "golang.org/x/image/tiff"

	"github.com/faxd/faxd/t38/bilevel"
	"github.com/faxd/faxd/t38/t4"
	"github.com/faxd/faxd/t38/t4/t4test"
)

// need skips the test when a system tool is missing (CI installs them all).
func need(t *testing.T, bins ...string) {
	t.Helper()
	for _, b := range bins {
		if _, err := exec.LookPath(b); err != nil {
			t.Skipf("%s not installed (apt-get install libtiff-tools)", b)
		}
	}
}

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

func readPages(t *testing.T, path string) []Page {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	pages, err := Decode(data)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return pages
}

func samePages(t *testing.T, what string, got []Page, want []*bilevel.Image) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d pages, want %d", what, len(got), len(want))
	}
	for i := range want {
		if got[i].Bilevel == nil || !got[i].Bilevel.Equal(want[i]) {
			t.Fatalf("%s: page %d pixels differ", what, i+1)
		}
	}
}

// interopPages: every page style at every fax width, fine resolution,
// plus standard and superfine at A4.
func interopPages() map[string][]*bilevel.Image {
	return map[string][]*bilevel.Image{
		"a4-fine":      t4test.Set(bilevel.WidthA4, bilevel.YDPIFine),
		"a4-standard":  t4test.Set(bilevel.WidthA4, bilevel.YDPIStandard),
		"a4-superfine": t4test.Set(bilevel.WidthA4, bilevel.YDPISuperfine)[:2],
		"b4-fine":      t4test.Set(bilevel.WidthB4, bilevel.YDPIFine)[:2],
		"a3-fine":      t4test.Set(bilevel.WidthA3, bilevel.YDPIFine)[:2],
	}
}

// Our files as libtiff sees them: tiffinfo -D parses every strip,
// tiffcp -c none decompresses them to the same pixels, and tiffcmp -t
// finds them equal to libtiff's own G4 coding of the same pixels.
func TestLibtiffReadsOurs(t *testing.T) {
	need(t, "tiffcp", "tiffinfo", "tiffcmp")
	t.Parallel()
	dir := t.TempDir()
	for set, pages := range interopPages() {
		for _, c := range codings {
			for _, fill := range []int{1, 2} {
				for _, align := range []bool{false, true} {
					if c == t4.MMR && align {
						continue
					}
					name := fmt.Sprintf("%s-%v-f%d-a%v", set, c, fill, align)
					ours := filepath.Join(dir, name+".tif")
					if err := os.WriteFile(ours, encodeFax(t, pages, FaxOptions{Coding: c, FillOrder: fill, AlignEOL: align}), 0o644); err != nil {
						t.Fatal(err)
					}
					info := run(t, "tiffinfo", "-D", ours)
					if strings.Contains(strings.ToLower(info), "error") || strings.Count(info, "TIFF Directory") != len(pages) {
						t.Fatalf("%s: tiffinfo -D:\n%s", name, info)
					}
					plain := filepath.Join(dir, name+"-none.tif")
					run(t, "tiffcp", "-c", "none", ours, plain)
					samePages(t, name+" via tiffcp -c none", readPages(t, plain), pages)
					g4 := filepath.Join(dir, name+"-g4.tif")
					run(t, "tiffcp", "-c", "g4", plain, g4)
					run(t, "tiffcmp", "-t", ours, g4)
				}
			}
		}
	}
}

// libtiff's own G3 1-D, G3 2-D with fill, and G4 files, in both fill
// orders and both byte orders, decode to the same pixels with ours.
func TestWeReadLibtiffs(t *testing.T) {
	need(t, "tiffcp")
	t.Parallel()
	dir := t.TempDir()
	for set, pages := range interopPages() {
		src := filepath.Join(dir, set+".tif")
		if err := os.WriteFile(src, encodeFax(t, pages, FaxOptions{Coding: t4.MMR}), 0o644); err != nil {
			t.Fatal(err)
		}
		for _, comp := range []string{"g3", "g3:1d", "g3:2d", "g3:2d:fill", "g3:1d:fill", "g4"} {
			for _, extra := range [][]string{nil, {"-f", "lsb2msb"}, {"-B"}, {"-r", "64"}} {
				name := fmt.Sprintf("%s-%s-%s", set, strings.ReplaceAll(comp, ":", "_"), strings.Join(extra, ""))
				out := filepath.Join(dir, name+".tif")
				args := append([]string{"-c", comp}, extra...)
				run(t, "tiffcp", append(args, src, out)...)
				got := readPages(t, out)
				samePages(t, name, got, pages)
				for _, p := range got {
					if p.Stats.BadRows != 0 {
						t.Fatalf("%s: %d bad rows", name, p.Stats.BadRows)
					}
				}
			}
		}
	}
}

// fax2tiff reads our raw G3 streams (1-D and 2-D, with and without EOL
// alignment, MSB first) as a fax modem would deliver them.
func TestFax2tiffReadsOurRawG3(t *testing.T) {
	need(t, "fax2tiff", "tiffcp")
	t.Parallel()
	dir := t.TempDir()
	img := t4test.Page(t4test.Text, 1728, 196, 11)
	for _, c := range []t4.Coding{t4.MH, t4.MR} {
		for _, align := range []bool{false, true} {
			// fax2tiff takes each EOL of RTC for an empty row (and pads
			// the page with white rows), so the stream ends without RTC.
			data, err := t4.Encode(img, t4.EncodeOptions{Coding: c, AlignEOL: align, NoRTC: true})
			if err != nil {
				t.Fatal(err)
			}
			raw := filepath.Join(dir, fmt.Sprintf("%v-%v.g3", c, align))
			if err := os.WriteFile(raw, data, 0o644); err != nil {
				t.Fatal(err)
			}
			out := raw + ".tif"
			args := []string{"-M", "-R", "196", "-X", "1728", "-o", out}
			if c == t4.MR {
				args = append(args, "-2")
			}
			if align {
				args = append(args, "-A")
			}
			res := run(t, "fax2tiff", append(args, raw)...)
			if strings.Contains(res, "bad") {
				t.Fatalf("fax2tiff reports errors: %s", res)
			}
			samePages(t, "fax2tiff "+raw, readPages(t, out), []*bilevel.Image{img})
		}
	}
}

// Non-fax TIFFs: grey, palette, RGB and bilevel sources written by
// x/image/tiff, then recompressed by libtiff as LZW (with predictor),
// Deflate, PackBits, big-endian, many strips and tiles; all must decode
// to the source pixels.
func TestReadAnyTIFF(t *testing.T) {
	need(t, "tiffcp")
	t.Parallel()
	dir := t.TempDir()
	const w, h = 301, 157
	grey := image.NewGray(image.Rect(0, 0, w, h))
	rgb := image.NewRGBA(image.Rect(0, 0, w, h))
	pal := image.NewPaletted(image.Rect(0, 0, w, h), color.Palette{color.White, color.Black, color.RGBA{200, 30, 30, 255}, color.RGBA{20, 200, 90, 255}})
	bw := image.NewGray(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			v := uint8((x*7 + y*3) ^ (x * y))
			grey.Pix[y*grey.Stride+x] = v
			rgb.Set(x, y, color.RGBA{v, uint8(x), uint8(y), 255})
			pal.Pix[y*pal.Stride+x] = uint8((x/9 + y/5) % 4)
			if (x/13+y/7)%3 == 0 {
				bw.Pix[y*bw.Stride+x] = 0
			} else {
				bw.Pix[y*bw.Stride+x] = 255
			}
		}
	}
	sources := map[string]image.Image{"grey": grey, "rgb": rgb, "palette": pal, "bw": bw}
	for name, src := range sources {
		var buf bytes.Buffer
		if err := xtiff.Encode(&buf, src, nil); err != nil {
			t.Fatal(err)
		}
		base := filepath.Join(dir, name+".tif")
		if err := os.WriteFile(base, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		inputs := map[string]string{"xtiff": base}
		if name == "bw" {
			// Make a true 1-bit file too: libtiff thresholds nothing, so
			// go through our own writer (MMR) and back to uncompressed.
			bi := Threshold(bw)
			fax := filepath.Join(dir, "bw-fax.tif")
			os.WriteFile(fax, encodeFax(t, []*bilevel.Image{bi}, FaxOptions{Coding: t4.MMR}), 0o644)
			one := filepath.Join(dir, "bw-1bit.tif")
			run(t, "tiffcp", "-c", "none", fax, one)
			inputs["1bit"] = one
		}
		for iname, in := range inputs {
			for _, args := range [][]string{
				{"-c", "none"}, {"-c", "lzw"}, {"-c", "lzw:2"}, {"-c", "zip"}, {"-c", "zip:2"}, {"-c", "packbits"},
				{"-c", "lzw", "-B"}, {"-c", "none", "-r", "7"}, {"-c", "zip", "-t", "-w", "64", "-l", "32"},
				{"-c", "none", "-p", "separate"},
			} {
				if iname == "1bit" && strings.Contains(strings.Join(args, ""), ":2") {
					continue // no predictor for 1-bit data
				}
				if name != "rgb" && strings.Contains(strings.Join(args, ""), "separate") {
					continue // planes only exist with several samples
				}
				out := filepath.Join(dir, fmt.Sprintf("%s-%s-%s.tif", name, iname, strings.Join(args, "")))
				run(t, "tiffcp", append(args, in, out)...)
				pages := readPages(t, out)
				if len(pages) != 1 {
					t.Fatalf("%s: %d pages", out, len(pages))
				}
				comparePixels(t, out, pages[0], src)
			}
		}
	}
}

// comparePixels checks a decoded page against its source image.
func comparePixels(t *testing.T, what string, p Page, src image.Image) {
	t.Helper()
	b := src.Bounds()
	if p.Bilevel != nil {
		if p.Bilevel.Width != b.Dx() || p.Bilevel.Height != b.Dy() {
			t.Fatalf("%s: size %dx%d", what, p.Bilevel.Width, p.Bilevel.Height)
		}
		for y := 0; y < b.Dy(); y++ {
			for x := 0; x < b.Dx(); x++ {
				wantBlack := color.GrayModel.Convert(src.At(x, y)).(color.Gray).Y < 128
				if p.Bilevel.Black(x, y) != wantBlack {
					t.Fatalf("%s: pixel (%d,%d) differs", what, x, y)
				}
			}
		}
		return
	}
	if p.Image == nil || p.Image.Bounds() != b {
		t.Fatalf("%s: no image or wrong bounds", what)
	}
	for y := 0; y < b.Dy(); y++ {
		for x := 0; x < b.Dx(); x++ {
			r1, g1, b1, _ := p.Image.At(x, y).RGBA()
			r2, g2, b2, _ := src.At(x, y).RGBA()
			if r1>>8 != r2>>8 || g1>>8 != g2>>8 || b1>>8 != b2>>8 {
				t.Fatalf("%s: pixel (%d,%d) = %v, want %v", what, x, y, p.Image.At(x, y), src.At(x, y))
			}
		}
	}
}
