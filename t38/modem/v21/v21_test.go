package v21

import (
	"bytes"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/faxd/faxd/t38/modem/dsp/dsptest"
	"github.com/faxd/faxd/t38/modem/hdlc"
)

func randomBits(r *rand.Rand, n int) []uint8 {
	b := make([]uint8, n)
	for i := range b {
		b[i] = uint8(r.IntN(2))
	}
	return b
}

func modulate(t testing.TB, bits []uint8, level float64) []int16 {
	t.Helper()
	tx, err := NewTx(Channel2, level)
	if err != nil {
		t.Fatal(err)
	}
	src := Bits(bits)
	out := make([]int16, len(bits)*SampleRate/BitRate+SampleRate/BitRate)
	n := tx.Modulate(out, &src)
	if len(src) != 0 {
		t.Fatalf("transmitter left %d bits", len(src))
	}
	return out[:n]
}

// demodulate runs our receiver over samples in uneven chunks and returns the
// bits and the carrier events.
func demodulate(t testing.TB, samples []int16) (bits []uint8, carrier []EventKind) {
	t.Helper()
	rx, err := NewRx(RxConfig{})
	if err != nil {
		t.Fatal(err)
	}
	var evs []Event
	for i := 0; i < len(samples); {
		n := min(len(samples)-i, 1+i%97)
		evs = rx.Process(samples[i:i+n], evs)
		i += n
	}
	for _, ev := range evs {
		if ev.Kind == EventBit {
			bits = append(bits, ev.Bit)
		} else {
			carrier = append(carrier, ev.Kind)
		}
	}
	return bits, carrier
}

// bitErrors aligns got with sent (the receiver's first bits may be lost or
// invented while it locks on) and counts errors over the sent bits from
// skip on. Missing bits at the end count as errors.
func bitErrors(sent, got []uint8, skip int) (errs, compared int) {
	const probe = 64
	best, bestOff := math.MaxInt, 0
	for off := -48; off <= 48; off++ {
		e := 0
		for i := skip; i < skip+probe && i < len(sent); i++ {
			j := i + off
			if j < 0 || j >= len(got) || got[j] != sent[i] {
				e++
			}
		}
		if e < best {
			best, bestOff = e, off
		}
	}
	for i := skip; i < len(sent); i++ {
		j := i + bestOff
		if j < 0 || j >= len(got) || got[j] != sent[i] {
			errs++
		}
		compared++
	}
	return errs, compared
}

func TestTxLevelAndFrequency(t *testing.T) {
	for _, level := range []float64{DefaultTxLevel, -6, -30} {
		ones := make([]uint8, 300)
		for i := range ones {
			ones[i] = 1
		}
		s := dsptest.ToFloat(modulate(t, ones, level))
		if got := PowerDBm0(dsptest.MeanSquare(s)); math.Abs(got-level) > 0.1 {
			t.Errorf("level %g dBm0: measured %.2f dBm0", level, got)
		}
		// Marks are 1650 Hz: count zero crossings over the second.
		cross := 0
		for i := 1; i < len(s); i++ {
			if (s[i-1] < 0) != (s[i] < 0) {
				cross++
			}
		}
		if f := float64(cross) / 2 / (float64(len(s)) / SampleRate); math.Abs(f-1650) > 3 {
			t.Errorf("mark frequency %.1f Hz, want 1650", f)
		}
	}
	for _, bad := range []float64{1, -61, math.NaN()} {
		if _, err := NewTx(Channel2, bad); err == nil {
			t.Errorf("level %g accepted", bad)
		}
	}
	if _, err := NewTx(3, -13); err == nil {
		t.Error("channel 3 accepted")
	}
}

// No phase jump at bit boundaries: the step between samples never exceeds
// what the higher tone's slope allows.
func TestTxPhaseContinuous(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 1))
	s := modulate(t, randomBits(r, 600), DefaultTxLevel)
	limit := Amplitude(DefaultTxLevel)*2*math.Pi*1850/SampleRate + 2
	for i := 1; i < len(s); i++ {
		if d := math.Abs(float64(s[i]) - float64(s[i-1])); d > limit {
			t.Fatalf("sample %d: step %.0f beyond %.0f", i, d, limit)
		}
	}
	// 600 bits take 600 × 26 2/3 samples, exactly.
	if len(s) != 16000 {
		t.Fatalf("%d samples for 600 bits, want 16000", len(s))
	}
}

type condition struct {
	name   string
	gainDB float64
	snr    float64 // dB; +Inf for none
	ppm    float64
	hz     float64 // frequency offset
	echoDB float64 // 0: none
	maxBER float64
}

