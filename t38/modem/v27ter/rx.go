package v27ter

import (
	"fmt"
	"math"
	"math/cmplx"
)

// EventKind tells what a receiver Event reports.
type EventKind uint8

const (
	EventCarrierUp      EventKind = iota + 1 // signal power rose above the on level
	EventTrained                             // the training sequence was recognised; bits follow
	EventTrainingFailed                      // the signal is not a V.27 ter training at this rate
	EventBit                                 // one received (descrambled) bit in Bit
	EventCarrierDown                         // the signal ended
)

func (k EventKind) String() string {
	switch k {
	case EventCarrierUp:
		return "carrier-up"
	case EventTrained:
		return "trained"
	case EventTrainingFailed:
		return "training-failed"
	case EventBit:
		return "bit"
	case EventCarrierDown:
		return "carrier-down"
	}
	return "event?"
}

// Event is one receiver output.
type Event struct {
	Kind EventKind
	Bit  uint8
}

// RxConfig sets up a receiver.
type RxConfig struct {
	Rate     Rate
	OnLevel  float64 // dBm0; 0 means -43
	OffLevel float64 // dBm0; 0 means -48
}

// Receiver constants.
const (
	powerWindow = 40 // samples the carrier power is averaged over
	carrierHold = 40 // samples past a threshold before the carrier changes
	eqTaps      = 15 // T/2-spaced equaliser taps
	eqCentre    = eqTaps / 2
	// Seen reversals: this many 180° steps in a row, then a 0° step, mark
	// the start of segment 4.
	minReversals = 10
	// A training whose segment 4 disagrees with the known pattern in more
	// than this share of symbols has failed.
	maxTrainErrors = 0.1
)

type rxState uint8

const (
	stIdle      rxState = iota // no carrier
	stReversals                // waiting for the reversals and the hop into segment 4
	stTrain                    // segment 4: known symbols train the equaliser
	stData                     // segment 5 and data
	stFailed                   // training failed: nothing until the carrier drops
)

// Rx is a V.27 ter receiver: power carrier detection, complex down-
// conversion and root-raised-cosine matched filter, Gardner timing
// recovery on T/2 samples, a T/2-spaced LMS equaliser trained on segment 4
// of the training sequence, a decision-directed carrier loop, and
// differential decoding and descrambling.
type Rx struct {
	rate    Rate
	steps   []int
	inverse [8]int // phase step -> bit group, -1 where unused
	points  int    // constellation states: 8 at 4800, 4 at 2400

	onMS, offMS float64
	pw          [powerWindow]float64
	pwSum       float64
	pwPos       int
	power       float64
	carrier     bool
	hold        int

	st    rxState
	n     int64 // samples since carrier up
	nco   float64
	mf    []float64 // matched filter taps
	mfBuf []complex128
	mfPos int
	scale float64

	halfT  float64 // samples per T/2
	tNext  float64 // sample time of the next T/2 point
	prevMF complex128
	half   bool // the next T/2 point is a mid-symbol one
	mid    complex128
	lastOn complex128

	eq    [eqTaps]complex128
	eqBuf [eqTaps]complex128 // newest first
	mu    float64

	phase, freq float64 // carrier loop, radians per symbol
	state       int     // last decided constellation state
	reversals   int
	train       int // segment 4 symbols seen
	trainErrs   int
	trainScr    scrambler // reproduces segment 4
	descr       scrambler
}

