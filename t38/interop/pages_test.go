package interop

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/faxd/faxd/t38/bilevel"
)

func TestPBMGolden(t *testing.T) {
	m := bilevel.New(10, 2)
	m.YDPI = bilevel.YDPIStandard
	m.SetBlack(0, 0, true)
	m.SetBlack(9, 0, true)
	m.SetBlack(4, 1, true)
	var b bytes.Buffer
	if err := WritePBM(&b, m); err != nil {
		t.Fatal(err)
	}
	want := []byte("P4\n# dpi 204 98\n10 2\n\x80\x40\x08\x00")
	if !bytes.Equal(b.Bytes(), want) {
		t.Fatalf("got %q\nwant %q", b.Bytes(), want)
	}
	got, err := ReadPBM(bytes.NewReader(want))
	if err != nil {
		t.Fatal(err)
	}
	if got.Width != 10 || got.Height != 2 || got.YDPI != 98 || got.XDPI != 204 || !bytes.Equal(got.Pix, m.Pix) {
		t.Fatalf("read back %+v", got)
	}
}

func TestReadPBMRejects(t *testing.T) {
	for _, in := range []string{"", "P1\n1 1\n0", "P4\n", "P4\n0 5\n", "P4\n8 2\n\x00", "P4\nx y\n\x00", "P4\n99999 1\n"} {
		if _, err := ReadPBM(bytes.NewReader([]byte(in))); !errors.Is(err, ErrPBM) {
			t.Errorf("%q: got %v, want ErrPBM", in, err)
		}
	}
}

func FuzzReadPBM(f *testing.F) {
	f.Add([]byte("P4\n# dpi 204 98\n10 2\n\x80\x40\x08\x00"))
	f.Add([]byte("P4\n1 1\n\x80"))
	f.Add([]byte("P4\n# c\n16 1\n\xff\x00"))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := ReadPBM(bytes.NewReader(b))
		if err != nil {
			return
		}
		var out bytes.Buffer
		if err := WritePBM(&out, m); err != nil {
			t.Fatal(err)
		}
		m2, err := ReadPBM(&out)
		if err != nil {
			t.Fatalf("re-read: %v", err)
		}
		if m2.Width != m.Width || m2.Height != m.Height || !bytes.Equal(m2.Pix, m.Pix) {
			t.Fatal("round trip changed the image")
		}
	})
}

// TestTIFFPagesRoundTrip moves a generated document through libtiff → Go →
// libtiff and checks tiffcmp sees the same pixels.
func TestTIFFPagesRoundTrip(t *testing.T) {
	bin := BuildPeer(t)
	NeedTool(t, "tiffcmp", "libtiff-tools")
	ctx := context.Background()
	dir := t.TempDir()
	in, out := filepath.Join(dir, "in.tif"), filepath.Join(dir, "out.tif")
	if err := MakeTestTIFF(ctx, bin, in, TIFFOptions{Pages: 3, Compression: MR, Standard: true}); err != nil {
		t.Fatal(err)
	}
	pages, err := TIFFToPages(ctx, bin, in)
	if err != nil {
		t.Fatal(err)
	}
	if len(pages) != 3 || pages[0].Width != bilevel.WidthA4 || pages[0].YDPI != bilevel.YDPIStandard {
		t.Fatalf("got %d pages, first %dx%d at %d dpi", len(pages), pages[0].Width, pages[0].Height, pages[0].YDPI)
	}
	if err := PagesToTIFF(ctx, bin, out, pages); err != nil {
		t.Fatal(err)
	}
	if err := CompareTIFF(ctx, in, out); err != nil {
		t.Fatal(err)
	}
	pages[1].SetBlack(100, 100, !pages[1].Black(100, 100))
	if err := PagesToTIFF(ctx, bin, out, pages); err != nil {
		t.Fatal(err)
	}
	if err := CompareTIFF(ctx, in, out); !errors.Is(err, ErrPagesDiffer) {
		t.Fatalf("one flipped pixel: got %v, want ErrPagesDiffer", err)
	}
}
