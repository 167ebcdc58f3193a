package v17

import (
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"

	"github.com/faxd/faxd/t38/modem/dsp"
	"github.com/faxd/faxd/t38/modem/dsp/dsptest"
)

var rates = []int{14400, 12000, 9600, 7200}

func randomBits(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, 17))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.IntN(2))
	}
	return b
}

// modulate runs bits through our transmitter, with silence around.
func modulate(t testing.TB, rate int, short bool, dbm0 float64, bits []byte) []int16 {
	tx, err := NewTx(rate, short)
	if err != nil {
		t.Fatal(err)
	}
	if err := tx.SetLevel(dbm0); err != nil {
		t.Fatal(err)
	}
	tx.Write(bits)
	tx.Close()
	audio := make([]int16, 800)
	buf := make([]int16, 160)
	for !tx.Done() {
		n := tx.Read(buf)
		audio = append(audio, buf[:n]...)
	}
	return append(audio, make([]int16, 800)...)
}

// receiver wraps our Rx for tests: it collects bits and events.
type receiver struct {
	rx   *Rx
	bits []byte
	evs  []dsp.Event
}

func newReceiver(t testing.TB, rate int) *receiver {
	rx, err := NewRx(rate)
	if err != nil {
		t.Fatal(err)
	}
	return &receiver{rx: rx}
}

func (r *receiver) feed(audio []int16) {
	p := make([]byte, 512)
	for i := 0; i < len(audio); i += 160 {
		r.rx.Write(audio[i:min(i+160, len(audio))])
		for n := r.rx.ReadBits(p); n > 0; n = r.rx.ReadBits(p) {
			r.bits = append(r.bits, p[:n]...)
		}
		for e, ok := r.rx.PollEvent(); ok; e, ok = r.rx.PollEvent() {
			r.evs = append(r.evs, e)
		}
	}
}

func kinds(evs []dsp.Event) []dsp.EventKind {
	var k []dsp.EventKind
	for _, e := range evs {
		k = append(k, e.Kind)
	}
	return k
}

// checkBurst asserts up/trained/down for one burst and returns the bit
// errors over want.
func checkBurst(t *testing.T, name string, want, got []byte, evs []dsp.Event) int {
	t.Helper()
	k := kinds(evs)
	if len(k) != 3 || k[0] != dsp.CarrierUp || k[1] != dsp.TrainingDone || k[2] != dsp.CarrierDown {
		t.Errorf("%s: events %v, want [carrier-up training-done carrier-down]", name, k)
		return len(want)
	}
	if len(got) < len(want) {
		t.Errorf("%s: received %d bits, sent %d", name, len(got), len(want))
		return len(want)
	}
	e, _ := dsptest.BitErrors(want, got[:len(want)])
	return e
}

