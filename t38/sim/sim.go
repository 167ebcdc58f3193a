// Package sim runs faxd's T.38 sender and receiver against each other
// through UDPTL and a simulated IP network, on a virtual clock. A run is a
// pure function of its Call (seed included), so any failure can be
// replayed exactly, and a fax of a minute takes milliseconds.
package sim

import (
	"container/heap"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/faxd/faxd/t38/ifp"
	"github.com/faxd/faxd/t38/session"
	"github.com/faxd/faxd/t38/t30"
	"github.com/faxd/faxd/t38/udptl"
)

// Channel models one direction of the IP path.
type Channel struct {
	Loss    float64       // probability that a datagram is lost
	Dup     float64       // probability that a datagram arrives twice
	Reorder float64       // probability that a datagram is held back behind later ones
	Delay   time.Duration // fixed one-way delay
	Jitter  time.Duration // uniform extra delay in [0, Jitter)
	// CutAfter, when non-zero, drops everything sent after this virtual
	// time: the far end going silent.
	CutAfter time.Duration
	// Model, when set, decides the losses instead of Loss (RandomLoss,
	// GilbertElliott): a loss pattern another stack can be run over too.
	Model LossModel
}

// Call describes one simulated fax call: side 0 calls and sends, side 1
// answers and receives (unless the configs say otherwise).
type Call struct {
	Seed       uint64
	Tx, Rx     t30.Config
	Version    int // T38FaxVersion of both ends
	Redundancy int // UDPTL redundancy depth of both senders
	FEC        bool
	Forward    Channel
	Back       Channel
	MaxIFP     int
	MaxBuffer  int
	// IndicatorCopies and DataEndCopies go to both sessions (0: their
	// defaults; 1: no copies).
	IndicatorCopies, DataEndCopies int
	Limit                          time.Duration // virtual time limit; 0: 20 minutes
	// Mangle, when set, sees every IFP packet side `from` sends before
	// UDPTL and may change it (return nil to drop it): fault injection.
	Mangle func(from int, now time.Duration, ifp []byte) []byte
	// AbortAt, when set, aborts side AbortSide locally at that time.
	AbortAt   time.Duration
	AbortSide int
}

// Outcome is what both ends reported.
type Outcome struct {
	Tx, Rx   *t30.Result
	Sent     []t30.PageStats
	Received []*t30.ReceivedPage
	Elapsed  time.Duration
	Wire     [2]session.Stats
	UDPTL    [2]udptl.Stats
}

// ErrStuck means the simulation ran past its limit without both ends
// finishing: an engine bug (a state without a timer).
var ErrStuck = errors.New("sim: call did not finish")

type clock struct{ now time.Duration }

func (c *clock) Now() time.Duration { return c.now }

type arrival struct {
	at   time.Duration
	n    uint64 // tie-break: send order
	to   int
	data []byte
}

type arrivals []arrival

func (a arrivals) Len() int { return len(a) }
func (a arrivals) Less(i, j int) bool {
	if a[i].at != a[j].at {
		return a[i].at < a[j].at
	}
	return a[i].n < a[j].n
}
func (a arrivals) Swap(i, j int) { a[i], a[j] = a[j], a[i] }
func (a *arrivals) Push(x any)   { *a = append(*a, x.(arrival)) }
func (a *arrivals) Pop() any {
	old := *a
	x := old[len(old)-1]
	*a = old[:len(old)-1]
	return x
}

// flushAfter is how long a receiver waits for a datagram to fill a gap
// before it gives the gap up.
const flushAfter = 60 * time.Millisecond