// NewRx returns a receiver for one rate.
func NewRx(cfg RxConfig) (*Rx, error) {
	if err := cfg.Rate.check(); err != nil {
		return nil, err
	}
	if cfg.OnLevel == 0 {
		cfg.OnLevel = -43
	}
	if cfg.OffLevel == 0 {
		cfg.OffLevel = -48
	}
	if math.IsNaN(cfg.OnLevel) || math.IsNaN(cfg.OffLevel) || cfg.OffLevel > cfg.OnLevel || cfg.OnLevel > 0 {
		return nil, fmt.Errorf("v27ter: carrier thresholds on %g dBm0, off %g dBm0: need off <= on <= 0", cfg.OnLevel, cfg.OffLevel)
	}
	r := &Rx{rate: cfg.Rate, steps: cfg.Rate.steps(), onMS: meanSquare(cfg.OnLevel), offMS: meanSquare(cfg.OffLevel)}
	for i := range r.inverse {
		r.inverse[i] = -1
	}
	for bits, step := range r.steps {
		r.inverse[step] = bits
	}
	r.points = 4
	if cfg.Rate == Rate4800 {
		r.points = 8
	}
	sps := float64(SampleRate) / float64(cfg.Rate.baud())
	r.halfT = sps / 2
	n := int(math.Ceil(sps*span/2))*2 + 1
	r.mf = make([]float64, n)
	for i := range r.mf {
		r.mf[i] = rrcPulse(float64(i-n/2)/sps) / sps
	}
	r.mfBuf = make([]complex128, n)
	return r, nil
}

// Process demodulates samples and appends what it found to out.
func (r *Rx) Process(samples []int16, out []Event) []Event {
	for _, s := range samples {
		x := float64(s)
		e := x * x
		r.pwSum += e - r.pw[r.pwPos]
		r.pw[r.pwPos] = e
		if r.pwPos++; r.pwPos == powerWindow {
			r.pwPos = 0
			// Re-add now and then against rounding drift.
			r.pwSum = 0
			for _, v := range r.pw {
				r.pwSum += v
			}
		}
		r.power = max(0, r.pwSum/powerWindow)
		if ev, ok := r.detect(); ok {
			out = append(out, ev)
		}
		if r.carrier && r.st != stFailed {
			if r.st == stReversals {
				// Until the reversals are found the level may still be
				// rising out of noise: keep the gain in step with it.
				r.scale = math.Sqrt(2 / max(r.power, 1))
			}
			out = r.sample(x, out)
		}
	}
	return out
}

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
	if !r.carrier {
		r.st = stIdle
		return Event{Kind: EventCarrierDown}, true
	}
	r.start()
	return Event{Kind: EventCarrierUp}, true
}

// start resets the demodulator for a new signal.
func (r *Rx) start() {
	r.st = stReversals
	r.n = 0
	r.nco = 0
	clear(r.mfBuf)
	r.mfPos = 0
	// The matched filter gives half the transmitted symbol amplitude; the
	// power says what that amplitude is.
	r.scale = math.Sqrt(2 / max(r.power, 1))
	r.tNext = r.halfT
	r.prevMF, r.mid, r.lastOn = 0, 0, 0
	r.half = false
	clear(r.eq[:])
	r.eq[eqCentre] = 1
	clear(r.eqBuf[:])
	r.mu = 0.02
	r.phase, r.freq = 0, 0
	r.state, r.reversals, r.train, r.trainErrs = 0, 0, 0, 0
	r.trainScr = scrambler{reg: trainingScramblerState}
}

// sample runs one input sample through down-conversion, the matched
// filter and the T/2 interpolator.
func (r *Rx) sample(x float64, out []Event) []Event {
	s, c := math.Sincos(2 * math.Pi * r.nco)
	r.nco += CarrierFreq / SampleRate
	r.nco -= math.Floor(r.nco)
	r.mfBuf[r.mfPos] = complex(x*c*r.scale, -x*s*r.scale)
	r.mfPos++
	if r.mfPos == len(r.mfBuf) {
		r.mfPos = 0
	}
	var y complex128
	j := r.mfPos // oldest
	for _, h := range r.mf {
		y += r.mfBuf[j] * complex(h, 0)
		if j++; j == len(r.mfBuf) {
			j = 0
		}
	}
	// The T/2 points that fall between the previous sample and this one.
	now := float64(r.n)
	for r.tNext <= now {
		f := r.tNext - (now - 1)
		p := r.prevMF + (y-r.prevMF)*complex(f, 0)
		out = r.halfPoint(p, out)
		r.tNext += r.halfT
	}
	r.prevMF = y
	r.n++
	return out
}

