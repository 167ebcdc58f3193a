package dsp

// FrontEnd is the receive chain the QAM modems share, up to the symbol
// decisions: carrier detection by level, mixing down to complex baseband,
// AGC, the matched filter with Gardner timing recovery, the T/2 equaliser
// and the carrier loop. The modem's own state machine runs on each symbol
// instant Push reports, reading FrontEnd.EQ.Output().
type FrontEnd struct {
	Meter *PowerMeter
	AGC   *AGC
	Sync  *SymbolSync
	EQ    *Equalizer
	PLL   *CarrierLoop
	// Sample counts the samples pushed since creation.
	Sample int64

	onPow, offPow float32
	offLen        int
	carrier       bool
	below         int
	parked        bool
	parkedPow     float32
}

// Step says what one sample brought (bit flags).
type Step uint8

const (
	// StepCarrierUp: the level rose above the on threshold; the chain has
	// been reset for a new signal.
	StepCarrierUp Step = 1 << iota
	// StepRetry: while parked, the level jumped by 6 dB; the chain has
	// been reset to try again on the same carrier.
	StepRetry
	// StepCarrierDown: the level stayed below the off threshold.
	StepCarrierDown
	// StepSymbol: a symbol instant; the equaliser holds a new symbol.
	StepSymbol
)

// FrontEndConfig sizes a FrontEnd.
type FrontEndConfig struct {
	CarrierHz, SampleRate, Baud, Alpha float64
	Span                               int // pulse span, symbols each side
	EQTaps                             int // T/2 equaliser taps
	MeterLen                           int // power meter memory, samples
	OffLen                             int // samples below the off threshold before carrier down
}

// NewFrontEnd builds the chain.
func NewFrontEnd(c FrontEndConfig) *FrontEnd {
	f := &FrontEnd{
		Meter:  NewPowerMeter(c.MeterLen),
		AGC:    NewAGC(1, 64),
		Sync:   NewSymbolSync(c.SampleRate/c.Baud, c.Alpha, c.Span),
		EQ:     NewEqualizer(c.EQTaps),
		PLL:    NewCarrierLoop(0.02),
		offLen: c.OffLen,
	}
	f.Sync.SetCarrier(c.CarrierHz, c.SampleRate)
	return f
}

// SetThresholds sets the carrier on and off levels in dBm0.
func (f *FrontEnd) SetThresholds(onDBm0, offDBm0 float64) {
	f.onPow = float32(DBm0ToPower(onDBm0))
	f.offPow = float32(DBm0ToPower(offDBm0))
}

// Park stops processing the current signal (its training failed) until the
// carrier drops, or the level jumps by 6 dB: a signal starting on top of
// whatever failed (noise, a stronger carrier) gets a fresh try.
func (f *FrontEnd) Park() {
	f.parked = true
	f.parkedPow = f.Meter.Power()
}

// restart resets the chain for a new signal: the equaliser is the
// modem's to reset (V.17's short training keeps it).
func (f *FrontEnd) restart() {
	f.AGC.Reset()
	f.Sync.Reset()
	f.Sync.Kp, f.Sync.Ki = 0.2, 0 // pull in fast on the alternations
	*f.PLL = CarrierLoop{}
	f.PLL.SetBandwidth(0.02)
	f.below = 0
}

// Push feeds one sample.
func (f *FrontEnd) Push(s int16) Step {
	f.Sample++
	x := float32(s)
	return f.step(x, f.Meter.Update(x))
}

// Run feeds samples until one of them brings a Step, and returns how many
// it took and that Step, or len(samples) and 0. It is Push over a block:
// where nothing can happen (no carrier and the level below the on
// threshold, or a parked signal whose level stays between the off
// threshold and the retry jump) it only keeps the power meter, which is
// most of a call's samples.
func (f *FrontEnd) Run(samples []int16) (int, Step) {
	for i := 0; i < len(samples); {
		var x, p float32
		if !f.carrier {
			k := f.Meter.UpdateBelow(samples[i:], f.onPow)
			f.Sample += int64(k)
			if i += k; f.Meter.Power() < f.onPow {
				continue // quiet to the end
			}
			// Sample i-1 lifted the meter to the on level.
			x, p = float32(samples[i-1]), f.Meter.Power()
		} else {
			f.Sample++
			x = float32(samples[i])
			p = f.Meter.Update(x)
			i++
			if f.parked && p >= f.offPow && p <= 4*f.parkedPow {
				f.below = 0
				continue
			}
		}
		if st := f.step(x, p); st != 0 {
			return i, st
		}
	}
	return len(samples), 0
}

// step is Push after the power meter took x and read p.
func (f *FrontEnd) step(x, p float32) Step {
	var st Step
	if !f.carrier {
		if p < f.onPow {
			return 0
		}
		f.carrier, f.parked = true, false
		f.restart()
		st = StepCarrierUp
	} else if p < f.offPow {
		if f.below++; f.below >= f.offLen {
			f.carrier, f.parked = false, false
			return StepCarrierDown
		}
	} else {
		f.below = 0
	}
	if f.parked {
		if p <= 4*f.parkedPow {
			return st
		}
		f.parked = false
		f.restart()
		st |= StepRetry
	}
	// The sample stays real up to the matched filter, which mixes it
	// down at its output instants only (SymbolSync.SetCarrier).
	y, onTime, ok := f.Sync.PushReal(f.AGC.ApplyReal(x * (1.0 / 32768)))
	if !ok {
		return st
	}
	f.EQ.Push(y)
	if onTime {
		st |= StepSymbol
	}
	return st
}

// Adapt trains the equaliser and the carrier loop towards want, given the
// equaliser output y and its derotated value d, and returns the squared
// error.
func (f *FrontEnd) Adapt(y, d, want complex64) float32 {
	e := want - d
	f.EQ.Adapt(e * f.PLL.Rotor())
	f.PLL.Update(d, want)
	return Abs2(e)
}

// Track is Adapt for the carrier loop alone: the equaliser stays as it is.
func (f *FrontEnd) Track(d, want complex64) float32 {
	f.PLL.Update(d, want)
	return Abs2(want - d)
}
