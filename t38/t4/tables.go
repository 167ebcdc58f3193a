package t4

// Code words from ITU-T T.4 (tables 1, 2 and 3 of section 4.1) and the
// two-dimensional mode codes (table 4). They are kept as bit strings so a
// reader can check them against the recommendation at a glance; init turns
// them into the encode and decode tables.

// Terminating codes for white runs 0..63.
var whiteTerm = [64]string{
	"00110101", "000111", "0111", "1000", "1011", "1100", "1110", "1111",
	"10011", "10100", "00111", "01000", "001000", "000011", "110100", "110101",
	"101010", "101011", "0100111", "0001100", "0001000", "0010111", "0000011", "0000100",
	"0101000", "0101011", "0010011", "0100100", "0011000", "00000010", "00000011", "00011010",
	"00011011", "00010010", "00010011", "00010100", "00010101", "00010110", "00010111", "00101000",
	"00101001", "00101010", "00101011", "00101100", "00101101", "00000100", "00000101", "00001010",
	"00001011", "01010010", "01010011", "01010100", "01010101", "00100100", "00100101", "01011000",
	"01011001", "01011010", "01011011", "01001010", "01001011", "00110010", "00110011", "00110100",
}

// Terminating codes for black runs 0..63.
var blackTerm = [64]string{
	"0000110111", "010", "11", "10", "011", "0011", "0010", "00011",
	"000101", "000100", "0000100", "0000101", "0000111", "00000100", "00000111", "000011000",
	"0000010111", "0000011000", "0000001000", "00001100111", "00001101000", "00001101100", "00000110111", "00000101000",
	"00000010111", "00000011000", "000011001010", "000011001011", "000011001100", "000011001101", "000001101000", "000001101001",
	"000001101010", "000001101011", "000011010010", "000011010011", "000011010100", "000011010101", "000011010110", "000011010111",
	"000001101100", "000001101101", "000011011010", "000011011011", "000001010100", "000001010101", "000001010110", "000001010111",
	"000001100100", "000001100101", "000001010010", "000001010011", "000000100100", "000000110111", "000000111000", "000000100111",
	"000000101000", "000001011000", "000001011001", "000000101011", "000000101100", "000001011010", "000001100110", "000001100111",
}

// Make-up codes for white runs 64..1728 (index i is run 64*(i+1)).
var whiteMakeup = [27]string{
	"11011", "10010", "010111", "0110111", "00110110", "00110111", "01100100", "01100101",
	"01101000", "01100111", "011001100", "011001101", "011010010", "011010011", "011010100", "011010101",
	"011010110", "011010111", "011011000", "011011001", "011011010", "011011011", "010011000", "010011001",
	"010011010", "011000", "010011011",
}

// Make-up codes for black runs 64..1728.
var blackMakeup = [27]string{
	"0000001111", "000011001000", "000011001001", "000001011011", "000000110011", "000000110100", "000000110101", "0000001101100",
	"0000001101101", "0000001001010", "0000001001011", "0000001001100", "0000001001101", "0000001110010", "0000001110011", "0000001110100",
	"0000001110101", "0000001110110", "0000001110111", "0000001010010", "0000001010011", "0000001010100", "0000001010101", "0000001011010",
	"0000001011011", "0000001100100", "0000001100101",
}

// Extended make-up codes shared by both colours, runs 1792..2560.
var extMakeup = [13]string{
	"00000001000", "00000001100", "00000001101", "000000010010", "000000010011", "000000010100", "000000010101",
	"000000010110", "000000010111", "000000011100", "000000011101", "000000011110", "000000011111",
}

const (
	eolCode = 0x001 // 000000000001
	eolLen  = 12
	maxRun  = 2560 // the longest single make-up code
)

// Two-dimensional modes.
const (
	modeInvalid = iota
	modePass
	modeHoriz
	modeV0
	modeVR1
	modeVR2
	modeVR3
	modeVL1
	modeVL2
	modeVL3
)