// halfPoint takes one T/2 sample; every second one ends a symbol.
func (r *Rx) halfPoint(p complex128, out []Event) []Event {
	copy(r.eqBuf[1:], r.eqBuf[:eqTaps-1])
	r.eqBuf[0] = p
	if r.half {
		r.half = false
		r.mid = p
		return out
	}
	r.half = true
	// Gardner: the mid-point between two symbols is zero when the
	// sampling is right; its sign against the symbol difference says
	// early or late.
	g := real((r.lastOn - p) * cmplx.Conj(r.mid))
	r.lastOn = p
	gain := 0.05
	if r.st != stReversals {
		gain = 0.01
	}
	r.tNext -= max(-0.5, min(0.5, gain*g))
	return r.symbol(out)
}

// symbol equalises, decides and decodes one symbol.
func (r *Rx) symbol(out []Event) []Event {
	var z complex128
	for i, w := range r.eq {
		z += w * r.eqBuf[i]
	}
	rot := cmplx.Rect(1, -r.phase)
	y := z * rot

	// The decision: a known symbol while training, else the nearest
	// constellation point.
	var state int
	switch r.st {
	case stTrain:
		b := r.trainScr.scramble(1)
		r.trainScr.scramble(1)
		r.trainScr.scramble(1)
		state = (r.state + 4*int(b)) & 7
		if sliced := r.slice(y); sliced != state {
			r.trainErrs++
		}
	default:
		state = r.slice(y)
	}
	d := cmplx.Rect(1, float64(state)*math.Pi/4)

	// Carrier loop and equaliser update.
	perr := cmplx.Phase(y * cmplx.Conj(d))
	r.phase += 0.1*perr + r.freq
	r.freq += 0.005 * perr
	r.phase = math.Remainder(r.phase, 2*math.Pi)
	// Reversals alone would let the equaliser drift (they have no energy
	// but at one frequency): it adapts from segment 4 on.
	if r.st != stReversals {
		e := (d - y) * cmplx.Conj(rot)
		for i := range r.eq {
			r.eq[i] += complex(r.mu, 0) * e * cmplx.Conj(r.eqBuf[i])
		}
	}

	step := (state - r.state) & 7
	r.state = state
	switch r.st {
	case stReversals:
		// Unequalised, the steps are only roughly 180° and 0°.
		switch {
		case step >= 3 && step <= 5:
			r.reversals++
		case (step <= 1 || step == 7) && r.reversals >= minReversals:
			// The hop: the first symbol of segment 4, which the
			// scrambler makes a 0° step.
			b := r.trainScr.scramble(1)
			r.trainScr.scramble(1)
			r.trainScr.scramble(1)
			if b != 0 {
				r.trainErrs++
			}
			r.st, r.train = stTrain, 1
		default:
			r.reversals = 0
		}
	case stTrain:
		if r.train++; r.train == segScramble {
			if float64(r.trainErrs) > maxTrainErrors*segScramble {
				r.st = stFailed
				return append(out, Event{Kind: EventTrainingFailed})
			}
			r.st = stData
			r.mu = 0.005
			r.descr = r.trainScr
			return append(out, Event{Kind: EventTrained})
		}
	case stData:
		bits := r.inverse[step]
		if bits < 0 {
			bits = 0 // a 45° step at 2400 cannot be sent; the slicer never gives one
		}
		n := r.rate.bitsPerSymbol()
		for i := n - 1; i >= 0; i-- {
			out = append(out, Event{Kind: EventBit, Bit: r.descr.descramble(uint8(bits>>i) & 1)})
		}
	}
	return out
}

// slice returns the constellation state nearest y.
func (r *Rx) slice(y complex128) int {
	a := cmplx.Phase(y) / (math.Pi / 4) // in 45° units
	if r.points == 4 {
		return (int(math.Round(a/2)) * 2) & 7
	}
	return int(math.Round(a)) & 7
}
