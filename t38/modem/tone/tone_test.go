package tone

import (
	"bytes"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

func gen(t testing.TB, g *Generator, err error, n int) []int16 {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	out := make([]int16, n)
	// Uneven pieces, to check that the phase runs on across calls.
	w := 0
	for w < n {
		k := g.Generate(out[w:min(n, w+1+w%333)])
		if k == 0 {
			break
		}
		w += k
	}
	return out[:w]
}

func msOf(x []int16) float64 {
	var s float64
	for _, v := range x {
		s += float64(v) * float64(v)
	}
	return s / float64(len(x))
}

func zeroCrossFreq(x []int16) float64 {
	c := 0
	for i := 1; i < len(x); i++ {
		if (x[i-1] < 0) != (x[i] < 0) {
			c++
		}
	}
	return float64(c) / 2 / (float64(len(x)) / SampleRate)
}

// runs returns the lengths of alternating on/off runs (|sample| > 0).
func runs(x []int16) (on, off []int) {
	cur, n := x[0] != 0, 0
	for _, v := range x {
		// A sine passes through zero: treat a single zero inside a burst
		// as on by looking at runs of at least 3 zeros.
		if (v != 0) == cur {
			n++
			continue
		}
		if cur {
			on = append(on, n)
		} else {
			off = append(off, n)
		}
		cur, n = v != 0, 1
	}
	return on, off
}

func TestCNGCadence(t *testing.T) {
	g, err := NewCNG(DefaultLevel)
	x := gen(t, g, err, 8*SampleRate)
	// Bursts: 0–0.5 s, 3.5–4 s, 7–7.5 s.
	for _, b := range []int{0, 28000, 56000} {
		burst := x[b : b+4000]
		if f := zeroCrossFreq(burst); math.Abs(f-CNGFreq) > 3 {
			t.Errorf("burst at %d: %.1f Hz", b, f)
		}
		if p := PowerDBm0(msOf(burst)); math.Abs(p-DefaultLevel) > 0.1 {
			t.Errorf("burst at %d: %.2f dBm0", b, p)
		}
		if b > 0 && msOf(x[b-24000:b]) != 0 {
			t.Errorf("the 3 s before %d are not silent", b)
		}
		if b+4000 < len(x) && x[b+4000] != 0 {
			t.Errorf("burst at %d lasts more than 0.5 s", b)
		}
	}
	if g.Done() {
		t.Error("CNG ended")
	}
}

func TestCEDAndANSam(t *testing.T) {
	g, err := NewCED(DefaultLevel, 3*time.Second)
	x := gen(t, g, err, 5*SampleRate)
	if len(x) != 3*SampleRate || !g.Done() {
		t.Fatalf("CED of 3 s gave %d samples", len(x))
	}
	if f := zeroCrossFreq(x); math.Abs(f-CEDFreq) > 2 {
		t.Errorf("CED %.1f Hz", f)
	}
	if p := PowerDBm0(msOf(x)); math.Abs(p-DefaultLevel) > 0.1 {
		t.Errorf("CED %.2f dBm0", p)
	}

	g, err = NewANSam(DefaultLevel, 3*time.Second)
	a := gen(t, g, err, 3*SampleRate)
	// Envelope: the block power swings ±20% in amplitude at 15 Hz.
	lo, hi := math.Inf(1), 0.0
	for i := 0; i+40 <= len(a); i += 40 {
		r := math.Sqrt(2 * msOf(a[i:i+40]))
		lo, hi = min(lo, r), max(hi, r)
	}
	if depth := (hi - lo) / (hi + lo); math.Abs(depth-ansamAMDepth) > 0.03 {
		t.Errorf("ANSam modulation depth %.3f, want 0.2", depth)
	}
	// Phase reversals: correlate 10 ms pieces with CED of the same
	// start phase; the sign flips every 450 ms.
	flips, last := 0, 0.0
	for i := 0; i+80 <= len(a); i += 80 {
		var c float64
		for j := i; j < i+80; j++ {
			c += float64(a[j]) * float64(x[j])
		}
		if last != 0 && (c > 0) != (last > 0) && math.Abs(c) > 1e6 {
			flips++
		}
		if math.Abs(c) > 1e6 {
			last = c
		}
	}
	if want := int(3 * time.Second / ansamReversals); flips != want {
		t.Errorf("ANSam: %d phase reversals in 3 s, want %d", flips, want)
	}
}

func TestGeneratorRefusals(t *testing.T) {
	for _, lv := range []float64{1, -61, math.NaN()} {
		if _, err := NewCNG(lv); err == nil {
			t.Errorf("CNG level %g accepted", lv)
		}
	}
	for _, d := range []time.Duration{2 * time.Second, 5 * time.Second} {
		if _, err := NewCED(DefaultLevel, d); err == nil {
			t.Errorf("CED of %v accepted", d)
		}
		if _, err := NewANSam(DefaultLevel, d); err == nil {
			t.Errorf("ANSam of %v accepted", d)
		}
	}
}

func detect(t testing.TB, x []int16) []Event {
	t.Helper()
	d, err := NewDetector(DetectorConfig{})
	if err != nil {
		t.Fatal(err)
	}
	var evs []Event
	for i := 0; i < len(x); {
		n := min(len(x)-i, 1+i%211)
		evs = d.Process(x[i:i+n], evs)
		i += n
	}
	return evs
}

func toneEvents(evs []Event) string {
	var b bytes.Buffer
	for _, e := range evs {
		if e.Kind == EventToneOn || e.Kind == EventToneOff {
			fmt.Fprintf(&b, "%v:%v ", e.Kind, e.Tone)
		}
	}
	return b.String()
}

func seconds(s int64) float64 { return float64(s) / SampleRate }

// line adds white noise snr dB below level (the tone's level) and silence
// around x.
func line(x []int16, level, snr float64, r *rand.Rand) []int16 {
	out := make([]int16, len(x)+4000)
	sigma := 0.0
	if !math.IsInf(snr, 1) {
		sigma = math.Sqrt(meanSquare(level) / math.Pow(10, snr/10))
	}
	for i := range out {
		v := sigma * r.NormFloat64()
		if j := i - 2000; j >= 0 && j < len(x) {
			v += float64(x[j])
		}
		out[i] = int16(max(-32768, min(32767, math.Round(v))))
	}
	return out
}

func sine(freq, level float64, d time.Duration) []int16 {
	n := samples(d)
	a := amplitude(level)
	x := make([]int16, n)
	for i := range x {
		x[i] = int16(math.Round(a * math.Sin(2*math.Pi*freq*float64(i)/SampleRate)))
	}
	return x
}

func TestDetectTones(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	// Each case gets its own generator.
	cng := func() []int16 { g, err := NewCNG(DefaultLevel); return gen(t, g, err, 7*SampleRate) }
	ced := func(level float64) []int16 { g, err := NewCED(level, DefaultCED); return gen(t, g, err, 4*SampleRate) }
	ansam := func() []int16 { g, err := NewANSam(DefaultLevel, DefaultCED); return gen(t, g, err, 4*SampleRate) }
	for _, tc := range []struct {
		name string
		x    []int16
		snr  float64
		want string
	}{
		{"CNG", cng(), math.Inf(1), "tone-on:CNG tone-off:CNG tone-on:CNG tone-off:CNG "},
		{"CNG-noise", cng(), 6, "tone-on:CNG tone-off:CNG tone-on:CNG tone-off:CNG "},
		{"CED", ced(DefaultLevel), math.Inf(1), "tone-on:CED tone-off:CED "},
		{"CED-noise", ced(DefaultLevel), 6, "tone-on:CED tone-off:CED "},
		{"ANSam", ansam(), 10, "tone-on:CED tone-off:CED "},
		// Phase reversals in the middle of the detector's 10 ms blocks.
		{"ANSam-offset", append(make([]int16, block/2), ansam()...), 10, "tone-on:CED tone-off:CED "},
		{"CED-40dBm0", ced(-40), math.Inf(1), "tone-on:CED tone-off:CED "},
		{"CNG+38Hz", sine(CNGFreq+38, DefaultLevel, 500*time.Millisecond), math.Inf(1), "tone-on:CNG tone-off:CNG "},
		{"CNG-38Hz", sine(CNGFreq-38, DefaultLevel, 500*time.Millisecond), math.Inf(1), "tone-on:CNG tone-off:CNG "},
		{"CED+15Hz", sine(CEDFreq+15, DefaultLevel, time.Second), math.Inf(1), "tone-on:CED tone-off:CED "},
		{"CED-15Hz", sine(CEDFreq-15, DefaultLevel, time.Second), math.Inf(1), "tone-on:CED tone-off:CED "},
		// Not tones: too short, too quiet, other frequencies, noise.
		{"CNG-300ms", sine(CNGFreq, DefaultLevel, 300*time.Millisecond), math.Inf(1), ""},
		{"CED-50dBm0", sine(CEDFreq, -50, time.Second), math.Inf(1), ""},
		{"1650Hz", sine(1650, DefaultLevel, time.Second), math.Inf(1), ""},
		{"1800Hz", sine(1800, DefaultLevel, time.Second), math.Inf(1), ""},
		{"noise", make([]int16, 2*SampleRate), -10, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			evs := detect(t, line(tc.x, DefaultLevel, tc.snr, r))
			if got := toneEvents(evs); got != tc.want {
				t.Errorf("events %q, want %q", got, tc.want)
			}
			// A tone is reported 0.4–0.6 s after it starts (2000
			// samples of silence lead it).
			for _, e := range evs {
				if e.Kind == EventToneOn && e.Tone == ToneCED {
					if s := seconds(e.Sample - 2000); s < 0.49 || s > 0.55 {
						t.Errorf("CED reported %.3f s after its start", s)
					}
					break
				}
			}
		})
	}
}

