package dsp

import (
	"math"
	"math/cmplx"
	"math/rand/v2"
	"testing"
)

// The RRC pulse has unit energy and, convolved with itself, is a raised
// cosine: 1 at its centre and 0 at every other whole symbol.
func TestRootRaisedCosineIsNyquistPair(t *testing.T) {
	for _, alpha := range []float64{0.25, 0.5} {
		const over = 40
		var energy float64
		pulse := make([]float64, 0, 20*over+1)
		for i := -10 * over; i <= 10*over; i++ {
			v := RootRaisedCosine(float64(i)/over, alpha)
			if math.IsNaN(v) || math.IsInf(v, 0) {
				t.Fatalf("alpha %g: pulse at %g is %g", alpha, float64(i)/over, v)
			}
			pulse = append(pulse, v)
			energy += v * v / over
		}
		if math.Abs(energy-1) > 0.01 {
			t.Errorf("alpha %g: energy %g, want 1", alpha, energy)
		}
		for k := 0; k <= 3; k++ {
			var rc float64
			for i := range pulse {
				j := i + k*over
				if j < len(pulse) {
					rc += pulse[i] * pulse[j] / over
				}
			}
			want := 0.0
			if k == 0 {
				want = 1
			}
			if math.Abs(rc-want) > 0.01 {
				t.Errorf("alpha %g: raised cosine at %d symbols = %g, want %g", alpha, k, rc, want)
			}
		}
	}
}

func qpsk(r *rand.Rand) complex64 {
	return complex(float32(2*r.IntN(2)-1), float32(2*r.IntN(2)-1))
}

// shapeAt runs syms through the 10/3 shaper and returns the baseband.
func shapeAt(syms []complex64) []complex64 {
	s := NewShaper(10, 3, 6, 0.25)
	var out []complex64
	i := 0
	for i < len(syms) {
		if s.NeedSymbol() {
			s.Push(syms[i])
			i++
			continue
		}
		out = append(out, s.Next())
	}
	return out
}

// Shaper output through the matched filter, sampled at the symbol instants
// the timing loop finds, gives back the symbols: this checks the shaper,
// the interpolating matched filter and the Gardner loop together, starting
// from a timing error of almost half a symbol and with a 200 ppm clock
// offset the loop must learn.
func TestShaperAndSymbolSyncRecoverSymbols(t *testing.T) {
	for _, ppm := range []float64{0, 200, -200} {
		r := rand.New(rand.NewPCG(1, 2))
		syms := make([]complex64, 6000)
		for i := range syms {
			syms[i] = qpsk(r)
		}
		bb := shapeAt(syms)
		// Resample the baseband with linear-phase sinc interpolation to
		// model the clock offset, and start 1.6 samples late.
		ratio := 1 + ppm*1e-6
		rs := make([]complex64, 0, len(bb))
		for i := 0; ; i++ {
			tt := float64(i)/ratio + 1.6
			k0 := int(tt)
			if k0+16 >= len(bb) {
				break
			}
			var v complex128
			for k := k0 - 15; k <= k0+16; k++ {
				if k < 0 {
					continue
				}
				d := tt - float64(k)
				w := 0.5 + 0.5*math.Cos(math.Pi*d/16)
				sv := 1.0
				if d != 0 {
					sv = math.Sin(math.Pi*d) / (math.Pi * d)
				}
				v += complex128(bb[k]) * complex(sv*w, 0)
			}
			rs = append(rs, complex64(v))
		}
		ss := NewSymbolSync(10.0/3, 0.25, 6)
		var on []complex64
		for _, x := range rs {
			if y, onTime, ok := ss.Push(x); ok && onTime {
				on = append(on, y)
			}
		}
		// Judge the last 2000 symbols: they must sit on the QPSK points
		// (output j is symbol j+c for some fixed c, found by matching).
		best := math.Inf(1)
		for c := -60; c <= 60; c++ {
			var mse float64
			n := 0
			for j := len(on) - 2000; j < len(on); j++ {
				if j+c >= 0 && j+c < len(syms) {
					mse += float64(Abs2(on[j] - syms[j+c]))
					n++
				}
			}
			if n == 2000 {
				best = min(best, mse/float64(n))
			}
		}
		if best > 0.02 {
			t.Errorf("%g ppm: best mean squared error %g, want < 0.02 (timing not recovered)", ppm, best)
		}
		wantOffset := ppm * 1e-6 * 10 / 3
		if ppm != 0 && math.Abs(ss.ClockOffset()-wantOffset) > math.Abs(wantOffset)/3 {
			t.Errorf("%g ppm: learned clock offset %g samples/symbol, want about %g", ppm, ss.ClockOffset(), wantOffset)
		}
	}
}

