package t4

import (
	"encoding/binary"
	"fmt"
	"math/bits"

	"github.com/faxd/faxd/t38/bilevel"
)

// DecodeOptions describe the coded data.
type DecodeOptions struct {
	Coding Coding
	Width  int
	// Height is the number of rows expected; 0 decodes until RTC/EOFB or
	// the end of the data. With a Height, rows missing at the end of the
	// data are left white and counted as bad.
	Height int
	// AlignEOL tells that EOLs are octet aligned. The decoder accepts any
	// amount of fill before an EOL either way; the field documents the
	// source and lets callers round-trip TIFF T4Options.
	AlignEOL bool
	// MaxHeight bounds the rows decoded when Height is 0
	// (0 = DefaultMaxHeight).
	MaxHeight int
	// Buffer, if its capacity holds the whole page (Height given), is
	// cleared and used for the returned image's pixels, so a receiver
	// decoding page after page reuses one allocation.
	Buffer []byte
}

// DecodeStats reports how a page decoded.
type DecodeStats struct {
	Rows      int  // rows in the returned image
	BadRows   int  // rows that were corrupt or missing and were replaced
	MaxBadRun int  // the longest run of consecutive bad rows
	EndMarker bool // RTC (MH, MR) or EOFB (MMR) was seen
	Bytes     int  // octets consumed up to the end of the page
}

// Decode decodes one page. MH and MR data survive corrupt rows (see
// DecodeStats.BadRows); MMR data cannot resynchronise, so a coding error
// ends the page with ErrCorrupt, returning the rows decoded before it.
func Decode(data []byte, opt DecodeOptions) (*bilevel.Image, DecodeStats, error) {
	d, err := NewDecoder(opt)
	if err != nil {
		return nil, DecodeStats{}, err
	}
	d.data = data
	if n := d.img.Stride * opt.Height; opt.Height > 0 && cap(opt.Buffer) >= n {
		d.img.Pix = opt.Buffer[:n]
		clear(d.img.Pix)
	} else if opt.Height > 0 {
		d.img.Pix = make([]byte, n)
	} else {
		d.img.Pix = make([]byte, 0, d.img.Stride*min(2400, 8*len(data)+1))
	}
	d.run(true)
	return d.Close()
}

// Decoder decodes a page as its data arrives (non-ECM reception): Write
// feeds octets, rows are decoded as soon as they are complete, and Close
// returns the page.
type Decoder struct {
	opt     DecodeOptions
	width   int32
	maxH    int
	data    []byte
	bitpos  int // where the next row starts, in bits from data[0]
	dropped int // octets dropped from the front of data (streaming)

	ref, cur, prevRef []int32
	img               *bilevel.Image
	zero              []byte
	words             []uint64 // fillRow scratch
	stats             DecodeStats
	badRun            int
	done              bool
	afterGood         bool // the last thing decoded was a good row
	bad2D             bool // MR: the reference row is a substitute
	err               error
}

// NewDecoder returns a Decoder for one page.
func NewDecoder(opt DecodeOptions) (*Decoder, error) {
	if opt.Width <= 0 || opt.Width > MaxWidth {
		return nil, fmt.Errorf("t4: %w: %d", ErrBadWidth, opt.Width)
	}
	switch opt.Coding {
	case MH, MR, MMR:
	default:
		return nil, fmt.Errorf("t4: %w: %d", ErrBadCoding, opt.Coding)
	}
	if opt.Height < 0 {
		opt.Height = 0
	}
	d := &Decoder{opt: opt, width: int32(opt.Width), maxH: opt.MaxHeight}
	if d.maxH <= 0 {
		d.maxH = DefaultMaxHeight
	}
	if opt.Height > 0 {
		d.maxH = opt.Height
	}
	d.img = bilevel.New(opt.Width, 0)
	d.zero = make([]byte, d.img.Stride)
	d.words = make([]uint64, (opt.Width+63)>>6)
	d.ref = whiteRow(nil, opt.Width)
	d.prevRef = whiteRow(nil, opt.Width)
	return d, nil
}

// Write decodes every row complete in the data so far. It consumes all of
// p; the error is non-nil only when decoding cannot go on (MMR corruption,
// a page over the height limit).
func (d *Decoder) Write(p []byte) (int, error) {
	if d.done {
		return len(p), d.err
	}
	// Drop what is already decoded so the buffer stays one row or so long.
	if k := d.bitpos >> 3; k > 4096 {
		n := copy(d.data, d.data[k:])
		d.data = d.data[:n]
		d.bitpos -= k * 8
		d.dropped += k
	}
	d.data = append(d.data, p...)
	d.run(false)
	return len(p), d.err
}

