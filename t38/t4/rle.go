package t4

import (
	"fmt"

	"github.com/faxd/faxd/t38/bilevel"
)

// DecodeRLE decodes TIFF compression 2 ("CCITT RLE"): MH code words
// without EOLs, each row starting on an octet boundary. There is no EOL to
// resynchronise at, so a corrupt row is replaced by the one above and the
// next row is tried at the following octet boundary.
func DecodeRLE(data []byte, width, height int) (*bilevel.Image, DecodeStats, error) {
	var st DecodeStats
	if width <= 0 || width > MaxWidth {
		return nil, st, fmt.Errorf("t4: %w: %d", ErrBadWidth, width)
	}
	if height <= 0 || height > DefaultMaxHeight {
		return nil, st, fmt.Errorf("t4: %w: height %d", ErrTooLong, height)
	}
	img := bilevel.New(width, height)
	r := reader{data: data}
	var ch []int32
	words := make([]uint64, (width+63)>>6)
	run := 0
	for y := 0; y < height; y++ {
		r.seek((r.bitpos() + 7) &^ 7)
		var ok bool
		ch, ok = decode1D(&r, ch[:0], int32(width))
		if ok && !r.overrun() {
			fillRow(img.Row(y), ch, width, words)
			run = 0
			continue
		}
		if y > 0 {
			copy(img.Row(y), img.Row(y-1))
		}
		st.BadRows++
		run++
		st.MaxBadRun = max(st.MaxBadRun, run)
	}
	st.Rows = height
	st.Bytes = min((r.bitpos()+7)>>3, len(data))
	return img, st, nil
}
