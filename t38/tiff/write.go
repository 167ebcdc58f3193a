package tiff

import (
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"sort"
	"time"

	"github.com/faxd/faxd/t38/bilevel"
	"github.com/faxd/faxd/t38/t4"
)

// FaxOptions control how EncodeFax codes pages.
type FaxOptions struct {
	Coding    t4.Coding // MH, MR or MMR; 0 means MMR, the smallest
	FillOrder int       // 1 (MSB first, the default) or 2 (LSB first)
	// AlignEOL sets T4Options bit 2: EOLs end on octet boundaries.
	AlignEOL bool
	K        int    // MR K; 0 picks it from the resolution
	Software string // the Software tag; empty omits it
	// DateTime is the DateTime tag; the zero time omits it.
	DateTime time.Time
}

// RawPage is one page of already coded fax data, kept as received.
type RawPage struct {
	Data          []byte // coded data in FillOrder order
	Coding        t4.Coding
	Width, Height int
	XDPI, YDPI    int
	FillOrder     int  // 1 or 2 (0 means 1)
	AlignEOL      bool // T4Options bit 2
	// Receive quality, written as BadFaxLines, CleanFaxData and
	// ConsecutiveBadFaxLines.
	BadRows, MaxBadRun int
}

// RawOptions are the file-wide tags of WriteRawFax.
type RawOptions struct {
	Software string
	DateTime time.Time
}

// EncodeFax codes bilevel pages and writes them as a TIFF Class F file.
// Resolutions come from each image (0 means 204 by 196).
func EncodeFax(w io.Writer, pages []*bilevel.Image, opt FaxOptions) error {
	if opt.Coding == 0 {
		opt.Coding = t4.MMR
	}
	raws := make([]RawPage, len(pages))
	for i, img := range pages {
		// Class F data carries no RTC; T.6 data ends with EOFB (as libtiff
		// writes them).
		data, err := t4.Encode(img, t4.EncodeOptions{
			Coding: opt.Coding, K: opt.K, AlignEOL: opt.AlignEOL,
			NoRTC: opt.Coding != t4.MMR,
		})
		if err != nil {
			return fmt.Errorf("tiff: page %d: %w", i+1, err)
		}
		if opt.FillOrder == 2 {
			t4.ReverseBits(data)
		}
		raws[i] = RawPage{
			Data: data, Coding: opt.Coding, Width: img.Width, Height: img.Height,
			XDPI: img.XDPI, YDPI: img.YDPI, FillOrder: opt.FillOrder, AlignEOL: opt.AlignEOL,
		}
	}
	return WriteRawFax(w, raws, RawOptions{Software: opt.Software, DateTime: opt.DateTime})
}

