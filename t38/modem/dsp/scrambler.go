package dsp

// The V.29/V.17 data scrambler: self-synchronising, generating polynomial
// 1 + x^-18 + x^-23. The descrambler recovers from any starting state after
// 23 bits, which is why a receiver ignores the first 23 bits of the ones
// that follow training.

// Scrambler scrambles one bit at a time.
type Scrambler struct{ reg uint32 }

// Scramble returns the line bit for data bit b (0 or 1).
func (s *Scrambler) Scramble(b uint8) uint8 {
	out := (b ^ uint8(s.reg>>17) ^ uint8(s.reg>>22)) & 1
	s.reg = s.reg<<1 | uint32(out)
	return out
}

// Reset clears the register.
func (s *Scrambler) Reset() { s.reg = 0 }

// Descrambler undoes Scrambler.
type Descrambler struct{ reg uint32 }

// Descramble returns the data bit for line bit b (0 or 1).
func (d *Descrambler) Descramble(b uint8) uint8 {
	b &= 1
	out := (b ^ uint8(d.reg>>17) ^ uint8(d.reg>>22)) & 1
	d.reg = d.reg<<1 | uint32(b)
	return out
}

// Reset clears the register.
func (d *Descrambler) Reset() { d.reg = 0 }

// SetState loads the register (V.17 starts its training from a given
// state so the receiver can predict the training symbols).
func (s *Scrambler) SetState(reg uint32) { s.reg = reg }
