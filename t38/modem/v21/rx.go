package v21

import (
	"fmt"
	"math"
	"slices"
)

// EventKind tells what a receiver Event reports.
type EventKind uint8

const (
	EventCarrierUp   EventKind = iota + 1 // a V.21 signal began
	EventCarrierDown                      // it ended; no bits follow until the next EventCarrierUp
	EventBit                              // one received bit in Bit
)

func (k EventKind) String() string {
	switch k {
	case EventCarrierUp:
		return "carrier-up"
	case EventCarrierDown:
		return "carrier-down"
	case EventBit:
		return "bit"
	}
	return "event?"
}

// Event is one receiver output.
type Event struct {
	Kind EventKind
	Bit  uint8
}

// RxConfig sets up a receiver. The zero value is channel 2 with the default
// thresholds.
type RxConfig struct {
	Channel  Channel // 0 means Channel2
	OnLevel  float64 // dBm0; 0 means DefaultOnLevel
	OffLevel float64 // dBm0; 0 means DefaultOffLevel
}

// Receiver timing constants.
const (
	// window is the correlation span: one bit (26 2/3 samples) rounded,
	// the matched filter for a non-coherent FSK symbol.
	window = 27
	// carrierHold is how many samples the power (averaged over the
	// window) has to stay past a threshold before the carrier is declared
	// on or off: more than the window, so that a click, which lifts the
	// average for exactly one window, neither starts nor ends a carrier.
	carrierHold = 40
	// Timing recovery gains: fast while acquiring, then slow so that noise
	// on a transition moves the bit clock little.
	acquireGain  = 0.5
	trackGain    = 0.0625
	acquireEdges = 8
	// Once locked, a sign change far from where a boundary is due is more
	// likely noise than a boundary: its pull is limited to this much.
	trackClip       = 0.2
	recomputeWindow = 4096 // samples between exact re-sums of the sliding correlators
)

// quad holds one value for each of the four correlations, space then
// mark, in-phase then quadrature.
type quad [4]float64

// newReference tabulates cos and sin of both tones over a period of whole
// samples common to both: SampleRate/gcd(space, mark, SampleRate).
func newReference(space, mark float64) []quad {
	fs, fm := int(math.Round(space)), int(math.Round(mark))
	n := SampleRate / gcd(gcd(fs, fm), SampleRate)
	ref := make([]quad, n)
	for i := range ref {
		ss, sc := math.Sincos(2 * math.Pi * float64(fs) * float64(i) / SampleRate)
		ms, mc := math.Sincos(2 * math.Pi * float64(fm) * float64(i) / SampleRate)
		ref[i] = quad{sc, ss, mc, ms}
	}
	return ref
}

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// Rx is a V.21 receiver: carrier detection on the signal power, two
// sliding quadrature correlators (mark and space) one bit long, and a
// digital phase-locked bit clock that samples the mark-minus-space decision
// in the middle of each bit.
type Rx struct {
	// Two sliding quadrature correlators (space and mark) one bit long:
	// ref is one period of the references, idx the place in it, prod the
	// products in the window and sum their sums.
	ref  []quad
	idx  int
	prod [window]quad
	sum  quad
	pos  int // ring position in the correlator windows
	n    int // samples since the last exact re-sum

	onMS, offMS float64         // thresholds as mean squares
	diffGain    float64         // undoes the first difference's gain at the channel centre
	xs          [window]float64 // the samples in the window, for rebuilding the correlators
	pw          [window]float64 // squared samples in the window
	pwSum       float64
	power       float64 // mean square over the window
	lastX       float64
	carrier     bool
	hold        int // samples past the threshold so far
	// onSum is a sliding power sum below which the power is surely under
	// the on threshold; skipped counts the samples since the correlators
	// last stepped their references (the cheap path without a carrier
	// steps them in one go).
	onSum   float64
	skipped int

	phase float64 // bit clock, in bits; a bit is sampled when it passes 1
	edges int     // transitions seen since carrier up
	// The previous decision value is lastNum/lastDen, kept as its two
	// terms: its sign is lastNum's, and the division is needed only at a
	// sign change.
	lastNum, lastDen float64
	// Scratch for withCarrier's two passes: each sample's decision terms.
	num, den [256]float64
}