// The equaliser learns to undo a T/2-spaced channel with a strong
// post-cursor echo and a phase twist.
func TestEqualizerConvergesOnISIChannel(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	ch := []complex64{0.1, 1, 0.35 + 0.2i, -0.25, 0.1i}
	eq := NewEqualizer(24)
	eq.Mu = 0.1
	var in []complex64
	syms := make([]complex64, 4000)
	for i := range syms {
		syms[i] = qpsk(r)
		in = append(in, syms[i], 0) // symbols at T/2 with zeros between
	}
	// Convolve at T/2.
	x := make([]complex64, len(in))
	for i := range in {
		for k, c := range ch {
			if i-k >= 0 {
				x[i] += c * in[i-k]
			}
		}
	}
	delay := 6 // symbols of decision delay: the centre tap is 12 half-symbols back
	var mse float64
	for k := 0; k < len(syms); k++ {
		eq.Push(x[2*k])
		eq.Push(x[2*k+1])
		if k < delay {
			continue
		}
		y := eq.Output()
		e := syms[k-delay] - y
		eq.Adapt(e)
		if k >= len(syms)-500 {
			mse += float64(Abs2(e))
		}
	}
	mse /= 500
	if mse > 0.01 {
		t.Fatalf("equaliser mean squared error %g after training, want < 0.01", mse)
	}
}

// The carrier loop locks to a constellation spinning at 7 Hz (at 2400
// baud) and reports that offset.
func TestCarrierLoopTracksFrequencyOffset(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	l := NewCarrierLoop(0.01)
	const baud, off = 2400.0, 7.0
	var tailErr float64
	for k := 0; k < 6000; k++ {
		s := qpsk(r)
		z := s * Rotor(2*math.Pi*off*float64(k)/baud+0.3)
		d := l.Derotate(z)
		// Decision on the derotated symbol (QPSK quadrants).
		want := complex(float32(math.Copysign(1, float64(real(d)))), float32(math.Copysign(1, float64(imag(d)))))
		if k > 5000 {
			tailErr += float64(Abs2(d - s))
		}
		l.Update(d, want)
	}
	if tailErr/999 > 0.001 {
		t.Errorf("residual error %g after lock, want < 0.001", tailErr/999)
	}
	if f := l.FrequencyHz(baud); math.Abs(f-off) > 0.1 {
		t.Errorf("learned offset %g Hz, want %g", f, off)
	}
}

func TestScramblerGoldenAndSelfSync(t *testing.T) {
	// From a clear register, ones pass unchanged until the x^-18 tap sees
	// the first output bit: 18 ones, then a zero.
	var s Scrambler
	var got []uint8
	for i := 0; i < 19; i++ {
		got = append(got, s.Scramble(1))
	}
	for i, b := range got[:18] {
		if b != 1 {
			t.Fatalf("bit %d = %d, want 1", i, b)
		}
	}
	if got[18] != 0 {
		t.Fatalf("bit 18 = 1, want 0")
	}
	// Round trip, with the descrambler starting in a different state: after
	// 23 bits it is in step.
	s.Reset()
	d := Descrambler{reg: 0x5a5a5a}
	r := rand.New(rand.NewPCG(7, 8))
	for i := 0; i < 5000; i++ {
		b := uint8(r.IntN(2))
		out := d.Descramble(s.Scramble(b))
		if i >= 23 && out != b {
			t.Fatalf("bit %d: descrambled %d, want %d", i, out, b)
		}
	}
}

func TestPowerMeterReadsToneLevel(t *testing.T) {
	for _, level := range []float64{-10, -26, -43} {
		m := NewPowerMeter(200)
		a := math.Sqrt(2 * DBm0ToPower(level))
		for i := 0; i < 8000; i++ {
			m.Update(float32(a * math.Sin(2*math.Pi*1000*float64(i)/8000)))
		}
		if got := m.DBm0(); math.Abs(got-level) > 0.2 {
			t.Errorf("tone at %g dBm0 read as %g", level, got)
		}
	}
	if got := PowerToDBm0(32767.0 * 32767.0 / 2); math.Abs(got-3.14) > 1e-9 {
		t.Errorf("full-scale sine = %g dBm0, want 3.14", got)
	}
}

func TestAGCReachesTargetAndFreezes(t *testing.T) {
	a := NewAGC(1, 100)
	for i := 0; i < 2000; i++ {
		a.Apply(complex(30, 40)) // |x|² = 2500
	}
	if y := a.Apply(complex(30, 40)); math.Abs(float64(Abs2(y))-1) > 0.01 {
		t.Fatalf("AGC output power %g, want 1", Abs2(y))
	}
	a.Frozen = true
	g := a.Gain
	for i := 0; i < 100; i++ {
		a.Apply(complex(3, 4))
	}
	if a.Gain != g {
		t.Fatalf("frozen AGC changed gain from %g to %g", g, a.Gain)
	}
}

