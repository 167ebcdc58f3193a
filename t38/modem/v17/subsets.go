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
	all    [8][]uint8   // every label of each subset, for points off the grid
	cells  [][8][]uint8 // cells[cell][subset]: candidate labels
}

const (
	gridHalf = 12 // the grid spans -gridHalf..gridHalf on both axes
	gridN    = 2 * gridHalf
)

func newSubsetMap(points []complex64) *subsetMap {
	m := &subsetMap{points: points, cells: make([][8][]uint8, gridN*gridN)}
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
				m.cells[cy*gridN+cx][s] = c
			}
		}
	}
	return m
}

// nearest fills dist and label with, for each subset, the squared distance
// from z to its nearest point and that point's label.
func (m *subsetMap) nearest(z complex64, dist *[8]float32, label *[8]uint8) {
	x, y := int(math.Floor(float64(real(z))))+gridHalf, int(math.Floor(float64(imag(z))))+gridHalf
	var cand *[8][]uint8
	if x >= 0 && x < gridN && y >= 0 && y < gridN {
		cand = &m.cells[y*gridN+x]
	} else {
		cand = &m.all
	}
	for s := 0; s < 8; s++ {
		d := float32(math.MaxFloat32)
		for _, l := range cand[s] {
			p := m.points[l]
			e := (real(z)-real(p))*(real(z)-real(p)) + (imag(z)-imag(p))*(imag(z)-imag(p))
			if e < d {
				d, label[s] = e, l
			}
		}
		dist[s] = d
	}
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