// Done reports whether the page has ended (RTC, EOFB, the expected height
// or a fatal error); later data is ignored.
func (d *Decoder) Done() bool { return d.done }

// Stats returns the statistics so far.
func (d *Decoder) Stats() DecodeStats {
	st := d.stats
	st.Rows = d.img.Height
	return st
}

// Close decodes what remains and returns the page.
func (d *Decoder) Close() (*bilevel.Image, DecodeStats, error) {
	if !d.done {
		d.run(true)
	}
	if h := d.opt.Height; h > 0 && d.img.Height < h {
		missing := h - d.img.Height
		for range missing {
			d.addRow()
		}
		d.stats.BadRows += missing
		d.badRun += missing
		d.stats.MaxBadRun = max(d.stats.MaxBadRun, d.badRun)
	}
	d.stats.Rows = d.img.Height
	d.img.Pix = d.img.Pix[:d.img.Height*d.img.Stride]
	if d.stats.Bytes == 0 {
		d.stats.Bytes = d.dropped + min((d.bitpos+7)>>3, len(d.data))
	}
	return d.img, d.stats, d.err
}

// run decodes rows until the data runs out (final: the data is complete).
func (d *Decoder) run(final bool) {
	r := reader{data: d.data}
	for !d.done {
		if d.img.Height >= d.maxH {
			if d.opt.Height == 0 {
				d.err = fmt.Errorf("t4: %w: more than %d rows", ErrTooLong, d.maxH)
			}
			d.finish()
			return
		}
		if r.bitpos() != d.bitpos || r.n == 0 {
			r.seek(d.bitpos) // only after a roll-back: rows follow on
		}
		var more bool
		if d.opt.Coding == MMR {
			more = d.stepT6(&r, final)
		} else {
			more = d.stepT4(&r, final)
		}
		if more {
			return
		}
	}
}

func (d *Decoder) finish() {
	d.done = true
	d.stats.Bytes = d.dropped + min((d.bitpos+7)>>3, len(d.data))
}

// stepT6 decodes one MMR row; it reports true when it needs more data.
func (d *Decoder) stepT6(r *reader, final bool) bool {
	r.refill()
	if bits.LeadingZeros64(r.acc) >= 11 {
		// EOFB, or the zero padding at the end of the data.
		_, ok := r.zeros()
		if !ok {
			if !final {
				return true
			}
			d.finish()
			return false
		}
		r.skip(1)
		d.bitpos = r.bitpos()
		// EOFB is two EOLs, but in MMR one EOL can only be the start of
		// EOFB, so the page ends here whether or not the second follows.
		r.refill()
		if bits.LeadingZeros64(r.acc) >= 11 {
			if _, ok := r.zeros(); ok {
				r.skip(1)
				d.bitpos = r.bitpos()
			}
		}
		d.stats.EndMarker = true
		d.finish()
		return false
	}
	var ok bool
	d.cur, ok = decode2D(r, d.ref, d.cur[:0], d.width)
	if r.overrun() || !ok && r.nearEnd() {
		if !final {
			return true
		}
		ok = ok && !r.overrun()
	}
	if !ok {
		d.err = fmt.Errorf("t4: MMR row %d: %w", d.img.Height, ErrCorrupt)
		d.finish()
		return false
	}
	d.bitpos = r.bitpos()
	d.goodRow()
	return false
}

