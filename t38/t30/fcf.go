package t30

import (
	"errors"
	"fmt"
	"strings"
)

// Frames inside the engine are T.30 HDLC frames without flags or FCS, in
// the usual HDLC octet convention: the least significant bit of each octet
// is the first bit on the line (spandsp's convention too). A T.38 session
// bit-reverses every octet before putting it in an IFP packet.
const (
	addrAll      = 0xFF
	ctrlNonFinal = 0x03
	ctrlFinal    = 0x13
)

// FCF values with the X bit clear. The station that received DIS (normally
// the caller) sets the X bit (the least significant bit) on everything it
// sends; DIS/DTC, CSI/CIG and NSF/NSC differ only in that bit, so they are
// matched exactly.
const (
	FCFDIS = 0x80
	FCFDTC = 0x81
	FCFCSI = 0x40
	FCFCIG = 0x41
	FCFNSF = 0x20
	FCFNSC = 0x21
	FCFDCS = 0x82
	FCFTSI = 0x42
	FCFNSS = 0x22
	FCFCTC = 0x12
	FCFCFR = 0x84
	FCFFTT = 0x44
	FCFCTR = 0xC4
	FCFEOM = 0x8E
	FCFMPS = 0x4E
	FCFEOP = 0x2E
	FCFPRI = 0x10 // PRI-EOM/MPS/EOP = EOM/MPS/EOP | 0x10
	FCFPPS = 0xBE
	FCFEOR = 0xCE
	FCFRR  = 0x6E
	FCFMCF = 0x8C
	FCFRTP = 0xCC
	FCFRTN = 0x4C
	FCFPIP = 0xAC
	FCFPIN = 0x2C
	FCFPPR = 0xBC
	FCFRNR = 0xEC
	FCFERR = 0x1C
	FCFDCN = 0xFA
	FCFCRP = 0x1A
	FCFFCD = 0x06
	FCFRCP = 0x86
	// FCF2Null is the PPS/EOR second FCF for a block that does not end a page.
	FCF2Null = 0x00
)

var fcfNames = map[byte]string{
	FCFDIS: "DIS", FCFDTC: "DTC", FCFCSI: "CSI", FCFCIG: "CIG", FCFNSF: "NSF", FCFNSC: "NSC",
	FCFDCS: "DCS", FCFTSI: "TSI", FCFNSS: "NSS", FCFCTC: "CTC", FCFCFR: "CFR", FCFFTT: "FTT",
	FCFCTR: "CTR", FCFEOM: "EOM", FCFMPS: "MPS", FCFEOP: "EOP", FCFPPS: "PPS", FCFEOR: "EOR",
	FCFRR: "RR", FCFMCF: "MCF", FCFRTP: "RTP", FCFRTN: "RTN", FCFPIP: "PIP", FCFPIN: "PIN",
	FCFPPR: "PPR", FCFRNR: "RNR", FCFERR: "ERR", FCFDCN: "DCN", FCFCRP: "CRP", FCFFCD: "FCD",
	FCFRCP: "RCP", FCFEOM | FCFPRI: "PRI-EOM", FCFMPS | FCFPRI: "PRI-MPS", FCFEOP | FCFPRI: "PRI-EOP",
}

// FCFName names an FCF (X bit ignored where it is not significant).
func FCFName(fcf byte) string {
	if n, ok := fcfNames[normFCF(fcf)]; ok {
		return n
	}
	return fmt.Sprintf("FCF(%02X)", fcf)
}

// normFCF clears the X bit except for the frames the X bit tells apart.
func normFCF(fcf byte) byte {
	switch fcf {
	case FCFDIS, FCFDTC, FCFCSI, FCFCIG, FCFNSF, FCFNSC, FCFFCD, FCFRCP:
		return fcf
	}
	return fcf &^ 1
}

// ErrShortFrame is returned for a frame too short to hold address, control
// and FCF.
var ErrShortFrame = errors.New("t30: frame shorter than 3 octets")

// Frame is a parsed T.30 HDLC frame.
type Frame struct {
	Final bool // control field 0x13: last frame of a burst
	FCF   byte // normalised (X bit cleared where not significant)
	X     bool // the X bit as received
	FIF   []byte
}

// ParseFrame splits a received HDLC frame (address, control, FCF, FIF). It
// tolerates any address and control octet, as gateways are not all strict.
func ParseFrame(b []byte) (Frame, error) {
	if len(b) < 3 {
		return Frame{}, ErrShortFrame
	}
	return Frame{Final: b[1]&0x10 != 0, FCF: normFCF(b[2]), X: b[2]&1 != 0, FIF: b[3:]}, nil
}

// buildFrame makes address, control, FCF (with X) and FIF.
func buildFrame(fcf byte, x, final bool, fif []byte) []byte {
	f := make([]byte, 0, 3+len(fif))
	ctrl := byte(ctrlNonFinal)
	if final {
		ctrl = ctrlFinal
	}
	if x {
		switch fcf {
		case FCFDIS, FCFCSI, FCFNSF, FCFFCD, FCFRCP:
			// No X bit: setting it would turn these into DTC/CIG/NSC.
		default:
			fcf |= 1
		}
	}
	return append(append(f, addrAll, ctrl, fcf), fif...)
}