func TestLoopbackChannels(t *testing.T) {
	cases := []struct {
		name    string
		ch      dsptest.Channel
		level   float64
		maxBER  float64
		minQual float64
	}{
		{name: "clean -6dBm0", level: -6, maxBER: 0, minQual: -28},
		{name: "clean -20dBm0", level: -20, maxBER: 0, minQual: -28},
		{name: "awgn 30dB", level: -14, ch: dsptest.Channel{SNRDB: 30, Seed: 1}, maxBER: 0, minQual: -24},
		{name: "freq +7Hz", level: -14, ch: dsptest.Channel{FreqOffsetHz: 7, SNRDB: 32, Seed: 3}, maxBER: 0, minQual: -22},
		{name: "freq -5Hz", level: -14, ch: dsptest.Channel{FreqOffsetHz: -5, SNRDB: 32, Seed: 4}, maxBER: 0, minQual: -22},
		{name: "clock +200ppm", level: -14, ch: dsptest.Channel{ClockPPM: 200, SNRDB: 32, Seed: 5}, maxBER: 0, minQual: -22},
		{name: "clock -200ppm", level: -14, ch: dsptest.Channel{ClockPPM: -200, SNRDB: 32, Seed: 6}, maxBER: 0, minQual: -22},
		{name: "echo 1ms -10dB", level: -14, ch: dsptest.Channel{EchoDelay: 8, EchoDB: -10, SNRDB: 32, Seed: 7}, maxBER: 0, minQual: -20},
		{name: "all", level: -14, ch: dsptest.Channel{EchoDelay: 5, EchoDB: -12, FreqOffsetHz: 4, ClockPPM: -200, SNRDB: 32, Seed: 8}, maxBER: 1e-4, minQual: -20},
	}
	for _, rate := range rates {
		for _, c := range cases {
			bits := randomBits(rate*2, uint64(rate))
			r := newReceiver(t, rate)
			r.feed(c.ch.Apply(modulate(t, rate, false, c.level, bits)))
			name := c.name + " " + strconv.Itoa(rate)
			errs := checkBurst(t, name, bits, r.bits, r.evs)
			if ber := float64(errs) / float64(len(bits)); ber > c.maxBER {
				t.Errorf("%s: %d bit errors in %d (BER %.2g), want at most %.2g", name, errs, len(bits), ber, c.maxBER)
			}
			if len(r.evs) > 1 {
				if q := r.evs[1].QualityDB; q > c.minQual {
					t.Errorf("%s: training quality %.1f dB, want %.1f or better", name, q, c.minQual)
				}
			}
		}
	}
}

// A long training, then a short one: the receiver keeps its equaliser and
// takes the second burst after only the short training.
func TestShortTraining(t *testing.T) {
	for _, rate := range rates {
		a, b := randomBits(rate, 1), randomBits(rate, 2)
		ch := dsptest.Channel{SNRDB: 32, FreqOffsetHz: 2, ClockPPM: 100, Seed: 9}
		audio := append(modulate(t, rate, false, -14, a), modulate(t, rate, true, -14, b)...)
		r := newReceiver(t, rate)
		r.rx.SetShortTraining(true)
		r.feed(ch.Apply(audio))
		k := kinds(r.evs)
		if len(k) != 6 || k[1] != dsp.TrainingDone || k[4] != dsp.TrainingDone {
			t.Errorf("%d: events %v, want two bursts each up/trained/down", rate, k)
			continue
		}
		// The short burst's training is a tenth of the long one's.
		long, short := r.evs[1].Sample-r.evs[0].Sample, r.evs[4].Sample-r.evs[3].Sample
		if short*4 > long {
			t.Errorf("%d: short training took %d samples, long %d", rate, short, long)
		}
		n1 := int(r.evs[2].Bits)
		if e, _ := dsptest.BitErrors(a, r.bits[:len(a)]); e != 0 {
			t.Errorf("%d: long burst %d errors", rate, e)
		}
		if len(r.bits) < n1+len(b) {
			t.Errorf("%d: short burst gave %d bits, want %d", rate, len(r.bits)-n1, len(b))
			continue
		}
		if e, _ := dsptest.BitErrors(b, r.bits[n1:n1+len(b)]); e != 0 {
			t.Errorf("%d: short burst %d errors", rate, e)
		}
	}
}

func TestBadRate(t *testing.T) {
	if _, err := NewTx(4800, false); err == nil {
		t.Error("NewTx(4800) accepted")
	}
	if _, err := NewRx(2400); err == nil {
		t.Error("NewRx(2400) accepted")
	}
}

