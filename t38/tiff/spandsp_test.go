package tiff

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/faxd/faxd/t38/bilevel"
	"github.com/faxd/faxd/t38/t4"
	"github.com/faxd/faxd/t38/t4/t4test"
)

// buildC compiles a test C program from testdata into dir.
func buildC(t *testing.T, dir, src string, libs ...string) string {
	t.Helper()
	if _, err := exec.LookPath("gcc"); err != nil {
		t.Skip("gcc not installed")
	}
	bin := filepath.Join(dir, strings.TrimSuffix(src, ".c"))
	args := append([]string{"-O1", "-o", bin, filepath.Join("testdata", src)}, libs...)
	if out, err := exec.Command("gcc", args...).CombinedOutput(); err != nil {
		if strings.Contains(string(out), "No such file") || strings.Contains(string(out), "cannot find -l") {
			t.Skipf("C library missing (apt-get install libspandsp-dev libtiff-dev): %s", out)
		}
		t.Fatalf("gcc: %v\n%s", err, out)
	}
	return bin
}

// spandsp's T.4 receiver takes our coded pages (in line bit order, as a
// modem delivers them) without a bad row, and writes the TIFF it stores
// for every received fax: T.4 2-D with EOL fill, FillOrder 2. We must
// read that file back to the very pixels we sent.
func TestSpandspReceivesOursAndWeReadItsTIFF(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	rx := buildC(t, dir, "spandsp_rx.c", "-lspandsp", "-ltiff")
	for _, ydpi := range []int{bilevel.YDPIStandard, bilevel.YDPIFine} {
		for _, kind := range t4test.Kinds {
			img := t4test.Page(kind, bilevel.WidthA4, ydpi, 21)
			for _, c := range codings {
				name := fmt.Sprintf("%s-%d-%v", kind, ydpi, c)
				data, err := t4.Encode(img, t4.EncodeOptions{Coding: c})
				if err != nil {
					t.Fatal(err)
				}
				t4.ReverseBits(data)
				in := filepath.Join(dir, name+".t4")
				out := filepath.Join(dir, name+".tif")
				if err := os.WriteFile(in, data, 0o644); err != nil {
					t.Fatal(err)
				}
				enc := map[t4.Coding]string{t4.MH: "1d", t4.MR: "2d", t4.MMR: "t6"}[c]
				res := map[int]string{98: "standard", 196: "fine"}[ydpi]
				stats := run(t, rx, in, out, enc, "1728", res)
				want := fmt.Sprintf("width=1728 length=%d bad_rows=0", img.Height)
				if !strings.Contains(stats, want) {
					t.Fatalf("%s: spandsp says %q, want %q", name, stats, want)
				}
				f, err := os.ReadFile(out)
				if err != nil {
					t.Fatal(err)
				}
				tf, err := Open(f, DefaultLimits)
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				if d := tf.ifds[0]; d.uint(tagFillOrder, 1) != 2 || d.uint(tagT4Options, 0) != 5 {
					t.Fatalf("%s: spandsp wrote FillOrder %d, T4Options %d; the test wants 2 and 5", name, d.uint(tagFillOrder, 1), d.uint(tagT4Options, 0))
				}
				pages, err := Decode(f)
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				if len(pages) != 1 || pages[0].Coding != t4.MR || pages[0].Stats.BadRows != 0 {
					t.Fatalf("%s: spandsp file read as %d pages, %v, %+v", name, len(pages), pages[0].Coding, pages[0].Stats)
				}
				if !pages[0].Bilevel.Equal(img) {
					t.Fatalf("%s: pixels differ", name)
				}
				if int(pages[0].YDPI+0.5) != ydpi && !(ydpi == 98 && int(pages[0].YDPI+0.5) == 98) {
					t.Errorf("%s: resolution %v", name, pages[0].YDPI)
				}
			}
		}
	}
}