func (c condition) apply(x []float64, r *rand.Rand) []float64 {
	x = dsptest.Pad(x, 400, 400)
	if c.echoDB != 0 {
		x = dsptest.Echo(x, 40, c.echoDB)
	}
	if c.hz != 0 {
		x = dsptest.Shift(x, c.hz)
	}
	if c.ppm != 0 {
		x = dsptest.Drift(x, c.ppm)
	}
	x = dsptest.Gain(x, c.gainDB)
	if !math.IsInf(c.snr, 1) {
		x = dsptest.AWGN(x, c.snr, meanSquare(DefaultTxLevel+c.gainDB), r)
	}
	return x
}

var conditions = []condition{
	{name: "clean", snr: math.Inf(1)},
	{name: "-6dB", gainDB: -6, snr: math.Inf(1)},
	{name: "-20dB", gainDB: -20, snr: math.Inf(1)},
	{name: "+200ppm", ppm: 200, snr: math.Inf(1)},
	{name: "-200ppm", ppm: -200, snr: math.Inf(1)},
	{name: "+10Hz", hz: 10, snr: math.Inf(1)},
	{name: "-10Hz", hz: -10, snr: math.Inf(1)},
	{name: "echo-10dB", echoDB: -10, snr: math.Inf(1)},
	{name: "snr20", snr: 20},
	{name: "snr10", snr: 10},
	{name: "snr6-20dB-200ppm", snr: 6, gainDB: -20, ppm: -200, maxBER: 1e-3},
	{name: "snr3", snr: 3, maxBER: 1e-3},
	{name: "snr0", snr: 0, maxBER: 5e-3},
}

func TestRoundTripBER(t *testing.T) {
	for i, c := range conditions {
		t.Run(c.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(uint64(i), 7))
			sent := randomBits(r, 3000)
			rx := dsptest.ToInt16(c.apply(dsptest.ToFloat(modulate(t, sent, DefaultTxLevel)), r))
			got, carrier := demodulate(t, rx)
			errs, n := bitErrors(sent, got, 8)
			ber := float64(errs) / float64(n)
			t.Logf("%s: %d errors in %d bits (BER %.2g), carrier %v", c.name, errs, n, ber, carrier)
			if ber > c.maxBER {
				t.Errorf("BER %.3g above %.3g", ber, c.maxBER)
			}
			// The noise stays on the line after the signal: the carrier
			// drops only if the noise is below the off threshold.
			want := []EventKind{EventCarrierUp, EventCarrierDown}
			if !math.IsInf(c.snr, 1) && DefaultTxLevel+c.gainDB-c.snr > DefaultOffLevel {
				want = want[:1]
			}
			if fmt.Sprint(carrier) != fmt.Sprint(want) {
				t.Errorf("carrier events %v, want %v", carrier, want)
			}
		})
	}
}

func TestCarrierThresholds(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 5))
	burst := func(level float64) []float64 { return dsptest.ToFloat(modulate(t, randomBits(r, 150), level)) }
	ups := func(x []float64) []EventKind {
		_, c := demodulate(t, dsptest.ToInt16(x))
		return c
	}
	// A burst at -42 dBm0 is seen, one at -45 dBm0 is not.
	if c := ups(dsptest.Pad(burst(-42), 200, 200)); len(c) != 2 {
		t.Errorf("-42 dBm0: carrier events %v, want up, down", c)
	}
	if c := ups(dsptest.Pad(burst(-45), 200, 200)); len(c) != 0 {
		t.Errorf("-45 dBm0: carrier events %v, want none", c)
	}
	// Hysteresis: once up, a drop to -46 dBm0 keeps the carrier, a drop
	// to -50 dBm0 ends it.
	x := append(burst(-30), burst(-46)...)
	if c := ups(x); len(c) != 1 || c[0] != EventCarrierUp {
		t.Errorf("-30 then -46 dBm0: carrier events %v, want up only", c)
	}
	x = append(burst(-30), burst(-50)...)
	if c := ups(x); len(c) != 2 {
		t.Errorf("-30 then -50 dBm0: carrier events %v, want up, down", c)
	}
	// Noise at -55 dBm0 is no carrier; neither is a single click.
	noise := dsptest.AWGN(make([]float64, 8000), 0, meanSquare(-55), r)
	noise[4000] = 32767
	if c := ups(noise); len(c) != 0 {
		t.Errorf("noise: carrier events %v, want none", c)
	}
	if _, err := NewRx(RxConfig{OnLevel: -50, OffLevel: -40}); err == nil {
		t.Error("off above on accepted")
	}
}

