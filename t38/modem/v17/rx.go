package v17

import (
	"fmt"
	"math"

	"github.com/faxd/faxd/t38/modem/dsp"
)

type rxState uint8

const (
	stIdle    rxState = iota // no carrier
	stAcquire                // settling level and symbol timing on the alternations
	stTrackAB                // phase known: following A/B until segment 2 starts
	stTrainCD                // training the equaliser on segment 2
	stBridge                 // segment 3
	stOnes                   // segment 4: trellis decoding, bits not yet delivered
	stData                   // delivering bits
	stParked                 // training failed: wait for the carrier to drop (or jump 6 dB)
)

const (
	// rxSpan is the matched filter's span, symbols each side of its
	// centre: the root raised cosine has fallen far below the noise the
	// receiver works at beyond four symbols, and each output costs 2
	// taps per 3/10 symbol of span.
	rxSpan       = 4
	eqTaps       = 32
	timingLockAt = 48
	phaseWindow  = 16
	// alternation is how strongly a window must turn back and forth (as a
	// share of the most A/B can: a quarter turn) to be the alternating
	// segment.
	alternation = 0.6
	// maxAcquire bounds the search for the alternations: talker echo
	// protection (200 ms) and its silence, the alternations, and some.
	maxAcquire    = 1000
	maxTrackAB    = 300
	onOffHystDB   = 5
	carrierOffLen = 96
	// trainMaxErr is the worst equaliser error power accepted at the end of
	// training, as a fraction of the squared half-distance between the
	// closest points: lenient, since T.30's TCF check judges the line.
	trainMaxErr = 0.6
	// A short training judges 24 symbols on an equaliser it did not have
	// to learn: its figure is noisier, so it gets more room.
	trainMaxErrShort = 1.2
	meterSamples     = 40
	qualityAlpha     = 0.02
	longCheck        = 8 // symbols that tell a long training from a short one
)

// Rx is a V.17 receiver. Feed audio with Write; take bits with ReadBits
// and reports with PollEvent. Bits are delivered only between
// TrainingDone and CarrierDown.
type Rx struct {
	rate   int
	points []complex64
	fe     *dsp.FrontEnd
	gen    dsp.Scrambler // predicts segments 2 and 3
	descr  dsp.Descrambler
	vit    *viterbi

	wantShort   bool // the next burst should carry a short training
	short       bool // this burst does
	trainedOnce bool

	state    rxState
	count    int // symbols in the current state
	acqTotal int // symbols spent looking for the alternations
	bitsOut  int64

	win       [phaseWindow]complex64
	expect    int
	abcd      uint8
	diff      uint8
	longFit   int // symbols after a short training that still look like training
	decoded   int // symbols the trellis decoder has released in segment 4 and after
	mse       float64
	refPow    float64
	halfDist2 float64
	trainSE   float64

	bits   dsp.BitQueue
	events dsp.Queue
}

// NewRx returns a receiver for rate (14400, 12000, 9600 or 7200) that turns
// on at -26 dBm0 and off at -31 dBm0, like V.29. V.17 itself (and
// spandsp) use -43 and -48: over a VoIP path the far signal arrives
// strong, and the higher threshold keeps line noise and the echo of our
// own transmission from counting as a carrier. SetThreshold(-43) gives
// the V.17 figures.
func NewRx(rate int) (*Rx, error) {
	if err := checkRate(rate); err != nil {
		return nil, err
	}
	r := &Rx{
		rate:   rate,
		points: constellation(rate),
		fe: dsp.NewFrontEnd(dsp.FrontEndConfig{CarrierHz: carrierHz, SampleRate: sampleRate, Baud: baud, Alpha: alpha,
			Span: rxSpan, EQTaps: eqTaps, MeterLen: meterSamples, OffLen: carrierOffLen}),
	}
	r.vit = newViterbi(subsetMapFor(rate))
	r.refPow = meanPower(rate)
	r.halfDist2 = float64(dsp.MinDistance2(r.points)) / 4
	r.SetThreshold(-26)
	return r, nil
}

// SetThreshold sets the carrier-on level in dBm0 (-60 to 0); the off
// level is 5 dB lower.
func (r *Rx) SetThreshold(onDBm0 float64) error {
	if !(onDBm0 >= -60 && onDBm0 <= 0) {
		return fmt.Errorf("%s: carrier threshold %g dBm0 is outside -60..0 dBm0", pkgName, onDBm0)
	}
	r.fe.SetThresholds(onDBm0, onDBm0-onOffHystDB)
	return nil
}

// SetShortTraining says whether the next transmission will use the short
// training sequence. It takes effect only once a long training has
// succeeded: the short one keeps the equaliser learned then.
func (r *Rx) SetShortTraining(short bool) { r.wantShort = short }

