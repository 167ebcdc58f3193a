package v17

import "math"

// depth is how many symbols the Viterbi decoder looks back before it
// commits to a point: about five times the code's constraint length.
const depth = 16 // the survivors hold depth labels in two 64-bit words

// viterbi decodes V.17's 8-state trellis code. For each received point it
// finds the nearest point of each of the 8 subsets (labels sharing Y2 Y1
// Y0), extends the survivor path of each encoder state, and releases the
// label decided depth-1 symbols ago.
type viterbi struct {
	sm *subsetMap
	// Per-symbol subset distances, kept so the receiver can reuse them for
	// its quick decision.
	dist   [8]float32
	best   [8]uint8
	metric [8]float32
	// path[s] is the survivor into state s as its last depth labels, a
	// byte each, oldest in the top byte of path[s][0] (register exchange:
	// each step copies the survivors it extends, so the decision needs no
	// trace back through a ring).
	path   [8][2]uint64
	filled int
}

// branch is one trellis branch into a state: the state it leaves and
// the subset (Y2 Y1 Y0) of the label it carries.
type branch struct{ s, sub uint8 }

// predecessors[ns] lists the four branches into state ns, by old state
// and then input.
var predecessors = func() (p [8][4]branch) {
	var n [8]int
	for s := uint8(0); s < 8; s++ {
		for y := uint8(0); y < 4; y++ {
			ns := trellis[s][y]
			p[ns][n[ns]] = branch{s, y<<1 | (ns>>2)&1}
			n[ns]++
		}
	}
	return p
}()

func newViterbi(sm *subsetMap) *viterbi {
	v := &viterbi{sm: sm}
	v.reset()
	return v
}

// reset starts from encoder state 0, which both ends hold at the start of
// segment 4.
func (v *viterbi) reset() {
	for i := range v.metric {
		v.metric[i] = 1e9
	}
	v.metric[0] = 0
	v.path = [8][2]uint64{}
	v.filled = 0
}

// nearestLabel is the label of the point closest to the last pushed one.
func (v *viterbi) nearestLabel() uint8 {
	_, s := argmin8(&v.dist)
	return v.best[s]
}

// argmin8 is the smallest of eight values and the first index holding it,
// spelled out as two rounds of pairs: a loop over the array costs several
// times as much.
func argmin8(a *[8]float32) (float32, int) {
	// Within each pair, and between pairs, the earlier wins a tie.
	m01, i01 := a[0], 0
	if a[1] < m01 {
		m01, i01 = a[1], 1
	}
	m23, i23 := a[2], 2
	if a[3] < m23 {
		m23, i23 = a[3], 3
	}
	m45, i45 := a[4], 4
	if a[5] < m45 {
		m45, i45 = a[5], 5
	}
	m67, i67 := a[6], 6
	if a[7] < m67 {
		m67, i67 = a[7], 7
	}
	if m23 < m01 {
		m01, i01 = m23, i23
	}
	if m67 < m45 {
		m45, i45 = m67, i67
	}
	if m45 < m01 {
		return m45, i45
	}
	return m01, i01
}

// pick4 is the smallest of four branch metrics and its index, or -1 if
// none is below MaxFloat32; only a strictly better one replaces the best
// so far, so ties go to the earliest.
func pick4(c0, c1, c2, c3 float32) (float32, int8) {
	m, k := float32(math.MaxFloat32), int8(-1)
	if c0 < m {
		m, k = c0, 0
	}
	if c1 < m {
		m, k = c1, 1
	}
	if c2 < m {
		m, k = c2, 2
	}
	if c3 < m {
		m, k = c3, 3
	}
	return m, k
}

// push adds a received point; when ok, label is the decision for the
// symbol depth-1 symbols back.
func (v *viterbi) push(z complex64) (label uint8, ok bool) {
	v.sm.nearest(z, &v.dist, &v.best)
	dist, best := &v.dist, &v.best
	var next [8]float32
	// Each new state has four branches into it; they are tried in the
	// order a loop over (old state, input) would meet them, and only a
	// strictly better one replaces the best so far, so ties resolve the
	// same way. The trellis is fixed, so the branches are spelled out with
	// constant indices (the table is predecessors;
	// TestViterbiMatchesReference checks the two agree): no table loads
	// and no bounds checks.
	met := &v.metric
	var k [8]int8
	next[0], k[0] = pick4(met[0]+dist[0], met[2]+dist[6], met[4]+dist[2], met[6]+dist[4])
	next[1], k[1] = pick4(met[0]+dist[6], met[2]+dist[0], met[4]+dist[4], met[6]+dist[2])
	next[2], k[2] = pick4(met[0]+dist[2], met[2]+dist[4], met[4]+dist[0], met[6]+dist[6])
	next[3], k[3] = pick4(met[0]+dist[4], met[2]+dist[2], met[4]+dist[6], met[6]+dist[0])
	next[4], k[4] = pick4(met[1]+dist[1], met[3]+dist[3], met[5]+dist[7], met[7]+dist[5])
	next[5], k[5] = pick4(met[1]+dist[5], met[3]+dist[7], met[5]+dist[3], met[7]+dist[1])
	next[6], k[6] = pick4(met[1]+dist[7], met[3]+dist[5], met[5]+dist[1], met[7]+dist[3])
	next[7], k[7] = pick4(met[1]+dist[3], met[3]+dist[1], met[5]+dist[5], met[7]+dist[7])
	var path [8][2]uint64
	for ns, kk := range k {
		// A state no branch reached (only NaN metrics do that) keeps its
		// own survivor.
		from, l := uint8(ns), uint8(0)
		if kk >= 0 {
			b := predecessors[ns][kk&3]
			from, l = b.s, best[b.sub&7]
		}
		o := &v.path[from&7]
		path[ns] = [2]uint64{o[0]<<8 | o[1]>>56, o[1]<<8 | uint64(l)}
	}
	v.path = path
	// Keep the metrics small: only their differences matter.
	lo, bs := argmin8(&next)
	for i := range 8 {
		met[i] = next[i] - lo
	}
	if v.filled < depth {
		v.filled++
		if v.filled < depth {
			return 0, false
		}
	}
	// The best state's survivor, depth-1 symbols back.
	return uint8(v.path[bs][0] >> 56), true
}
