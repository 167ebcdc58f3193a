package render

import (
	"image"
	"testing"
)

func TestScaleGray(t *testing.T) {
	flat := image.NewGray(image.Rect(0, 0, 37, 23))
	for i := range flat.Pix {
		flat.Pix[i] = 77
	}
	for _, sz := range [][2]int{{10, 5}, {100, 80}, {37, 60}, {1, 1}} {
		g := scaleGray(flat, sz[0], sz[1])
		if g.Rect.Dx() != sz[0] || g.Rect.Dy() != sz[1] {
			t.Fatalf("size %v", g.Rect)
		}
		for i, v := range g.Pix {
			if v != 77 {
				t.Fatalf("%v: flat area changed to %d at %d", sz, v, i)
			}
		}
	}
	// A one-pixel checkerboard halved averages to mid grey everywhere.
	cb := image.NewGray(image.Rect(0, 0, 200, 200))
	for y := 0; y < 200; y++ {
		for x := 0; x < 200; x++ {
			if (x+y)%2 == 0 {
				cb.Pix[y*cb.Stride+x] = 255
			}
		}
	}
	for i, v := range scaleGray(cb, 100, 100).Pix {
		if v < 112 || v > 143 {
			t.Fatalf("checkerboard halved: %d at %d", v, i)
		}
	}
	// Enlarging a black/white step keeps it monotonic and in range.
	step := image.NewGray(image.Rect(0, 0, 2, 1))
	step.Pix[1] = 255
	row := scaleGray(step, 20, 1).Pix
	for i := 1; i < len(row); i++ {
		if row[i] < row[i-1] {
			t.Fatalf("not monotonic: %v", row)
		}
	}
	if row[0] != 0 || row[19] != 255 {
		t.Fatalf("ends %d, %d", row[0], row[19])
	}
}