// A receiver told to expect a short training that gets a long one
// recognises it and trains anyway.
func TestLongWhenShortExpected(t *testing.T) {
	for _, rate := range []int{14400, 7200} {
		a, b := randomBits(rate, 1), randomBits(rate, 2)
		audio := append(modulate(t, rate, false, -14, a), modulate(t, rate, false, -14, b)...)
		r := newReceiver(t, rate)
		r.rx.SetShortTraining(true)
		// Noise low enough (-52 dBm0) for the carrier to drop between bursts.
		r.feed(dsptest.Channel{SNRDB: 38, Seed: 4}.Apply(audio))
		k := kinds(r.evs)
		if len(k) != 6 || k[1] != dsp.TrainingDone || k[4] != dsp.TrainingDone {
			t.Errorf("%d: events %v, want two bursts each up/trained/down", rate, k)
			continue
		}
		n1 := int(r.evs[2].Bits)
		if e, n := dsptest.BitErrors(b, r.bits[n1:]); e != 0 || n != len(b) {
			t.Errorf("%d: second burst %d errors in %d of %d bits", rate, e, n, len(b))
		}
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
	want := modulate(t, 14400, true, -14, bits)
	want = want[800 : len(want)-800]
	tx, _ := NewTx(14400, true)
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

// A weak signal (-40 dBm0) is ignored at the default threshold and
// received with V.17's own -43 dBm0.
func TestThreshold(t *testing.T) {
	bits := randomBits(9600, 6)
	audio := dsptest.Channel{SNRDB: 30, Seed: 3}.Apply(modulate(t, 9600, false, -40, bits))
	r := newReceiver(t, 9600)
	r.feed(audio)
	if len(r.evs) != 0 || len(r.bits) != 0 {
		t.Errorf("at -26 dBm0: events %v, %d bits; want nothing", kinds(r.evs), len(r.bits))
	}
	r = newReceiver(t, 9600)
	r.rx.SetThreshold(-43)
	r.feed(audio)
	if errs := checkBurst(t, "-40 dBm0", bits, r.bits, r.evs); errs != 0 {
		t.Errorf("at -43 dBm0: %d bit errors", errs)
	}
}

// Training must be reliable, not lucky: at a noise level just above where
// each rate reaches BER 1e-5, every one of several trials (different
// timing phase, carrier offset, clock offset and noise) trains, long and
// then short.
func TestTrainingReliability(t *testing.T) {
	snr := map[int]float64{14400: 23, 12000: 21, 9600: 18, 7200: 18}
	for _, rate := range rates {
		for trial := 0; trial < 8; trial++ {
			bits := randomBits(1500, uint64(trial))
			sig := append(modulate(t, rate, false, -14, bits)[800-trial*7:], modulate(t, rate, true, -14, bits)...)
			ch := dsptest.Channel{SNRDB: snr[rate], Seed: uint64(trial), FreqOffsetHz: float64(trial%7) - 3, ClockPPM: float64(trial%5-2) * 100}
			r := newReceiver(t, rate)
			r.rx.SetShortTraining(true)
			r.feed(ch.Apply(sig))
			n := 0
			for _, e := range r.evs {
				if e.Kind == dsp.TrainingDone {
					n++
				}
			}
			if n != 2 {
				t.Errorf("%d at %g dB, trial %d: events %v, want both bursts trained", rate, snr[rate], trial, kinds(r.evs))
			}
		}
	}
}

// Levels outside what G.711 can carry are refused with an error naming the
// value, not turned into silence or clipping.
func TestBadLevels(t *testing.T) {
	tx, _ := NewTx(9600, false)
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
	bits := randomBits(7200, 8)
	audio := append(dsptest.FSK(1650, 1850, 300, -10, 16000, 1), make([]int16, 600)...)
	audio = append(audio, modulate(t, 14400, false, -14, bits)...)
	r := newReceiver(t, 14400)
	r.feed(audio)
	want := []dsp.EventKind{dsp.CarrierUp, dsp.TrainingFailed, dsp.CarrierDown, dsp.CarrierUp, dsp.TrainingDone, dsp.CarrierDown}
	k := kinds(r.evs)
	if len(k) != len(want) {
		t.Fatalf("events %v, want %v", k, want)
	}
	for i := range k {
		if k[i] != want[i] {
			t.Fatalf("events %v, want %v", k, want)
		}
	}
	if e, n := dsptest.BitErrors(bits, r.bits); e != 0 || n != len(bits) {
		t.Errorf("%d errors in %d of %d bits", e, n, len(bits))
	}
}