// T.30 frames through HDLC and V.21 over an impaired line, decoded frame
// for frame.
func TestHDLCOverV21(t *testing.T) {
	frames := [][]byte{
		{0xFF, 0x03, 0x40, 0x20, 0x20, 0x30, 0x30, 0x31, 0x30, 0x20, 0x35, 0x35, 0x35, 0x20, 0x31, 0x2B}, // CSI
		{0xFF, 0x13, 0x80, 0x04, 0xEE, 0xF8, 0x80, 0x80, 0x91, 0x80, 0x80, 0x80, 0x18},                   // DIS
	}
	for i, c := range []condition{
		{name: "clean", snr: math.Inf(1)},
		{name: "impaired", snr: 8, gainDB: -20, ppm: 200, hz: 7, echoDB: -15},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(uint64(i), 11))
			var enc hdlc.Encoder
			enc.Flags(37) // T.30: one second of flags before the first frame
			for _, f := range frames {
				if err := enc.Frame(f); err != nil {
					t.Fatal(err)
				}
			}
			tx, _ := NewTx(Channel2, DefaultTxLevel)
			buf := make([]int16, 2*SampleRate)
			n := tx.Modulate(buf, &enc)
			if enc.Pending() {
				t.Fatal("two seconds were not enough")
			}
			bits, carrier := demodulate(t, dsptest.ToInt16(c.apply(dsptest.ToFloat(buf[:n]), r)))
			var got [][]byte
			for _, ev := range hdlc.Decode(bits) {
				if ev.Kind == hdlc.EventFrame && ev.FCSOK {
					got = append(got, ev.Frame)
				}
			}
			if len(got) != len(frames) {
				t.Fatalf("%d good frames, want %d", len(got), len(frames))
			}
			for i := range frames {
				if !bytes.Equal(got[i], frames[i]) {
					t.Fatalf("frame %d: %x, want %x", i, got[i], frames[i])
				}
			}
			if len(carrier) == 0 || carrier[0] != EventCarrierUp {
				t.Fatalf("carrier events %v", carrier)
			}
		})
	}
}

func FuzzRx(f *testing.F) {
	f.Add([]byte{0, 0, 0xff, 0x7f, 0, 0x80})
	f.Add(bytes.Repeat([]byte{0x10, 0x27, 0xf0, 0xd8}, 500))
	f.Fuzz(func(t *testing.T, data []byte) {
		rx, err := NewRx(RxConfig{})
		if err != nil {
			t.Fatal(err)
		}
		samples := make([]int16, len(data)/2)
		for i := range samples {
			samples[i] = int16(uint16(data[2*i]) | uint16(data[2*i+1])<<8)
		}
		evs := rx.Process(samples, nil)
		if max := len(samples)/13 + 2; len(evs) > max {
			t.Fatalf("%d events from %d samples", len(evs), len(samples))
		}
		for _, ev := range evs {
			if ev.Kind < EventCarrierUp || ev.Kind > EventBit || ev.Bit > 1 {
				t.Fatalf("bad event %+v", ev)
			}
		}
		if p := rx.Power(); math.IsNaN(p) {
			t.Fatal("power NaN")
		}
	})
}

// Channel 1 (980/1180 Hz) works the same way.
func TestChannel1(t *testing.T) {
	r := rand.New(rand.NewPCG(8, 8))
	sent := randomBits(r, 1000)
	tx, err := NewTx(Channel1, DefaultTxLevel)
	if err != nil {
		t.Fatal(err)
	}
	src := Bits(sent)
	buf := make([]int16, len(sent)*27)
	n := tx.Modulate(buf, &src)
	line := dsptest.ToInt16(dsptest.AWGN(dsptest.Pad(dsptest.ToFloat(buf[:n]), 400, 400), 10, meanSquare(DefaultTxLevel), r))
	rx, err := NewRx(RxConfig{Channel: Channel1})
	if err != nil {
		t.Fatal(err)
	}
	var got []uint8
	for _, ev := range rx.Process(line, nil) {
		if ev.Kind == EventBit {
			got = append(got, ev.Bit)
		}
	}
	if errs, m := bitErrors(sent, got, 8); errs != 0 {
		t.Fatalf("%d errors in %d bits", errs, m)
	}
	// The level reads true, within the tilt of the difference filter
	// across the channel, in the middle of a clean signal.
	rx, _ = NewRx(RxConfig{Channel: Channel1})
	rx.Process(buf[:n/2], nil)
	if p := rx.Power(); math.Abs(p-DefaultTxLevel) > 1 {
		t.Errorf("power %.2f dBm0 in the signal, want %g", p, DefaultTxLevel)
	}
	// The mark tone is 980 Hz.
	ones := Bits(bytes.Repeat([]byte{1}, 300))
	tx, _ = NewTx(Channel1, DefaultTxLevel)
	n = tx.Modulate(buf[:8000], &ones)
	cross := 0
	for i := 1; i < n; i++ {
		if (buf[i-1] < 0) != (buf[i] < 0) {
			cross++
		}
	}
	if f := float64(cross) / 2 / (float64(n) / SampleRate); math.Abs(f-980) > 3 {
		t.Errorf("channel 1 mark %.1f Hz, want 980", f)
	}
}

func TestTxNilSource(t *testing.T) {
	tx, _ := NewTx(Channel2, DefaultTxLevel)
	if n := tx.Modulate(make([]int16, 100), nil); n != 0 {
		t.Fatalf("nil source gave %d samples", n)
	}
}
