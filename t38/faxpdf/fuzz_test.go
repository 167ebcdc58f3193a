package faxpdf

import (
	"bytes"
	"testing"

	"github.com/faxd/faxd/t38/bilevel"
	"github.com/faxd/faxd/t38/t4"
)

// Received page data is whatever the line delivered: the writer must not
// panic on it and must either reject it or produce a well-formed PDF.
func FuzzAddPage(f *testing.F) {
	img := bilevel.New(64, 16)
	for y := 0; y < 16; y++ {
		img.SetBlack(y*3, y, true)
	}
	for _, c := range []t4.Coding{t4.MH, t4.MR, t4.MMR} {
		data, err := t4.Encode(img, t4.EncodeOptions{Coding: c})
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data, uint8(c), uint16(64), uint16(16))
		f.Add(data, uint8(c), uint16(64), uint16(0))
	}
	f.Fuzz(func(t *testing.T, data []byte, coding uint8, width, height uint16) {
		if width > 4864 || height > 2000 {
			return // bound memory per run; the limits are t4's to test
		}
		var b bytes.Buffer
		err := Write(&b, []Page{{Data: data, Coding: t4.Coding(coding), Width: int(width), Height: int(height)}}, Info{})
		if err != nil {
			return
		}
		checkXref(t, b.Bytes())
	})
}

func BenchmarkWriteMH(b *testing.B) {
	img := benchPage(b)
	mh, err := t4.Encode(img, t4.EncodeOptions{Coding: t4.MH})
	if err != nil {
		b.Fatal(err)
	}
	p := Page{Data: mh, Coding: t4.MH, Width: img.Width, Height: img.Height, XDPI: img.XDPI, YDPI: img.YDPI}
	var buf bytes.Buffer
	for b.Loop() {
		buf.Reset()
		if err := Write(&buf, []Page{p}, Info{}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "pages/s")
}

func BenchmarkWriteMMRAsIs(b *testing.B) {
	img := benchPage(b)
	mmr, err := t4.Encode(img, t4.EncodeOptions{Coding: t4.MMR})
	if err != nil {
		b.Fatal(err)
	}
	p := Page{Data: mmr, Coding: t4.MMR, Width: img.Width, Height: img.Height, XDPI: img.XDPI, YDPI: img.YDPI}
	var buf bytes.Buffer
	for b.Loop() {
		buf.Reset()
		if err := Write(&buf, []Page{p}, Info{}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "pages/s")
}