// EncodeIdent writes a TSI/CSI/CIG FIF: 20 characters, space padded,
// transmitted last character first.
func EncodeIdent(id string) []byte {
	b := []byte(id)
	if len(b) > 20 {
		b = b[:20]
	}
	// The last character goes first on the line and the padding after the
	// first character, so a receiver that reverses the field reads
	// the number left-aligned (spandsp and fax machines do).
	fif := make([]byte, 20)
	for i := range fif {
		c := byte(' ')
		if i < len(b) {
			c = b[len(b)-1-i]
		}
		fif[i] = c
	}
	return fif
}

// DecodeIdent reads a TSI/CSI/CIG FIF back into a string.
func DecodeIdent(fif []byte) string {
	var sb strings.Builder
	for i := len(fif) - 1; i >= 0; i-- {
		c := fif[i]
		if c < 0x20 || c > 0x7E {
			c = '?'
		}
		sb.WriteByte(c)
	}
	return strings.TrimSpace(sb.String())
}

// PPS is the FIF of a partial page signal (ECM): the post-page command
// folded in (FCF2), page and block numbers modulo 256, and the number of
// frames in the block.
type PPS struct {
	FCF2   byte // FCF2Null, FCFMPS, FCFEOP, FCFEOM (X bit cleared)
	Page   uint8
	Block  uint8
	Frames int // 1..256
}

// ErrBadFIF reports a FIF of the wrong length for its frame.
var ErrBadFIF = errors.New("t30: malformed FIF")

func (p PPS) fif(x bool) []byte {
	f := p.FCF2
	if x && f != FCF2Null {
		f |= 1
	}
	return []byte{f, p.Page, p.Block, byte(p.Frames - 1)}
}

// ParsePPS decodes a PPS (or EOR) FIF.
func ParsePPS(fif []byte) (PPS, error) {
	if len(fif) < 4 {
		return PPS{}, fmt.Errorf("%w: PPS needs 4 octets, got %d", ErrBadFIF, len(fif))
	}
	return PPS{FCF2: fif[0] &^ 1, Page: fif[1], Block: fif[2], Frames: int(fif[3]) + 1}, nil
}

// PPRMap is the 256-bit map of a PPR frame: bit i set asks for frame i again.
type PPRMap [32]byte

func (m *PPRMap) Set(i int)      { m[i>>3] |= 1 << (i & 7) }
func (m *PPRMap) Has(i int) bool { return m[i>>3]&(1<<(i&7)) != 0 }

// Count is the number of frames asked for.
func (m *PPRMap) Count() int {
	n := 0
	for i := 0; i < 256; i++ {
		if m.Has(i) {
			n++
		}
	}
	return n
}

// ParsePPR reads a PPR FIF.
func ParsePPR(fif []byte) (PPRMap, error) {
	var m PPRMap
	if len(fif) < 32 {
		return m, fmt.Errorf("%w: PPR needs 32 octets, got %d", ErrBadFIF, len(fif))
	}
	copy(m[:], fif)
	return m, nil
}

// FCD builds an ECM facsimile coded data frame. data is in MSB-first order
// (as the T.4 codec writes it); inside the HDLC frame it goes LSB-first.
func FCD(frameNo int, data []byte) []byte {
	f := make([]byte, 4+len(data))
	f[0], f[1], f[2], f[3] = addrAll, ctrlNonFinal, FCFFCD, byte(frameNo)
	for i, b := range data {
		f[4+i] = reverse(b)
	}
	return f
}

// RCP builds the return-to-control frame that ends an ECM block.
func RCP() []byte { return []byte{addrAll, ctrlNonFinal, FCFRCP} }

// ParseFCD returns the frame number and MSB-first payload of an FCD frame.
func ParseFCD(b []byte) (int, []byte, error) {
	if len(b) < 5 || b[2] != FCFFCD {
		return 0, nil, fmt.Errorf("%w: not an FCD frame", ErrBadFIF)
	}
	d := make([]byte, len(b)-4)
	for i := range d {
		d[i] = reverse(b[4+i])
	}
	return int(b[3]), d, nil
}

var revTab = func() (t [256]byte) {
	for i := range t {
		b := byte(i)
		var r byte
		for j := 0; j < 8; j++ {
			r = r<<1 | b&1
			b >>= 1
		}
		t[i] = r
	}
	return
}()

func reverse(b byte) byte { return revTab[b] }

// ReverseBits returns a copy of b with the bit order of every octet
// reversed: the conversion between engine frames and T.38 IFP octets.
func ReverseBits(b []byte) []byte {
	r := make([]byte, len(b))
	for i, c := range b {
		r[i] = revTab[c]
	}
	return r
}
