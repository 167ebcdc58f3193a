// Package tiff reads and writes TIFF files for faxd: TIFF Class F fax
// files (T.4 and T.6 coded pages) both ways, and, for documents submitted
// for sending, any common TIFF (uncompressed, PackBits, LZW or Deflate;
// bilevel, grey, palette or colour; strips or tiles; either byte order).
//
// Every size read from a file is checked against Limits before anything
// is allocated, so a hostile file yields an error, never a crash or hang.
package tiff

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"errors"
	"fmt"
	"image"
	"image/color"
	"io"
	"math"

	"golang.org/x/image/tiff/lzw"

	"github.com/faxd/faxd/t38/bilevel"
	"github.com/faxd/faxd/t38/t4"
)

// Errors. Every error from this package wraps one of them.
var (
	ErrFormat      = errors.New("tiff: not a valid TIFF file")
	ErrUnsupported = errors.New("tiff: unsupported TIFF feature")
	ErrLimit       = errors.New("tiff: file exceeds a limit")
)

// Limits bound what a file may ask for.
type Limits struct {
	MaxPages  int   // pages (IFDs) in a file
	MaxWidth  int   // pixels
	MaxHeight int   // rows
	MaxPixels int64 // width*height of one page
	// MaxBytes bounds the file itself (0 = no bound here: the caller
	// already holds it in memory).
	MaxBytes int64
	// MaxDecoded bounds the memory of all pages Decode returns together
	// (1 bit per bilevel pixel, 1-4 bytes per grey or colour pixel); a
	// small file can describe many large pages. 0 = 1 GiB.
	MaxDecoded int64
}

// DefaultLimits suit fax documents: 1000 pages, pages up to A4 at 600 dpi
// (or A3 at 400), 512 MiB of decoded pages.
var DefaultLimits = Limits{MaxPages: 1000, MaxWidth: 16384, MaxHeight: 16384, MaxPixels: 5100 * 7100, MaxDecoded: 512 << 20}

// Page is one decoded page. Exactly one of Bilevel and Image is set:
// Bilevel for 1-bit and fax-coded pages, Image for grey, palette and
// colour pages (left for the caller to dither; see Page.Fax for a plain
// threshold).
type Page struct {
	Bilevel *bilevel.Image
	Image   image.Image
	// Resolution in dots per inch, 0 if the file does not say.
	XDPI, YDPI float64
	// PageNumber is the TIFF PageNumber tag's first value, -1 if absent.
	PageNumber int
	// For fax-coded pages: the coding and how decoding went.
	Coding t4.Coding
	Stats  t4.DecodeStats
}

// File is a parsed TIFF whose pages are decoded on demand.
type File struct {
	data   []byte
	order  binary.ByteOrder
	ifds   []ifd
	limits Limits
}

// Open parses the header and the IFD chain of a TIFF held in memory.
func Open(data []byte, limits Limits) (*File, error) {
	if limits.MaxPages <= 0 {
		limits = DefaultLimits
	}
	if len(data) < 8 {
		return nil, fmt.Errorf("%w: %d bytes", ErrFormat, len(data))
	}
	if limits.MaxBytes > 0 && int64(len(data)) > limits.MaxBytes {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrLimit, len(data), limits.MaxBytes)
	}
	f := &File{data: data, limits: limits}
	switch string(data[:2]) {
	case "II":
		f.order = binary.LittleEndian
	case "MM":
		f.order = binary.BigEndian
	default:
		return nil, fmt.Errorf("%w: bad byte-order mark", ErrFormat)
	}
	switch f.order.Uint16(data[2:]) {
	case 42:
	case 43:
		return nil, fmt.Errorf("%w: BigTIFF", ErrUnsupported)
	default:
		return nil, fmt.Errorf("%w: bad magic number", ErrFormat)
	}
	seen := map[uint32]bool{}
	for off := f.order.Uint32(data[4:]); off != 0; {
		if seen[off] {
			return nil, fmt.Errorf("%w: IFD chain loops", ErrFormat)
		}
		seen[off] = true
		if len(f.ifds) >= limits.MaxPages {
			return nil, fmt.Errorf("%w: more than %d pages", ErrLimit, limits.MaxPages)
		}
		d, next, err := f.parseIFD(off)
		if err != nil {
			return nil, fmt.Errorf("page %d: %w", len(f.ifds)+1, err)
		}
		// Reduced-resolution images (thumbnails) are not pages.
		if d.uint(tagNewSubfileType, 0)&1 == 0 {
			f.ifds = append(f.ifds, d)
		}
		off = next
	}
	if len(f.ifds) == 0 {
		return nil, fmt.Errorf("%w: no pages", ErrFormat)
	}
	return f, nil
}

