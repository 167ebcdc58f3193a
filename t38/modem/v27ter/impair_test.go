package v27ter

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/faxd/faxd/t38/modem/dsp/dsptest"
	"github.com/faxd/faxd/t38/modem/hdlc"
	"github.com/faxd/faxd/t38/modem/v21"
)

type condition struct {
	name   string
	gainDB float64
	snr    float64 // dB; +Inf for none
	ppm    float64
	hz     float64
	echoDB float64 // 0: none
	delay  int     // echo delay in samples
	maxBER float64
}

func (c condition) apply(x []int16, r *rand.Rand) []int16 {
	f := dsptest.Pad(dsptest.ToFloat(x), 800, 800)
	if c.echoDB != 0 {
		f = dsptest.Echo(f, c.delay, c.echoDB)
	}
	if c.hz != 0 {
		f = dsptest.Shift(f, c.hz)
	}
	if c.ppm != 0 {
		f = dsptest.Drift(f, c.ppm)
	}
	f = dsptest.Gain(f, c.gainDB)
	if !math.IsInf(c.snr, 1) {
		f = dsptest.AWGN(f, c.snr, meanSquare(DefaultTxLevel+c.gainDB), r)
	}
	return dsptest.ToInt16(f)
}

var inf = math.Inf(1)

func TestImpairments(t *testing.T) {
	for _, rate := range []Rate{Rate4800, Rate2400} {
		for i, c := range []condition{
			{name: "-6dB", gainDB: -6, snr: inf},
			{name: "-20dB", gainDB: -20, snr: inf},
			{name: "+200ppm", ppm: 200, snr: inf},
			{name: "-200ppm", ppm: -200, snr: inf},
			{name: "+7Hz", hz: 7, snr: inf},
			{name: "-7Hz", hz: -7, snr: inf},
			{name: "isi", echoDB: -10, delay: 2, snr: inf},
			{name: "echo", echoDB: -15, delay: 40, snr: inf},
			{name: "snr20", snr: 20},
			{name: "snr16", snr: 16},
			{name: "snr12", snr: 12, maxBER: 5e-3},
			{name: "all", snr: 20, gainDB: -20, ppm: -200, hz: 5, echoDB: -10, delay: 3},
		} {
			t.Run(fmt.Sprintf("%d/%s", rate, c.name), func(t *testing.T) {
				r := rand.New(rand.NewPCG(uint64(i), uint64(rate)))
				sent := randomBits(r, 6000)
				got, kinds := demodulate(t, rate, c.apply(modulate(t, rate, sent, DefaultTxLevel, false), r))
				errs, n := bitErrors(sent, got)
				ber := float64(errs) / float64(n)
				t.Logf("%v, %d errors in %d bits", kinds, errs, n)
				if ber > c.maxBER {
					t.Errorf("BER %.3g above %.3g", ber, c.maxBER)
				}
				if len(kinds) < 2 || kinds[0] != EventCarrierUp || kinds[1] != EventTrained {
					t.Errorf("events %v", kinds)
				}
			})
		}
	}
}

// Noise alone, a V.21 signal and a training at the other rate must not
// produce a training.
func TestNoFalseTraining(t *testing.T) {
	r := rand.New(rand.NewPCG(4, 4))
	noise := dsptest.AWGN(make([]float64, 3*SampleRate), 0, meanSquare(-20), r)
	if _, kinds := demodulate(t, Rate4800, dsptest.ToInt16(noise)); contains(kinds, EventTrained) {
		t.Errorf("noise at -20 dBm0: %v", kinds)
	}
	other := modulate(t, Rate2400, randomBits(r, 2000), DefaultTxLevel, false)
	if _, kinds := demodulate(t, Rate4800, pad16(other, 800, 800)); contains(kinds, EventTrained) {
		t.Errorf("2400 bit/s signal trained a 4800 bit/s receiver: %v", kinds)
	}
	// V.21 flags, as a T.30 receiver hears while it waits for a page.
	flags, _ := hdlc.Encode(100)
	ftx, _ := v21.NewTx(v21.Channel2, DefaultTxLevel)
	fsk := make([]int16, 2*SampleRate)
	src := v21.Bits(flags)
	fsk = fsk[:ftx.Modulate(fsk, &src)]
	for _, rate := range []Rate{Rate2400, Rate4800} {
		if _, kinds := demodulate(t, rate, pad16(fsk, 800, 800)); contains(kinds, EventTrained) {
			t.Errorf("V.21 flags trained a %d bit/s receiver: %v", rate, kinds)
		}
	}
	if _, err := NewRx(RxConfig{Rate: 7200}); err == nil {
		t.Error("rate 7200 accepted")
	}
	if _, err := NewRx(RxConfig{Rate: Rate4800, OnLevel: -50, OffLevel: -40}); err == nil {
		t.Error("off above on accepted")
	}
}

func contains(kinds []EventKind, k EventKind) bool {
	for _, x := range kinds {
		if x == k {
			return true
		}
	}
	return false
}

func FuzzRx(f *testing.F) {
	f.Add([]byte{0, 0, 0xff, 0x7f, 0, 0x80}, true)
	f.Fuzz(func(t *testing.T, data []byte, fast bool) {
		rate := Rate2400
		if fast {
			rate = Rate4800
		}
		rx, err := NewRx(RxConfig{Rate: rate})
		if err != nil {
			t.Fatal(err)
		}
		x := make([]int16, len(data)/2)
		for i := range x {
			x[i] = int16(uint16(data[2*i]) | uint16(data[2*i+1])<<8)
		}
		evs := rx.Process(x, nil)
		// At most 3 bits per symbol and a symbol per 4.5 samples (the
		// timing loop moves a symbol by half a sample at most).
		if max := len(x)*2/3 + 8; len(evs) > max {
			t.Fatalf("%d events from %d samples", len(evs), len(x))
		}
		for _, e := range evs {
			if e.Kind < EventCarrierUp || e.Kind > EventCarrierDown || e.Bit > 1 {
				t.Fatalf("bad event %+v", e)
			}
		}
	})
}
