// Package t4test makes realistic synthetic fax pages for the codec and
// TIFF tests and benchmarks: typed text, line art and a dithered
// photograph. Pages are deterministic for a given seed so that figures
// from different runs compare.
package t4test

import (
	"math"
	"math/rand/v2"

	"github.com/faxd/faxd/t38/bilevel"
)

// Kind names a page style.
type Kind string

// The page styles.
const (
	Text    Kind = "text"
	LineArt Kind = "lineart"
	Photo   Kind = "photo"
)

// Kinds lists every style, in a stable order.
var Kinds = []Kind{Text, LineArt, Photo}

// PageHeight returns the rows of an A4 page at ydpi lines per inch.
func PageHeight(ydpi int) int { return int(math.Round(297 / 25.4 * float64(ydpi))) }

// Page makes one page of the given style.
func Page(kind Kind, width, ydpi int, seed uint64) *bilevel.Image {
	img := bilevel.New(width, PageHeight(ydpi))
	img.YDPI = ydpi
	rng := rand.New(rand.NewPCG(seed, uint64(width)<<16|uint64(ydpi)))
	switch kind {
	case Text:
		text(img, rng)
	case LineArt:
		lineArt(img, rng)
	case Photo:
		photo(img, rng)
	default:
		panic("t4test: unknown page kind " + string(kind))
	}
	return img
}

// Set is one page of each style.
func Set(width, ydpi int) []*bilevel.Image {
	var pages []*bilevel.Image
	for i, k := range Kinds {
		pages = append(pages, Page(k, width, ydpi, uint64(i+1)))
	}
	return pages
}

func rect(img *bilevel.Image, x0, y0, x1, y1 int) {
	x0, y0 = max(x0, 0), max(y0, 0)
	x1, y1 = min(x1, img.Width), min(y1, img.Height)
	for y := y0; y < y1; y++ {
		for x := x0; x < x1; x++ {
			img.SetBlack(x, y, true)
		}
	}
}

// text lays out lines of pseudo-letters about 11 point high. Each letter
// is a few strokes (stems, bars, diagonals) on a 5x7 grid, so rows are
// vertically coherent the way printed text is; words, paragraphs and
// ragged right margins vary the runs.
func text(img *bilevel.Image, rng *rand.Rand) {
	const dot = 3                    // stroke width in pixels at 204 dpi
	h := float64(dot*img.YDPI) / 196 // rows per grid row
	pitch, gap := 6*dot, dot         // letter pitch and extra word gap
	lineH := int(math.Round(11 * h)) // baseline to baseline
	margin := img.Width / 12
	glyphs := make([][7]uint8, 48)
	for i := range glyphs {
		g := &glyphs[i]
		for range 2 + rng.IntN(3) {
			switch rng.IntN(8) {
			case 0, 1: // a stem
				c := []uint8{0x10, 0x04, 0x01}[rng.IntN(3)]
				for r := range g {
					g[r] |= c
				}
			case 2, 3: // a bar
				g[[]int{0, 3, 6}[rng.IntN(3)]] |= 0x1f
			case 4: // a diagonal
				for r := range g {
					g[r] |= 0x10 >> (r * 5 / 7)
				}
			case 5: // a bowl
				g[0] |= 0x0e
				g[6] |= 0x0e
				for r := 1; r < 6; r++ {
					g[r] |= 0x11
				}
			default: // a half stem
				for r := 3; r < 7; r++ {
					g[r] |= 0x10
				}
			}
		}
	}
	y := img.YDPI / 2
	for y+lineH < img.Height-img.YDPI/2 {
		if rng.IntN(9) == 0 { // paragraph break
			y += lineH
			continue
		}
		end := img.Width - margin - rng.IntN(img.Width/4)
		for x := margin; x+pitch < end; {
			if rng.IntN(6) == 0 {
				x += pitch + gap
				continue
			}
			g := glyphs[rng.IntN(len(glyphs))]
			for r := 0; r < 7; r++ {
				y0, y1 := y+int(math.Round(float64(r)*h)), y+int(math.Round(float64(r+1)*h))
				for c := 0; c < 5; c++ {
					if g[r]&(0x10>>c) != 0 {
						rect(img, x+c*dot, y0, x+(c+1)*dot, y1)
					}
				}
			}
			x += pitch
		}
		y += lineH
	}
}