// stepT4 finds the next EOL and decodes the MH or MR row after it.
func (d *Decoder) stepT4(r *reader, final bool) bool {
	for {
		r.refill()
		if bits.LeadingZeros64(r.acc) >= 11 {
			break
		}
		// Data that is not an EOL where a row should start: the row before
		// it decoded to the right width by accident, so it is bad too.
		if d.afterGood && d.img.Height > 0 {
			d.unGood()
		}
		d.afterGood = false
		if _, ok := r.zeros(); !ok || r.overrun() {
			return d.outOfData(final)
		}
		r.skip(1)
		d.bitpos = r.bitpos()
	}
	// An EOL: fill, then 000000000001.
	if _, ok := r.zeros(); !ok {
		return d.outOfData(final)
	}
	r.skip(1)
	tag := 1
	if d.opt.Coding == MR {
		r.refill()
		tag = int(r.acc >> 63)
		r.skip(1)
	}
	r.refill()
	if bits.LeadingZeros64(r.acc) >= 11 {
		// More EOLs. Three or more in a row are RTC (T.4 sends six); just
		// two, then row data, mean a row was lost in between (a line hit
		// that left only zeros), and the page goes on.
		p0 := r.bitpos()
		n, more := d.eolsFollow(r)
		if more && !final {
			return true
		}
		if n >= 2 || more {
			d.bitpos = r.bitpos()
			d.stats.EndMarker = n >= 1
			d.finish()
			return false
		}
		d.bitpos = p0
		d.badRow()
		return false
	}
	var ok bool
	switch {
	case tag == 1:
		d.cur, ok = decode1D(r, d.cur[:0], d.width)
		if d.bad2D && ok {
			d.bad2D = false
		}
	case d.bad2D:
		ok = false // its reference row is a substitute: it cannot be right
	default:
		d.cur, ok = decode2D(r, d.ref, d.cur[:0], d.width)
	}
	if r.overrun() || !ok && r.nearEnd() {
		// The row may be complete once more data arrives.
		if !final {
			return true
		}
		ok = ok && !r.overrun()
	}
	if ok {
		d.bitpos = r.bitpos()
		d.goodRow()
		d.afterGood = true
		return false
	}
	// Resynchronise: the next step searches for the EOL after this one.
	d.bitpos = r.bitpos()
	d.badRow()
	return false
}

// eolsFollow consumes the EOLs that follow an EOL and counts them (up to
// the rest of RTC); more is true if the data ended before anything else
// came.
func (d *Decoder) eolsFollow(r *reader) (n int, more bool) {
	for ; n < 5; n++ {
		r.refill()
		if bits.LeadingZeros64(r.acc) < 11 {
			return n, false // a one bit within 11: real data, not an EOL
		}
		if _, ok := r.zeros(); !ok {
			return n, true
		}
		r.skip(1)
		if d.opt.Coding == MR {
			r.skip(1)
		}
		if r.overrun() {
			return n, true
		}
	}
	return n, false
}

func (d *Decoder) outOfData(final bool) bool {
	if !final {
		return true
	}
	d.finish()
	return false
}

// addRow adds a white row. Decode allocates the whole page up front when
// the height is known; otherwise the image grows.
func (d *Decoder) addRow() []byte {
	if end := (d.img.Height + 1) * d.img.Stride; end > len(d.img.Pix) {
		d.img.Pix = append(d.img.Pix, d.zero...)
	}
	d.img.Height++
	return d.img.Row(d.img.Height - 1)
}

func (d *Decoder) goodRow() {
	fillRow(d.addRow(), d.cur, int(d.width), d.words)
	d.prevRef, d.ref, d.cur = d.ref, d.cur, d.prevRef
	d.badRun = 0
}

// badRow adds a copy of the previous row (white for the first one).
func (d *Decoder) badRow() {
	row := d.addRow()
	if y := d.img.Height - 1; y > 0 {
		copy(row, d.img.Row(y-1))
	}
	d.prevRef = append(d.prevRef[:0], d.ref...)
	d.bad2D = d.opt.Coding == MR
	d.afterGood = false
	d.stats.BadRows++
	d.badRun++
	d.stats.MaxBadRun = max(d.stats.MaxBadRun, d.badRun)
}

// unGood turns the last row, decoded as good, into a bad one.
func (d *Decoder) unGood() {
	y := d.img.Height - 1
	row := d.img.Row(y)
	if y > 0 {
		copy(row, d.img.Row(y-1))
	} else {
		clear(row)
	}
	d.ref, d.prevRef = d.prevRef, d.ref
	d.prevRef = append(d.prevRef[:0], d.ref...)
	d.bad2D = d.opt.Coding == MR
	d.stats.BadRows++
	d.badRun++
	d.stats.MaxBadRun = max(d.stats.MaxBadRun, d.badRun)
}