// NumPages returns the number of pages.
func (f *File) NumPages() int { return len(f.ifds) }

// Info is what a page's header says about its size.
type Info struct {
	Width, Height   int
	SamplesPerPixel int
	BitsPerSample   int
}

// Info reads page i's header without decoding anything and without
// applying the limits, so a caller can apply its own, by name, before
// Page spends memory on the pixels.
func (f *File) Info(i int) (Info, error) {
	if i < 0 || i >= len(f.ifds) {
		return Info{}, fmt.Errorf("%w: no page %d", ErrFormat, i)
	}
	d := f.ifds[i]
	in := Info{
		Width:           int(min(d.uint(tagImageWidth, 0), math.MaxInt32)),
		Height:          int(min(d.uint(tagImageLength, 0), math.MaxInt32)),
		SamplesPerPixel: int(min(d.uint(tagSamplesPerPixel, 1), 16)),
		BitsPerSample:   1,
	}
	if bps := d.ints(tagBitsPerSample); len(bps) > 0 {
		in.BitsPerSample = int(min(bps[0], 64))
	}
	return in, nil
}

// Decode decodes every page of a TIFF with DefaultLimits.
func Decode(data []byte) ([]Page, error) {
	f, err := Open(data, DefaultLimits)
	if err != nil {
		return nil, err
	}
	return f.All()
}

// All decodes every page, within Limits.MaxDecoded in total.
func (f *File) All() ([]Page, error) {
	budget := f.limits.MaxDecoded
	if budget <= 0 {
		budget = 1 << 30
	}
	pages := make([]Page, 0, f.NumPages())
	for i := range f.NumPages() {
		p, err := f.Page(i)
		if err != nil {
			return nil, err
		}
		if budget -= p.size(); budget < 0 {
			return nil, fmt.Errorf("%w: pages 1-%d decode to more than %d bytes", ErrLimit, i+1, f.limits.MaxDecoded)
		}
		pages = append(pages, p)
	}
	return pages, nil
}

// size is the memory a decoded page holds.
func (p Page) size() int64 {
	switch img := p.Image.(type) {
	case nil:
		if p.Bilevel != nil {
			return int64(len(p.Bilevel.Pix))
		}
	case *image.Gray:
		return int64(len(img.Pix))
	case *image.Paletted:
		return int64(len(img.Pix))
	case *image.RGBA:
		return int64(len(img.Pix))
	case *image.CMYK:
		return int64(len(img.Pix))
	}
	return 0
}

// Tags used here.
const (
	tagNewSubfileType  = 254
	tagImageWidth      = 256
	tagImageLength     = 257
	tagBitsPerSample   = 258
	tagCompression     = 259
	tagPhotometric     = 262
	tagFillOrder       = 266
	tagStripOffsets    = 273
	tagOrientation     = 274
	tagSamplesPerPixel = 277
	tagRowsPerStrip    = 278
	tagStripByteCounts = 279
	tagXResolution     = 282
	tagYResolution     = 283
	tagPlanarConfig    = 284
	tagT4Options       = 292
	tagT6Options       = 293
	tagResolutionUnit  = 296
	tagPageNumber      = 297
	tagSoftware        = 305
	tagDateTime        = 306
	tagPredictor       = 317
	tagColorMap        = 320
	tagTileWidth       = 322
	tagTileLength      = 323
	tagTileOffsets     = 324
	tagTileByteCounts  = 325
	tagBadFaxLines     = 326
	tagCleanFaxData    = 327
	tagConsecBadLines  = 328
	tagExtraSamples    = 338
	tagSampleFormat    = 339
)

