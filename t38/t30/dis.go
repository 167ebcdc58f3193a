package t30

import "fmt"

// Coding is a T.4/T.6 image coding.
type Coding uint8

const (
	CodingMH  Coding = 1 // T.4 one-dimensional
	CodingMR  Coding = 2 // T.4 two-dimensional
	CodingMMR Coding = 3 // T.6, ECM only
)

func (c Coding) String() string {
	switch c {
	case CodingMH:
		return "MH"
	case CodingMR:
		return "MR"
	case CodingMMR:
		return "MMR"
	}
	return "coding?"
}

// Codings is a set of codings.
type Codings uint8

const (
	SupportMH Codings = 1 << iota
	SupportMR
	SupportMMR
	AllCodings = SupportMH | SupportMR | SupportMMR
)

func (s Codings) has(c Coding) bool { return s&(1<<(c-1)) != 0 }

// Resolution is a vertical fax resolution at 8 pels/mm horizontally.
type Resolution uint8

const (
	ResStandard  Resolution = iota // 3.85 lines/mm
	ResFine                        // 7.7 lines/mm
	ResSuperfine                   // 15.4 lines/mm
)

func (r Resolution) String() string {
	return [...]string{"standard", "fine", "superfine"}[r%3]
}

// LinesPerA4 is the page length limit of an A4-only receiver.
func (r Resolution) linesA4() int   { return [...]int{1143, 2287, 4574}[r%3] }
func (r Resolution) linesB4() int   { return [...]int{1401, 2802, 5604}[r%3] }
func (r Resolution) kFactor() int   { return [...]int{2, 4, 8}[r%3] }
func (r Resolution) halfScan() bool { return r != ResStandard }

// Width codes of DIS/DCS bits 17-18.
const (
	WidthA4 = 0 // 215 mm, 1728 pels
	WidthB4 = 1 // 255 mm, 2048 pels
	WidthA3 = 2 // 303 mm, 2432 pels
)

// widthPels maps a width code to pels at 8 pels/mm.
var widthPels = [3]int{1728, 2048, 2432}

// WidthCode returns the DIS/DCS width code for a page width in pels.
func WidthCode(pels int) (int, bool) {
	for i, p := range widthPels {
		if p == pels {
			return i, true
		}
	}
	return 0, false
}

// Length codes of DIS/DCS bits 19-20.
const (
	LengthA4        = 0
	LengthB4        = 1
	LengthUnlimited = 2
)

// Caps is the content of a DIS or DTC frame: what a station can do.
// Unknown bits are kept in Raw so a decoded frame can be logged as received.
type Caps struct {
	T37, T38        bool
	V8              bool
	ECM64Preferred  bool
	ReadyToTransmit bool // bit 9: has documents for polling
	CanReceive      bool // bit 10
	Modems          ModemFamily
	Fine            bool
	Superfine       bool
	MR, MMR         bool
	ECM             bool
	Uncompressed    bool
	MaxWidth        int // width code
	MaxLength       int // length code
	ScanTimeMs      int // minimum scan line time at standard resolution
	ScanHalfAtFine  bool
	Raw             []byte
}

// Params is the content of a DCS frame: the choices for the next pages.
type Params struct {
	T37, T38     bool
	Receive      bool // bit 10: the receiver is to receive
	Modem        Modem
	Resolution   Resolution
	Coding       Coding
	ECM          bool
	ECM64        bool // 64-octet ECM frames instead of 256
	Width        int  // width code
	Length       int  // length code
	ScanTimeMs   int
	Uncompressed bool
	Raw          []byte
}

var scanMs = [8]int{20, 5, 10, 20, 40, 40, 10, 0}

func scanCode(ms int) byte {
	switch ms {
	case 5:
		return 1
	case 10:
		return 2
	case 40:
		return 4
	case 0:
		return 7
	}
	return 0
}

// bit reads bit n (1-based, T.30 numbering) of a FIF; absent bits are 0.
func bit(fif []byte, n int) bool {
	i := (n - 1) / 8
	return i < len(fif) && fif[i]&(1<<((n-1)%8)) != 0
}

