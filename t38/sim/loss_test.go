package sim

import (
	"math/rand/v2"
	"os"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/faxd/faxd/t38/bilevel"
	"github.com/faxd/faxd/t38/t30"
)

// lossCall is the call of the loss statistic: one fine A4 page, ECM, T.38
// v0, 20 ms one-way delay, the same loss model (fresh per seed) on both
// directions.
func lossCall(seed uint64, ps []*bilevel.Image, red int, fec bool, model func(seed uint64, dir int) LossModel) Call {
	c := baseCall(seed, ps, true)
	c.Redundancy, c.FEC = red, fec
	c.Forward = Channel{Delay: 20 * time.Millisecond, Model: model(seed, 0)}
	c.Back = Channel{Delay: 20 * time.Millisecond, Model: model(seed, 1)}
	return c
}

// completed runs seeds first..first+n-1 on all cores and returns how many
// calls ended OK on both sides, and one failure's description.
func completed(t *testing.T, first uint64, n int, mk func(seed uint64) Call) (int, string) {
	var ok atomic.Int64
	var mu sync.Mutex
	var fail string
	seeds := make(chan uint64)
	var wg sync.WaitGroup
	for w := 0; w < runtime.GOMAXPROCS(0); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for s := range seeds {
				o, err := Run(mk(s))
				if err == nil && o.Tx.OK() && o.Rx.OK() {
					ok.Add(1)
					continue
				}
				mu.Lock()
				if fail == "" {
					if err != nil {
						fail = "seed " + strconv.FormatUint(s, 10) + ": " + err.Error()
					} else {
						fail = "seed " + strconv.FormatUint(s, 10) + ": " + o.Tx.Error() + " / " + o.Rx.Error()
					}
				}
				mu.Unlock()
			}
		}()
	}
	for s := first; s < first+uint64(n); s++ {
		seeds <- s
	}
	close(seeds)
	wg.Wait()
	return int(ok.Load()), fail
}

// TestLossRedundancy3 is the short form of the lossy-channel statistic
// (the full table, against spandsp on the same loss patterns, is
// TestLossCompare in t38/interop): 50 seeded calls with 5% random loss in
// both directions and redundancy 3 must all complete.
func TestLossRedundancy3(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 5))
	ps := pages(rng, 1, 600, t30.ResFine)
	n := 50
	if v, err := strconv.Atoi(os.Getenv("FAXD_T38_LOSS_SEEDS")); err == nil && v > 0 {
		n = v
	}
	model := func(seed uint64, dir int) LossModel { return RandomLoss(seed, dir, 50_000) }
	ok, fail := completed(t, 1, n, func(seed uint64) Call { return lossCall(seed, ps, 3, false, model) })
	if ok != n {
		t.Fatalf("%d of %d calls completed at 5%% loss with redundancy 3; first failure %s", ok, n, fail)
	}
}

// TestLossBurstsNeedCopies: under loss bursts (Gilbert-Elliott, 10%,
// bursts of 3 datagrams on average) with redundancy 3, 100 seeded calls all
// complete with the default copies of each transmission's end; without
// them (1 copy) some fail: a burst takes a transmission's last packets and
// only the next transmission's redundancy brings them, too late.
func TestLossBurstsNeedCopies(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 5))
	ps := pages(rng, 1, 600, t30.ResFine)
	model := func(seed uint64, dir int) LossModel { return GilbertElliott(seed, dir, 37_037, 333_333) }
	const n = 100
	for _, copies := range []int{0, 1} {
		ok, fail := completed(t, 1, n, func(seed uint64) Call {
			c := lossCall(seed, ps, 3, false, model)
			c.IndicatorCopies, c.DataEndCopies = copies, copies
			return c
		})
		switch {
		case copies == 0 && ok != n:
			t.Errorf("with copies %d of %d calls completed; first failure %s", ok, n, fail)
		case copies == 1 && ok == n:
			t.Errorf("without copies all %d calls completed: the test no longer shows what copies protect", n)
		}
		t.Logf("copies %d: %d of %d completed", copies, ok, n)
	}
}

// TestLossModels pins the loss models' draws (t38peer.c implements them
// too; t38/interop checks that both agree) and their long-run rates.
func TestLossModels(t *testing.T) {
	bits := func(m LossModel, n int) string {
		b := make([]byte, n)
		for i := range b {
			b[i] = '0'
			if m.Lost() {
				b[i] = '1'
			}
		}
		return string(b)
	}
	for _, tc := range []struct {
		m    LossModel
		want string
	}{
		{RandomLoss(1, 0, 200_000), "1100010000110100010010000000110000000001"},
		{RandomLoss(1, 1, 200_000), "1000000000001000000001000000101110001000"},
		{GilbertElliott(7, 0, 100_000, 333_333), "0000000001000000000011111111111111000000"},
	} {
		if got := bits(tc.m, 40); got != tc.want {
			t.Errorf("draws %s, want %s", got, tc.want)
		}
	}
	for _, tc := range []struct {
		m         LossModel
		rate      float64
		meanBurst float64
	}{
		{RandomLoss(3, 0, 100_000), 0.10, 1.11},
		{GilbertElliott(3, 0, 17_544, 333_333), 0.05, 3},
	} {
		lost, bursts, prev := 0, 0, false
		const n = 1_000_000
		for i := 0; i < n; i++ {
			l := tc.m.Lost()
			if l {
				lost++
				if !prev {
					bursts++
				}
			}
			prev = l
		}
		rate, mb := float64(lost)/n, float64(lost)/float64(bursts)
		if rate < tc.rate*0.95 || rate > tc.rate*1.05 || mb < tc.meanBurst*0.9 || mb > tc.meanBurst*1.1 {
			t.Errorf("loss %.4f (want %.2f), mean burst %.2f (want %.2f)", rate, tc.rate, mb, tc.meanBurst)
		}
	}
}
