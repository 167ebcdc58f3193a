package v27ter

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

func demodulate(t testing.TB, rate Rate, x []int16) (bits []uint8, kinds []EventKind) {
	t.Helper()
	rx, err := NewRx(RxConfig{Rate: rate})
	if err != nil {
		t.Fatal(err)
	}
	var evs []Event
	for i := 0; i < len(x); {
		n := min(len(x)-i, 1+i%157)
		evs = rx.Process(x[i:i+n], evs)
		i += n
	}
	for _, e := range evs {
		if e.Kind == EventBit {
			bits = append(bits, e.Bit)
		} else {
			kinds = append(kinds, e.Kind)
		}
	}
	return bits, kinds
}

func TestRoundTrip(t *testing.T) {
	for _, rate := range []Rate{Rate4800, Rate2400} {
		t.Run(fmt.Sprint(int(rate)), func(t *testing.T) {
			r := rand.New(rand.NewPCG(uint64(rate), 3))
			sent := randomBits(r, 4000)
			got, kinds := demodulate(t, rate, pad16(modulate(t, rate, sent, DefaultTxLevel, false), 800, 800))
			errs, n := bitErrors(sent, got)
			t.Logf("%v, %d errors in %d bits", kinds, errs, n)
			if errs != 0 || fmt.Sprint(kinds) != "[carrier-up trained carrier-down]" {
				t.Fail()
			}
		})
	}
}
