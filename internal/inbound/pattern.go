package inbound

import (
	"errors"
	"fmt"
	"strings"
)

// MaxPatternLen caps a pattern's length (without the leading '_'), and MaxNumberLen the numbers
// that can match anything; E.164 numbers have at most 15 digits.
const (
	MaxPatternLen = 64
	MaxNumberLen  = 64
)

// ErrPattern is wrapped by every pattern syntax error.
var ErrPattern = errors.New("inbound: bad pattern")

// alphabet is every character a number may hold after normalising; a
// position's allowed set is a bit mask over it.
const alphabet = "0123456789*#+"

const (
	maskDigits uint16 = 1<<10 - 1
	maskAny    uint16 = 1<<len(alphabet) - 1
	maskX             = maskDigits
	maskZ             = maskDigits &^ 1    // 1-9
	maskN             = maskDigits &^ 0b11 // 2-9
)

// symbols maps a byte to its alphabet index plus one (0: not a number
// character), so matching costs one load per position.
var symbols = func() (t [256]uint8) {
	for i := range len(alphabet) {
		t[alphabet[i]] = uint8(i + 1)
	}
	return t
}()

func symbol(c byte) (int, bool) {
	i := symbols[c]
	return int(i) - 1, i != 0
}

// tail says what may follow the fixed positions.
type tail byte

const (
	tailNone       tail = iota
	tailOneOrMore       // '.'
	tailZeroOrMore      // '!'
)

// Pattern is a compiled dial pattern, in the Asterisk style: the whole
// number must match (it is anchored at both ends) and every position is
// one character, so matching is a single pass with no backtracking.
//
//	0-9 * # +   that character (+ only first)
//	X           any digit 0-9
//	Z           any digit 1-9
//	N           any digit 2-9
//	[15-7]      one digit of the set: 1, 5, 6, 7
//	.           (last only) one or more further characters
//	!           (last only) zero or more further characters
//
// A leading '_' (Asterisk's pattern marker) is accepted and ignored.
// Letters are case-insensitive.
type Pattern struct {
	pos  []uint16
	tail tail
}

// CompilePattern parses a pattern.
func CompilePattern(s string) (Pattern, error) {
	src := strings.TrimPrefix(s, "_")
	if len(src) > MaxPatternLen {
		return Pattern{}, fmt.Errorf("%w: longer than %d characters", ErrPattern, MaxPatternLen)
	}
	var p Pattern
	for i := 0; i < len(src); i++ {
		c := src[i]
		switch {
		case c == '.' || c == '!':
			if i != len(src)-1 {
				return Pattern{}, fmt.Errorf("%w: %q may only end the pattern", ErrPattern, c)
			}
			p.tail = tailOneOrMore
			if c == '!' {
				p.tail = tailZeroOrMore
			}
		case c == 'X' || c == 'x':
			p.pos = append(p.pos, maskX)
		case c == 'Z' || c == 'z':
			p.pos = append(p.pos, maskZ)
		case c == 'N' || c == 'n':
			p.pos = append(p.pos, maskN)
		case c == '+':
			if len(p.pos) != 0 {
				return Pattern{}, fmt.Errorf("%w: '+' may only start the number", ErrPattern)
			}
			p.pos = append(p.pos, 1<<12)
		case c == '[':
			end := strings.IndexByte(src[i:], ']')
			if end < 0 {
				return Pattern{}, fmt.Errorf("%w: '[' at %d is not closed", ErrPattern, i)
			}
			m, err := parseClass(src[i+1 : i+end])
			if err != nil {
				return Pattern{}, err
			}
			p.pos = append(p.pos, m)
			i += end
		default:
			k, ok := symbol(c)
			if !ok || c == '+' {
				return Pattern{}, fmt.Errorf("%w: %q is not a digit, *, #, X, Z, N, [set], . or !", ErrPattern, c)
			}
			p.pos = append(p.pos, 1<<k)
		}
	}
	if len(p.pos) == 0 && p.tail == tailNone {
		return Pattern{}, fmt.Errorf("%w: empty", ErrPattern)
	}
	return p, nil
}