// NewRx returns a receiver.
func NewRx(cfg RxConfig) (*Rx, error) {
	if cfg.Channel == 0 {
		cfg.Channel = Channel2
	}
	mark, space, err := cfg.Channel.Frequencies()
	if err != nil {
		return nil, err
	}
	if cfg.OnLevel == 0 {
		cfg.OnLevel = DefaultOnLevel
	}
	if cfg.OffLevel == 0 {
		cfg.OffLevel = DefaultOffLevel
	}
	if math.IsNaN(cfg.OnLevel) || math.IsNaN(cfg.OffLevel) || cfg.OffLevel > cfg.OnLevel || cfg.OnLevel > 0 {
		return nil, fmt.Errorf("v21: carrier thresholds on %g dBm0, off %g dBm0: need off <= on <= 0", cfg.OnLevel, cfg.OffLevel)
	}
	onMS := meanSquare(cfg.OnLevel)
	return &Rx{
		ref:  newReference(space, mark),
		onMS: onMS,
		// Below this the sum divided by window rounds to at most onMS.
		onSum: onMS * window * (1 - 1e-9),
		offMS: meanSquare(cfg.OffLevel),
		// |1 - e^-jw|^2 = 2 - 2cos w at the centre of the channel, so that
		// the power reads true for its tones.
		diffGain: 1 / (2 - 2*math.Cos(2*math.Pi*(mark+space)/2/SampleRate)),
	}, nil
}

// Reset returns the receiver to its state when new: no carrier, empty
// windows, for a caller that stopped feeding it for a while.
func (r *Rx) Reset() {
	*r = Rx{ref: r.ref, onMS: r.onMS, onSum: r.onSum, offMS: r.offMS, diffGain: r.diffGain}
}

// Carrier reports whether the receiver sees a carrier.
func (r *Rx) Carrier() bool { return r.carrier }

// Power is the received signal level in dBm0, averaged over one bit.
func (r *Rx) Power() float64 { return PowerDBm0(r.power) }

// Process demodulates samples and appends what it found to out: carrier
// events, and one EventBit per bit while the carrier is up. It returns the
// extended slice. A call appends at most one event per sample.
func (r *Rx) Process(samples []int16, out []Event) []Event {
	if !r.carrier && r.quiet(samples) {
		return out
	}
	for i := 0; i < len(samples); {
		if r.carrier {
			var k int
			k, out = r.withCarrier(samples[i:], out)
			i += k
			continue
		}
		x := float64(samples[i])
		i++
		// Without a carrier only the power matters, and while it stays
		// surely below the on threshold nothing can happen: keep the
		// windows, skip the rest. The correlators feed only the bit
		// clock, which runs only while the carrier is up: carrier up
		// moves their reference on and rebuilds the window from the
		// stored samples.
		r.xs[r.pos] = x
		r.skipped++
		if r.n++; r.n == recomputeWindow {
			r.n = 0
			r.resum()
		}
		// The power is measured on the first difference, which takes out
		// any DC offset; diffGain corrects its slope at the channel centre.
		d := x - r.lastX
		r.lastX = x
		e := d * d * r.diffGain
		r.pwSum += e - r.pw[r.pos]
		r.pw[r.pos] = e
		if r.pos++; r.pos == window {
			r.pos = 0
		}
		if r.pwSum <= r.onSum {
			r.hold = 0
			continue
		}
		r.setPower()
		if ev, ok := r.detect(); ok {
			out = append(out, ev)
		}
	}
	r.setPower()
	return out
}