// present reports whether FIF octet i is present, following the extend
// bits (bit 24, 32, 40, ...): trailing octets after a clear extend bit are
// ignored, as the sender did not mean them.
func present(fif []byte, i int) bool {
	if i >= len(fif) {
		return false
	}
	for j := 2; j < i; j++ {
		if fif[j]&0x80 == 0 {
			return false
		}
	}
	return true
}

func octet(fif []byte, i int) byte {
	if present(fif, i) {
		return fif[i]
	}
	return 0
}

// DecodeCaps parses a DIS or DTC FIF. Short FIFs are accepted (missing
// bits read as 0); the error is only for FIFs too short to say anything.
func DecodeCaps(fif []byte) (Caps, error) {
	if len(fif) < 3 {
		return Caps{}, fmt.Errorf("%w: DIS needs at least 3 octets, got %d", ErrBadFIF, len(fif))
	}
	o1, o2, o3, o5 := fif[1], fif[2], octet(fif, 3), octet(fif, 5)
	c := Caps{
		T37: o(fif, 0, 0x01), T38: o(fif, 0, 0x04), V8: o(fif, 0, 0x20), ECM64Preferred: o(fif, 0, 0x40),
		ReadyToTransmit: o1&0x01 != 0, CanReceive: o1&0x02 != 0,
		Fine: o1&0x40 != 0, MR: o1&0x80 != 0,
		MaxWidth: int(o2 & 0x03), MaxLength: int(o2&0x0C) >> 2,
		Uncompressed: o3&0x02 != 0, ECM: o3&0x04 != 0, MMR: o3&0x40 != 0,
		Superfine: o5&0x01 != 0,
		Raw:       append([]byte(nil), fif...),
	}
	if c.MaxWidth == 3 { // invalid; read as the widest defined
		c.MaxWidth = WidthA3
	}
	if c.MaxLength == 3 {
		c.MaxLength = LengthUnlimited
	}
	code := (o2 >> 4) & 7
	c.ScanTimeMs, c.ScanHalfAtFine = scanMs[code], code == 3 || code == 5 || code == 6
	switch m := o1 & 0x3C; {
	case m&0x20 != 0:
		c.Modems = FamilyV27ter | FamilyV29 | FamilyV17
	default:
		if m&0x08 != 0 || m == 0 {
			c.Modems |= FamilyV27ter
		}
		if m&0x04 != 0 {
			c.Modems |= FamilyV29
		}
	}
	if !c.ECM { // T.6 is only valid with ECM
		c.MMR = false
	}
	return c, nil
}

func o(fif []byte, i int, mask byte) bool { return i < len(fif) && fif[i]&mask != 0 }

// packFIF sets the extend bits and drops trailing empty octets (at least
// three octets are always sent).
func packFIF(b []byte) []byte {
	last := 2
	for i := len(b) - 1; i > 2; i-- {
		if b[i] != 0 {
			last = i
			break
		}
	}
	for i := 2; i < last; i++ {
		b[i] |= 0x80
	}
	return b[:last+1]
}

// Encode writes the DIS/DTC FIF.
func (c Caps) Encode() []byte {
	b := make([]byte, 6)
	set := func(i int, mask byte, v bool) {
		if v {
			b[i] |= mask
		}
	}
	set(0, 0x01, c.T37)
	set(0, 0x04, c.T38)
	set(0, 0x20, c.V8)
	set(0, 0x40, c.ECM64Preferred)
	set(1, 0x01, c.ReadyToTransmit)
	set(1, 0x02, c.CanReceive)
	switch {
	case c.Modems&FamilyV17 != 0:
		b[1] |= 0x2C
	case c.Modems&(FamilyV27ter|FamilyV29) == FamilyV27ter|FamilyV29:
		b[1] |= 0x0C
	case c.Modems&FamilyV29 != 0:
		b[1] |= 0x04
	case c.Modems&FamilyV27ter != 0:
		b[1] |= 0x08
	}
	set(1, 0x40, c.Fine)
	set(1, 0x80, c.MR)
	b[2] = byte(c.MaxWidth&3) | byte(c.MaxLength&3)<<2
	code := scanCode(c.ScanTimeMs)
	if c.ScanHalfAtFine {
		switch c.ScanTimeMs {
		case 20:
			code = 3
		case 40:
			code = 5
		case 10:
			code = 6
		}
	}
	b[2] |= code << 4
	set(3, 0x02, c.Uncompressed)
	set(3, 0x04, c.ECM)
	set(3, 0x40, c.MMR && c.ECM)
	set(5, 0x01, c.Superfine)
	if c.Superfine {
		b[5] |= 0x10 // metric resolution preferred
	}
	return packFIF(b)
}

