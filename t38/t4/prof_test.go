package t4

import (
	"testing"

	"github.com/faxd/faxd/t38/t4/t4test"
)

func BenchmarkProfPhotoMMR(b *testing.B) {
	img := t4test.Page(t4test.Text, 1728, 196, 1)
	data, _ := Encode(img, EncodeOptions{Coding: MMR})
	for b.Loop() {
		Decode(data, DecodeOptions{Coding: MMR, Width: 1728, Height: img.Height})
	}
}
