package v29

import "testing"

// The training as V.29 lays it out, symbol by symbol, for each rate: 48
// silent symbols, 128 alternations starting with A, then the conditioning
// pattern whose first 32 symbols follow from the 1 + x^-6 + x^-7
// generator seeded with 0101010 (0 sends C, 1 sends D).
func TestTrainingGolden(t *testing.T) {
	const seg3 = "CDCDCDCDDDDDDDCCCCCCDCCCCCDDCCCC"
	for _, rate := range []int{9600, 7200, 4800} {
		tx, _ := NewTx(rate)
		tp := training(rate)
		for i := 0; i < seg1Len+seg2Len+len(seg3); i++ {
			got := tx.nextSymbol()
			var want complex64
			switch {
			case i < seg1Len:
				want = 0
			case i < seg1Len+seg2Len:
				want = tp.a
				if (i-seg1Len)%2 == 1 {
					want = tp.b
				}
			default:
				want = tp.c
				if seg3[i-seg1Len-seg2Len] == 'D' {
					want = tp.d
				}
			}
			if got != want {
				t.Fatalf("%d: symbol %d = %v, want %v", rate, i, got, want)
			}
		}
	}
}