// withCarrier demodulates samples while the carrier is up and returns how
// many it took: up to a scratch block's worth, or up to the one that ended
// the carrier. It runs in two passes, each with few enough values to stay
// in registers: correlate (the correlators, the power, the carrier's end)
// leaves each sample's decision terms in num and den, then clock (the bit
// clock) reads them.
func (r *Rx) withCarrier(samples []int16, out []Event) (int, []Event) {
	used, down := r.correlate(samples[:min(len(samples), len(r.num))])
	if down {
		// The sample that ended the carrier gets no decision.
		out = r.clock(used-1, out)
		r.carrier = false
		return used, append(out, Event{Kind: EventCarrierDown})
	}
	return used, r.clock(used, out)
}

// correlate is withCarrier's first pass: it returns how many samples it
// took, and whether the last of them ended the carrier.
func (r *Rx) correlate(samples []int16) (used int, down bool) {
	ref, idx := r.ref, r.idx
	s0, s1, s2, s3 := r.sum[0], r.sum[1], r.sum[2], r.sum[3]
	pos, n, lastX, pwSum, hold := r.pos, r.n, r.lastX, r.pwSum, r.hold
	g := r.diffGain
	// The mean square is below the off level when the window's sum is
	// below window times it: no division per sample.
	offSum := r.offMS * window
	num, den := r.num[:len(samples)], r.den[:len(samples)]
	used = len(samples)
	for i, smp := range samples {
		x := float64(smp)
		r.xs[pos] = x
		c := &ref[idx]
		if idx++; idx == len(ref) {
			idx = 0
		}
		p := &r.prod[pos]
		v0, v1, v2, v3 := x*c[0], x*c[1], x*c[2], x*c[3]
		s0 += v0 - p[0]
		s1 += v1 - p[1]
		s2 += v2 - p[2]
		s3 += v3 - p[3]
		*p = quad{v0, v1, v2, v3}
		if n++; n == recomputeWindow {
			n = 0
			r.pwSum = pwSum
			r.resum()
			s0, s1, s2, s3, pwSum = r.sum[0], r.sum[1], r.sum[2], r.sum[3], r.pwSum
		}
		d := x - lastX
		lastX = x
		e := d * d * g
		pwSum += e - r.pw[pos]
		r.pw[pos] = e
		if pos++; pos == window {
			pos = 0
		}
		// Carrier off: below the off level for carrierHold samples.
		if pwSum < offSum {
			if hold++; hold >= carrierHold {
				hold = 0
				used, down = i+1, true
				break
			}
		} else {
			hold = 0
		}
		// The decision, in [-1, 1], is num/den: positive for mark and
		// independent of level; den is 0 only when num is.
		es := s0*s0 + s1*s1
		em := s2*s2 + s3*s3
		num[i], den[i] = em-es, em+es
	}
	r.idx = idx
	r.sum = quad{s0, s1, s2, s3}
	r.pos, r.n, r.lastX, r.pwSum, r.hold = pos, n, lastX, pwSum, hold
	r.setPower()
	return used, down
}

// clock is withCarrier's second pass: the bit clock over the decisions of
// the first n samples correlate took. A sign change of the decision marks
// a bit boundary (delayed by half the window, like every decision); the
// clock is pulled towards having that boundary half a bit away from its
// sampling instant, where it takes the bit.
func (r *Rx) clock(n int, out []Event) []Event {
	phase, edges, lastNum, lastDen := r.phase, r.edges, r.lastNum, r.lastDen
	// Room for every bit first (at most one per sample, and the carrier's
	// end after them): with no call left in the loop, its state stays in
	// registers.
	out = slices.Grow(out, n+1)
	ne := len(out)
	evs := out[:cap(out)]
	num, den := r.num[:n], r.den[:n]
	for i, nm := range num {
		dn := den[i]
		if (nm > 0) != (lastNum > 0) && lastNum != 0 {
			var dec float64
			if dn != 0 {
				dec = nm / dn
			}
			lastDec := lastNum / lastDen
			frac := lastDec / (lastDec - dec)
			at := phase + frac*BitRate/SampleRate
			e := at - 0.5
			if edges == 0 {
				phase -= e
			} else if edges < acquireEdges {
				phase -= e * acquireGain
			} else {
				phase -= max(-trackClip, min(trackClip, e)) * trackGain
			}
			edges++
		}
		lastNum, lastDen = nm, dn
		phase += float64(BitRate) / SampleRate
		if phase >= 1 {
			phase--
			evs[ne] = Event{Kind: EventBit, Bit: b2u(nm > 0)}
			ne++
		}
	}
	r.phase, r.edges, r.lastNum, r.lastDen = phase, edges, lastNum, lastDen
	return evs[:ne]
}