// An alternation seen through an unknown gain and phase is recognised,
// with the right parity and the correction that undoes the channel; a
// plain carrier and a half-symbol timing error (every sample midway) are
// not alternations.
func TestFitAlternation(t *testing.T) {
	a, b := complex64(-3), complex64(3-3i)
	ch := complex64(complex(0.2, -0.35))
	for _, startB := range []bool{false, true} {
		win := make([]complex64, 16)
		for i := range win {
			s := a
			if (i%2 == 1) != startB {
				s = b
			}
			win[i] = s * ch
		}
		g, firstIsA, ok := FitAlternation(win, a, b, 0.45)
		if !ok || firstIsA == startB {
			t.Fatalf("startB=%v: ok=%v firstIsA=%v", startB, ok, firstIsA)
		}
		if d := g*ch - 1; Abs2(d) > 1e-6 {
			t.Fatalf("startB=%v: correction %v, want %v", startB, g, 1/ch)
		}
	}
	carrier := make([]complex64, 16)
	mid := make([]complex64, 16)
	for i := range carrier {
		carrier[i] = 3 * ch
		mid[i] = (a + b) / 2 * ch
	}
	if _, _, ok := FitAlternation(carrier, a, b, 0.45); ok {
		t.Error("a plain carrier was taken for the alternation")
	}
	if _, _, ok := FitAlternation(mid, a, b, 0.45); ok {
		t.Error("midway samples were taken for the alternation")
	}
}

// The front end reports carrier up and down at its thresholds, one symbol
// instant per 10/3 samples while a carrier is up, none while parked, and a
// retry when the level jumps 6 dB over the level it was parked at.
func TestFrontEndSteps(t *testing.T) {
	f := NewFrontEnd(FrontEndConfig{CarrierHz: 1800, SampleRate: 8000, Baud: 2400, Alpha: 0.25,
		Span: 6, EQTaps: 32, MeterLen: 40, OffLen: 96})
	f.SetThresholds(-26, -31)
	tone := func(dbm0 float64, n int) []int16 {
		a := math.Sqrt(2 * DBm0ToPower(dbm0))
		out := make([]int16, n)
		for i := range out {
			out[i] = int16(a * math.Sin(2*math.Pi*1800*float64(i)/8000))
		}
		return out
	}
	count := func(in []int16) (up, retry, down, sym int) {
		for _, s := range in {
			st := f.Push(s)
			if st&StepCarrierUp != 0 {
				up++
			}
			if st&StepRetry != 0 {
				retry++
			}
			if st&StepCarrierDown != 0 {
				down++
			}
			if st&StepSymbol != 0 {
				sym++
			}
		}
		return
	}
	if up, _, _, sym := count(tone(-40, 8000)); up != 0 || sym != 0 {
		t.Fatalf("-40 dBm0: %d carrier-up, %d symbols; want none", up, sym)
	}
	up, _, _, sym := count(tone(-20, 8000))
	if up != 1 || sym < 2350 || sym > 2400 {
		t.Fatalf("-20 dBm0 for 1 s: %d carrier-up, %d symbols; want 1 and about 2400", up, sym)
	}
	f.Park()
	if _, _, _, sym := count(tone(-20, 4000)); sym != 0 {
		t.Fatalf("parked: %d symbols", sym)
	}
	if _, retry, _, sym := count(tone(-12, 4000)); retry != 1 || sym == 0 {
		t.Fatalf("8 dB louder while parked: %d retries, %d symbols; want 1 and some", retry, sym)
	}
	if _, _, down, _ := count(make([]int16, 800)); down != 1 {
		t.Fatalf("silence: %d carrier-down, want 1", down)
	}
}