// ReadBits moves up to len(p) received bits (one per byte) into p.
func (r *Rx) ReadBits(p []byte) int { return r.bits.Read(p) }

// PollEvent returns the oldest unread event.
func (r *Rx) PollEvent() (dsp.Event, bool) { return r.events.Pop() }

// QualityDB is the running equaliser error relative to the constellation
// power, in dB.
func (r *Rx) QualityDB() float64 { return 10 * math.Log10(r.mse/r.refPow+1e-12) }

// CarrierOffsetHz is the carrier frequency error learned by the receiver.
func (r *Rx) CarrierOffsetHz() float64 { return r.fe.PLL.FrequencyHz(baud) }

// Training reports whether the receiver has recognised a V.17 training
// on the line (its alternations, then the rest) and is still training:
// the signal is surely V.17.
func (r *Rx) Training() bool { return r.state >= stTrackAB && r.state <= stOnes }

// Trained reports whether data bits are being delivered.
func (r *Rx) Trained() bool { return r.state == stData }

// Write feeds audio samples.
func (r *Rx) Write(samples []int16) {
	for len(samples) > 0 {
		n, st := r.fe.Run(samples)
		samples = samples[n:]
		if st&dsp.StepCarrierUp != 0 {
			r.events.Push(dsp.Event{Kind: dsp.CarrierUp, Sample: r.fe.Sample})
		}
		if st&(dsp.StepCarrierUp|dsp.StepRetry) != 0 {
			r.restart()
		}
		if st&dsp.StepCarrierDown != 0 {
			r.events.Push(dsp.Event{Kind: dsp.CarrierDown, Sample: r.fe.Sample, Bits: r.bitsOut})
			r.state = stIdle
		}
		if st&dsp.StepSymbol != 0 {
			r.symbol()
		}
	}
}

// restart begins acquisition afresh on the current carrier.
func (r *Rx) restart() {
	r.state = stAcquire
	r.acqTotal = 0
	r.count = 0
	r.bitsOut = 0
	r.short = r.wantShort && r.trainedOnce
	if r.short {
		// Keep what the equaliser learned; clear only its history.
		r.fe.EQ.ClearHistory()
		r.fe.EQ.Mu = 0.02
	} else {
		r.fe.EQ.Reset()
		r.fe.EQ.Mu = 0.2
	}
	r.gen.SetState(scramblerInit)
	r.descr.Reset()
	r.mse = r.refPow
}

func (r *Rx) fail() {
	r.events.Push(dsp.Event{Kind: dsp.TrainingFailed, Sample: r.fe.Sample})
	r.state = stParked
	r.fe.Park()
}

func (r *Rx) symbol() {
	r.count++
	switch r.state {
	case stAcquire:
		r.acquire()
	case stTrackAB:
		r.trackAB()
	case stTrainCD:
		r.trainCD()
	case stBridge:
		r.bridge()
	case stOnes, stData:
		r.data()
	}
}

func (r *Rx) acquire() {
	if r.count <= timingLockAt {
		return
	}
	r.win[r.count-timingLockAt-1] = r.fe.EQ.Output()
	if r.count < timingLockAt+phaseWindow {
		return
	}
	// Is this the alternating segment, and which of its symbols is A?
	g, firstIsA, ok := dsp.FitAlternation(r.win[:], pointA, pointB, alternation)
	if !ok {
		// Not (yet) the alternating segment: talker echo protection (a
		// plain carrier), its silence, or timing still pulling in. Try
		// the next window.
		if r.acqTotal += phaseWindow; r.acqTotal > maxAcquire {
			r.fail()
			return
		}
		r.count = timingLockAt
		return
	}
	// The level is taken from the alternations and then held; the gain
	// and phase correction goes into the equaliser.
	r.fe.AGC.Frozen = true
	r.fe.EQ.Scale(g)
	first := 0
	if !firstIsA {
		first = 1
	}
	r.expect = (phaseWindow + first) & 1
	r.state, r.count = stTrackAB, 0
	r.fe.Sync.Kp, r.fe.Sync.Ki = 0.03, 0.0003
}

// nextTraining returns the next segment 2 point from the predicting
// scrambler.
func (r *Rx) nextTraining() complex64 {
	b := r.gen.Scramble(1)
	b = b<<1 | r.gen.Scramble(1)
	r.abcd = dibitToABCD[b]
	return abcd[r.abcd]
}

