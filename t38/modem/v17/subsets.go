package v17

import (
	"math"
	"sync"
)

// subsetMap finds, for a received point, the nearest constellation point
// in each of the 8 subsets without measuring all of them: the plane is cut
// into unit cells and each cell lists, per subset, only the points that can
// be nearest to somewhere in that cell.
type subsetMap struct {
	points []complex64
	all    [8][]uint8 // every label of each subset, for points off the grid
	// The candidates of cell c and subset s are cand[off[8c+s]:off[8c+s+1]]:
	// one flat table rather than a slice per cell and subset, so that a
	// lookup touches two short runs of memory.
	off  []uint16
	cand []uint8
}

const (
	gridHalf = 12 // the grid spans -gridHalf..gridHalf on both axes
	gridN    = 2 * gridHalf
)

func newSubsetMap(points []complex64) *subsetMap {
	m := &subsetMap{points: points, off: make([]uint16, 0, gridN*gridN*8+1)}
	for l := range points {
		m.all[l&7] = append(m.all[l&7], uint8(l))
	}
	h := math.Sqrt2 / 2
	for cy := 0; cy < gridN; cy++ {
		for cx := 0; cx < gridN; cx++ {
			cre, cim := float64(cx-gridHalf)+0.5, float64(cy-gridHalf)+0.5
			for s := 0; s < 8; s++ {
				dist := func(l uint8) float64 {
					p := points[l]
					return math.Hypot(float64(real(p))-cre, float64(imag(p))-cim)
				}
				dmin := math.Inf(1)
				for _, l := range m.all[s] {
					dmin = min(dmin, dist(l))
				}
				// A point further than dmin+2h from the centre is further
				// from every point of the cell than the closest one is.
				var c []uint8
				for _, l := range m.all[s] {
					if dist(l) <= dmin+2*h+1e-9 {
						c = append(c, l)
					}
				}
				m.off = append(m.off, uint16(len(m.cand)))
				m.cand = append(m.cand, c...)
			}
		}
	}
	m.off = append(m.off, uint16(len(m.cand)))
	return m
}

// nearest fills dist and label with, for each subset, the squared distance
// from z to its nearest point and that point's label.
func (m *subsetMap) nearest(z complex64, dist *[8]float32, label *[8]uint8) {
	x, y := int(math.Floor(float64(real(z))))+gridHalf, int(math.Floor(float64(imag(z))))+gridHalf
	if x < 0 || x >= gridN || y < 0 || y >= gridN {
		for s := 0; s < 8; s++ {
			dist[s], label[s] = m.closest(z, m.all[s])
		}
		return
	}
	off := m.off[(y*gridN+x)*8:][:9]
	for s := 0; s < 8; s++ {
		dist[s], label[s] = m.closest(z, m.cand[off[s]:off[s+1]])
	}
}

// closest is the squared distance from z to the nearest of the labelled
// points, and its label.
func (m *subsetMap) closest(z complex64, labels []uint8) (float32, uint8) {
	d := float32(math.MaxFloat32)
	var best uint8
	for _, l := range labels {
		p := m.points[l]
		e := (real(z)-real(p))*(real(z)-real(p)) + (imag(z)-imag(p))*(imag(z)-imag(p))
		if e < d {
			d, best = e, l
		}
	}
	return d, best
}

var (
	subsetMaps     = map[int]*subsetMap{}
	subsetMapsOnce sync.Once
)

// subsetMapFor returns the shared, read-only map for rate.
func subsetMapFor(rate int) *subsetMap {
	subsetMapsOnce.Do(func() {
		for _, r := range []int{14400, 12000, 9600, 7200} {
			subsetMaps[r] = newSubsetMap(constellation(r))
		}
	})
	return subsetMaps[rate]
}
