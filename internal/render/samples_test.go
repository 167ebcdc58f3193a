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
					checkPage(t, p, opt)
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