func (r *Rx) trackAB() {
	y := r.fe.EQ.Output()
	d := r.fe.PLL.Derotate(y)
	want := pointA
	if r.expect == 1 {
		want = pointB
	}
	r.expect ^= 1
	// Segment 2 starts where the signal leaves the alternation for the
	// first predicted training point.
	probe := r.gen
	b := probe.Scramble(1)
	b = b<<1 | probe.Scramble(1)
	first := abcd[dibitToABCD[b]]
	if first != want && dsp.Abs2(d-first) < dsp.Abs2(d-want) {
		r.state, r.count = stTrainCD, 1
		r.trainSE = 0
		r.adapt(y, d, r.nextTraining())
		return
	}
	r.fe.PLL.Update(d, want)
	if r.count > maxTrackAB {
		r.fail()
	}
}

func (r *Rx) adapt(y, d, want complex64) float32 { return r.fe.Adapt(y, d, want) }

func (r *Rx) trainCD() {
	want := r.nextTraining()
	seg := seg2Len
	judge := 256
	if r.short {
		seg, judge = seg2ShortLen, 24
	} else {
		switch r.count {
		case 128:
			r.fe.EQ.Mu = 0.1
			r.fe.PLL.SetBandwidth(0.01)
		case 512:
			r.fe.EQ.Mu = 0.05
			r.fe.PLL.SetBandwidth(0.005)
		case 1500:
			r.fe.EQ.Mu = 0.02
		}
	}
	y := r.fe.EQ.Output()
	e := r.adapt(y, r.fe.PLL.Derotate(y), want)
	if r.count > seg-judge {
		r.trainSE += float64(e)
	}
	if r.count < seg {
		return
	}
	mse := r.trainSE / float64(judge)
	limit := trainMaxErr
	if r.short {
		limit = trainMaxErrShort
	}
	if mse > limit*r.halfDist2 {
		r.fail()
		return
	}
	r.mse = mse
	if r.short {
		r.startOnes()
		return
	}
	r.state, r.count = stBridge, 0
}

func (r *Rx) bridge() {
	sh := uint((r.count - 1) & 7 * 2)
	b := r.gen.Scramble(uint8(bridgeWord >> sh))
	b = b<<1 | r.gen.Scramble(uint8(bridgeWord>>(sh+1)))
	r.abcd = (r.abcd + bridgeStep[b]) & 3
	y := r.fe.EQ.Output()
	r.adapt(y, r.fe.PLL.Derotate(y), abcd[r.abcd])
	if r.count >= seg3Len {
		r.startOnes()
	}
}

func (r *Rx) startOnes() {
	r.state, r.count = stOnes, 0
	r.longFit = 0
	r.vit.reset()
	r.decoded = 0
	r.diff = 1
	if r.short {
		r.diff = 0
	}
	r.fe.EQ.Mu = 2 * 0.003
	r.fe.PLL.SetBandwidth(0.005)
	// Dense constellations make the timing detector noisy: track gently.
	r.fe.Sync.Kp, r.fe.Sync.Ki = 0.01, 0.0001
}

func (r *Rx) data() {
	y := r.fe.EQ.Output()
	d := r.fe.PLL.Derotate(y)
	label, ok := r.vit.push(d)
	// The nearest point is the quick decision that steers the equaliser
	// and the carrier loop, while the trellis decoder takes its time.
	near := r.points[r.vit.nearestLabel()]
	if r.short && r.state == stOnes && r.count <= longCheck {
		// A long training where a short one was expected goes on with
		// training symbols after the short one's 38: if the first
		// symbols here are those, switch to the long training.
		p := r.nextTraining()
		if dsp.Abs2(d-p) <= dsp.Abs2(d-near)+0.01 {
			if r.longFit++; r.longFit == longCheck {
				r.short = false
				r.state, r.count = stTrainCD, seg2ShortLen+longCheck
				r.trainSE = 0
				r.fe.EQ.Mu = 0.05
			}
		}
	}
	// Once trained, the equaliser follows only slow changes of the line:
	// it learns on every other symbol, at twice the step.
	var e float32
	if r.count&1 == 0 {
		e = r.adapt(y, d, near)
	} else {
		e = r.fe.Track(d, near)
	}
	r.mse += qualityAlpha * (float64(e) - r.mse)
	if !ok {
		return
	}
	idx := r.decoded
	r.decoded++
	if idx == seg4Len {
		r.state = stData
		r.trainedOnce = true
		r.events.Push(dsp.Event{Kind: dsp.TrainingDone, Sample: r.fe.Sample, QualityDB: r.QualityDB()})
	}
	y21 := (label >> 1) & 3
	raw := (label>>1)&0x3c | (y21-r.diff)&3
	r.diff = y21
	for i := 0; i < bitsPerSymbol(r.rate); i++ {
		out := r.descr.Descramble(raw >> i)
		if r.state == stData {
			r.bits.Push(out)
			r.bitsOut++
		}
	}
}