// Compression schemes.
const (
	compNone     = 1
	compRLE      = 2 // CCITT modified Huffman, rows byte aligned, no EOLs
	compT4       = 3
	compT6       = 4
	compLZW      = 5
	compOldJPEG  = 6
	compJPEG     = 7
	compDeflate  = 8
	compPackBits = 32773
	compDeflate2 = 32946
)

type field struct {
	typ   uint16
	count uint32
	raw   []byte // the value bytes, bounds-checked
}

type ifd struct {
	order  binary.ByteOrder
	fields map[uint16]field
}

var typeSize = [...]uint32{0, 1, 1, 2, 4, 8, 1, 1, 2, 4, 8, 4, 8, 4}

func (f *File) parseIFD(off uint32) (ifd, uint32, error) {
	d := ifd{order: f.order, fields: map[uint16]field{}}
	data := f.data
	if uint64(off)+2 > uint64(len(data)) {
		return d, 0, fmt.Errorf("%w: IFD offset %d past the end", ErrFormat, off)
	}
	n := uint64(f.order.Uint16(data[off:]))
	end := uint64(off) + 2 + n*12
	if end+4 > uint64(len(data)) {
		return d, 0, fmt.Errorf("%w: IFD of %d entries past the end", ErrFormat, n)
	}
	for i := uint64(0); i < n; i++ {
		e := data[uint64(off)+2+i*12:]
		tag, typ, count := f.order.Uint16(e), f.order.Uint16(e[2:]), f.order.Uint32(e[4:])
		if typ == 0 || int(typ) >= len(typeSize) {
			continue // unknown types are skipped, as TIFF readers must
		}
		size := uint64(typeSize[typ]) * uint64(count)
		var raw []byte
		if size <= 4 {
			raw = e[8 : 8+size]
		} else {
			vo := uint64(f.order.Uint32(e[8:]))
			if vo+size > uint64(len(data)) {
				if isNeeded(tag) {
					return d, 0, fmt.Errorf("%w: tag %d value past the end", ErrFormat, tag)
				}
				continue
			}
			raw = data[vo : vo+size]
		}
		d.fields[tag] = field{typ: typ, count: count, raw: raw}
	}
	return d, f.order.Uint32(data[end:]), nil
}

// isNeeded tells whether a tag matters for decoding pixels; a broken value
// of any other tag is ignored.
func isNeeded(tag uint16) bool {
	switch tag {
	case tagImageWidth, tagImageLength, tagBitsPerSample, tagCompression, tagPhotometric,
		tagStripOffsets, tagStripByteCounts, tagRowsPerStrip, tagSamplesPerPixel, tagColorMap,
		tagTileWidth, tagTileLength, tagTileOffsets, tagTileByteCounts:
		return true
	}
	return false
}

// ints returns an integer field's values, or nil.
func (d ifd) ints(tag uint16) []uint64 {
	fl, ok := d.fields[tag]
	if !ok {
		return nil
	}
	out := make([]uint64, 0, fl.count)
	for i := uint32(0); i < fl.count; i++ {
		switch fl.typ {
		case 1, 7: // BYTE, UNDEFINED
			out = append(out, uint64(fl.raw[i]))
		case 6:
			out = append(out, uint64(max(int8(fl.raw[i]), 0)))
		case 3:
			out = append(out, uint64(d.order.Uint16(fl.raw[2*i:])))
		case 8:
			out = append(out, uint64(max(int16(d.order.Uint16(fl.raw[2*i:])), 0)))
		case 4, 13:
			out = append(out, uint64(d.order.Uint32(fl.raw[4*i:])))
		case 9:
			out = append(out, uint64(max(int32(d.order.Uint32(fl.raw[4*i:])), 0)))
		default:
			return nil
		}
	}
	return out
}