// fillRow paints a zeroed row from its changing elements. Each change
// sets one bit in a scratch row of 64-bit words; a prefix XOR across the
// bits then turns "colour changes here" into "black here", 64 pixels at a
// time. Words that stay white are not written at all.
func fillRow(row []byte, ch []int32, width int, tmp []uint64) {
	w := int32(width)
	if len(ch) == 0 || ch[0] >= w {
		return // all white
	}
	nw := (width + 63) >> 6
	tmp = tmp[:nw]
	clear(tmp)
	for _, x := range ch {
		if x >= w {
			break
		}
		tmp[x>>6] |= 1 << 63 >> (x & 63)
	}
	stride := (width + 7) >> 3
	var carry uint64 // all ones when the previous word ended black
	for i, x := range tmp {
		if x == 0 {
			if carry == 0 {
				continue
			}
			x = carry
		} else {
			x ^= x >> 1
			x ^= x >> 2
			x ^= x >> 4
			x ^= x >> 8
			x ^= x >> 16
			x ^= x >> 32
			x ^= carry
			carry = -(x & 1)
		}
		if i == nw-1 && width&63 != 0 {
			x &= ^uint64(0) << (64 - width&63) // padding stays white
		}
		if b := i * 8; b+8 <= stride {
			binary.BigEndian.PutUint64(row[b:], x)
		} else {
			for ; b < stride; b++ {
				row[b] = byte(x >> 56)
				x <<= 8
			}
		}
	}
}

// reader is an MSB-first bit reader. acc holds n valid bits left-aligned;
// past the end of data it reads zeros, and overrun reports that.
type reader struct {
	data []byte
	acc  uint64
	n    uint
	pos  int // next octet to load; may pass len(data)
}

func (r *reader) bitpos() int   { return r.pos*8 - int(r.n) }
func (r *reader) overrun() bool { return r.bitpos() > len(r.data)*8 }

// nearEnd reports that the longest code word at the read position would
// reach past the data: a coding error there may just be missing data.
func (r *reader) nearEnd() bool { return r.bitpos()+16 > len(r.data)*8 }

func (r *reader) seek(bit int) {
	r.pos, r.acc, r.n = bit>>3, 0, 0
	r.refill()
	r.skip(uint(bit & 7))
}

func (r *reader) skip(k uint) {
	if r.n < k {
		r.refill()
	}
	r.acc <<= k
	r.n -= k
}

// refill tops acc up to at least 56 bits. The fast path loads eight octets
// at once; the bits it loads past n are the same ones a later load would
// put there, so ORing them in again is harmless.
func (r *reader) refill() {
	if r.pos+8 <= len(r.data) {
		r.acc |= binary.BigEndian.Uint64(r.data[r.pos:]) >> r.n
		r.pos += int((63 - r.n) >> 3)
		r.n |= 56
		return
	}
	r.slowRefill()
}

func (r *reader) slowRefill() {
	for r.n <= 56 {
		var b byte
		if r.pos < len(r.data) {
			b = r.data[r.pos]
		}
		r.acc |= uint64(b) << (56 - r.n)
		r.pos++
		r.n += 8
	}
}

// zeros consumes zero bits up to (not including) the next one bit and
// counts them; ok is false if the data ends first.
func (r *reader) zeros() (z int, ok bool) {
	for {
		r.refill()
		lz := uint(bits.LeadingZeros64(r.acc))
		if lz < r.n {
			r.acc <<= lz
			r.n -= lz
			return z + int(lz), !r.overrun()
		}
		z += int(r.n)
		r.acc, r.n = 0, 0
		if r.pos > len(r.data) {
			return z, false
		}
	}
}

