package t4

import (
	"bytes"
	"testing"

	"github.com/faxd/faxd/t38/bilevel"
	"github.com/faxd/faxd/t38/t4/t4test"
)

// fuzzSeeds adds small real pages of every coding, clean and damaged.
func fuzzSeeds(f *testing.F, c Coding) {
	img := t4test.Page(t4test.Text, 256, bilevel.YDPIStandard, 1)
	img.Height = 64
	img.Pix = img.Pix[:64*img.Stride]
	for _, opt := range []EncodeOptions{{Coding: c}, {Coding: c, AlignEOL: true}, {Coding: c, NoRTC: true, MinRowBits: 100}} {
		data, err := Encode(img, opt)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data, uint16(256))
		bad := bytes.Clone(data)
		bad[len(bad)/3] ^= 0x24
		f.Add(bad, uint16(256))
	}
	f.Add([]byte{}, uint16(1728))
	f.Add([]byte{0, 1, 0, 1, 0, 1}, uint16(1728))
}

// fuzzDecode checks that any input decodes without panicking, within the
// limits, and that whatever decodes cleanly re-encodes to the same pixels.
func fuzzDecode(t *testing.T, c Coding, data []byte, width uint16) {
	w := int(width)%3000 + 1
	img, st, err := Decode(data, DecodeOptions{Coding: c, Width: w, MaxHeight: 2000})
	if img == nil {
		t.Fatalf("nil image (err %v)", err)
	}
	if st.Rows != img.Height || img.Height > 2000 || st.BadRows > st.Rows {
		t.Fatalf("inconsistent: %+v, height %d", st, img.Height)
	}
	if err != nil || st.BadRows > 0 || img.Height == 0 {
		return
	}
	back, err := Encode(img, EncodeOptions{Coding: c})
	if err != nil {
		t.Fatal(err)
	}
	again, st2, err := Decode(back, DecodeOptions{Coding: c, Width: w})
	if err != nil || st2.BadRows != 0 || !again.Equal(img) {
		t.Fatalf("re-encode round trip failed: %v %+v", err, st2)
	}
}

func FuzzDecodeMH(f *testing.F) {
	fuzzSeeds(f, MH)
	f.Fuzz(func(t *testing.T, data []byte, width uint16) { fuzzDecode(t, MH, data, width) })
}

func FuzzDecodeMR(f *testing.F) {
	fuzzSeeds(f, MR)
	f.Fuzz(func(t *testing.T, data []byte, width uint16) { fuzzDecode(t, MR, data, width) })
}

func FuzzDecodeMMR(f *testing.F) {
	fuzzSeeds(f, MMR)
	f.Fuzz(func(t *testing.T, data []byte, width uint16) { fuzzDecode(t, MMR, data, width) })
}

// FuzzStreaming checks that split points never change the result.
func FuzzStreaming(f *testing.F) {
	fuzzSeeds(f, MR)
	f.Fuzz(func(t *testing.T, data []byte, width uint16) {
		w := int(width)%3000 + 1
		for _, c := range []Coding{MH, MR, MMR} {
			want, wst, werr := Decode(data, DecodeOptions{Coding: c, Width: w, MaxHeight: 500})
			d, _ := NewDecoder(DecodeOptions{Coding: c, Width: w, MaxHeight: 500})
			for i := 0; i < len(data); i += 7 {
				d.Write(data[i:min(i+7, len(data))])
			}
			got, gst, gerr := d.Close()
			if (werr == nil) != (gerr == nil) || wst.Rows != gst.Rows || wst.BadRows != gst.BadRows || !got.Equal(want) {
				t.Fatalf("%v: batch %+v %v, streamed %+v %v", c, wst, werr, gst, gerr)
			}
		}
	})
}
