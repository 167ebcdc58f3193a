package t4

import (
	"encoding/binary"
	"fmt"
	"io"
	"math/bits"

	"github.com/faxd/faxd/t38/bilevel"
)

// EncodeOptions selects the coding and the framing of the encoded page.
type EncodeOptions struct {
	Coding Coding
	// K is the MR rows per one-dimensional reference row; 0 picks the T.4
	// value for the image's vertical resolution (see DefaultK).
	K int
	// AlignEOL inserts fill bits before each EOL so that the EOL ends on an
	// octet boundary (TIFF T4Options bit 2).
	AlignEOL bool
	// MinRowBits pads every coded row (EOL included) with fill to at least
	// this many bits: the non-ECM minimum scan-line time. 0 means none.
	MinRowBits int
	// NoRTC omits RTC (MH, MR) or EOFB (MMR) at the end of the page.
	NoRTC bool
}

// DefaultK returns the T.4 MR K parameter for a vertical resolution in
// lines per inch: 2 at standard, 4 at fine, 8 above.
func DefaultK(ydpi int) int {
	switch {
	case ydpi <= 100:
		return 2
	case ydpi <= 200:
		return 4
	default:
		return 8
	}
}

// Encode codes a whole page. MH and MR pages start with an EOL as T.4
// requires and end with RTC; MMR pages end with EOFB. Bits are packed most
// significant first (TIFF FillOrder 1); the last octet is padded with zeros.
func Encode(img *bilevel.Image, opt EncodeOptions) ([]byte, error) {
	if img == nil {
		return nil, fmt.Errorf("t4: encode: %w", ErrBadImage)
	}
	if img.Stride < (img.Width+7)/8 || len(img.Pix) < img.Stride*img.Height {
		return nil, fmt.Errorf("t4: encode: %w: stride %d, %d bytes for %dx%d", ErrBadImage, img.Stride, len(img.Pix), img.Width, img.Height)
	}
	e, err := newRowCoder(img.Width, img.YDPI, opt)
	if err != nil {
		return nil, err
	}
	// A rough size guess keeps reallocation rare: text pages code to a few
	// percent of the raw size.
	e.w.buf = make([]byte, 0, img.Height*img.Stride/8+64)
	for y := 0; y < img.Height; y++ {
		e.row(img.Row(y)[:(img.Width+7)/8])
	}
	e.finish()
	return e.w.buf, nil
}

// Encoder codes rows one at a time and writes them to an io.Writer, for a
// sender that streams a page as it is produced.
type Encoder struct {
	out io.Writer
	rc  *rowCoder
	err error
}

// NewEncoder returns an Encoder for rows width pixels wide at ydpi lines
// per inch (used only to pick K when opt.K is 0).
func NewEncoder(w io.Writer, width, ydpi int, opt EncodeOptions) (*Encoder, error) {
	rc, err := newRowCoder(width, ydpi, opt)
	if err != nil {
		return nil, err
	}
	return &Encoder{out: w, rc: rc}, nil
}

// WriteRow codes one packed row (at least (width+7)/8 bytes, MSB first,
// 1 = black). Whole octets are written to the underlying writer as they
// become complete.
func (e *Encoder) WriteRow(row []byte) error {
	if e.err != nil {
		return e.err
	}
	if len(row) < (e.rc.width+7)/8 {
		return fmt.Errorf("t4: row of %d bytes for width %d: %w", len(row), e.rc.width, ErrBadImage)
	}
	e.rc.row(row[:(e.rc.width+7)/8])
	return e.drain(false)
}

// Close ends the page (RTC or EOFB unless NoRTC) and flushes every bit.
func (e *Encoder) Close() error {
	if e.err != nil {
		return e.err
	}
	e.rc.finish()
	return e.drain(true)
}

func (e *Encoder) drain(all bool) error {
	if len(e.rc.w.buf) < 4096 && !all {
		return nil
	}
	if _, err := e.out.Write(e.rc.w.buf); err != nil {
		e.err = fmt.Errorf("t4: write: %w", err)
		return e.err
	}
	e.rc.w.drained += len(e.rc.w.buf)
	e.rc.w.buf = e.rc.w.buf[:0]
	return nil
}

// bitWriter packs codes MSB first. acc holds n pending bits, left-aligned.
type bitWriter struct {
	buf     []byte
	acc     uint64
	n       uint32
	drained int // octets already handed to the writer (streaming)
}

