package tone

import (
	"fmt"
	"math"
	"time"
)

// EventKind tells what a detector Event reports.
type EventKind uint8

const (
	EventToneOn  EventKind = iota + 1 // Tone has been present long enough to be sure of it
	EventToneOff                      // the reported Tone ended
	EventSignal                       // energy above the on level: something is being sent
	EventSilence                      // energy below the off level again
)

func (k EventKind) String() string {
	switch k {
	case EventToneOn:
		return "tone-on"
	case EventToneOff:
		return "tone-off"
	case EventSignal:
		return "signal"
	case EventSilence:
		return "silence"
	}
	return "event?"
}

// Event is one detector output. Sample is the count of samples fed before
// the decision, which lets a caller place it in time.
type Event struct {
	Kind   EventKind
	Tone   Tone
	Sample int64
}

// DetectorConfig sets up a Detector; the zero value has the defaults.
type DetectorConfig struct {
	OnLevel  float64 // dBm0; 0 means -43
	OffLevel float64 // dBm0; 0 means -48
}

// Detection constants. The detector works on 10 ms blocks: Goertzel bins
// are then 100 Hz wide, wide enough for CNG's ±38 Hz tolerance, and
// 1100 Hz and 2100 Hz fall exactly on bins 11 and 21.
const (
	block = SampleRate / 100

	// toneShare is how much of a block's energy has to be in the tone's
	// bin for the block to count as tone.
	toneShare = 0.5
	// A tone is reported after this long. CNG bursts last 425–575 ms;
	// CED lasts seconds.
	cngMin = 400 * time.Millisecond
	cedMin = 500 * time.Millisecond
	// toneGap is how many non-tone blocks a tone survives: an ANSam phase
	// reversal empties the 2100 Hz bin of the block it falls in.
	toneGap = 2
	// Energy: signal after 20 ms above the on level, silence after 50 ms
	// below the off level.
	signalBlocks  = 2
	silenceBlocks = 5
)

type goertzel struct{ coef float64 }

func newGoertzel(freq float64) goertzel {
	return goertzel{coef: 2 * math.Cos(2*math.Pi*freq/SampleRate)}
}

// power returns the tone's mean-square share of x: a pure tone on the bin
// gives the tone's mean square.
func (g goertzel) power(x []float64) float64 {
	var s1, s2 float64
	for _, v := range x {
		s1, s2 = v+g.coef*s1-s2, s1
	}
	p := s1*s1 + s2*s2 - g.coef*s1*s2
	n := float64(len(x))
	return 2 * p / (n * n)
}

// Detector finds CNG, CED (and ANSam as CED), and signal versus silence.
// Feed it samples with Process and read the events it appends.
type Detector struct {
	onMS, offMS float64
	cng, ced    goertzel

	buf [block]float64
	n   int   // samples in buf
	pos int64 // samples fed

	signal      bool
	above       int // blocks past the energy threshold
	cur         Tone
	run         int // blocks of the candidate tone
	gap         int // non-tone blocks in the current run
	reported    bool
	blocksToRep [3]int
	noTones     bool  // energy only: SetTones(false)
	sum         int64 // sum of the squared samples in the block so far
}

// SetTones turns the tone classification on (the default) or off. Off,
// the detector reports only signal and silence, and a tone being reported
// ends (turned back on, it classifies from the next whole block); a terminal past the call's tones (T.30 frames have been exchanged)
// saves the two tone filters on every block of signal.
func (d *Detector) SetTones(on bool) { d.noTones = !on }