// lineArt draws boxes, lines and circles of various weights.
func lineArt(img *bilevel.Image, rng *rand.Rand) {
	w, h := img.Width, img.Height
	for range 40 {
		x0, y0 := rng.IntN(w), rng.IntN(h)
		x1, y1 := rng.IntN(w), rng.IntN(h)
		t := 1 + rng.IntN(4)
		line(img, x0, y0, x1, y1, t)
	}
	for range 25 {
		x0, y0 := rng.IntN(w-200), rng.IntN(h-200)
		bw, bh := 50+rng.IntN(400), 50+rng.IntN(400)
		t := 1 + rng.IntN(3)
		rect(img, x0, y0, x0+bw, y0+t)
		rect(img, x0, y0+bh, x0+bw, y0+bh+t)
		rect(img, x0, y0, x0+t, y0+bh)
		rect(img, x0+bw, y0, x0+bw+t, y0+bh+t)
	}
	for range 20 {
		cx, cy, r := rng.IntN(w), rng.IntN(h), 20+rng.IntN(300)
		for a := 0; a < 4*r; a++ {
			th := float64(a) / float64(4*r) * 2 * math.Pi
			x := cx + int(float64(r)*math.Cos(th))
			y := cy + int(float64(r)*math.Sin(th)*float64(img.YDPI)/float64(img.XDPI))
			rect(img, x, y, x+2, y+2)
		}
	}
	// A few solid fills, as in logos and tables with shaded headers.
	for range 5 {
		x0, y0 := rng.IntN(w-300), rng.IntN(h-100)
		rect(img, x0, y0, x0+100+rng.IntN(200), y0+20+rng.IntN(80))
	}
}

func line(img *bilevel.Image, x0, y0, x1, y1, t int) {
	n := max(abs(x1-x0), abs(y1-y0), 1)
	for i := 0; i <= n; i++ {
		x := x0 + (x1-x0)*i/n
		y := y0 + (y1-y0)*i/n
		rect(img, x, y, x+t, y+t)
	}
}

func abs(v int) int {
	if v < 0 {
		return -v
	}
	return v
}

// photo dithers a smooth synthetic scene (gradients, a face-like blob,
// texture) with Floyd-Steinberg error diffusion, the hardest case for
// run-length coding.
func photo(img *bilevel.Image, rng *rand.Rand) {
	w, h := img.Width, img.Height
	errs := make([]float64, 2*(w+2))
	cur, next := errs[:w+2], errs[w+2:]
	phase := rng.Float64() * 10
	for y := 0; y < h; y++ {
		clear(next)
		fy := float64(y) / float64(h)
		for x := 0; x < w; x++ {
			fx := float64(x) / float64(w)
			v := 0.5 + 0.3*math.Sin(fx*7+phase)*math.Cos(fy*5) // background
			dx, dy := fx-0.5, (fy-0.4)*1.4
			if d := dx*dx + dy*dy; d < 0.06 {
				v = 0.25 + 2*d + 0.05*math.Sin(fx*90) // the subject
			}
			v += 0.08 * (rng.Float64() - 0.5) // grain
			v += cur[x+1]
			black := v < 0.5
			e := v
			if !black {
				e = v - 1
			}
			if black {
				img.SetBlack(x, y, true)
			}
			cur[x+2] += e * 7 / 16
			next[x] += e * 3 / 16
			next[x+1] += e * 5 / 16
			next[x+2] += e * 1 / 16
		}
		cur, next = next, cur
	}
}
