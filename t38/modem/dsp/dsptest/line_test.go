package dsptest

import (
	"math"
	"math/rand/v2"
	"testing"
)

func TestLineStages(t *testing.T) {
	hi := ToFloat(Tone(3000, -10, 80000))
	// The far clock 200 ppm fast: the same tone comes out 0.6 Hz higher.
	if got := cycles(ToInt16(Drift(hi, 200))[:79000]); math.Abs(float64(got)-3000.6*79000/8000) > 2 {
		t.Errorf("3000 Hz from a clock 200 ppm fast: %d cycles in 79000 samples, want %.0f", got, 3000.6*79000/8000)
	}
	x := ToFloat(Tone(1000, -10, 8000))
	ms := MeanSquare(x)
	if g := MeanSquare(Gain(x, -6)) / ms; math.Abs(10*math.Log10(g)+6) > 0.01 {
		t.Errorf("Gain -6 dB: %.3f dB", 10*math.Log10(g))
	}
	y := AWGN(x, 20, ms/4, rand.New(rand.NewPCG(1, 2)))
	var pn float64
	for i := range x {
		pn += (y[i] - x[i]) * (y[i] - x[i])
	}
	if snr := 10 * math.Log10(ms/4/(pn/float64(len(x)))); math.Abs(snr-20) > 0.2 {
		t.Errorf("AWGN 20 dB below a quarter of the power: %.2f dB", snr)
	}
	e := Echo([]float64{1000, 0, 0, 0}, 2, -6)
	if math.Abs(e[2]-1000*math.Pow(10, -6.0/20)) > 1e-9 || e[1] != 0 || e[3] != 0 || e[0] != 1000 {
		t.Errorf("Echo: %v", e)
	}
	p := Pad([]float64{1, 2}, 2, 1)
	if len(p) != 5 || p[0] != 0 || p[2] != 1 || p[3] != 2 || p[4] != 0 {
		t.Errorf("Pad: %v", p)
	}
	if s := ToInt16([]float64{1e6, -1e6, 1.5}); s[0] != 32767 || s[1] != -32768 || s[2] != 2 {
		t.Errorf("ToInt16: %v", s)
	}
}