func (d ifd) uint(tag uint16, def uint64) uint64 {
	if v := d.ints(tag); len(v) > 0 {
		return v[0]
	}
	return def
}

// float returns a RATIONAL (or integer) field's first value.
func (d ifd) float(tag uint16) float64 {
	fl, ok := d.fields[tag]
	if !ok || fl.count == 0 {
		return 0
	}
	switch fl.typ {
	case 5, 10:
		num, den := d.order.Uint32(fl.raw), d.order.Uint32(fl.raw[4:])
		if den == 0 {
			return 0
		}
		if fl.typ == 10 {
			return float64(int32(num)) / float64(int32(den))
		}
		return float64(num) / float64(den)
	case 11:
		return float64(math.Float32frombits(d.order.Uint32(fl.raw)))
	case 12:
		return math.Float64frombits(d.order.Uint64(fl.raw))
	}
	return float64(d.uint(tag, 0))
}

// layout is everything Page needs to know about one image.
type layout struct {
	width, height   int
	bps, spp        int
	compression     int
	photometric     int
	fillOrder       int
	planar          int
	predictor       int
	t4opts, t6opts  uint64
	tileW, tileH    int // tile size; for strips tileW = width, tileH = rows per strip
	tiled           bool
	offsets, counts []uint64
}

func (f *File) layout(d ifd) (layout, error) {
	l := layout{
		width:       int(min(d.uint(tagImageWidth, 0), math.MaxInt32)),
		height:      int(min(d.uint(tagImageLength, 0), math.MaxInt32)),
		spp:         int(min(d.uint(tagSamplesPerPixel, 1), 16)),
		compression: int(d.uint(tagCompression, compNone)),
		photometric: int(d.uint(tagPhotometric, 0)),
		fillOrder:   int(d.uint(tagFillOrder, 1)),
		planar:      int(d.uint(tagPlanarConfig, 1)),
		predictor:   int(d.uint(tagPredictor, 1)),
		t4opts:      d.uint(tagT4Options, 0),
		t6opts:      d.uint(tagT6Options, 0),
	}
	lim := f.limits
	if l.width <= 0 || l.height <= 0 {
		return l, fmt.Errorf("%w: image size %dx%d", ErrFormat, l.width, l.height)
	}
	if l.width > lim.MaxWidth || l.height > lim.MaxHeight || int64(l.width)*int64(l.height) > lim.MaxPixels {
		return l, fmt.Errorf("%w: image size %dx%d", ErrLimit, l.width, l.height)
	}
	bps := d.ints(tagBitsPerSample)
	l.bps = 1
	if len(bps) > 0 {
		l.bps = int(bps[0])
		for _, b := range bps {
			if int(b) != l.bps {
				return l, fmt.Errorf("%w: mixed bits per sample %v", ErrUnsupported, bps)
			}
		}
	}
	switch l.bps {
	case 1, 2, 4, 8, 16:
	default:
		return l, fmt.Errorf("%w: %d bits per sample", ErrUnsupported, l.bps)
	}
	if sf := d.uint(tagSampleFormat, 1); sf != 1 {
		return l, fmt.Errorf("%w: sample format %d", ErrUnsupported, sf)
	}
	if l.spp < 1 {
		return l, fmt.Errorf("%w: %d samples per pixel", ErrFormat, l.spp)
	}
	if l.planar != 1 && l.planar != 2 {
		return l, fmt.Errorf("%w: planar configuration %d", ErrFormat, l.planar)
	}
	if l.spp == 1 {
		l.planar = 1
	}
	if l.spp > 5 {
		return l, fmt.Errorf("%w: %d samples per pixel", ErrUnsupported, l.spp)
	}
	// Unpacked samples take up to this many bytes before conversion.
	if b := int64(l.width) * int64(l.height) * int64(l.spp) * int64(max(1, l.bps/8)); l.bps > 1 && b > 3*lim.MaxPixels {
		return l, fmt.Errorf("%w: %dx%d pixels of %d %d-bit samples", ErrLimit, l.width, l.height, l.spp, l.bps)
	}
	if _, ok := d.fields[tagTileWidth]; ok {
		l.tiled = true
		l.tileW = int(min(d.uint(tagTileWidth, 0), math.MaxInt32))
		l.tileH = int(min(d.uint(tagTileLength, 0), math.MaxInt32))
		l.offsets, l.counts = d.ints(tagTileOffsets), d.ints(tagTileByteCounts)
		if l.tileW <= 0 || l.tileH <= 0 || l.tileW > lim.MaxWidth || l.tileH > lim.MaxHeight {
			return l, fmt.Errorf("%w: tile size %dx%d", ErrFormat, l.tileW, l.tileH)
		}
	} else {
		l.tileW = l.width
		l.tileH = int(min(d.uint(tagRowsPerStrip, uint64(l.height)), uint64(l.height)))
		if l.tileH <= 0 {
			l.tileH = l.height
		}
		l.offsets, l.counts = d.ints(tagStripOffsets), d.ints(tagStripByteCounts)
	}
	if int64(l.tileW)*int64(l.tileH) > lim.MaxPixels {
		return l, fmt.Errorf("%w: tile of %dx%d", ErrLimit, l.tileW, l.tileH)
	}
	across := (l.width + l.tileW - 1) / l.tileW
	down := (l.height + l.tileH - 1) / l.tileH
	need := across * down
	if l.planar == 2 {
		need *= l.spp
	}
	if len(l.offsets) < need {
		return l, fmt.Errorf("%w: %d strips or tiles, need %d", ErrFormat, len(l.offsets), need)
	}
	if len(l.counts) < need {
		// Some writers of single-strip files leave the count out; the
		// strip then runs to the end of the file.
		if need == 1 && len(l.offsets) == 1 {
			l.counts = []uint64{uint64(len(f.data)) - min(l.offsets[0], uint64(len(f.data)))}
		} else {
			return l, fmt.Errorf("%w: %d strip or tile byte counts, need %d", ErrFormat, len(l.counts), need)
		}
	}
	for i := 0; i < need; i++ {
		if l.offsets[i] > uint64(len(f.data)) {
			return l, fmt.Errorf("%w: strip or tile %d starts past the end", ErrFormat, i)
		}
		// A count running past the end is clipped: truncated files still
		// give what they have.
		l.counts[i] = min(l.counts[i], uint64(len(f.data))-l.offsets[i])
	}
	return l, nil
}

