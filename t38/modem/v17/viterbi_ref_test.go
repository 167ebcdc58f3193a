package v17

import (
	"math"
	"math/rand/v2"
	"testing"
)

// refViterbi is the decoder's state written the plain way: survivors as
// a ring of (previous state, label) per state, traced back.
type refViterbi struct {
	sm     *subsetMap
	metric [8]float32
	prev   [depth][8]uint8
	label  [depth][8]uint8
	pos    int
	filled int
}

func newRefViterbi(sm *subsetMap) *refViterbi {
	v := &refViterbi{sm: sm}
	for i := range v.metric {
		v.metric[i] = 1e9
	}
	v.metric[0] = 0
	return v
}

// refPush is the decoder step written the plain way (every branch from
// every state, traceback with modular indices), kept to check that the
// table-driven push decides exactly the same labels.
func refPush(v *refViterbi, z complex64) (uint8, bool, [8]float32) {
	var dist [8]float32
	var best [8]uint8
	for s := 0; s < 8; s++ {
		d := float32(math.MaxFloat32)
		for _, l := range v.sm.all[s] {
			p := v.sm.points[l]
			if e := (real(z)-real(p))*(real(z)-real(p)) + (imag(z)-imag(p))*(imag(z)-imag(p)); e < d {
				d, best[s] = e, l
			}
		}
		dist[s] = d
	}
	var next [8]float32
	for i := range next {
		next[i] = math.MaxFloat32
	}
	p := v.pos
	for s := uint8(0); s < 8; s++ {
		for y := uint8(0); y < 4; y++ {
			ns := trellis[s][y]
			sub := y<<1 | (ns>>2)&1
			if m := v.metric[s] + dist[sub]; m < next[ns] {
				next[ns] = m
				v.prev[p][ns] = s
				v.label[p][ns] = best[sub]
			}
		}
	}
	lo, bs := next[0], 0
	for i, m := range next {
		if m < lo {
			lo, bs = m, i
		}
	}
	for i := range next {
		v.metric[i] = next[i] - lo
	}
	v.pos = (v.pos + 1) % depth
	if v.filled < depth {
		v.filled++
		if v.filled < depth {
			return 0, false, dist
		}
	}
	st, j := uint8(bs), p
	for k := 0; k < depth-1; k++ {
		st = v.prev[j][st]
		j = (j + depth - 1) % depth
	}
	return v.label[j][st], true, dist
}

// The decoder (with the cell map's nearest-point search) gives the same
// labels as the plain decoder with an exhaustive search, on points from
// clean to very noisy and some far outside the constellation.
func TestViterbiMatchesReference(t *testing.T) {
	for _, rate := range rates {
		pts := constellation(rate)
		r := rand.New(rand.NewPCG(uint64(rate), 7))
		labels := encodeLabels(30000, bitsPerSymbol(rate), r)
		fast, ref := newViterbi(subsetMapFor(rate)), newRefViterbi(subsetMapFor(rate))
		n := 0
		for i, l := range labels {
			sigma := float32(i%5) * 0.4
			if i%997 == 0 {
				sigma = 30
			}
			z := pts[l] + complex(sigma*float32(r.NormFloat64()), sigma*float32(r.NormFloat64()))
			a, okA := fast.push(z)
			b, okB, dist := refPush(ref, z)
			if a != b || okA != okB {
				t.Fatalf("rate %d, symbol %d: got %d,%v, reference %d,%v", rate, i, a, okA, b, okB)
			}
			if fast.dist != dist {
				t.Fatalf("rate %d, symbol %d: subset distances %v, exhaustive search %v", rate, i, fast.dist, dist)
			}
			n++
		}
		if n != len(labels) {
			t.Fatal("not every symbol compared")
		}
	}
}
