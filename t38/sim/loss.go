package sim

// LossModel decides, datagram by datagram, which datagrams a Channel loses.
// It replaces Channel.Loss when set.
type LossModel interface {
	// Lost is asked once for every datagram sent, in order.
	Lost() bool
}

// The loss models below are also implemented by the spandsp peer
// (t38/interop/testdata/t38peer.c, --loss-model), draw for draw, so that
// both stacks can be run over the same loss pattern: per direction a
// splitmix64 stream seeded with seed ^ (lossSeedMul * (direction+1)), one
// draw per datagram.
const lossSeedMul = 0xA0761D6478BD642F

type splitmix struct{ s uint64 }

func (g *splitmix) next() uint64 {
	g.s += 0x9E3779B97F4A7C15
	z := g.s
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9
	z = (z ^ (z >> 27)) * 0x94D049BB133111EB
	return z ^ (z >> 31)
}

func (g *splitmix) ppm() int64 { return int64(g.next() % 1_000_000) }

func lossStream(seed uint64, dir int) splitmix {
	return splitmix{s: seed ^ (lossSeedMul * uint64(dir+1))}
}

// RandomLoss loses each datagram independently with probability ppm/10^6.
func RandomLoss(seed uint64, dir int, ppm int64) LossModel {
	return &randomLoss{g: lossStream(seed, dir), ppm: ppm}
}

type randomLoss struct {
	g   splitmix
	ppm int64
}

func (l *randomLoss) Lost() bool { return l.g.ppm() < l.ppm }

// GilbertElliott is the two-state burst model: in the good state nothing
// is lost, in the bad state everything. Each datagram first moves the
// state (good to bad with probability gbPPM/10^6, bad to good with
// bgPPM/10^6), then is lost if the state is bad. The long-run loss is
// gb/(gb+bg) and a burst lasts 10^6/bgPPM datagrams on average.
func GilbertElliott(seed uint64, dir int, gbPPM, bgPPM int64) LossModel {
	return &gilbertElliott{g: lossStream(seed, dir), gb: gbPPM, bg: bgPPM}
}

type gilbertElliott struct {
	g      splitmix
	gb, bg int64
	bad    bool
}

func (l *gilbertElliott) Lost() bool {
	d := l.g.ppm()
	if !l.bad {
		l.bad = d < l.gb
	} else {
		l.bad = d >= l.bg
	}
	return l.bad
}