// Page decodes page i (0-based).
func (f *File) Page(i int) (Page, error) {
	if i < 0 || i >= len(f.ifds) {
		return Page{}, fmt.Errorf("%w: no page %d", ErrFormat, i)
	}
	d := f.ifds[i]
	p := Page{PageNumber: -1}
	if pn := d.ints(tagPageNumber); len(pn) > 0 {
		p.PageNumber = int(min(pn[0], math.MaxInt32))
	}
	p.XDPI, p.YDPI = d.float(tagXResolution), d.float(tagYResolution)
	if d.uint(tagResolutionUnit, 2) == 3 { // centimetres
		p.XDPI, p.YDPI = p.XDPI*2.54, p.YDPI*2.54
	}
	l, err := f.layout(d)
	if err != nil {
		return p, fmt.Errorf("page %d: %w", i+1, err)
	}
	switch l.compression {
	case compT4, compT6, compRLE:
		err = f.faxPage(&p, l)
	default:
		err = f.pixelPage(&p, l, d)
	}
	if err != nil {
		return p, fmt.Errorf("page %d: %w", i+1, err)
	}
	return p, nil
}

func (f *File) faxPage(p *Page, l layout) error {
	if l.bps != 1 || l.spp != 1 {
		return fmt.Errorf("%w: CCITT coding of %d-bit %d-sample pixels", ErrFormat, l.bps, l.spp)
	}
	if l.tiled {
		return fmt.Errorf("%w: tiled fax data", ErrUnsupported)
	}
	switch {
	case l.compression == compRLE:
		p.Coding = t4.MH
	case l.compression == compT6:
		p.Coding = t4.MMR
		if l.t6opts&2 != 0 {
			return fmt.Errorf("%w: T.6 uncompressed mode", ErrUnsupported)
		}
	case l.t4opts&2 != 0:
		return fmt.Errorf("%w: T.4 uncompressed mode", ErrUnsupported)
	case l.t4opts&1 != 0:
		p.Coding = t4.MR
	default:
		p.Coding = t4.MH
	}
	img := bilevel.New(l.width, l.height)
	setRes(img, p)
	y := 0
	for s := 0; y < l.height; s++ {
		rows := min(l.tileH, l.height-y)
		strip := f.data[l.offsets[s] : l.offsets[s]+l.counts[s]]
		if l.fillOrder == 2 {
			strip = bytes.Clone(strip)
			t4.ReverseBits(strip)
		}
		var part *bilevel.Image
		var st t4.DecodeStats
		var err error
		if l.compression == compRLE {
			part, st, err = t4.DecodeRLE(strip, l.width, rows)
		} else {
			part, st, err = t4.Decode(strip, t4.DecodeOptions{Coding: p.Coding, Width: l.width, Height: rows, AlignEOL: l.t4opts&4 != 0})
		}
		if err != nil {
			return err
		}
		copy(img.Pix[y*img.Stride:], part.Pix[:rows*part.Stride])
		p.Stats.BadRows += st.BadRows
		p.Stats.MaxBadRun = max(p.Stats.MaxBadRun, st.MaxBadRun)
		p.Stats.Bytes += st.Bytes
		p.Stats.EndMarker = st.EndMarker
		y += rows
	}
	p.Stats.Rows = l.height
	if l.photometric == 1 { // BlackIsZero: the coded "black" is white
		for i := range img.Pix {
			img.Pix[i] = ^img.Pix[i]
		}
		clearPad(img)
	}
	p.Bilevel = img
	return nil
}

