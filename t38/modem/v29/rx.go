package v29

import (
	"fmt"
	"math"

	"github.com/faxd/faxd/t38/modem/dsp"
)

type rxState uint8

const (
	stIdle    rxState = iota // no carrier
	stAcquire                // carrier up: settling level and symbol timing on the alternations
	stTrackAB                // phase known: following A/B until segment 3 starts
	stTrainCD                // training the equaliser on segment 3
	stOnes                   // segment 4: decision-directed, bits not yet delivered
	stData                   // delivering bits
	stParked                 // training failed: wait for the carrier to drop (or jump 6 dB)
)

// Receiver tuning, in symbols unless said otherwise.
const (
	eqTaps       = 32 // T/2 taps: 16 symbols of span
	timingLockAt = 48 // symbols of alternations before the phase is read
	phaseWindow  = 16 // symbols over which the A/B phase is measured
	// alternation is how strongly a window must turn back and forth (as a
	// share of the most A/B can: sin 135°) to be the alternating segment.
	alternation = 0.45
	// maxAcquire bounds the search for the alternations: talker echo
	// protection (200 ms) and its silence, the alternations, and some.
	maxAcquire    = 800
	maxTrackAB    = 160 // give up if segment 3 has not started by then
	onOffHystDB   = 5   // carrier off threshold below the on threshold
	carrierOffLen = 96  // samples below the off threshold before carrier down
	// trainMaxErr is the worst equaliser error power accepted at the end of
	// training, as a fraction of the squared half-distance between the
	// closest points: lenient, since T.30's TCF check judges the line.
	trainMaxErr  = 0.6
	meterSamples = 40   // power meter memory for carrier detection
	qualityAlpha = 0.02 // smoothing of the running quality figure
)

// Rx is a V.29 receiver. Feed audio with Write; take bits with ReadBits
// and reports with PollEvent. Bits are delivered only between
// TrainingDone and CarrierDown.
type Rx struct {
	rate  int
	tp    trainingPoints
	fe    *dsp.FrontEnd
	descr dsp.Descrambler
	prbs  prbs7

	state    rxState
	count    int // symbols in the current state
	acqTotal int // symbols spent looking for the alternations
	bitsOut  int64

	// Phase identification on the alternations.
	win    [phaseWindow]complex64
	expect int // 0: A next, 1: B next

	phase     uint8   // previous absolute phase (differential decoding)
	mse       float64 // running equaliser error power
	refPow    float64 // mean |point|² the error is compared with
	halfDist2 float64 // squared half of the smallest distance between points
	trainSE   float64 // summed error over the end of segment 3

	bits   dsp.BitQueue
	events dsp.Queue
}

// NewRx returns a receiver for rate (9600, 7200 or 4800) that turns on at
// -26 dBm0 (the V.29 figure); see SetThreshold.
func NewRx(rate int) (*Rx, error) {
	if err := checkRate(rate); err != nil {
		return nil, err
	}
	r := &Rx{
		rate: rate,
		tp:   training(rate),
		fe: dsp.NewFrontEnd(dsp.FrontEndConfig{CarrierHz: carrierHz, SampleRate: sampleRate, Baud: baud, Alpha: alpha,
			Span: span, EQTaps: eqTaps, MeterLen: meterSamples, OffLen: carrierOffLen}),
	}
	r.refPow = meanPower(rate)
	var pts []complex64
	for i := range points {
		if (rate == 9600 || i < 8) && (rate != 4800 || i%2 == 0) {
			pts = append(pts, points[i])
		}
	}
	r.halfDist2 = float64(dsp.MinDistance2(pts)) / 4
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

// ReadBits moves up to len(p) received bits (one per byte) into p.
func (r *Rx) ReadBits(p []byte) int { return r.bits.Read(p) }

// PollEvent returns the oldest unread event.
func (r *Rx) PollEvent() (dsp.Event, bool) { return r.events.Pop() }

// QualityDB is the running equaliser error relative to the constellation
// power, in dB (meaningful once trained).
func (r *Rx) QualityDB() float64 { return 10 * math.Log10(r.mse/r.refPow+1e-12) }

// CarrierOffsetHz is the carrier frequency error learned by the receiver.
func (r *Rx) CarrierOffsetHz() float64 { return r.fe.PLL.FrequencyHz(baud) }

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
	r.fe.EQ.Reset()
	r.fe.EQ.Mu = 0.2
	r.descr.Reset()
	r.prbs = newPRBS7()
	r.mse = r.refPow
}

func (r *Rx) fail() {
	r.events.Push(dsp.Event{Kind: dsp.TrainingFailed, Sample: r.fe.Sample})
	r.state = stParked
	r.fe.Park()
}

