package v17

import "math"

// depth is how many symbols the Viterbi decoder looks back before it
// commits to a point: about five times the code's constraint length.
const depth = 16 // a power of two: push wraps its ring with a mask

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
	p := v.pos
	prev, lab := &v.prev[p], &v.label[p]
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
	for ns, kk := range k {
		if kk >= 0 {
			b := predecessors[ns][kk&3]
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
	// depth is a power of two, so the ring index wraps with a mask.
	st := uint8(bs)
	j := p
	for k := 0; k < depth-1; k++ {
		st = v.prev[j&(depth-1)][st&7]
		j--
	}
	return v.label[j&(depth-1)][st&7], true
}
