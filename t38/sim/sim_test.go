package sim

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/faxd/faxd/t38/bilevel"
	"github.com/faxd/faxd/t38/t30"
)

// synthPage draws a page that codes to something like text: runs of black
// in random places, some rows repeated (so MR/MMR vertical modes occur).
func synthPage(rng *rand.Rand, width, rows int, res t30.Resolution) *bilevel.Image {
	p := bilevel.New(width, rows)
	p.YDPI = res.YDPI()
	for y := 0; y < rows; y++ {
		if y > 0 && rng.IntN(3) == 0 {
			copy(p.Row(y), p.Row(y-1))
			continue
		}
		for x := rng.IntN(width / 4); x < width; x += 8 + rng.IntN(200) {
			for k, n := 0, 1+rng.IntN(16); k < n && x+k < width; k++ {
				p.SetBlack(x+k, y, true)
			}
		}
	}
	return p
}

func pages(rng *rand.Rand, n, rows int, res t30.Resolution) []*bilevel.Image {
	ps := make([]*bilevel.Image, n)
	for i := range ps {
		ps[i] = synthPage(rng, bilevel.WidthA4, rows, res)
	}
	return ps
}

// check compares what was sent with what arrived: on a clean result every
// page arrives, and every page without bad rows is pixel-identical.
func check(t *testing.T, name string, c Call, o *Outcome, sent []*bilevel.Image, start int) {
	t.Helper()
	fail := func(format string, a ...any) {
		t.Helper()
		t.Fatalf("%s seed=%d: %s", name, c.Seed, fmt.Sprintf(format, a...))
	}
	if o.Tx.OK() {
		if len(o.Sent) != len(sent)-start || o.Tx.NextPage != len(sent) {
			fail("sender OK with %d pages confirmed, next %d", len(o.Sent), o.Tx.NextPage)
		}
		if len(o.Received) != len(sent)-start {
			fail("sender OK but receiver accepted %d of %d pages (%v)", len(o.Received), len(sent)-start, o.Rx)
		}
		if !o.Rx.OK() {
			fail("sender OK, receiver %v", o.Rx)
		}
	} else if o.Tx.NextPage != start+len(o.Sent) {
		fail("sender failed with next page %d after %d confirmed", o.Tx.NextPage, len(o.Sent))
	}
	for i, rp := range o.Received {
		want := sent[start+i]
		if rp.Image == nil {
			fail("page %d not decoded", i)
		}
		if rp.Stats.BadRows == 0 && !rp.Stats.ECMErrors && !rp.Image.Equal(want) {
			fail("page %d differs (%s, ecm=%v, %dx%d vs %dx%d)", i, rp.Format.Coding, rp.Format.ECM,
				rp.Image.Width, rp.Image.Height, want.Width, want.Height)
		}
		if rp.Image.Width != want.Width {
			fail("page %d width %d", i, rp.Image.Width)
		}
		if rp.Format.ECM && rp.Stats.BadRows != 0 && !rp.Stats.ECMErrors {
			fail("ECM page %d has %d bad rows", i, rp.Stats.BadRows)
		}
	}
}

func TestSimClean(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	for _, tc := range []struct {
		name   string
		tx, rx t30.Config
		ver    int
		red    int
		want   t30.Coding
	}{
		{"v0 non-ECM MR", t30.Config{}, t30.Config{Fine: true}, 0, 0, t30.CodingMR},
		{"v0 non-ECM MH", t30.Config{Codings: t30.SupportMH}, t30.Config{Fine: true}, 0, 3, t30.CodingMH},
		{"v3 ECM MMR", t30.Config{ECM: true}, t30.Config{ECM: true, Fine: true}, 3, 3, t30.CodingMMR},
		{"v3 ECM 64 MR", t30.Config{ECM: true, ECM64: true, Codings: t30.SupportMR | t30.SupportMH}, t30.Config{ECM: true, Fine: true}, 3, 0, t30.CodingMR},
		{"v0 ECM MH", t30.Config{ECM: true, Codings: t30.SupportMH}, t30.Config{ECM: true, Fine: true}, 0, 0, t30.CodingMH},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ps := pages(rng, 2, 40, t30.ResFine)
			tc.tx.Transmit, tc.tx.Pages, tc.tx.Ident = true, t30.ImagePages(ps), "sender"
			tc.rx.Decoder, tc.rx.Ident = t30.T4Decoder{}, "receiver"
			c := Call{Seed: 1, Tx: tc.tx, Rx: tc.rx, Version: tc.ver, Redundancy: tc.red}
			o, err := Run(c)
			if err != nil {
				t.Fatal(err)
			}
			if !o.Tx.OK() || !o.Rx.OK() {
				t.Fatalf("%v / %v", o.Tx, o.Rx)
			}
			check(t, tc.name, c, o, ps, 0)
			if o.Sent[0].Coding != tc.want || o.Received[0].Format.Coding != tc.want {
				t.Fatalf("coding %v", o.Sent[0].Coding)
			}
			if o.Tx.RemoteIdent != "receiver" || o.Rx.RemoteIdent != "sender" {
				t.Fatalf("idents %q %q", o.Tx.RemoteIdent, o.Rx.RemoteIdent)
			}
			t.Logf("elapsed %v, packets %d/%d", o.Elapsed, o.Wire[0].PacketsOut, o.Wire[1].PacketsOut)
		})
	}
}