func b2u(b bool) uint8 {
	if b {
		return 1
	}
	return 0
}

// quiet handles a block without a carrier whose power surely stays below
// the on threshold throughout, and reports true: it keeps only the last
// window of samples and powers. Otherwise it changes nothing and reports
// false. Any window lies within two consecutive chunks of window samples
// (the first chunk's predecessor being the current window), so no window
// sum exceeds the largest sum of two neighbouring chunks.
func (r *Rx) quiet(samples []int16) bool {
	n := len(samples)
	if n < window {
		return false
	}
	// The chunks' squared differences are summed exactly in integers.
	g, prev := r.diffGain, r.pwSum
	last := int64(r.lastX)
	for start := 0; start < n; start += window {
		var cur int64
		for _, s := range samples[start:min(start+window, n)] {
			d := int64(s) - last
			last = int64(s)
			cur += d * d
		}
		c := float64(cur) * g
		if prev+c > r.onSum {
			return false
		}
		prev = c
	}
	r.pwSum = 0
	for i := n - window; i < n; i++ {
		x, prev := float64(samples[i]), float64(samples[max(i-1, 0)])
		if i == 0 {
			prev = r.lastX
		}
		d := x - prev
		e := d * d * g
		j := (r.pos + i) % window
		r.xs[j], r.pw[j] = x, e
		r.pwSum += e
	}
	r.pos = (r.pos + n) % window
	r.lastX = float64(samples[n-1])
	r.skipped += n
	r.n = 0 // the power sum was just re-added
	r.hold = 0
	r.setPower()
	return true
}

// setPower takes the mean square from the sliding sum.
func (r *Rx) setPower() {
	// Rounding can leave the sliding sum a hair below zero.
	if r.power = r.pwSum / window; r.power < 0 {
		r.power = 0
	}
}

// step moves the correlators' references on by the samples that went by
// without a carrier.
func (r *Rx) step() {
	r.idx = (r.idx + r.skipped) % len(r.ref)
	r.skipped = 0
}

// resum re-adds the sliding sums, which drift by rounding.
func (r *Rx) resum() {
	r.sum = quad{}
	for j := range window {
		for k := range r.sum {
			r.sum[k] += r.prod[j][k]
		}
	}
	r.pwSum = 0
	for _, e := range r.pw {
		r.pwSum += e
	}
}

// rebuild recomputes the correlator products for the samples in the
// window, called when the carrier comes up (the newest sample is at
// pos-1, and idx is one past that sample's).
func (r *Rx) rebuild() {
	n := len(r.ref)
	for age := range window {
		j := r.pos - 1 - age
		if j < 0 {
			j += window
		}
		t := (r.idx - 1 - age) % n
		if t < 0 {
			t += n
		}
		for k := range r.prod[j] {
			r.prod[j][k] = r.xs[j] * r.ref[t][k]
		}
	}
	r.sum = quad{}
	for j := range window {
		for k := range r.sum {
			r.sum[k] += r.prod[j][k]
		}
	}
}

// detect runs carrier detection with hysteresis and a hold time.
func (r *Rx) detect() (Event, bool) {
	past := r.power > r.onMS
	if r.carrier {
		past = r.power < r.offMS
	}
	if !past {
		r.hold = 0
		return Event{}, false
	}
	if r.hold++; r.hold < carrierHold {
		return Event{}, false
	}
	r.hold = 0
	r.carrier = !r.carrier
	if r.carrier {
		r.phase, r.edges, r.lastNum, r.lastDen = 0, 0, 0, 0
		r.step()
		r.rebuild()
		return Event{Kind: EventCarrierUp}, true
	}
	return Event{Kind: EventCarrierDown}, true
}
