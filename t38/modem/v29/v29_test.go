package v29

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/faxd/faxd/t38/modem/dsp"
	"github.com/faxd/faxd/t38/modem/dsp/dsptest"
)

func randomBits(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, 99))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.IntN(2))
	}
	return b
}

// modulate runs bits through our transmitter at level dbm0, with silence
// before and after.
func modulate(t testing.TB, rate int, dbm0 float64, bits []byte) []int16 {
	tx, err := NewTx(rate)
	if err != nil {
		t.Fatal(err)
	}
	if err := tx.SetLevel(dbm0); err != nil {
		t.Fatal(err)
	}
	tx.Write(bits)
	tx.Close()
	audio := make([]int16, 800) // 100 ms of silence first
	buf := make([]int16, 160)
	for !tx.Done() {
		n := tx.Read(buf)
		audio = append(audio, buf[:n]...)
	}
	return append(audio, make([]int16, 800)...)
}

// demodulate feeds audio to our receiver in 20 ms blocks and collects bits
// and events.
func demodulate(t testing.TB, rate int, audio []int16) ([]byte, []dsp.Event, *Rx) {
	rx, err := NewRx(rate)
	if err != nil {
		t.Fatal(err)
	}
	var bits []byte
	var evs []dsp.Event
	p := make([]byte, 512)
	for i := 0; i < len(audio); i += 160 {
		rx.Write(audio[i:min(i+160, len(audio))])
		for {
			n := rx.ReadBits(p)
			if n == 0 {
				break
			}
			bits = append(bits, p[:n]...)
		}
		for {
			e, ok := rx.PollEvent()
			if !ok {
				break
			}
			evs = append(evs, e)
		}
	}
	return bits, evs, rx
}

func kinds(evs []dsp.Event) []dsp.EventKind {
	var k []dsp.EventKind
	for _, e := range evs {
		k = append(k, e.Kind)
	}
	return k
}

// checkRun asserts the event sequence carrier-up, training-done,
// carrier-down and returns the bit error count over the sent bits.
func checkRun(t *testing.T, name string, want, got []byte, evs []dsp.Event) int {
	t.Helper()
	k := kinds(evs)
	if len(k) != 3 || k[0] != dsp.CarrierUp || k[1] != dsp.TrainingDone || k[2] != dsp.CarrierDown {
		t.Errorf("%s: events %v, want [carrier-up training-done carrier-down]", name, k)
		return len(want)
	}
	// The receiver delivers the data bits first, then the tail of ones.
	if len(got) < len(want) {
		t.Errorf("%s: received %d bits, sent %d", name, len(got), len(want))
		return len(want)
	}
	errs, _ := dsptest.BitErrors(want, got[:len(want)])
	return errs
}

// Our transmitter into our receiver over clean and impaired channels.
// BER bounds are loose enough for the channel, tight enough that a broken
// modem (or one off by a bit) fails.
func TestLoopbackChannels(t *testing.T) {
	cases := []struct {
		name    string
		ch      dsptest.Channel
		level   float64
		maxBER  float64
		minQual float64 // training quality must be at least this good (dB)
	}{
		{name: "clean -6dBm0", level: -6, maxBER: 0, minQual: -30},
		{name: "clean -20dBm0", level: -20, maxBER: 0, minQual: -30},
		{name: "awgn 30dB", level: -14, ch: dsptest.Channel{SNRDB: 30, Seed: 1}, maxBER: 0, minQual: -22},
		{name: "awgn 20dB", level: -14, ch: dsptest.Channel{SNRDB: 20, Seed: 2}, maxBER: 1e-3, minQual: -14},
		{name: "freq +7Hz", level: -14, ch: dsptest.Channel{FreqOffsetHz: 7, SNRDB: 30, Seed: 3}, maxBER: 0, minQual: -20},
		{name: "freq -5Hz", level: -14, ch: dsptest.Channel{FreqOffsetHz: -5, SNRDB: 30, Seed: 4}, maxBER: 0, minQual: -20},
		{name: "clock +200ppm", level: -14, ch: dsptest.Channel{ClockPPM: 200, SNRDB: 30, Seed: 5}, maxBER: 0, minQual: -20},
		{name: "clock -200ppm", level: -14, ch: dsptest.Channel{ClockPPM: -200, SNRDB: 30, Seed: 6}, maxBER: 0, minQual: -20},
		{name: "echo 1ms -10dB", level: -14, ch: dsptest.Channel{EchoDelay: 8, EchoDB: -10, SNRDB: 30, Seed: 7}, maxBER: 0, minQual: -18},
		{name: "all", level: -14, ch: dsptest.Channel{EchoDelay: 5, EchoDB: -12, FreqOffsetHz: 4, ClockPPM: -200, SNRDB: 28, Seed: 8}, maxBER: 1e-4, minQual: -16},
	}
	for _, rate := range []int{9600, 7200, 4800} {
		for _, c := range cases {
			bits := randomBits(rate*3, uint64(rate)) // 3 s of data
			audio := c.ch.Apply(modulate(t, rate, c.level, bits))
			got, evs, _ := demodulate(t, rate, audio)
			name := c.name + " " + itoa(rate)
			errs := checkRun(t, name, bits, got, evs)
			if ber := float64(errs) / float64(len(bits)); ber > c.maxBER {
				t.Errorf("%s: %d bit errors in %d (BER %.2g), want at most %.2g", name, errs, len(bits), ber, c.maxBER)
			}
			if len(evs) > 1 && evs[1].QualityDB > c.minQual {
				t.Errorf("%s: training quality %.1f dB, want %.1f or better", name, evs[1].QualityDB, c.minQual)
			}
		}
	}
}