// total returns the bits written so far, for fill and minimum row length.
func (w *bitWriter) total() int { return (w.drained+len(w.buf))*8 + int(w.n) }

func (w *bitWriter) put(c code) {
	w.acc |= uint64(c.bits) << (64 - w.n - c.n)
	w.n += c.n
	if w.n >= 32 {
		w.buf = binary.BigEndian.AppendUint32(w.buf, uint32(w.acc>>32))
		w.acc <<= 32
		w.n -= 32
	}
}

// zeros writes k zero bits.
func (w *bitWriter) zeros(k int) {
	for k > 0 {
		s := min(k, 24)
		w.put(code{0, uint32(s)})
		k -= s
	}
}

// flush pads to an octet boundary with zeros and writes all pending bits.
func (w *bitWriter) flush() {
	for w.n > 0 {
		w.buf = append(w.buf, byte(w.acc>>56))
		w.acc <<= 8
		w.n -= min(w.n, 8)
	}
}

// rowCoder holds the state shared by Encode and Encoder.
type rowCoder struct {
	w        bitWriter
	opt      EncodeOptions
	width    int
	k        int
	y        int
	rowStart int     // bit count where the current row's EOL began
	ref, cur []int32 // changing elements of the previous and current row
}

func newRowCoder(width, ydpi int, opt EncodeOptions) (*rowCoder, error) {
	if width <= 0 || width > MaxWidth {
		return nil, fmt.Errorf("t4: %w: %d", ErrBadWidth, width)
	}
	switch opt.Coding {
	case MH, MR, MMR:
	default:
		return nil, fmt.Errorf("t4: %w: %d", ErrBadCoding, opt.Coding)
	}
	if opt.K <= 0 {
		opt.K = DefaultK(ydpi)
	}
	// A scan line takes at most 40 ms (T.30 minimum scan-line times top
	// out there), which is under 1200 bits even at 28800 bit/s.
	if opt.MinRowBits < 0 || opt.MinRowBits > MaxMinRowBits {
		return nil, fmt.Errorf("t4: %w: minimum row length %d bits", ErrBadOptions, opt.MinRowBits)
	}
	if opt.K > MaxK {
		return nil, fmt.Errorf("t4: %w: K %d", ErrBadOptions, opt.K)
	}
	rc := &rowCoder{opt: opt, width: width, k: opt.K}
	rc.ref = whiteRow(rc.ref, width)
	return rc, nil
}

// eol writes fill as needed, then an EOL (and the MR tag bit).
func (rc *rowCoder) eol(tag int, pad bool) {
	w := &rc.w
	if pad && rc.y > 0 {
		// Pad the previous row up to the minimum scan-line length.
		if short := rc.opt.MinRowBits - (w.total() - rc.rowStart); short > 0 {
			w.zeros(short)
		}
	}
	if rc.opt.AlignEOL {
		// The EOL is 12 bits: make it end on an octet boundary.
		w.zeros(int((8 - (uint32(w.total())+eolLen)%8) % 8))
	}
	rc.rowStart = w.total()
	w.put(code{eolCode, eolLen})
	if tag >= 0 {
		w.put(code{uint32(tag), 1})
	}
}

func (rc *rowCoder) row(row []byte) {
	rc.cur = changes(rc.cur[:0], row, rc.width)
	switch rc.opt.Coding {
	case MH:
		rc.eol(-1, true)
		rc.code1D()
	case MR:
		if rc.y%rc.k == 0 {
			rc.eol(1, true)
			rc.code1D()
		} else {
			rc.eol(0, true)
			rc.code2D()
		}
	case MMR:
		rc.code2D()
	}
	rc.ref, rc.cur = rc.cur, rc.ref
	rc.y++
}

func (rc *rowCoder) finish() {
	if !rc.opt.NoRTC {
		switch rc.opt.Coding {
		case MH:
			for i := range 6 {
				rc.eol(-1, i == 0)
			}
		case MR:
			for i := range 6 {
				rc.eol(1, i == 0)
			}
		case MMR:
			rc.w.put(code{eolCode, eolLen})
			rc.w.put(code{eolCode, eolLen})
		}
	} else if rc.opt.Coding != MMR && rc.y > 0 {
		if short := rc.opt.MinRowBits - (rc.w.total() - rc.rowStart); short > 0 {
			rc.w.zeros(short)
		}
	}
	rc.w.flush()
}