// Run plays a call to the end.
func Run(c Call) (*Outcome, error) {
	if c.Limit == 0 {
		c.Limit = 20 * time.Minute
	}
	rng := rand.New(rand.NewPCG(c.Seed, 0x7438))
	clk := &clock{}
	cfgs := [2]t30.Config{c.Tx, c.Rx}
	cfgs[0].Calling = true
	var ses [2]*session.Session
	var snd [2]*udptl.Sender
	var rcv [2]*udptl.Receiver
	var seqs [2]session.SeqMap
	for i := range ses {
		s, err := session.New(session.Config{T30: cfgs[i], Version: c.Version, MaxIFP: c.MaxIFP, MaxBuffer: c.MaxBuffer,
			IndicatorCopies: c.IndicatorCopies, DataEndCopies: c.DataEndCopies}, clk)
		if err != nil {
			return nil, err
		}
		ses[i] = s
		snd[i] = udptl.NewSender(udptl.Config{Redundancy: c.Redundancy, FEC: c.FEC, FirstSeq: uint16(rng.IntN(65536))})
		rcv[i] = udptl.NewReceiverConfig(udptl.ReceiverConfig{TrimRepaired: func(b []byte) []byte {
			if n, err := ifp.Len(b, c.Version); err == nil {
				return b[:n]
			}
			return b
		}})
	}
	chans := [2]Channel{c.Forward, c.Back}
	var q arrivals
	var n uint64
	var lastIn [2]time.Duration
	out := &Outcome{}

	transmit := func(from int) error {
		for _, op := range ses[from].Outgoing() {
			var d []byte
			if op.Repeat {
				seq, ok := seqs[from].Seq(op.ID)
				if !ok {
					continue // the original was mangled away
				}
				var err error
				if d, err = snd[from].AppendRepeat(nil, seq); err != nil {
					return fmt.Errorf("udptl repeat: %w", err)
				}
			} else {
				p := op.IFP
				if c.Mangle != nil {
					if p = c.Mangle(from, clk.now, p); p == nil {
						continue
					}
				}
				seqs[from].Put(op.ID, snd[from].Seq())
				var err error
				if d, err = snd[from].Build(p); err != nil {
					return fmt.Errorf("udptl build: %w", err)
				}
			}
			ch := chans[from]
			if ch.CutAfter > 0 && clk.now >= ch.CutAfter {
				continue
			}
			if ch.Model != nil {
				if ch.Model.Lost() {
					continue
				}
			} else if rng.Float64() < ch.Loss {
				continue
			}
			copies := 1
			if rng.Float64() < ch.Dup {
				copies = 2
			}
			for k := 0; k < copies; k++ {
				delay := ch.Delay
				if ch.Jitter > 0 {
					delay += time.Duration(rng.Int64N(int64(ch.Jitter)))
				}
				if rng.Float64() < ch.Reorder {
					delay += 5*time.Millisecond + time.Duration(rng.Int64N(int64(40*time.Millisecond)))
				}
				n++
				heap.Push(&q, arrival{at: clk.now + delay, n: n, to: 1 - from, data: d})
			}
		}
		return nil
	}
	deliver := func(to int, ds []udptl.Delivered) {
		for _, d := range ds {
			ses[to].Receive(d.Seq, d.IFP)
		}
	}
	collect := func(i int) {
		for _, ev := range ses[i].Events() {
			switch ev.Kind {
			case t30.OutPageSent:
				out.Sent = append(out.Sent, *ev.Stats)
			case t30.OutPageReceived:
				out.Received = append(out.Received, ev.Received)
			}
		}
	}

	ses[0].Start()
	ses[1].Start()
	for !(ses[0].Done() && ses[1].Done()) {
		for i := range ses {
			if err := transmit(i); err != nil {
				return nil, err
			}
			collect(i)
			if err := ses[i].Err(); err != nil {
				return nil, err
			}
		}
		next, have := time.Duration(0), false
		consider := func(t time.Duration) {
			if !have || t < next {
				next, have = t, true
			}
		}
		if len(q) > 0 {
			consider(q[0].at)
		}
		if c.AbortAt > clk.now {
			consider(c.AbortAt)
		}
		for i := range ses {
			if d, ok := ses[i].NextDeadline(); ok {
				consider(max(d, clk.now))
			}
			if rcv[i].Held() > 0 {
				consider(lastIn[i] + flushAfter)
			}
		}
		if !have || next > c.Limit {
			return out, fmt.Errorf("%w: at %v, states %s / %s", ErrStuck, clk.now,
				ses[0].Engine().State(), ses[1].Engine().State())
		}
		clk.now = max(clk.now, next)
		for len(q) > 0 && q[0].at <= clk.now {
			a := heap.Pop(&q).(arrival)
			lastIn[a.to] = clk.now
			ds, err := rcv[a.to].Receive(a.data)
			if err != nil {
				return out, err
			}
			deliver(a.to, ds)
		}
		if c.AbortAt > 0 && clk.now >= c.AbortAt {
			ses[c.AbortSide].Abort()
			c.AbortAt = 0
		}
		for i := range ses {
			if rcv[i].Held() > 0 && clk.now >= lastIn[i]+flushAfter {
				deliver(i, rcv[i].Flush())
			}
			ses[i].Tick()
		}
	}
	for i := range ses {
		collect(i)
		out.Wire[i] = ses[i].Stats()
		out.UDPTL[i] = rcv[i].Stats()
	}
	out.Tx, out.Rx = ses[0].Result(), ses[1].Result()
	out.Elapsed = clk.now
	return out, nil
}
