package v17

import (
	"math"
	"math/rand/v2"
	"testing"
)

// encodeLabels runs random data through the differential and
// convolutional encoders the way the transmitter does and returns the
// labels sent.
func encodeLabels(n, bitsPerSym int, r *rand.Rand) []uint8 {
	var diff, conv uint8
	out := make([]uint8, n)
	for i := range out {
		q := uint8(r.IntN(1 << bitsPerSym))
		diff = (diff + q) & 3
		conv = trellis[conv][diff]
		out[i] = (q<<1)&0x78 | diff<<1 | (conv>>2)&1
	}
	return out
}

// Without noise the decoder returns exactly the labels sent; with noise
// strong enough that symbol-by-symbol decisions err, the trellis decoder
// errs several times less often (its coding gain).
func TestViterbiDecodesAndGains(t *testing.T) {
	for _, rate := range rates {
		pts := constellation(rate)
		r := rand.New(rand.NewPCG(uint64(rate), 1))
		labels := encodeLabels(20000, bitsPerSymbol(rate), r)
		// Noise in proportion to the constellation's minimum distance.
		dmin := float32(1e9)
		for i := range pts {
			for j := range i {
				d := pts[i] - pts[j]
				dmin = min(dmin, real(d)*real(d)+imag(d)*imag(d))
			}
		}
		for _, sigma := range []float32{0, 0.3 * float32(math.Sqrt(float64(dmin)))} {
			v := newViterbi(newSubsetMap(pts))
			var vitErr, hardErr, n int
			k := 0
			for i, l := range labels {
				z := pts[l] + complex(sigma*float32(r.NormFloat64()), sigma*float32(r.NormFloat64()))
				// Hard decision for comparison.
				best, bl := float32(1e9), 0
				for j, p := range pts {
					if d := real(z-p)*real(z-p) + imag(z-p)*imag(z-p); d < best {
						best, bl = d, j
					}
				}
				if uint8(bl) != labels[i] {
					hardErr++
				}
				if got, ok := v.push(z); ok {
					if got != labels[k] {
						vitErr++
					}
					k++
					n++
				}
			}
			if n != len(labels)-depth+1 {
				t.Fatalf("%d: decoder released %d labels for %d symbols", rate, n, len(labels))
			}
			if sigma == 0 && vitErr != 0 {
				t.Errorf("%d: %d label errors without noise", rate, vitErr)
			}
			if sigma > 0 && (hardErr < 50 || vitErr*3 > hardErr) {
				t.Errorf("%d: sigma %.2f: trellis decoder %d label errors, hard decisions %d; want at least 3 times fewer", rate, sigma, vitErr, hardErr)
			}
			t.Logf("%d: sigma %.2f: %d trellis, %d hard decision label errors in %d", rate, sigma, vitErr, hardErr, n)
		}
	}
}

// The map (lattice rounding, else the cells) finds the same nearest point
// per subset as measuring every point, on and off the grid.
func TestSubsetMapMatchesBruteForce(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, rate := range rates {
		pts := constellation(rate)
		m := newSubsetMap(pts)
		if !m.lat {
			t.Errorf("%d: the subsets were not fitted to a lattice: every search goes through the cells", rate)
		}
		for i := 0; i < 20000; i++ {
			scale := float32(11)
			if i%10 == 0 {
				scale = 30 // off the grid
			}
			z := complex(scale*(2*r.Float32()-1), scale*(2*r.Float32()-1))
			var dist [8]float32
			var lab [8]uint8
			m.nearest(z, &dist, &lab)
			for s := 0; s < 8; s++ {
				best := float32(math.MaxFloat32)
				for l := s; l < len(pts); l += 8 {
					d := pts[l] - z
					best = min(best, real(d)*real(d)+imag(d)*imag(d))
				}
				if dist[s] != best || int(lab[s])&7 != s {
					t.Fatalf("%d: z=%v subset %d: map gives %g (label %d), brute force %g", rate, z, s, dist[s], lab[s], best)
				}
			}
		}
	}
}

// argmin8 finds the smallest value and, among equal ones, the first, as a
// loop over the eight would.
func TestArgmin8(t *testing.T) {
	r := rand.New(rand.NewPCG(4, 4))
	for n := 0; n < 100000; n++ {
		var a [8]float32
		for i := range a {
			a[i] = float32(r.IntN(4)) // many ties
		}
		lo, at := a[0], 0
		for i, v := range a {
			if v < lo {
				lo, at = v, i
			}
		}
		if m, i := argmin8(&a); m != lo || i != at {
			t.Fatalf("%v: argmin8 %g at %d, loop %g at %d", a, m, i, lo, at)
		}
	}
}