func itoa(n int) string {
	const digits = "0123456789"
	if n == 0 {
		return "0"
	}
	var b []byte
	for ; n > 0; n /= 10 {
		b = append([]byte{digits[n%10]}, b...)
	}
	return string(b)
}

// Two transmissions in a row: the receiver re-arms after carrier down and
// trains again, delivering both payloads; noise alone never trains it.
func TestRetrainAndNoise(t *testing.T) {
	a, b := randomBits(4800, 1), randomBits(4800, 2)
	audio := append(modulate(t, 9600, -14, a), modulate(t, 9600, -14, b)...)
	got, evs, _ := demodulate(t, 9600, audio)
	k := kinds(evs)
	want := []string{"carrier-up", "training-done", "carrier-down", "carrier-up", "training-done", "carrier-down"}
	if len(k) != len(want) {
		t.Fatalf("events %v, want %v", k, want)
	}
	for i := range k {
		if k[i].String() != want[i] {
			t.Fatalf("events %v, want %v", k, want)
		}
	}
	// Each burst ends with ones after its data.
	n1 := int(evs[2].Bits)
	if n1 < len(a) || len(got)-n1 < len(b) {
		t.Fatalf("burst sizes %d and %d, want at least %d and %d", n1, len(got)-n1, len(a), len(b))
	}
	if e, _ := dsptest.BitErrors(a, got[:len(a)]); e != 0 {
		t.Errorf("first burst: %d errors", e)
	}
	if e, _ := dsptest.BitErrors(b, got[n1:n1+len(b)]); e != 0 {
		t.Errorf("second burst: %d errors", e)
	}

	// Loud white noise: carrier up, then training fails; no bits.
	noise := dsptest.Channel{SNRDB: -15, Seed: 5}.Apply(dsptest.Tone(1000, -30, 16000))
	got, evs, _ = demodulate(t, 9600, noise)
	if len(got) != 0 {
		t.Errorf("noise produced %d bits", len(got))
	}
	k = kinds(evs)
	if len(k) < 2 || k[0] != dsp.CarrierUp || k[1] != dsp.TrainingFailed {
		t.Errorf("noise events %v, want carrier-up then training-failed", k)
	}
}

func TestBadRate(t *testing.T) {
	if _, err := NewTx(2400); err == nil {
		t.Error("NewTx(2400) accepted")
	}
	if _, err := NewRx(14400); err == nil {
		t.Error("NewRx(14400) accepted")
	}
}

// Line noise loud enough to raise carrier detect fails training; a signal
// that then starts on top of the noise is still received.
func TestSignalAfterLoudNoise(t *testing.T) {
	bits := randomBits(4800, 3)
	audio := append(make([]int16, 4000), modulate(t, 4800, -8, bits)...)
	audio = dsptest.AddNoise(audio, -24, 9)
	got, evs, _ := demodulate(t, 4800, audio)
	k := kinds(evs)
	if len(k) < 3 || k[0] != dsp.CarrierUp || k[1] != dsp.TrainingFailed || k[2] != dsp.TrainingDone {
		t.Fatalf("events %v, want carrier-up, training-failed, training-done", k)
	}
	if len(got) < len(bits) {
		t.Fatalf("received %d bits, sent %d", len(got), len(bits))
	}
	if e, _ := dsptest.BitErrors(bits, got); e != 0 {
		t.Errorf("%d bit errors in %d", e, len(bits))
	}
}

