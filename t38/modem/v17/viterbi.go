package v17

import "math"

// depth is how many symbols the Viterbi decoder looks back before it
// commits to a point: about five times the code's constraint length.
const depth = 16

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
	prev   [depth][8]uint8 // survivor: previous state
	label  [depth][8]uint8 // survivor: label sent on that branch
	pos    int
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
	v.pos, v.filled = 0, 0
}

// nearestLabel is the label of the point closest to the last pushed one.
func (v *viterbi) nearestLabel() uint8 {
	bs := 0
	for s := 1; s < 8; s++ {
		if v.dist[s] < v.dist[bs] {
			bs = s
		}
	}
	return v.best[bs]
}

// push adds a received point; when ok, label is the decision for the
// symbol depth-1 symbols back.
func (v *viterbi) push(z complex64) (label uint8, ok bool) {
	v.sm.nearest(z, &v.dist, &v.best)
	dist, best := &v.dist, &v.best
	var next [8]float32
	p := v.pos
	prev, lab := &v.prev[p], &v.label[p]
	// Each new state has four branches into it; they are tried in the
	// order a loop over (old state, input) would meet them, and only a
	// strictly better one replaces the best so far, so ties resolve the
	// same way.
	met := &v.metric
	for ns := range next {
		pr := &predecessors[ns]
		m := float32(math.MaxFloat32)
		k := -1
		// Unrolled: the four branches in order.
		if c := met[pr[0].s&7] + dist[pr[0].sub&7]; c < m {
			m, k = c, 0
		}
		if c := met[pr[1].s&7] + dist[pr[1].sub&7]; c < m {
			m, k = c, 1
		}
		if c := met[pr[2].s&7] + dist[pr[2].sub&7]; c < m {
			m, k = c, 2
		}
		if c := met[pr[3].s&7] + dist[pr[3].sub&7]; c < m {
			m, k = c, 3
		}
		next[ns] = m
		if k >= 0 {
			b := pr[k&3]
			prev[ns], lab[ns] = b.s, best[b.sub&7]
		}
	}
	// Keep the metrics small: only their differences matter.
	lo := next[0]
	bs := 0
	for i, m := range next {
		if m < lo {
			lo, bs = m, i
		}
	}
	for i := range next {
		v.metric[i] = next[i] - lo
	}
	if v.pos++; v.pos == depth {
		v.pos = 0
	}
	if v.filled < depth {
		v.filled++
		if v.filled < depth {
			return 0, false
		}
	}
	// Trace back from the best state to the oldest stored step.
	st := uint8(bs)
	j := p
	for k := 0; k < depth-1; k++ {
		st = v.prev[j][st&7]
		if j--; j < 0 {
			j = depth - 1
		}
	}
	return v.label[j][st&7], true
}