var modeCodes = [...]struct {
	mode int
	code string
}{
	{modePass, "0001"}, {modeHoriz, "001"}, {modeV0, "1"},
	{modeVR1, "011"}, {modeVR2, "000011"}, {modeVR3, "0000011"},
	{modeVL1, "010"}, {modeVL2, "000010"}, {modeVL3, "0000010"},
}

// code is one code word, right-aligned in bits.
type code struct {
	bits uint32
	n    uint32
}

func parse(s string) code {
	var c code
	for _, ch := range s {
		c.bits = c.bits<<1 | uint32(ch-'0')
		c.n++
	}
	return c
}

// Encode tables. makeup[c][i] is the make-up code for run 64*i (i 1..40).
var (
	encTerm   [2][64]code
	encMakeup [2][41]code
	encMode   [10]code // indexed by mode; the vertical ones by modeV0+...
)

// Decode table entries pack length (bits 0-4), kind (bits 5-7) and value.
const (
	kindInvalid = 0
	kindTerm    = 1
	kindMakeup  = 2
	kindLink    = 3

	primBits = 9 // first-level index width for run codes
	secBits  = 4 // second level: run codes are at most 13 bits
)

type runTable struct {
	prim [1 << primBits]uint32
	sec  []uint32
}

var runTabs [2]runTable // [0] white, [1] black

// modeTab is indexed by the next 7 bits: length in bits 0-3, mode above.
var modeTab [128]uint8

// pairTab[c] decodes a run of colour c and the following run of the other
// colour in one lookup of the next 12 bits, when both are terminating
// codes for runs 1..63 and fit together: the common case in dithered
// images. Entries hold the length (bits 0-3) and the two runs (6 bits
// each); 0 means "decode one code at a time".
var pairTab [2][1 << 12]uint16

func init() {
	for c := 0; c < 2; c++ {
		term, mk := &whiteTerm, &whiteMakeup
		if c == 1 {
			term, mk = &blackTerm, &blackMakeup
		}
		for r, s := range term {
			encTerm[c][r] = parse(s)
			runTabs[c].add(parse(s), kindTerm, r)
		}
		for i, s := range mk {
			encMakeup[c][i+1] = parse(s)
			runTabs[c].add(parse(s), kindMakeup, 64*(i+1))
		}
		for i, s := range extMakeup {
			encMakeup[c][28+i] = parse(s)
			runTabs[c].add(parse(s), kindMakeup, 1792+64*i)
		}
	}
	for c := 0; c < 2; c++ {
		for r1 := 1; r1 < 64; r1++ {
			k1 := encTerm[c][r1]
			for r2 := 1; r2 < 64; r2++ {
				k2 := encTerm[c^1][r2]
				l := k1.n + k2.n
				if l > 12 {
					continue
				}
				bits := (k1.bits<<k2.n | k2.bits) << (12 - l)
				for j := uint32(0); j < 1<<(12-l); j++ {
					pairTab[c][bits|j] = uint16(l) | uint16(r1)<<4 | uint16(r2)<<10
				}
			}
		}
	}
	for _, m := range modeCodes {
		k := parse(m.code)
		encMode[m.mode] = k
		shift := 7 - k.n
		for j := uint32(0); j < 1<<shift; j++ {
			modeTab[k.bits<<shift|j] = uint8(m.mode<<3) | uint8(k.n)
		}
	}
}

// add enters one code word into a two-level run table.
func (t *runTable) add(c code, kind, val int) {
	ent := uint32(val)<<8 | uint32(kind)<<5 | c.n
	if c.n <= primBits {
		shift := primBits - c.n
		for j := uint32(0); j < 1<<shift; j++ {
			t.prim[c.bits<<shift|j] = ent
		}
		return
	}
	extra := c.n - primBits
	p := c.bits >> extra
	link := t.prim[p]
	if link&0xe0 != kindLink<<5 {
		link = uint32(len(t.sec))<<8 | kindLink<<5
		t.prim[p] = link
		t.sec = append(t.sec, make([]uint32, 1<<secBits)...)
	}
	base := link >> 8
	rest := c.bits & (1<<extra - 1)
	shift := secBits - extra
	for j := uint32(0); j < 1<<shift; j++ {
		t.sec[base+(rest<<shift|j)] = ent
	}
}