// WriteRawFax writes coded pages as a TIFF Class F file without touching
// the data: a received fax is stored exactly as it arrived.
func WriteRawFax(w io.Writer, pages []RawPage, opt RawOptions) error {
	if len(pages) == 0 {
		return fmt.Errorf("%w: no pages to write", ErrFormat)
	}
	fw := &fileWriter{}
	fw.buf = append(fw.buf, 'I', 'I', 42, 0, 0, 0, 0, 0)
	link := 4 // where the next IFD offset goes
	for i, p := range pages {
		if p.Width <= 0 || p.Height <= 0 || p.Width > t4.MaxWidth {
			return fmt.Errorf("%w: page %d size %dx%d", ErrFormat, i+1, p.Width, p.Height)
		}
		if len(fw.buf)+len(p.Data) > math.MaxUint32-1<<16 {
			return fmt.Errorf("%w: file over 4 GiB", ErrLimit)
		}
		dataOff := len(fw.buf)
		fw.buf = append(fw.buf, p.Data...)
		if len(fw.buf)&1 == 1 {
			fw.buf = append(fw.buf, 0) // IFDs start on a word boundary
		}
		var e entries
		e.long(tagNewSubfileType, 2) // one page of a multi-page document
		e.long(tagImageWidth, uint32(p.Width))
		e.long(tagImageLength, uint32(p.Height))
		e.short(tagBitsPerSample, 1)
		e.short(tagPhotometric, 0) // MINISWHITE, as Class F requires
		fill := p.FillOrder
		if fill != 2 {
			fill = 1
		}
		e.short(tagFillOrder, uint16(fill))
		e.long(tagStripOffsets, uint32(dataOff))
		e.short(tagOrientation, 1)
		e.short(tagSamplesPerPixel, 1)
		e.long(tagRowsPerStrip, uint32(p.Height))
		e.long(tagStripByteCounts, uint32(len(p.Data)))
		xdpi, ydpi := p.XDPI, p.YDPI
		if xdpi <= 0 {
			xdpi = bilevel.XDPI
		}
		if ydpi <= 0 {
			ydpi = bilevel.YDPIFine
		}
		e.rational(tagXResolution, uint32(xdpi), 1)
		e.rational(tagYResolution, uint32(ydpi), 1)
		e.short(tagResolutionUnit, 2) // inches
		e.shorts(tagPageNumber, uint16(i), uint16(len(pages)))
		var t4opts uint32
		if p.AlignEOL {
			t4opts |= 4
		}
		switch p.Coding {
		case t4.MH:
			e.short(tagCompression, compT4)
			e.long(tagT4Options, t4opts)
		case t4.MR:
			e.short(tagCompression, compT4)
			e.long(tagT4Options, t4opts|1)
		case t4.MMR:
			e.short(tagCompression, compT6)
			e.long(tagT6Options, 0)
		default:
			return fmt.Errorf("%w: page %d coding %v", ErrUnsupported, i+1, p.Coding)
		}
		if opt.Software != "" {
			e.ascii(tagSoftware, opt.Software)
		}
		if !opt.DateTime.IsZero() {
			e.ascii(tagDateTime, opt.DateTime.Format("2006:01:02 15:04:05"))
		}
		if p.BadRows > 0 || p.MaxBadRun > 0 {
			e.long(tagBadFaxLines, uint32(p.BadRows))
			e.short(tagCleanFaxData, 2) // regenerated: bad rows were replaced
			e.long(tagConsecBadLines, uint32(p.MaxBadRun))
		} else {
			e.short(tagCleanFaxData, 0)
		}
		ifdOff := len(fw.buf)
		binary.LittleEndian.PutUint32(fw.buf[link:], uint32(ifdOff))
		link = fw.writeIFD(e)
	}
	_, err := w.Write(fw.buf)
	return err
}

type fileWriter struct{ buf []byte }

type entry struct {
	tag, typ uint16
	count    uint32
	val      []byte
}

type entries []entry

func (e *entries) add(tag, typ uint16, count uint32, val []byte) {
	*e = append(*e, entry{tag, typ, count, val})
}

func (e *entries) short(tag uint16, v uint16) {
	e.add(tag, 3, 1, binary.LittleEndian.AppendUint16(nil, v))
}

func (e *entries) shorts(tag uint16, a, b uint16) {
	e.add(tag, 3, 2, binary.LittleEndian.AppendUint16(binary.LittleEndian.AppendUint16(nil, a), b))
}

func (e *entries) long(tag uint16, v uint32) {
	e.add(tag, 4, 1, binary.LittleEndian.AppendUint32(nil, v))
}

func (e *entries) rational(tag uint16, num, den uint32) {
	e.add(tag, 5, 1, binary.LittleEndian.AppendUint32(binary.LittleEndian.AppendUint32(nil, num), den))
}

func (e *entries) ascii(tag uint16, s string) {
	v := append([]byte(s), 0)
	e.add(tag, 2, uint32(len(v)), v)
}

// writeIFD appends an IFD and its out-of-line values; it returns the
// offset of the IFD's next-IFD field.
func (fw *fileWriter) writeIFD(e entries) int {
	sort.Slice(e, func(i, j int) bool { return e[i].tag < e[j].tag })
	le := binary.LittleEndian
	start := len(fw.buf)
	extra := start + 2 + 12*len(e) + 4 // out-of-line values follow the IFD
	var tail []byte
	fw.buf = le.AppendUint16(fw.buf, uint16(len(e)))
	for _, en := range e {
		fw.buf = le.AppendUint16(fw.buf, en.tag)
		fw.buf = le.AppendUint16(fw.buf, en.typ)
		fw.buf = le.AppendUint32(fw.buf, en.count)
		if len(en.val) <= 4 {
			var v [4]byte
			copy(v[:], en.val)
			fw.buf = append(fw.buf, v[:]...)
			continue
		}
		fw.buf = le.AppendUint32(fw.buf, uint32(extra+len(tail)))
		tail = append(tail, en.val...)
		if len(tail)&1 == 1 {
			tail = append(tail, 0)
		}
	}
	link := len(fw.buf)
	fw.buf = le.AppendUint32(fw.buf, 0)
	fw.buf = append(fw.buf, tail...)
	return link
}
