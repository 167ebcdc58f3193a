package render

import (
	"image"
	"math"
)

// scaleGray resizes a grey image with a separable triangle (tent) filter
// whose support widens with the shrink factor: bilinear when enlarging,
// close to area averaging when shrinking, so thin lines in a scan turn
// grey instead of disappearing. Hand-written because x/image/draw has no
// fast path for *image.Gray destinations (it allocated 70 MB and took
// most of the time for one photograph).
func scaleGray(src *image.Gray, w, h int) *image.Gray {
	sw, sh := src.Rect.Dx(), src.Rect.Dy()
	if sw == w && sh == h {
		return src
	}
	xs := filterWeights(sw, w)
	ys := filterWeights(sh, h)

	// Horizontal pass: sh rows of w values, 16.16 fixed point.
	tmp := make([]int32, w*sh)
	for y := 0; y < sh; y++ {
		row := src.Pix[(y)*src.Stride : (y)*src.Stride+sw]
		out := tmp[y*w : (y+1)*w]
		for x := range out {
			c := &xs[x]
			var acc int32
			for i, wt := range c.w {
				acc += int32(row[c.first+i]) * wt
			}
			out[x] = acc
		}
	}
	// Vertical pass into the destination.
	dst := image.NewGray(image.Rect(0, 0, w, h))
	acc := make([]int64, w)
	for y := 0; y < h; y++ {
		c := &ys[y]
		clear(acc)
		for i, wt := range c.w {
			srow := tmp[(c.first+i)*w : (c.first+i+1)*w]
			for x, v := range srow {
				acc[x] += int64(v) * int64(wt)
			}
		}
		out := dst.Pix[y*dst.Stride : y*dst.Stride+w]
		for x, v := range acc {
			v = (v + 1<<31) >> 32
			out[x] = uint8(min(max(v, 0), 255))
		}
	}
	return dst
}

// contributors are the source samples of one output sample: weights in
// 1/65536 that sum to exactly 65536, starting at source index first.
type contributors struct {
	first int
	w     []int32
}

func filterWeights(src, dst int) []contributors {
	ratio := float64(src) / float64(dst)
	support := max(1, ratio) // tent half-width in source samples
	out := make([]contributors, dst)
	for i := range out {
		center := (float64(i)+0.5)*ratio - 0.5
		lo := max(0, int(math.Ceil(center-support)))
		hi := min(src-1, int(math.Floor(center+support)))
		if hi < lo { // only at the very edges of tiny images
			lo, hi = min(max(int(math.Round(center)), 0), src-1), min(max(int(math.Round(center)), 0), src-1)
		}
		ws := make([]float64, hi-lo+1)
		sum := 0.0
		for j := range ws {
			d := math.Abs(float64(lo+j)-center) / support
			ws[j] = max(0, 1-d)
			sum += ws[j]
		}
		c := contributors{first: lo, w: make([]int32, len(ws))}
		if sum == 0 {
			c.w[0] = 1 << 16
		} else {
			total := int32(0)
			big := 0
			for j, v := range ws {
				c.w[j] = int32(math.Round(v / sum * 65536))
				total += c.w[j]
				if c.w[j] > c.w[big] {
					big = j
				}
			}
			c.w[big] += 1<<16 - total // exact sum: flat areas stay flat
		}
		out[i] = c
	}
	return out
}
