package t4

import (
	"fmt"
	"testing"

	"github.com/faxd/faxd/t38/bilevel"
	"github.com/faxd/faxd/t38/t4/t4test"
)

// BenchmarkEncode and BenchmarkDecode measure the codec alone on A4 fine
// pages; BenchmarkVsLibtiff (libtiff_bench_test.go) compares with libtiff.
func BenchmarkEncode(b *testing.B) {
	for _, kind := range t4test.Kinds {
		img := t4test.Page(kind, bilevel.WidthA4, bilevel.YDPIFine, 1)
		for _, c := range []Coding{MH, MR, MMR} {
			b.Run(fmt.Sprintf("%s/%v", kind, c), func(b *testing.B) {
				b.SetBytes(int64(len(img.Pix)))
				var n int
				for b.Loop() {
					data, err := Encode(img, EncodeOptions{Coding: c})
					if err != nil {
						b.Fatal(err)
					}
					n = len(data)
				}
				b.ReportMetric(float64(n), "coded-bytes")
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "pages/s")
			})
		}
	}
}

func BenchmarkDecode(b *testing.B) {
	for _, kind := range t4test.Kinds {
		img := t4test.Page(kind, bilevel.WidthA4, bilevel.YDPIFine, 1)
		for _, c := range []Coding{MH, MR, MMR} {
			data, err := Encode(img, EncodeOptions{Coding: c})
			if err != nil {
				b.Fatal(err)
			}
			b.Run(fmt.Sprintf("%s/%v", kind, c), func(b *testing.B) {
				b.SetBytes(int64(len(img.Pix)))
				for b.Loop() {
					if _, _, err := Decode(data, DecodeOptions{Coding: c, Width: img.Width, Height: img.Height}); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "pages/s")
			})
		}
	}
}