// Run over blocks of any length takes every sample as Push would: the
// same steps at the same samples and the same state after, through quiet,
// carrier, a parked signal, a retry and the carrier's end.
func TestFrontEndRunMatchesPush(t *testing.T) {
	cfg := FrontEndConfig{CarrierHz: 1800, SampleRate: 8000, Baud: 2400, Alpha: 0.25,
		Span: 4, EQTaps: 32, MeterLen: 40, OffLen: 96}
	rng := rand.New(rand.NewPCG(7, 9))
	var in []int16
	add := func(dbm0 float64, n int) {
		a := math.Sqrt(2 * DBm0ToPower(dbm0))
		for i := range n {
			in = append(in, int16(a*math.Sin(2*math.Pi*1700*float64(i)/8000)+rng.NormFloat64()*30))
		}
	}
	add(-60, 3000)
	add(-20, 6000)
	add(-21, 6000) // parked here
	add(-12, 4000) // retry
	add(-70, 2000)
	add(-18, 3000)
	add(-65, 1500)
	parkAt := int64(8000) // park on the first symbol after this sample

	type event struct {
		at int64
		st Step
	}
	a, b := NewFrontEnd(cfg), NewFrontEnd(cfg)
	a.SetThresholds(-26, -31)
	b.SetThresholds(-26, -31)
	var want, got []event
	var wantY, gotY []complex64
	parked := false
	for _, s := range in {
		if st := a.Push(s); st != 0 {
			want = append(want, event{a.Sample, st})
			if st&StepSymbol != 0 {
				wantY = append(wantY, a.EQ.Output())
				if a.Sample > parkAt && !parked {
					a.Park()
					parked = true
				}
			}
		}
	}
	parked = false
	for rest := in; len(rest) > 0; {
		blk := rest[:min(len(rest), 1+rng.IntN(400))]
		rest = rest[len(blk):]
		for len(blk) > 0 {
			n, st := b.Run(blk)
			blk = blk[n:]
			if st == 0 {
				if len(blk) != 0 {
					t.Fatalf("Run stopped %d samples short without a step", len(blk))
				}
				continue
			}
			got = append(got, event{b.Sample, st})
			if st&StepSymbol != 0 {
				gotY = append(gotY, b.EQ.Output())
				if b.Sample > parkAt && !parked {
					b.Park()
					parked = true
				}
			}
		}
	}
	if len(got) != len(want) {
		t.Fatalf("Run gave %d steps, Push %d", len(got), len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("step %d: Run %+v, Push %+v", i, got[i], want[i])
		}
	}
	for i := range wantY {
		if gotY[i] != wantY[i] {
			t.Fatalf("symbol %d: Run %v, Push %v", i, gotY[i], wantY[i])
		}
	}
	if a.Sample != b.Sample || a.Meter.Power() != b.Meter.Power() {
		t.Fatalf("after: Run at sample %d power %g, Push at %d power %g", b.Sample, b.Meter.Power(), a.Sample, a.Meter.Power())
	}
	var ups, retries, downs int
	for _, e := range want {
		if e.st&StepCarrierUp != 0 {
			ups++
		}
		if e.st&StepRetry != 0 {
			retries++
		}
		if e.st&StepCarrierDown != 0 {
			downs++
		}
	}
	if ups != 2 || retries != 1 || downs != 2 {
		t.Fatalf("the signal gave %d carrier-ups, %d retries, %d carrier-downs; want 2, 1, 2", ups, retries, downs)
	}
}

// The loop's rotor, turned step by step, stays e^{j Phase} to well within
// what a complex64 holds, over a million steps of either sign; a step too
// large for the series is computed afresh.
func TestCarrierLoopRotorFollowsPhase(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	l := NewCarrierLoop(0.02)
	l.Rotor()
	worst := 0.0
	for k := range 1_000_000 {
		d := (2*r.Float64() - 1) * maxTurn
		if k%100_000 == 99_999 {
			d = 3 // a jump
		}
		l.turn(d)
		got := l.Rotor()
		s, c := math.Sincos(l.Phase)
		worst = max(worst, math.Hypot(float64(real(got))-c, float64(imag(got))-s))
	}
	if worst > 1e-6 {
		t.Fatalf("rotor off e^{j Phase} by up to %g", worst)
	}
}

// PushReal on a real passband signal gives what Push gives on the same
// signal mixed down to baseband first, output for output: the mixing
// folded into the taps and the carrier's phase at each window are right.
func TestSymbolSyncPushRealMatchesMixingFirst(t *testing.T) {
	const hz, rate = 1800.0, 8000.0
	real1 := NewSymbolSync(rate/2400, 0.25, 4)
	real1.SetCarrier(hz, rate)
	mixed := NewSymbolSync(rate/2400, 0.25, 4)
	for _, s := range []*SymbolSync{real1, mixed} {
		s.Kp, s.Ki = 0, 0 // the same instants for both
	}
	r := rand.New(rand.NewPCG(2, 3))
	outs := 0
	for n := 0; n < 20000; n++ {
		x := float32(r.NormFloat64())
		a, _, okA := real1.PushReal(x)
		sn, cs := math.Sincos(-2 * math.Pi * hz * float64(n) / rate)
		b, _, okB := mixed.Push(complex(x*float32(cs), x*float32(sn)))
		if okA != okB {
			t.Fatalf("sample %d: an output from one and not the other", n)
		}
		if !okA {
			continue
		}
		outs++
		if d := cmplx.Abs(complex128(a - b)); d > 1e-4*max(1, cmplx.Abs(complex128(b))) {
			t.Fatalf("output %d: PushReal %v, mixing first %v", outs, a, b)
		}
	}
	if outs < 11000 {
		t.Fatalf("%d outputs from 20000 samples, want 2 per symbol", outs)
	}
}