// symbol handles one symbol instant.
func (r *Rx) symbol() {
	r.count++
	switch r.state {
	case stAcquire:
		r.acquire()
	case stTrackAB:
		r.trackAB()
	case stTrainCD:
		r.trainCD()
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
	g, firstIsA, ok := dsp.FitAlternation(r.win[:], r.tp.a, r.tp.b, alternation)
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

func (r *Rx) trackAB() {
	y := r.fe.EQ.Output()
	d := r.fe.PLL.Derotate(y)
	want := r.tp.a
	if r.expect == 1 {
		want = r.tp.b
	}
	r.expect ^= 1
	if dsp.Abs2(d-r.tp.c) < dsp.Abs2(d-want) {
		// Segment 3 has begun; its first symbol is always C (the PRBS
		// starts with a zero).
		r.prbs.next()
		r.state, r.count = stTrainCD, 1
		r.trainSE = 0
		r.adapt(y, d, r.tp.c)
		return
	}
	r.fe.PLL.Update(d, want)
	if r.count > maxTrackAB {
		r.fail()
	}
}

// adapt trains the equaliser towards want and updates the carrier loop.
func (r *Rx) adapt(y, d, want complex64) float32 { return r.fe.Adapt(y, d, want) }

func (r *Rx) trainCD() {
	want := r.tp.c
	if r.prbs.next() == 1 {
		want = r.tp.d
	}
	switch {
	case r.count == 128:
		r.fe.EQ.Mu = 0.05
		r.fe.PLL.SetBandwidth(0.01)
	case r.count == 256:
		r.fe.EQ.Mu = 0.025
		r.fe.PLL.SetBandwidth(0.005)
	}
	y := r.fe.EQ.Output()
	e := r.adapt(y, r.fe.PLL.Derotate(y), want)
	if r.count > seg3Len-64 {
		r.trainSE += float64(e)
	}
	if r.count < seg3Len {
		return
	}
	mse := r.trainSE / 64
	if mse > trainMaxErr*r.halfDist2 {
		r.fail()
		return
	}
	r.mse = mse
	r.phase = 0
	r.fe.EQ.Mu = 0.005
	// Data symbols make the timing detector noisier than training: track
	// gently.
	r.fe.Sync.Kp, r.fe.Sync.Ki = 0.01, 0.0001
	r.state, r.count = stOnes, 0
}

// decide returns the nearest point of the data constellation as an index
// into points.
func (r *Rx) decide(d complex64) uint8 {
	best, bi := float32(math.MaxFloat32), uint8(0)
	switch r.rate {
	case 9600:
		for i := range points {
			if e := dsp.Abs2(d - points[i]); e < best {
				best, bi = e, uint8(i)
			}
		}
	case 7200:
		for i := 0; i < 8; i++ {
			if e := dsp.Abs2(d - points[i]); e < best {
				best, bi = e, uint8(i)
			}
		}
	default:
		for i := 0; i < 8; i += 2 {
			if e := dsp.Abs2(d - points[i]); e < best {
				best, bi = e, uint8(i)
			}
		}
	}
	return bi
}

// stepBits inverts phaseStep: the data bits for a phase change.
var stepBits = func() (t [8]uint8) {
	for bits, st := range phaseStep {
		t[st] = uint8(bits)
	}
	return
}()

var stepBits4800 = func() (t [8]uint8) {
	for bits, st := range phaseStep4800 {
		t[st] = uint8(bits)
	}
	return
}()

func (r *Rx) data() {
	y := r.fe.EQ.Output()
	d := r.fe.PLL.Derotate(y)
	idx := r.decide(d)
	want := points[idx]
	e := r.adapt(y, d, want)
	r.mse += qualityAlpha * (float64(e) - r.mse)

	ph := idx & 7
	step := (ph - r.phase) & 7
	r.phase = ph
	switch r.rate {
	case 9600:
		r.put(idx >> 3)
		b := stepBits[step]
		r.put(b >> 2)
		r.put(b >> 1)
		r.put(b)
	case 7200:
		b := stepBits[step]
		r.put(b >> 2)
		r.put(b >> 1)
		r.put(b)
	default:
		b := stepBits4800[step]
		r.put(b >> 1)
		r.put(b)
	}
	if r.state == stOnes && r.count >= seg4Len {
		r.state = stData
		r.events.Push(dsp.Event{Kind: dsp.TrainingDone, Sample: r.fe.Sample, QualityDB: r.QualityDB()})
	}
}

func (r *Rx) put(b uint8) {
	out := r.descr.Descramble(b & 1)
	if r.state == stData {
		r.bits.Push(out)
		r.bitsOut++
	}
}