type sliceSource struct{ b []byte }

func (s *sliceSource) NextBit() (uint8, bool) {
	if len(s.b) == 0 {
		return 0, false
	}
	b := s.b[0]
	s.b = s.b[1:]
	return b, true
}

// Pulling bits through Modulate gives the same signal as queueing them
// with Write and Close.
func TestModulateMatchesWrite(t *testing.T) {
	bits := randomBits(5000, 4)
	want := modulate(t, 9600, -14, bits)
	want = want[800 : len(want)-800]
	tx, _ := NewTx(9600)
	src := &sliceSource{b: bits}
	var got []int16
	buf := make([]int16, 133)
	for !tx.Done() {
		n := tx.Modulate(buf, src)
		got = append(got, buf[:n]...)
	}
	if len(got) != len(want) {
		t.Fatalf("Modulate gave %d samples, Write+Close %d", len(got), len(want))
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("sample %d: Modulate %d, Write+Close %d", i, got[i], want[i])
		}
	}
}

// Training must be reliable, not lucky: at a noise level just above where
// each rate reaches BER 1e-5, every one of several trials (different
// timing phase, carrier offset, clock offset and noise) trains.
func TestTrainingReliability(t *testing.T) {
	snr := map[int]float64{9600: 21, 7200: 17, 4800: 14}
	for _, rate := range []int{9600, 7200, 4800} {
		for trial := 0; trial < 8; trial++ {
			bits := randomBits(1500, uint64(trial))
			sig := modulate(t, rate, -14, bits)[800-trial*7:]
			ch := dsptest.Channel{SNRDB: snr[rate], Seed: uint64(trial), FreqOffsetHz: float64(trial%7) - 3, ClockPPM: float64(trial%5-2) * 100}
			_, evs, _ := demodulate(t, rate, ch.Apply(sig))
			k := kinds(evs)
			if len(k) < 2 || k[1] != dsp.TrainingDone {
				t.Errorf("%d at %g dB, trial %d: events %v, want training-done", rate, snr[rate], trial, k)
			}
		}
	}
}

// Levels outside what G.711 can carry are refused with an error naming the
// value, not turned into silence or clipping.
func TestBadLevels(t *testing.T) {
	tx, _ := NewTx(9600)
	for _, l := range []float64{1, -61, math.NaN()} {
		if err := tx.SetLevel(l); err == nil || !strings.Contains(err.Error(), "dBm0") {
			t.Errorf("SetLevel(%g): %v", l, err)
		}
	}
	rx, _ := NewRx(9600)
	if err := rx.SetThreshold(math.Inf(1)); err == nil {
		t.Error("SetThreshold(+Inf) accepted")
	}
	if err := tx.SetLevel(-9); err != nil {
		t.Errorf("SetLevel(-9): %v", err)
	}
}

// A V.21 signal (what T.30 sends between the image modems) raises the
// carrier but never trains the receiver; after it ends and a gap of 75 ms
// the receiver takes the real training.
func TestV21DoesNotTrain(t *testing.T) {
	bits := randomBits(4800, 8)
	audio := append(dsptest.FSK(1650, 1850, 300, -10, 16000, 1), make([]int16, 600)...)
	audio = append(audio, modulate(t, 9600, -14, bits)...)
	got, evs, _ := demodulate(t, 9600, audio)
	want := []dsp.EventKind{dsp.CarrierUp, dsp.TrainingFailed, dsp.CarrierDown, dsp.CarrierUp, dsp.TrainingDone, dsp.CarrierDown}
	k := kinds(evs)
	if len(k) != len(want) {
		t.Fatalf("events %v, want %v", k, want)
	}
	for i := range k {
		if k[i] != want[i] {
			t.Fatalf("events %v, want %v", k, want)
		}
	}
	if e, n := dsptest.BitErrors(bits, got); e != 0 || n != len(bits) {
		t.Errorf("%d errors in %d of %d bits", e, n, len(bits))
	}
}
