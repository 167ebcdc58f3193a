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

	// Each subset lies on a coset of one square lattice (basis b and i·b).
	// Rounding a point's lattice coordinates finds the coset's nearest
	// point; when that is a point of the constellation it is the subset's
	// nearest, found with no candidates to compare. lat is false when the
	// subsets do not fit one lattice; then only the cells serve.
	lat bool
	// Lattice coordinates are u = x·ux + y·uy, v = y·ux - x·uy, in
	// float64 so that rounding them errs only at exact ties.
	ux, uy float64
	ou, ov [8]float64            // each subset's first point in lattice coordinates
	at     [8][latW * latW]uint8 // the label at lattice offset (iu, iv) from it, or noLabel
}

const (
	latR    = 8 // lattice offsets -latR..latR are tabulated
	latW    = 2*latR + 1
	noLabel = 0xff
)

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
	m.fitLattice()
	return m
}

// fitLattice finds the square lattice whose cosets hold the subsets: its
// basis is the shortest difference between two points of one subset, and
// every other difference within a subset must be a whole combination of it
// and its quarter turn.
func (m *subsetMap) fitLattice() {
	var bx, by, n2 int
	for s := range m.all {
		for i, a := range m.all[s] {
			for _, b := range m.all[s][:i] {
				dx, dy := int(real(m.points[a])-real(m.points[b])), int(imag(m.points[a])-imag(m.points[b]))
				if d := dx*dx + dy*dy; d > 0 && (n2 == 0 || d < n2) {
					bx, by, n2 = dx, dy, d
				}
			}
		}
	}
	if n2 == 0 {
		return
	}
	for i := range m.at {
		for j := range m.at[i] {
			m.at[i][j] = noLabel
		}
	}
	for s := range m.all {
		o := m.points[m.all[s][0]]
		ox, oy := int(real(o)), int(imag(o))
		m.ou[s] = float64(ox*bx+oy*by) / float64(n2)
		m.ov[s] = float64(oy*bx-ox*by) / float64(n2)
		for _, l := range m.all[s] {
			p := m.points[l]
			if float32(int(real(p))) != real(p) || float32(int(imag(p))) != imag(p) {
				return
			}
			dx, dy := int(real(p))-ox, int(imag(p))-oy
			u, v := dx*bx+dy*by, dy*bx-dx*by
			if u%n2 != 0 || v%n2 != 0 || abs(u/n2) > latR || abs(v/n2) > latR {
				return
			}
			m.at[s][(u/n2+latR)*latW+v/n2+latR] = l
		}
	}
	m.ux, m.uy = float64(bx)/float64(n2), float64(by)/float64(n2)
	// nearest rounds without checking the range: every point of the grid
	// must round into the table.
	reach := gridHalf * (abs(bx) + abs(by))
	for s := range m.all {
		if float64(reach)/float64(n2)+max(math.Abs(m.ou[s]), math.Abs(m.ov[s])) >= latR {
			return
		}
	}
	m.lat = true
}

func abs(x int) int { return max(x, -x) }

// nearest fills dist and label with, for each subset, the squared distance
// from z to its nearest point and that point's label.
func (m *subsetMap) nearest(z complex64, dist *[8]float32, label *[8]uint8) {
	zr, zi := real(z), imag(z)
	if !m.lat || !(zr > -gridHalf && zr < gridHalf && zi > -gridHalf && zi < gridHalf) {
		m.nearestByCell(z, dist, label, 0)
		return
	}
	x64, y64 := float64(zr), float64(zi)
	u0, v0 := x64*m.ux+y64*m.uy, y64*m.ux-x64*m.uy
	for s := range 8 {
		// Round: inside the grid u and v are far above -64, and within
		// latR of the subset's first point (fitLattice checks). A half
		// exactly is a tie, which the cells break as a search of every
		// point would.
		tu, tv := u0-m.ou[s]+(64.5+latR), v0-m.ov[s]+(64.5+latR)
		iu, iv := int(tu), int(tv)
		if float64(iu) == tu || float64(iv) == tv {
			m.nearestByCell(z, dist, label, s)
			return
		}
		l := m.at[s][(iu-64)*latW+iv-64]
		if l == noLabel {
			// The coset's nearest point lies outside the constellation.
			m.nearestByCell(z, dist, label, s)
			return
		}
		p := m.points[l]
		dist[s], label[s] = (zr-real(p))*(zr-real(p))+(zi-imag(p))*(zi-imag(p)), l
	}
}

// nearestByCell is nearest for subsets from on, by the cell's candidates
// (or every point, off the grid).
func (m *subsetMap) nearestByCell(z complex64, dist *[8]float32, label *[8]uint8, from int) {
	x, y := int(math.Floor(float64(real(z))))+gridHalf, int(math.Floor(float64(imag(z))))+gridHalf
	if x < 0 || x >= gridN || y < 0 || y >= gridN {
		for s := from; s < 8; s++ {
			dist[s], label[s] = m.closest(z, m.all[s])
		}
		return
	}
	off := m.off[(y*gridN+x)*8:][:9]
	for s := from; s < 8; s++ {
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