var seeds = flag.Int("sim.seeds", 2000, "number of seeds for TestSimMatrix")
var seed0 = flag.Uint64("sim.seed", 0, "run only this seed of TestSimMatrix")

// matrixCall derives one call from a seed: coding, ECM, T.38 version,
// redundancy, network impairments and a resume point.
func matrixCall(seed uint64) (Call, []*bilevel.Image, int) {
	rng := rand.New(rand.NewPCG(seed, 99))
	res := []t30.Resolution{t30.ResStandard, t30.ResFine, t30.ResSuperfine}[rng.IntN(3)]
	n := 1 + rng.IntN(3)
	ps := pages(rng, n, 8+rng.IntN(40), res)
	start := 0
	if n > 1 && rng.IntN(4) == 0 {
		start = rng.IntN(n)
	}
	tx := t30.Config{Transmit: true, Pages: t30.ImagePages(ps), StartPage: start, Ident: "tx"}
	rx := t30.Config{Decoder: t30.T4Decoder{}, Fine: true, Superfine: true, Ident: "rx"}
	ecm := rng.IntN(2) == 0
	tx.ECM, rx.ECM = ecm, ecm
	tx.ECM64 = rng.IntN(3) == 0
	tx.Codings = []t30.Codings{t30.SupportMH, t30.SupportMH | t30.SupportMR, t30.AllCodings}[rng.IntN(3)]
	rx.ScanTime = []int{0, 0, 5, 10, 20, 40}[rng.IntN(6)]
	c := Call{Seed: seed, Tx: tx, Rx: rx, Version: []int{0, 3}[rng.IntN(2)], Redundancy: []int{0, 3}[rng.IntN(2)]}
	if rng.IntN(3) > 0 { // two calls in three see an impaired network
		ch := Channel{
			Loss:    []float64{0, 0.01, 0.05, 0.10}[rng.IntN(4)],
			Dup:     []float64{0, 0.02}[rng.IntN(2)],
			Reorder: []float64{0, 0.02}[rng.IntN(2)],
			Delay:   time.Duration(rng.IntN(150)) * time.Millisecond,
			Jitter:  time.Duration(rng.IntN(30)) * time.Millisecond,
		}
		c.Forward, c.Back = ch, ch
	}
	c.FEC = c.Redundancy == 3 && rng.IntN(3) == 0 // parity FEC instead of redundancy
	return c, ps, start
}

// TestSimMatrix runs many seeded calls. A failure names its seed; rerun it
// alone with -sim.seed=N -v.
func TestSimMatrix(t *testing.T) {
	n := *seeds
	if testing.Short() {
		n = 200
	}
	first := uint64(1)
	if *seed0 != 0 {
		first, n = *seed0, 1
	}
	ok := 0
	reasons := map[t30.Reason]int{}
	for s := first; s < first+uint64(n); s++ {
		c, ps, start := matrixCall(s)
		o, err := Run(c)
		if err != nil {
			t.Fatalf("seed=%d: %v", s, err)
		}
		check(t, "matrix", c, o, ps, start)
		clean := c.Forward == (Channel{}) || (c.Forward.Loss == 0 && c.Forward.Reorder == 0 && c.Forward.Dup == 0) ||
			(c.Redundancy == 3 && !c.FEC && c.Forward.Loss <= 0.01)
		if clean && (!o.Tx.OK() || !o.Rx.OK()) {
			t.Fatalf("seed=%d: clean network but %v / %v (%+v)", s, o.Tx, o.Rx, c.Forward)
		}
		if o.Tx.OK() {
			ok++
		}
		reasons[o.Tx.Reason]++
	}
	t.Logf("%d calls, %d OK; sender reasons %v", n, ok, reasons)
}