// decode1D decodes one MH row into ch; false if the row is corrupt.
// The reader state lives in locals for the whole row (the compiler keeps
// them in registers). A run is usually one terminating code; make-up
// codes take the slower moreRun.
func decode1D(r *reader, ch []int32, width int32) ([]int32, bool) {
	acc, n, pos, data := r.acc, r.n, r.pos, r.data
	a0 := int32(0)
	ok := true
	wt, bt := &runTabs[0], &runTabs[1]
	for {
		// White run. One refill covers a white and a black code (at most
		// 13 bits each); make-up codes refill in moreRun.
		if n < 26 {
			if pos+8 <= len(data) {
				acc |= binary.BigEndian.Uint64(data[pos:]) >> n
				pos += int((63 - n) >> 3)
				n |= 56
			} else {
				r.acc, r.n, r.pos = acc, n, pos
				r.slowRefill()
				acc, n, pos = r.acc, r.n, r.pos
			}
		}
		// Fast path: a short white and black run pair in one lookup.
		if p := pairTab[0][acc>>52]; p != 0 {
			a1 := a0 + int32(p>>4&63)
			a2 := a1 + int32(p>>10)
			if a2 < width {
				acc <<= p & 15
				n -= uint(p & 15)
				ch = append(ch, a1, a2)
				a0 = a2
				continue
			}
		}
		e := look(wt, acc)
		acc <<= e & 31
		n -= uint(e & 31)
		run := int32(e >> 8)
		if e&0xe0 != kindTerm<<5 {
			if e&0xe0 != kindMakeup<<5 {
				ok = false
				break
			}
			r.acc, r.n, r.pos = acc, n, pos
			run, ok = moreRun(r, wt, run, width)
			acc, n, pos = r.acc, r.n, r.pos
			if !ok {
				break
			}
		}
		a0 += run
		if a0 > width {
			ok = false
			break
		}
		// A zero run (only legal first, or make-up + 0) cancels the
		// previous change instead of adding a second one there.
		if k := len(ch) - 1; run == 0 && k >= 0 && ch[k] == a0 {
			ch = ch[:k]
		} else {
			ch = append(ch, a0)
		}
		if a0 == width {
			break
		}
		// Black run.
		if n < 13 { // only after make-up codes
			r.acc, r.n, r.pos = acc, n, pos
			r.refill()
			acc, n, pos = r.acc, r.n, r.pos
		}
		e = look(bt, acc)
		acc <<= e & 31
		n -= uint(e & 31)
		run = int32(e >> 8)
		if e&0xe0 != kindTerm<<5 {
			if e&0xe0 != kindMakeup<<5 {
				ok = false
				break
			}
			r.acc, r.n, r.pos = acc, n, pos
			run, ok = moreRun(r, bt, run, width)
			acc, n, pos = r.acc, r.n, r.pos
			if !ok {
				break
			}
		}
		a0 += run
		if a0 > width {
			ok = false
			break
		}
		if k := len(ch) - 1; run == 0 && k >= 0 && ch[k] == a0 {
			ch = ch[:k]
		} else {
			ch = append(ch, a0)
		}
		if a0 == width {
			break
		}
	}
	r.acc, r.n, r.pos = acc, n, pos
	if !ok {
		return ch, false
	}
	return terminate(ch, width), true
}

// moreRun continues a run after a make-up code: more make-up codes, then
// the terminating code.
func moreRun(r *reader, tab *runTable, run, width int32) (int32, bool) {
	for {
		if run > width {
			return run, false
		}
		if r.n < 16 {
			r.refill()
		}
		e := look(tab, r.acc)
		r.acc <<= e & 31
		r.n -= uint(e & 31)
		run += int32(e >> 8)
		switch e & 0xe0 {
		case kindTerm << 5:
			return run, true
		case kindMakeup << 5:
		default:
			return run, false
		}
	}
}

// look finds the table entry for the run code at the top of acc.
func look(t *runTable, acc uint64) uint32 {
	e := t.prim[acc>>(64-primBits)]
	if e&0xe0 == kindLink<<5 {
		e = t.sec[e>>8+uint32(acc<<primBits>>(64-secBits))]
	}
	return e
}

// terminate drops a trailing change at width and appends the sentinels.
func terminate(ch []int32, width int32) []int32 {
	if k := len(ch) - 1; k >= 0 && ch[k] >= width {
		ch = ch[:k]
	}
	return append(ch, width, width, width)
}

