package render

import (
	"context"
	"image"
	"os"
	"path/filepath"
	"testing"
)

// The sample documents in testdata/documents (also used by the API and
// end-to-end tests) render to the expected pages.
func TestSampleDocuments(t *testing.T) {
	for _, tc := range []struct {
		file   string
		kind   Kind
		pages  int
		photo  bool
		needGS bool
	}{
		{"letter.txt", KindText, 2, false, false},
		{"boxes.ps", KindPostScript, 2, false, true},
		{"boxes.pdf", KindPDF, 2, false, true},
		{"lineart.png", KindPNG, 1, false, false},
		{"lineart.gif", KindGIF, 1, false, false},
		{"photo.jpg", KindJPEG, 1, true, false},
		{"boxes-g4.tif", KindTIFF, 2, false, false},
		{"boxes-g3-standard.tif", KindTIFF, 2, false, false},
	} {
		t.Run(tc.file, func(t *testing.T) {
			if tc.needGS {
				needGhostscript(t)
			}
			data, err := os.ReadFile(filepath.Join("..", "..", "testdata", "documents", tc.file))
			if err != nil {
				t.Fatal(err)
			}
			if k := Sniff(data); k != tc.kind {
				t.Fatalf("sniffed as %v, want %v", k, tc.kind)
			}
			for _, res := range []Resolution{Standard, Fine, Superfine} {
				opt := Options{Resolution: res}
				pages, err := Bytes(context.Background(), data, tc.kind.MIMEType(), opt)
				if err != nil {
					t.Fatal(err)
				}
				if len(pages) != tc.pages {
					t.Fatalf("%v: %d pages, want %d", res, len(pages), tc.pages)
				}
				for i, p := range pages {
					if tc.kind == KindTIFF {
						// Raster pages keep their physical length: fine rows
						// converted to superfine are 4560, not 4573.
						want := PageLines(A4, res)
						if p.Width != PageWidth || p.YDPI != res.YDPI() || p.Height < want*99/100 || p.Height > want*101/100 {
							t.Errorf("%v page %d: %dx%d at %d dpi", res, i+1, p.Width, p.Height, p.YDPI)
						}
					} else {
						checkPage(t, p, opt)
					}
					if blackIn(p, image.Rect(0, 0, p.Width, p.Height)) == 0 {
						t.Errorf("%v page %d: no ink", res, i+1)
					}
				}
				if tc.kind == KindPNG || tc.kind == KindGIF || tc.kind == KindJPEG {
					g := toGrayForTest(t, data, tc.kind)
					if isPhotograph(g) != tc.photo {
						t.Errorf("photograph heuristic says %v, want %v", !tc.photo, tc.photo)
					}
				}
			}
		})
	}
}

func toGrayForTest(t *testing.T, data []byte, k Kind) *image.Gray {
	img, err := decodePicture(data, k)
	if err != nil {
		t.Fatal(err)
	}
	return toGray(img)
}