func setRes(img *bilevel.Image, p *Page) {
	img.XDPI, img.YDPI = int(math.Round(p.XDPI)), int(math.Round(p.YDPI))
}

// clearPad zeroes the bits past Width in each row, as bilevel requires.
func clearPad(img *bilevel.Image) {
	if r := img.Width & 7; r != 0 {
		mask := byte(0xff << (8 - r))
		for y := 0; y < img.Height; y++ {
			img.Pix[y*img.Stride+img.Stride-1] &= mask
		}
	}
}

// pixelPage decodes an uncompressed, PackBits, LZW or Deflate page.
func (f *File) pixelPage(p *Page, l layout, d ifd) error {
	switch l.compression {
	case compNone, compPackBits, compLZW, compDeflate, compDeflate2:
	case compJPEG, compOldJPEG:
		return fmt.Errorf("%w: JPEG compression", ErrUnsupported)
	default:
		return fmt.Errorf("%w: compression %d", ErrUnsupported, l.compression)
	}
	if l.predictor != 1 && l.predictor != 2 {
		return fmt.Errorf("%w: predictor %d", ErrUnsupported, l.predictor)
	}
	chunkSpp := l.spp // samples in one decoded chunk's pixel
	planes := 1
	if l.planar == 2 {
		chunkSpp, planes = 1, l.spp
	}
	// One plane of the whole image, each sample in 8 or 16 bits after
	// unpacking: planeBuf[plane][y][x*chunkSpp+s].
	bytesPer := 1
	if l.bps == 16 {
		bytesPer = 2
	}
	full := make([][]byte, planes)
	for pl := range full {
		full[pl] = make([]byte, l.width*l.height*chunkSpp*bytesPer)
	}
	across := (l.width + l.tileW - 1) / l.tileW
	down := (l.height + l.tileH - 1) / l.tileH
	tileRowBytes := (l.tileW*chunkSpp*l.bps + 7) / 8
	for pl := 0; pl < planes; pl++ {
		for ty := 0; ty < down; ty++ {
			for tx := 0; tx < across; tx++ {
				idx := pl*across*down + ty*across + tx
				rows := l.tileH
				if !l.tiled {
					rows = min(l.tileH, l.height-ty*l.tileH) // the last strip may be short
				}
				raw, err := f.chunk(l, idx, tileRowBytes*rows)
				if err != nil {
					return err
				}
				if l.bps == 1 && l.fillOrder == 2 {
					t4.ReverseBits(raw)
				}
				if l.predictor == 2 {
					undoPredictor(raw, tileRowBytes, chunkSpp, l.bps, d.order)
				}
				// Unpack into the plane, clipping tiles at the image edge.
				for r := 0; r < rows; r++ {
					y := ty*l.tileH + r
					if y >= l.height {
						break
					}
					src := raw[r*tileRowBytes : (r+1)*tileRowBytes]
					x0 := tx * l.tileW
					n := min(l.tileW, l.width-x0) * chunkSpp
					dst := full[pl][(y*l.width+x0)*chunkSpp*bytesPer:]
					unpack(dst[:n*bytesPer], src, n, l.bps, d.order)
				}
			}
		}
	}
	return buildImage(p, l, d, full)
}

