package rtpaudio

import (
	"math"
	"time"
)

// SampleRate is G.711's sampling rate.
const SampleRate = 8000

// FrameSamples is one 20 ms packet of G.711, the usual packetisation (ptime 20).
const FrameSamples = 160

// FrameDuration is the time one frame covers.
const FrameDuration = 20 * time.Millisecond

// Tone is a sine played in a cadence: On, then Off of silence, repeated; a
// tone with Off == 0 plays On once and then stays silent.
type Tone struct {
	Freq float64
	On   time.Duration
	Off  time.Duration
	// Amplitude is the peak as a fraction of full scale.
	Amplitude float64
}

var (
	// CNG is the calling tone of T.30 §5.2: 1100 Hz, 0.5 s on, 3 s off.
	CNG = Tone{Freq: 1100, On: 500 * time.Millisecond, Off: 3 * time.Second, Amplitude: 0.3}
	// CED is the answer tone of T.30 §5.2: 2100 Hz for 2.6 to 4 s; we play 3 s.
	CED = Tone{Freq: 2100, On: 3 * time.Second, Amplitude: 0.3}
)

// Generator produces a Tone's cadence frame by frame.
type Generator struct {
	tone   Tone
	sample int // samples since the start of the current cycle
	phase  float64
	done   bool
}

// NewGenerator starts t at its beginning.
func NewGenerator(t Tone) *Generator { return &Generator{tone: t} }

// Frame fills pcm with the next samples of the cadence.
func (g *Generator) Frame(pcm []int16) {
	on := int(g.tone.On * SampleRate / time.Second)
	cycle := on + int(g.tone.Off*SampleRate/time.Second)
	step := 2 * math.Pi * g.tone.Freq / SampleRate
	amp := g.tone.Amplitude * 32767
	for i := range pcm {
		if !g.done && g.sample < on {
			pcm[i] = int16(amp * math.Sin(g.phase))
			g.phase += step
			if g.phase > 2*math.Pi {
				g.phase -= 2 * math.Pi
			}
		} else {
			pcm[i] = 0
		}
		g.sample++
		if g.sample >= cycle && !g.done {
			if g.tone.Off == 0 {
				g.done = true
				continue
			}
			g.sample, g.phase = 0, 0
		}
	}
}

// Detector finds a tone by the Goertzel filter over 20 ms frames: a frame
// counts when most of its energy sits at the frequency.
type Detector struct {
	Freq  float64
	run   int
	best  int
	total int
}

// minFrames is how long a tone must last, in consecutive frames, to count:
// 200 ms, shorter than CNG's 500 ms burst, longer than speech formants hold.
const minFrames = 10

// Feed examines one frame.
func (d *Detector) Feed(pcm []int16) {
	if len(pcm) == 0 {
		return
	}
	coeff := 2 * math.Cos(2*math.Pi*d.Freq/SampleRate)
	var s1, s2, energy float64
	for _, v := range pcm {
		x := float64(v)
		energy += x * x
		s0 := x + coeff*s1 - s2
		s2, s1 = s1, s0
	}
	n := float64(len(pcm))
	power := s1*s1 + s2*s2 - coeff*s1*s2
	// A pure sine puts power ~= n/2 * energy into its bin.
	if energy/n > 300*300 && 2*power/(n*energy) > 0.5 {
		d.run++
		d.total++
		if d.run > d.best {
			d.best = d.run
		}
	} else {
		d.run = 0
	}
}

// Heard reports whether the tone lasted long enough at least once.
func (d *Detector) Heard() bool { return d.best >= minFrames }

// Frames is how many frames carried the tone in all.
func (d *Detector) Frames() int { return d.total }