func TestSignalAndSilence(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	x := sine(1650, -30, time.Second)
	evs := detect(t, line(x, -30, math.Inf(1), r))
	var kinds []string
	for _, e := range evs {
		kinds = append(kinds, e.Kind.String())
	}
	if fmt.Sprint(kinds) != "[signal silence]" {
		t.Fatalf("events %v", kinds)
	}
	// Signal within 30 ms of the start, silence within 60 ms of the end.
	if s := seconds(evs[0].Sample - 2000); s < 0 || s > 0.03 {
		t.Errorf("signal %.3f s after start", s)
	}
	if s := seconds(evs[1].Sample - 2000 - int64(len(x))); s < 0 || s > 0.06 {
		t.Errorf("silence %.3f s after end", s)
	}
	// Noise at -55 dBm0 is silence.
	if evs := detect(t, line(make([]int16, SampleRate), -55, 0, r)); len(evs) != 0 {
		t.Errorf("noise at -55 dBm0: %v", evs)
	}
	if _, err := NewDetector(DetectorConfig{OnLevel: -50, OffLevel: -40}); err == nil {
		t.Error("off above on accepted")
	}
}

func FuzzDetector(f *testing.F) {
	f.Add([]byte{1, 2, 3, 4})
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := NewDetector(DetectorConfig{})
		if err != nil {
			t.Fatal(err)
		}
		x := make([]int16, len(data)/2)
		for i := range x {
			x[i] = int16(uint16(data[2*i]) | uint16(data[2*i+1])<<8)
		}
		evs := d.Process(x, nil)
		if len(evs) > 2*(len(x)/block) {
			t.Fatalf("%d events from %d samples", len(evs), len(x))
		}
		for _, e := range evs {
			if e.Sample < 0 || e.Sample > int64(len(x)) {
				t.Fatalf("event at sample %d of %d", e.Sample, len(x))
			}
		}
	})
}

// BenchmarkDetector is the detector's cost per second of signal.
func BenchmarkDetector(b *testing.B) {
	g, _ := NewCED(DefaultLevel, DefaultCED)
	x := make([]int16, SampleRate)
	g.Generate(x)
	d, _ := NewDetector(DetectorConfig{})
	evs := make([]Event, 0, 16)
	b.ResetTimer()
	for range b.N {
		evs = d.Process(x, evs[:0])
	}
}

// sumSquares adds every sample's square, whatever the length.
func TestSumSquares(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 1))
	for n := range 50 {
		s := make([]int16, n)
		var want int64
		for i := range s {
			s[i] = int16(r.IntN(65536) - 32768)
			want += int64(s[i]) * int64(s[i])
		}
		if got := sumSquares(s); got != want {
			t.Fatalf("%d samples: %d, want %d", n, got, want)
		}
	}
}