// dcsModem maps a DCS modem code (FIF octet 1 & 0x3C) to a Modem.
var dcsModem = map[byte]Modem{0x00: V27ter2400, 0x08: V27ter4800, 0x04: V29_9600, 0x0C: V29_7200,
	0x20: V17_14400, 0x28: V17_12000, 0x24: V17_9600, 0x2C: V17_7200}

func modemCode(m Modem) byte {
	for k, v := range dcsModem {
		if v == m {
			return k
		}
	}
	return 0
}

// DecodeParams parses a DCS FIF.
func DecodeParams(fif []byte) (Params, error) {
	if len(fif) < 3 {
		return Params{}, fmt.Errorf("%w: DCS needs at least 3 octets, got %d", ErrBadFIF, len(fif))
	}
	o1, o2, o3, o5 := fif[1], fif[2], octet(fif, 3), octet(fif, 5)
	p := Params{
		T37: o(fif, 0, 0x01), T38: o(fif, 0, 0x04),
		Receive: o1&0x02 != 0,
		Width:   int(o2 & 0x03), Length: int(o2&0x0C) >> 2,
		ScanTimeMs:   scanMs[(o2>>4)&7],
		Uncompressed: o3&0x02 != 0, ECM: o3&0x04 != 0, ECM64: o3&0x08 != 0,
		Raw: append([]byte(nil), fif...),
	}
	m, ok := dcsModem[o1&0x3C]
	if !ok {
		return p, fmt.Errorf("%w: DCS modem code %#02x", ErrBadFIF, o1&0x3C)
	}
	p.Modem = m
	switch {
	case o5&0x01 != 0:
		p.Resolution = ResSuperfine
	case o1&0x40 != 0:
		p.Resolution = ResFine
	}
	switch {
	case o3&0x40 != 0:
		p.Coding = CodingMMR
	case o1&0x80 != 0:
		p.Coding = CodingMR
	default:
		p.Coding = CodingMH
	}
	if p.Width == 3 {
		return p, fmt.Errorf("%w: DCS width code 3", ErrBadFIF)
	}
	if p.Length == 3 {
		p.Length = LengthUnlimited
	}
	return p, nil
}

// Encode writes the DCS FIF.
func (p Params) Encode() []byte {
	b := make([]byte, 6)
	if p.T37 {
		b[0] |= 0x01
	}
	if p.T38 {
		b[0] |= 0x04
	}
	if p.Receive {
		b[1] |= 0x02
	}
	b[1] |= modemCode(p.Modem)
	switch p.Resolution {
	case ResFine:
		b[1] |= 0x40
	case ResSuperfine:
		b[5] |= 0x01 | 0x10
	}
	switch p.Coding {
	case CodingMR:
		b[1] |= 0x80
	case CodingMMR:
		b[3] |= 0x40
	}
	b[2] = byte(p.Width&3) | byte(p.Length&3)<<2 | scanCode(p.ScanTimeMs)<<4
	if p.Uncompressed {
		b[3] |= 0x02
	}
	if p.ECM {
		b[3] |= 0x04
		if p.ECM64 {
			b[3] |= 0x08
		}
	}
	return packFIF(b)
}

// FrameSize is the ECM frame size these parameters select.
func (p Params) FrameSize() int {
	if p.ECM64 {
		return 64
	}
	return 256
}

// MinRowBits is the minimum number of bits per coded row that the scan
// line time asks for at the selected modem (non-ECM only).
func (p Params) MinRowBits() int {
	if p.ECM {
		return 0
	}
	return p.Modem.BitRate() * p.ScanTimeMs / 1000
}