// putRun writes the make-up and terminating codes for one run.
func (w *bitWriter) putRun(color int, run int) {
	if run >= 64 {
		w.putMakeup(color, run)
		run &= 63
	}
	w.put(encTerm[color][run])
}

// putMakeup writes the make-up codes of a run of 64 or more.
func (w *bitWriter) putMakeup(color int, run int) {
	for run > maxRun {
		w.put(encMakeup[color][40])
		run -= maxRun
	}
	w.put(encMakeup[color][run>>6])
}

func (rc *rowCoder) code1D() {
	w, cur, width := &rc.w, rc.cur, int32(rc.width)
	acc, n, buf := w.acc, w.n, w.buf
	prev := int32(0)
	for i := 0; prev < width; i++ {
		run := cur[i] - prev
		prev = cur[i]
		color := i & 1
		if run >= 64 {
			w.acc, w.n, w.buf = acc, n, buf
			w.putMakeup(color, int(run))
			acc, n, buf = w.acc, w.n, w.buf
			run &= 63
		}
		c := encTerm[color][run]
		acc |= uint64(c.bits) << (64 - n - c.n)
		n += c.n
		if n >= 32 {
			buf = binary.BigEndian.AppendUint32(buf, uint32(acc>>32))
			acc <<= 32
			n -= 32
		}
	}
	w.acc, w.n, w.buf = acc, n, buf
}

// code2D codes cur against ref with the T.4 two-dimensional procedure.
func (rc *rowCoder) code2D() {
	w, cur, ref, width := &rc.w, rc.cur, rc.ref, int32(rc.width)
	a0, color := int32(-1), 0
	ai, bi := 0, 0
	for a0 < width {
		a1 := cur[ai]
		// b1: first changing element on ref right of a0 whose colour is
		// opposite to a0's; even indexes are white-to-black changes.
		if bi > 0 {
			bi--
		}
		for ref[bi] <= a0 && ref[bi] < width {
			bi++
		}
		if bi&1 != color {
			bi++
		}
		b1, b2 := ref[bi], ref[bi+1]
		switch {
		case b2 < a1:
			w.put(encMode[modePass])
			a0 = b2
		case a1-b1 <= 3 && b1-a1 <= 3:
			w.put(vertical(a1 - b1))
			a0 = a1
			color ^= 1
			ai++
		default:
			a2 := cur[ai+1]
			w.put(encMode[modeHoriz])
			w.putRun(color, int(a1-max(a0, 0)))
			w.putRun(color^1, int(a2-a1))
			a0 = a2
			ai += 2
		}
	}
}

func vertical(d int32) code {
	switch d {
	case 0:
		return encMode[modeV0]
	case 1:
		return encMode[modeVR1]
	case 2:
		return encMode[modeVR2]
	case 3:
		return encMode[modeVR3]
	case -1:
		return encMode[modeVL1]
	case -2:
		return encMode[modeVL2]
	default:
		return encMode[modeVL3]
	}
}

// whiteRow returns the changing elements of an all-white row.
func whiteRow(dst []int32, width int) []int32 {
	w := int32(width)
	return append(dst[:0], w, w, w)
}

// changes appends the changing elements of a packed row to dst: every x
// whose colour differs from x-1 (x = -1 being white), then width three
// times as sentinels so the 2-D search can always look two ahead. It
// works 64 pixels at a time: w ^ (w >> 1) has a one wherever a pixel
// differs from its left neighbour.
func changes(dst []int32, row []byte, width int) []int32 {
	var carry uint64 // the last pixel of the previous word
	n := len(row)
	i := 0
	for ; i+8 <= n; i += 8 {
		w := binary.BigEndian.Uint64(row[i:])
		t := w ^ (w>>1 | carry<<63)
		carry = w & 1
		for t != 0 {
			lz := bits.LeadingZeros64(t)
			dst = append(dst, int32(i*8+lz))
			t &^= 1 << 63 >> lz
		}
	}
	if i < n {
		var tmp [8]byte
		copy(tmp[:], row[i:])
		w := binary.BigEndian.Uint64(tmp[:])
		t := w ^ (w>>1 | carry<<63)
		for t != 0 {
			lz := bits.LeadingZeros64(t)
			dst = append(dst, int32(i*8+lz))
			t &^= 1 << 63 >> lz
		}
	}
	// Bits past the width are padding: a change there is not a change.
	wd := int32(width)
	for len(dst) > 0 && dst[len(dst)-1] >= wd {
		dst = dst[:len(dst)-1]
	}
	return append(dst, wd, wd, wd)
}