// parseClass reads the inside of [...]: digits and ranges a-b.
func parseClass(s string) (uint16, error) {
	if s == "" {
		return 0, fmt.Errorf("%w: empty set []", ErrPattern)
	}
	var m uint16
	for i := 0; i < len(s); i++ {
		lo := s[i]
		if lo < '0' || lo > '9' {
			return 0, fmt.Errorf("%w: %q in a set; sets hold digits and ranges like [1-5]", ErrPattern, lo)
		}
		hi := lo
		if i+2 < len(s) && s[i+1] == '-' {
			hi = s[i+2]
			if hi < '0' || hi > '9' || hi < lo {
				return 0, fmt.Errorf("%w: bad range %q", ErrPattern, s[i:i+3])
			}
			i += 2
		}
		for c := lo; c <= hi; c++ {
			m |= 1 << (c - '0')
		}
	}
	return m, nil
}

// Match reports whether the whole number matches.
func (p Pattern) Match(number string) bool {
	if len(number) < len(p.pos) || len(number) > MaxNumberLen {
		return false
	}
	for i, m := range p.pos {
		k, ok := symbol(number[i])
		if !ok || m&(1<<k) == 0 {
			return false
		}
	}
	rest := number[len(p.pos):]
	switch p.tail {
	case tailNone:
		return rest == ""
	case tailOneOrMore:
		if rest == "" {
			return false
		}
	}
	for i := 0; i < len(rest); i++ {
		if _, ok := symbol(rest[i]); !ok {
			return false
		}
	}
	return true
}

// String is the pattern in canonical form: sets as short as they can be
// written, X/Z/N where they apply. CompilePattern(p.String()) is p.
func (p Pattern) String() string {
	var b strings.Builder
	b.WriteByte('_')
	for _, m := range p.pos {
		switch m {
		case maskX:
			b.WriteByte('X')
			continue
		case maskZ:
			b.WriteByte('Z')
			continue
		case maskN:
			b.WriteByte('N')
			continue
		}
		if m&(m-1) == 0 { // one symbol
			for k := range len(alphabet) {
				if m == 1<<k {
					b.WriteByte(alphabet[k])
				}
			}
			continue
		}
		b.WriteByte('[')
		for lo := 0; lo < 10; lo++ {
			if m&(1<<lo) == 0 {
				continue
			}
			hi := lo
			for hi+1 < 10 && m&(1<<(hi+1)) != 0 {
				hi++
			}
			b.WriteByte(byte('0' + lo))
			switch {
			case hi == lo+1:
				b.WriteByte(byte('0' + hi))
			case hi > lo+1:
				b.WriteByte('-')
				b.WriteByte(byte('0' + hi))
			}
			lo = hi
		}
		b.WriteByte(']')
	}
	switch p.tail {
	case tailOneOrMore:
		b.WriteByte('.')
	case tailZeroOrMore:
		b.WriteByte('!')
	}
	return b.String()
}

// Regexp is the pattern as an anchored regular expression over the number
// alphabet, for checking the matcher against Go's regexp engine.
func (p Pattern) Regexp() string {
	var b strings.Builder
	b.WriteByte('^')
	for _, m := range p.pos {
		b.WriteString(classRe(m))
	}
	switch p.tail {
	case tailOneOrMore:
		b.WriteString(classRe(maskAny) + "+")
	case tailZeroOrMore:
		b.WriteString(classRe(maskAny) + "*")
	}
	b.WriteByte('$')
	return b.String()
}

func classRe(m uint16) string {
	var b strings.Builder
	b.WriteByte('[')
	for k := range len(alphabet) {
		if m&(1<<k) != 0 { // all literal inside a class
			b.WriteByte(alphabet[k])
		}
	}
	b.WriteByte(']')
	return b.String()
}
