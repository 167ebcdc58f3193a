package dsptest

import (
	"math"
	"testing"
)

// cycles counts rising zero crossings.
func cycles(x []int16) int {
	n := 0
	for i := 1; i < len(x); i++ {
		if x[i-1] < 0 && x[i] >= 0 {
			n++
		}
	}
	return n
}

func TestChannelShiftsResamplesAndAddsNoise(t *testing.T) {
	tone := Tone(1000, -10, 80000) // 10 s
	if got := cycles(Channel{FreqOffsetHz: 7}.Apply(tone)); math.Abs(float64(got-10070)) > 2 {
		t.Errorf("1000 Hz shifted by 7 Hz: %d cycles in 10 s, want 10070", got)
	}
	hi := Tone(3000, -10, 80000)
	// +200 ppm: 200 ppm more samples for the same signal, so 0.6 Hz lower
	// per output second; count over the same 80000 output samples.
	if got := cycles(Channel{ClockPPM: 200}.Apply(hi)[:80000]); math.Abs(float64(got-29994)) > 2 {
		t.Errorf("3000 Hz at +200 ppm: %d cycles, want 29994", got)
	}
	noisy := Channel{SNRDB: 20, Seed: 1}.Apply(tone)
	var ps, pn float64
	for i := range tone {
		ps += float64(tone[i]) * float64(tone[i])
		d := float64(noisy[i]) - float64(tone[i])
		pn += d * d
	}
	if snr := 10 * math.Log10(ps/pn); math.Abs(snr-20) > 0.2 {
		t.Errorf("SNR %.2f dB, want 20", snr)
	}
	echo := Channel{EchoDelay: 3, EchoDB: -6}.Apply([]int16{1000, 0, 0, 0, 0})
	if echo[3] != 501 {
		t.Errorf("echo sample %d, want 501", echo[3])
	}
}