// decode2D decodes one two-dimensional row against ref; false if corrupt.
func decode2D(r *reader, ref, ch []int32, width int32) ([]int32, bool) {
	acc, n, pos, data := r.acc, r.n, r.pos, r.data
	a0, color := int32(-1), 0
	bi := 0
	ok := true
	for a0 < width {
		if n < 8 { // mode codes are at most 7 bits; runs check for themselves
			if pos+8 <= len(data) {
				acc |= binary.BigEndian.Uint64(data[pos:]) >> n
				pos += int((63 - n) >> 3)
				n |= 56
			} else {
				r.acc, r.n, r.pos = acc, n, pos
				r.slowRefill()
				acc, n, pos = r.acc, r.n, r.pos
			}
		}
		m := modeTab[acc>>57]
		l := uint(m & 7)
		acc <<= l
		n -= l
		// Move b1 right past a0, keeping its parity (b1 lags by at most
		// one change after the previous mode; the sentinels stop it).
		for ref[bi] <= a0 && ref[bi] < width {
			bi += 2
		}
		if k := m >> 3; k >= modeV0 {
			// Vertical: a1 = b1 + delta. The previous change is at most
			// a0, so a1 > a0 never cancels it.
			a1 := ref[bi] + int32(vdelta[k])
			if uint32(a1-a0-1) >= uint32(width-a0) { // a1 <= a0 || a1 > width
				ok = false
				break
			}
			ch = append(ch, a1)
			a0 = a1
			color ^= 1
			// The colour flips, so b1 takes the other parity: the next
			// change after V0/VR, the previous one after VL (the scan
			// above moves it on if it is not right of a1).
			bi += int(vstep[k])
			if bi < 0 {
				bi = 1 // VL at the first change: the next one of that parity
			}
			continue
		} else if k == modePass {
			// a0 moves to b2; b1 to the change after it.
			a0 = ref[bi+1]
			bi += 2
			continue
		} else if k != modeHoriz {
			ok = false
			break
		}
		// Horizontal: two runs, a0a1 in a0's colour, then a1a2. Each is
		// nearly always one terminating code; make-up codes go to moreRun.
		t1, t2 := &runTabs[color], &runTabs[color^1]
		if n < 26 {
			if pos+8 <= len(data) {
				acc |= binary.BigEndian.Uint64(data[pos:]) >> n
				pos += int((63 - n) >> 3)
				n |= 56
			} else {
				r.acc, r.n, r.pos = acc, n, pos
				r.slowRefill()
				acc, n, pos = r.acc, r.n, r.pos
			}
		}
		if p := pairTab[color][acc>>52]; p != 0 {
			// Both runs in one lookup; neither is zero, so no change
			// cancels.
			a1 := max(a0, 0) + int32(p>>4&63)
			a2 := a1 + int32(p>>10)
			if a2 <= width {
				acc <<= p & 15
				n -= uint(p & 15)
				ch = append(ch, a1, a2)
				a0 = a2
				continue
			}
		}
		e := look(t1, acc)
		acc <<= e & 31
		n -= uint(e & 31)
		r1 := int32(e >> 8)
		if e&0xe0 != kindTerm<<5 {
			if e&0xe0 != kindMakeup<<5 {
				ok = false
				break
			}
			r.acc, r.n, r.pos = acc, n, pos
			r1, ok = moreRun(r, t1, r1, width)
			acc, n, pos = r.acc, r.n, r.pos
			if !ok {
				break
			}
		}
		if n < 16 {
			if pos+8 <= len(data) {
				acc |= binary.BigEndian.Uint64(data[pos:]) >> n
				pos += int((63 - n) >> 3)
				n |= 56
			} else {
				r.acc, r.n, r.pos = acc, n, pos
				r.slowRefill()
				acc, n, pos = r.acc, r.n, r.pos
			}
		}
		e = look(t2, acc)
		acc <<= e & 31
		n -= uint(e & 31)
		r2 := int32(e >> 8)
		if e&0xe0 != kindTerm<<5 {
			if e&0xe0 != kindMakeup<<5 {
				ok = false
				break
			}
			r.acc, r.n, r.pos = acc, n, pos
			r2, ok = moreRun(r, t2, r2, width)
			acc, n, pos = r.acc, r.n, r.pos
			if !ok {
				break
			}
		}
		a1 := max(a0, 0) + r1
		a2 := a1 + r2
		if a2 > width {
			ok = false
			break
		}
		// Zero runs make a change coincide with the one before it: the two
		// cancel.
		if r1 == 0 {
			ch = appendChange(ch, a1)
		} else {
			ch = append(ch, a1)
		}
		if r2 == 0 {
			ch = appendChange(ch, a2)
		} else {
			ch = append(ch, a2)
		}
		a0 = a2
	}
	r.acc, r.n, r.pos = acc, n, pos
	if !ok {
		return ch, false
	}
	return terminate(ch, width), true
}

// vstep moves b1's index after each vertical mode (see decode2D).
var vstep = [32]int8{modeV0: 1, modeVR1: 1, modeVR2: 1, modeVR3: 1, modeVL1: -1, modeVL2: -1, modeVL3: -1}

// vdelta is a1 - b1 for each vertical mode; 32 entries so that indexing
// by a mode (uint8 >> 3) needs no bounds check.
var vdelta = [32]int8{modeV0: 0, modeVR1: 1, modeVR2: 2, modeVR3: 3, modeVL1: -1, modeVL2: -2, modeVL3: -3}

func appendChange(ch []int32, x int32) []int32 {
	if k := len(ch) - 1; k >= 0 && ch[k] == x {
		return ch[:k]
	}
	return append(ch, x)
}
