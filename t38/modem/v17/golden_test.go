package v17

import "testing"

// The training as V.17 lays it out: 256 alternations starting with A, then
// scrambled ones from the scrambler's starting state, whose first symbols
// are C D C D ... (pairs of scrambled bits 00 and 01), and for a long
// training 2976 such symbols before the bridge.
func TestTrainingGolden(t *testing.T) {
	const seg2 = "CDCDCDCDCD"
	for _, short := range []bool{false, true} {
		tx, _ := NewTx(14400, short)
		for i := 0; i < seg1Len+len(seg2); i++ {
			got := tx.nextSymbol()
			want := pointA
			switch {
			case i < seg1Len && i%2 == 1:
				want = pointB
			case i >= seg1Len:
				want = pointC
				if seg2[i-seg1Len] == 'D' {
					want = pointD
				}
			}
			if got != want {
				t.Fatalf("short=%v: symbol %d = %v, want %v", short, i, got, want)
			}
		}
		if want := seg1Len + seg2Len + seg3Len; !short && tx.trainEnd != want {
			t.Errorf("long training ends after %d symbols, want %d", tx.trainEnd, want)
		}
		if want := seg1Len + seg2ShortLen; short && tx.trainEnd != want {
			t.Errorf("short training ends after %d symbols, want %d", tx.trainEnd, want)
		}
	}
}
