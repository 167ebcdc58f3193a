// Package tone generates and detects the fax call-establishment tones on
// 8 kHz linear 16-bit samples: CNG (1100 Hz, 0.5 s on, 3 s off) from the
// calling terminal, CED (2100 Hz for 2.6–4 s) from the called one, with
// V.8 ANSam (2100 Hz, 15 Hz amplitude modulation, phase reversals every
// 450 ms) recognised as CED; plus signal/silence detection. Nothing here
// does I/O, reads a clock or starts a goroutine.
package tone

import (
	"fmt"
	"math"
	"time"
)

// SampleRate is the only sample rate the package works at.
const SampleRate = 8000

// Tone is a fax tone.
type Tone uint8

const (
	ToneNone Tone = iota
	ToneCNG       // calling tone, 1100 Hz
	ToneCED       // called terminal identification, 2100 Hz (ANS, ANSam)
)

func (t Tone) String() string {
	switch t {
	case ToneCNG:
		return "CNG"
	case ToneCED:
		return "CED"
	}
	return "none"
}

// Tone facts (T.30, V.25, V.8).
const (
	CNGFreq = 1100.0
	CEDFreq = 2100.0

	CNGOn  = 500 * time.Millisecond
	CNGOff = 3 * time.Second

	MinCED     = 2600 * time.Millisecond
	MaxCED     = 4 * time.Second
	DefaultCED = 3300 * time.Millisecond

	ansamAMFreq    = 15.0 // Hz
	ansamAMDepth   = 0.2
	ansamReversals = 450 * time.Millisecond

	// DefaultLevel is a typical fax transmit level, in dBm0.
	DefaultLevel = -13.0
)

// A full-scale sine (peak 32767) is +3.14 dBm0, as for V.21.
const maxSineDBm0 = 3.14

func amplitude(dBm0 float64) float64 { return 32767 * math.Pow(10, (dBm0-maxSineDBm0)/20) }

func meanSquare(dBm0 float64) float64 { a := amplitude(dBm0); return a * a / 2 }

// PowerDBm0 converts a mean square of 16-bit samples to dBm0.
func PowerDBm0(ms float64) float64 {
	if ms <= 0 {
		return math.Inf(-1)
	}
	return 10*math.Log10(ms/(32767.0*32767.0/2)) + maxSineDBm0
}

func samples(d time.Duration) int { return int(d * SampleRate / time.Second) }

// Generator produces one tone signal. Generate it in pieces of any size;
// the phase runs on across calls.
type Generator struct {
	amp      float64
	step     float64 // cycles per sample
	phase    float64
	on, off  int // cadence in samples; off 0: continuous
	total    int // samples in all; 0: forever
	n        int // samples generated so far
	am       bool
	reversal int // samples between phase reversals; 0: none
}

func checkLevel(level float64) error {
	if math.IsNaN(level) || level > 0 || level < -60 {
		return fmt.Errorf("tone: level %g dBm0 is outside -60..0 dBm0", level)
	}
	return nil
}

func checkCED(d time.Duration) error {
	if d < MinCED || d > MaxCED {
		return fmt.Errorf("tone: CED duration %v is outside %v..%v", d, MinCED, MaxCED)
	}
	return nil
}

// NewCNG returns the calling tone at level dBm0: 0.5 s of 1100 Hz, 3 s of
// silence, repeated for as long as it is generated.
func NewCNG(level float64) (*Generator, error) {
	if err := checkLevel(level); err != nil {
		return nil, err
	}
	return &Generator{amp: amplitude(level), step: CNGFreq / SampleRate, on: samples(CNGOn), off: samples(CNGOff)}, nil
}

// NewCED returns CED at level dBm0: d of continuous 2100 Hz (2.6–4 s).
func NewCED(level float64, d time.Duration) (*Generator, error) {
	if err := checkLevel(level); err != nil {
		return nil, err
	}
	if err := checkCED(d); err != nil {
		return nil, err
	}
	return &Generator{amp: amplitude(level), step: CEDFreq / SampleRate, total: samples(d)}, nil
}

// NewANSam returns V.8's ANSam with phase reversals at level dBm0 (the
// level of the unmodulated carrier) for d: 2100 Hz, amplitude-modulated 20%
// at 15 Hz, its phase turned by 180° every 450 ms. Fax receivers take it
// for CED.
func NewANSam(level float64, d time.Duration) (*Generator, error) {
	g, err := NewCED(level, d)
	if err != nil {
		return nil, err
	}
	g.am, g.reversal = true, samples(ansamReversals)
	return g, nil
}

// Done reports whether a tone of limited length has been generated whole.
func (g *Generator) Done() bool { return g.total > 0 && g.n >= g.total }

// Generate fills dst and returns how many samples it wrote: fewer than
// len(dst) only when the tone ended.
func (g *Generator) Generate(dst []int16) int {
	for i := range dst {
		if g.Done() {
			return i
		}
		var v float64
		if g.off == 0 || g.n%(g.on+g.off) < g.on {
			a := g.amp
			if g.am {
				a *= 1 + ansamAMDepth*math.Sin(2*math.Pi*ansamAMFreq*float64(g.n)/SampleRate)
			}
			v = a * math.Sin(2*math.Pi*g.phase)
		}
		dst[i] = int16(math.Round(v))
		g.phase += g.step
		if g.reversal > 0 && (g.n+1)%g.reversal == 0 {
			g.phase += 0.5
		}
		g.phase -= math.Floor(g.phase)
		g.n++
	}
	return len(dst)
}