// NewDetector returns a detector.
func NewDetector(cfg DetectorConfig) (*Detector, error) {
	if cfg.OnLevel == 0 {
		cfg.OnLevel = -43
	}
	if cfg.OffLevel == 0 {
		cfg.OffLevel = -48
	}
	if math.IsNaN(cfg.OnLevel) || math.IsNaN(cfg.OffLevel) || cfg.OffLevel > cfg.OnLevel || cfg.OnLevel > 0 {
		return nil, fmt.Errorf("tone: thresholds on %g dBm0, off %g dBm0: need off <= on <= 0", cfg.OnLevel, cfg.OffLevel)
	}
	d := &Detector{
		onMS: meanSquare(cfg.OnLevel), offMS: meanSquare(cfg.OffLevel),
		cng: newGoertzel(CNGFreq), ced: newGoertzel(CEDFreq),
	}
	d.blocksToRep[ToneCNG] = int(cngMin / (10 * time.Millisecond))
	d.blocksToRep[ToneCED] = int(cedMin / (10 * time.Millisecond))
	return d, nil
}

// Tone is the tone currently reported, ToneNone if none.
func (d *Detector) Tone() Tone {
	if d.reported {
		return d.cur
	}
	return ToneNone
}

// Process feeds samples and appends the events found to out; at most two
// events per 10 ms.
func (d *Detector) Process(samples []int16, out []Event) []Event {
	// Whole runs up to the end of the current block at a time.
	for len(samples) > 0 {
		k := min(block-d.n, len(samples))
		// The energy is summed exactly in integers (80 squares of int16
		// fit easily); the samples are kept only for the tone filters.
		d.sum += sumSquares(samples[:k])
		if !d.noTones {
			dst := d.buf[d.n:][:k]
			for i, s := range samples[:k] {
				dst[i] = float64(s)
			}
		}
		samples = samples[k:]
		d.n += k
		d.pos += int64(k)
		if d.n == block {
			d.n = 0
			out = d.block(out)
		}
	}
	return out
}

func (d *Detector) block(out []Event) []Event {
	ms := float64(d.sum) / block
	d.sum = 0

	// Signal or silence, with hysteresis and hold.
	past := ms > d.onMS
	if d.signal {
		past = ms < d.offMS
	}
	if past {
		d.above++
		need := signalBlocks
		if d.signal {
			need = silenceBlocks
		}
		if d.above >= need {
			d.above = 0
			d.signal = !d.signal
			k := EventSilence
			if d.signal {
				k = EventSignal
			}
			out = append(out, Event{Kind: k, Sample: d.pos})
		}
	} else {
		d.above = 0
	}

	// Which tone, if any, this block holds.
	t := ToneNone
	if ms > d.onMS && !d.noTones {
		switch {
		case d.cng.power(d.buf[:]) > toneShare*ms:
			t = ToneCNG
		case d.ced.power(d.buf[:]) > toneShare*ms:
			t = ToneCED
		}
	}
	switch {
	case t != ToneNone && t == d.cur:
		d.run++
		d.gap = 0
	case t != ToneNone:
		out = d.end(out)
		d.cur, d.run, d.gap = t, 1, 0
	case d.cur != ToneNone:
		if d.gap++; d.gap > toneGap {
			out = d.end(out)
		}
	}
	if d.cur != ToneNone && !d.reported && d.run >= d.blocksToRep[d.cur] {
		d.reported = true
		out = append(out, Event{Kind: EventToneOn, Tone: d.cur, Sample: d.pos})
	}
	return out
}

// end closes the current tone run.
func (d *Detector) end(out []Event) []Event {
	if d.reported {
		out = append(out, Event{Kind: EventToneOff, Tone: d.cur, Sample: d.pos})
	}
	d.cur, d.run, d.gap, d.reported = ToneNone, 0, 0, false
	return out
}

// sumSquares is Σ s², four samples a step in two sums (exact in integers,
// so the order does not matter).
func sumSquares(samples []int16) int64 {
	var a, b int64
	for len(samples) >= 4 {
		q := samples[:4:4]
		a += int64(q[0])*int64(q[0]) + int64(q[1])*int64(q[1])
		b += int64(q[2])*int64(q[2]) + int64(q[3])*int64(q[3])
		samples = samples[4:]
	}
	for _, s := range samples {
		a += int64(s) * int64(s)
	}
	return a + b
}
