package v27ter

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/faxd/faxd/t38/modem/dsp/dsptest"
)

func randomBits(r *rand.Rand, n int) []uint8 {
	b := make([]uint8, n)
	for i := range b {
		b[i] = uint8(r.IntN(2))
	}
	return b
}

type bitSlice []uint8

func (b *bitSlice) NextBit() (uint8, bool) {
	if len(*b) == 0 {
		return 0, false
	}
	x := (*b)[0]
	*b = (*b)[1:]
	return x, true
}

func modulate(t testing.TB, rate Rate, bits []uint8, level float64, tep bool) []int16 {
	t.Helper()
	tx, err := NewTx(rate, level, tep)
	if err != nil {
		t.Fatal(err)
	}
	src := bitSlice(bits)
	var out []int16
	buf := make([]int16, 1000)
	for !tx.Done() {
		n := tx.Modulate(buf, &src)
		out = append(out, buf[:n]...)
	}
	if len(src) != 0 {
		t.Fatalf("transmitter left %d bits", len(src))
	}
	return out
}

func pad16(x []int16, before, after int) []int16 {
	return dsptest.ToInt16(dsptest.Pad(dsptest.ToFloat(x), before, after))
}

// bitErrors finds sent inside got (which holds training ones before and
// shutdown ones after) and counts the differing bits; a sent stream not
// found counts as all wrong.
func bitErrors(sent, got []uint8) (errs, compared int) {
	const probe = 64
	best, bestOff := math.MaxInt, -1
	for off := 0; off+probe <= len(got); off++ {
		e := 0
		for i := 0; i < probe && e < best; i++ {
			if got[off+i] != sent[i] {
				e++
			}
		}
		if e < best {
			best, bestOff = e, off
		}
	}
	if bestOff < 0 {
		return len(sent), len(sent)
	}
	for i := range sent {
		if j := bestOff + i; j >= len(got) || got[j] != sent[i] {
			errs++
		}
	}
	return errs, len(sent)
}

func TestTxLevelAndLength(t *testing.T) {
	r := rand.New(rand.NewPCG(2, 2))
	for _, rate := range []Rate{Rate2400, Rate4800} {
		for _, level := range []float64{DefaultTxLevel, -30} {
			bits := randomBits(r, 9600)
			x := modulate(t, rate, bits, level, false)
			// Training, data (rounded up to whole symbols), shutdown and
			// the pulse tail, each symbol 8000/baud samples long.
			syms := TrainingSymbols + (len(bits)+rate.bitsPerSymbol()-1)/rate.bitsPerSymbol() + segShutdown + span + 1
			if want := syms * SampleRate / rate.baud(); abs(len(x)-want) > 2*SampleRate/rate.baud() {
				t.Errorf("%d bit/s: %d samples, want about %d", rate, len(x), want)
			}
			// The level over the data part.
			start := TrainingSymbols * SampleRate / rate.baud()
			data := x[start : start+len(bits)*SampleRate/int(rate)]
			var ms float64
			for _, v := range data {
				ms += float64(v) * float64(v)
			}
			if p := PowerDBm0(ms / float64(len(data))); math.Abs(p-level) > 0.3 {
				t.Errorf("%d bit/s at %g dBm0: measured %.2f dBm0", rate, level, p)
			}
		}
	}
	// Talker echo protection adds 352 symbols: 320 of carrier, 32 silent.
	bits := randomBits(r, 480)
	a, b := modulate(t, Rate4800, bits, DefaultTxLevel, false), modulate(t, Rate4800, bits, DefaultTxLevel, true)
	if d := len(b) - len(a); d != (segEcho+segSilence)*5 {
		t.Errorf("echo protection added %d samples, want %d", d, (segEcho+segSilence)*5)
	}
	for _, bad := range []struct {
		rate  Rate
		level float64
	}{{9600, -13}, {4800, 3}, {2400, math.NaN()}} {
		if _, err := NewTx(bad.rate, bad.level, false); err == nil {
			t.Errorf("NewTx(%d, %g) accepted", bad.rate, bad.level)
		}
	}
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}