// chunk returns strip or tile idx decompressed to exactly want bytes
// (short data is padded with zeros: truncated files still show).
func (f *File) chunk(l layout, idx, want int) ([]byte, error) {
	src := f.data[l.offsets[idx] : l.offsets[idx]+l.counts[idx]]
	out := make([]byte, want)
	switch l.compression {
	case compNone:
		copy(out, src)
	case compPackBits:
		unpackBits(out, src)
	case compLZW:
		r := lzw.NewReader(bytes.NewReader(src), lzw.MSB, 8)
		_, err := io.ReadFull(r, out)
		r.Close()
		if err != nil && err != io.ErrUnexpectedEOF && err != io.EOF {
			return nil, fmt.Errorf("%w: LZW: %v", ErrFormat, err)
		}
	case compDeflate, compDeflate2:
		r, err := zlib.NewReader(bytes.NewReader(src))
		if err != nil {
			return nil, fmt.Errorf("%w: deflate: %v", ErrFormat, err)
		}
		_, err = io.ReadFull(r, out)
		if err != nil && err != io.ErrUnexpectedEOF && err != io.EOF {
			return nil, fmt.Errorf("%w: deflate: %v", ErrFormat, err)
		}
	}
	return out, nil
}

// unpackBits decodes PackBits into dst, stopping when either side ends.
func unpackBits(dst, src []byte) {
	o := 0
	for i := 0; i < len(src) && o < len(dst); {
		n := int(int8(src[i]))
		i++
		switch {
		case n >= 0:
			k := min(n+1, len(src)-i, len(dst)-o)
			copy(dst[o:], src[i:i+k])
			o += k
			i += n + 1
		case n != -128:
			if i >= len(src) {
				return
			}
			k := min(1-n, len(dst)-o)
			for j := 0; j < k; j++ {
				dst[o+j] = src[i]
			}
			o += k
			i++
		}
	}
}

// undoPredictor reverses TIFF horizontal differencing row by row.
func undoPredictor(raw []byte, rowBytes, spp, bps int, order binary.ByteOrder) {
	for r := 0; r+rowBytes <= len(raw); r += rowBytes {
		row := raw[r : r+rowBytes]
		switch bps {
		case 8:
			for i := spp; i < len(row); i++ {
				row[i] += row[i-spp]
			}
		case 16:
			for i := 2 * spp; i+1 < len(row); i += 2 {
				order.PutUint16(row[i:], order.Uint16(row[i:])+order.Uint16(row[i-2*spp:]))
			}
		}
	}
}

// unpack spreads n samples of bps bits into one byte each (bps <= 8,
// scaled to 0..255) or two bytes each in native order (16).
func unpack(dst, src []byte, n, bps int, order binary.ByteOrder) {
	switch bps {
	case 8:
		copy(dst, src[:n])
	case 16:
		for i := 0; i < n; i++ {
			binary.BigEndian.PutUint16(dst[2*i:], order.Uint16(src[2*i:]))
		}
	default:
		per := 8 / bps
		mask := byte(1<<bps - 1)
		scale := 255 / mask
		for i := 0; i < n; i++ {
			v := src[i/per] >> (8 - bps*(i%per+1)) & mask
			dst[i] = v * scale
		}
	}
}

// buildImage turns unpacked planes into a Page image.
func buildImage(p *Page, l layout, d ifd, full [][]byte) error {
	w, h := l.width, l.height
	sample := func(pl, i, s, spp int) uint8 { // 8-bit value of sample s of pixel i
		if l.bps == 16 {
			return full[pl][2*(i*spp+s)] // high byte
		}
		return full[pl][i*spp+s]
	}
	switch l.photometric {
	case 0, 1: // grey or bilevel
		if l.spp < 1 {
			return fmt.Errorf("%w: grey with %d samples", ErrFormat, l.spp)
		}
		spp := l.spp
		if l.planar == 2 {
			spp = 1
		}
		if l.bps == 1 {
			img := bilevel.New(w, h)
			setRes(img, p)
			for i := 0; i < w*h; i++ {
				v := sample(0, i, 0, spp)
				if (v == 0) == (l.photometric == 1) {
					img.Pix[(i/w)*img.Stride+(i%w)>>3] |= 0x80 >> ((i % w) & 7)
				}
			}
			p.Bilevel = img
			return nil
		}
		img := image.NewGray(image.Rect(0, 0, w, h))
		for i := 0; i < w*h; i++ {
			v := sample(0, i, 0, spp)
			if l.photometric == 0 {
				v = 255 - v
			}
			img.Pix[i] = v
		}
		p.Image = img
	case 2: // RGB
		if l.spp < 3 {
			return fmt.Errorf("%w: RGB with %d samples", ErrFormat, l.spp)
		}
		img := image.NewRGBA(image.Rect(0, 0, w, h))
		for i := 0; i < w*h; i++ {
			for s := 0; s < 3; s++ {
				if l.planar == 2 {
					img.Pix[4*i+s] = sample(s, i, 0, 1)
				} else {
					img.Pix[4*i+s] = sample(0, i, s, l.spp)
				}
			}
			img.Pix[4*i+3] = 0xff // alpha dropped: a fax page is opaque
		}
		p.Image = img
	case 3: // palette
		cm := d.ints(tagColorMap)
		if l.bps > 8 || len(cm) < 3<<l.bps {
			return fmt.Errorf("%w: palette of %d entries for %d bits", ErrFormat, len(cm)/3, l.bps)
		}
		n := 1 << l.bps
		pal := make(color.Palette, n)
		for i := range pal {
			pal[i] = color.RGBA{uint8(cm[i] >> 8), uint8(cm[n+i] >> 8), uint8(cm[2*n+i] >> 8), 0xff}
		}
		img := image.NewPaletted(image.Rect(0, 0, w, h), pal)
		scale := byte(255 / (n - 1))
		for i := 0; i < w*h; i++ {
			img.Pix[i] = sample(0, i, 0, 1) / scale
		}
		p.Image = img
	case 5: // CMYK, inks 0..255
		if l.spp < 4 {
			return fmt.Errorf("%w: CMYK with %d samples", ErrFormat, l.spp)
		}
		img := image.NewCMYK(image.Rect(0, 0, w, h))
		for i := 0; i < w*h; i++ {
			for s := 0; s < 4; s++ {
				if l.planar == 2 {
					img.Pix[4*i+s] = sample(s, i, 0, 1)
				} else {
					img.Pix[4*i+s] = sample(0, i, s, l.spp)
				}
			}
		}
		p.Image = img
	default:
		return fmt.Errorf("%w: photometric interpretation %d", ErrUnsupported, l.photometric)
	}
	return nil
}
