package sim

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/faxd/faxd/t38/bilevel"
	"github.com/faxd/faxd/t38/ifp"
	"github.com/faxd/faxd/t38/t30"
)

func baseCall(seed uint64, ps []*bilevel.Image, ecm bool) Call {
	return Call{
		Seed: seed,
		Tx:   t30.Config{Transmit: true, Pages: t30.ImagePages(ps), ECM: ecm, Ident: "tx"},
		Rx:   t30.Config{Decoder: t30.T4Decoder{}, ECM: ecm, Fine: true, Superfine: true, Ident: "rx"},
	}
}

// dataPackets rewrites the non-ECM data packets sent while keep says so.
func mangleData(version int, f func(p *ifp.Packet) bool) func(int, time.Duration, []byte) []byte {
	return func(from int, _ time.Duration, b []byte) []byte {
		var p ifp.Packet
		if from != 0 || p.Unmarshal(b, version) != nil || !p.IsData || p.DataType == ifp.V21 {
			return b
		}
		if !f(&p) {
			return b
		}
		out, err := p.Marshal(version)
		if err != nil {
			panic(err)
		}
		return out
	}
}

func TestSimBadTCFStepsDown(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 1))
	ps := pages(rng, 1, 30, t30.ResFine)
	c := baseCall(21, ps, false)
	// Noise on the TCF at 14400 and 12000: the receiver answers FTT.
	c.Mangle = mangleData(0, func(p *ifp.Packet) bool {
		if p.DataType != ifp.V17_14400 && p.DataType != ifp.V17_12000 {
			return false
		}
		for i := range p.Fields {
			d := p.Fields[i].Data
			if len(d) > 0 && d[0] == 0 && d[len(d)-1] == 0 { // TCF: all zeros
				d = append([]byte(nil), d...)
				d[len(d)/2] = 0x55
				p.Fields[i].Data = d
			}
		}
		return true
	})
	o, err := Run(c)
	if err != nil {
		t.Fatal(err)
	}
	if !o.Tx.OK() || !o.Rx.OK() || o.Sent[0].Modem != t30.V17_9600 {
		t.Fatalf("%v / %v, %+v", o.Tx, o.Rx, o.Sent)
	}
	check(t, "badtcf", c, o, ps, 0)
}

func TestSimRTNResendsPage(t *testing.T) {
	rng := rand.New(rand.NewPCG(22, 1))
	ps := pages(rng, 2, 40, t30.ResFine)
	c := baseCall(22, ps, false)
	spoilUntil := 0
	// Spoil the first page's image data the first time it is sent.
	c.Mangle = mangleData(0, func(p *ifp.Packet) bool {
		if spoilUntil > 8 || p.DataType != ifp.V17_14400 {
			return false
		}
		for i := range p.Fields {
			d := p.Fields[i].Data
			if len(d) > 0 && d[0] != 0 {
				spoilUntil++
				d = append([]byte(nil), d...)
				for j := range d {
					d[j] ^= 0x24
				}
				p.Fields[i].Data = d
			}
		}
		return true
	})
	o, err := Run(c)
	if err != nil {
		t.Fatal(err)
	}
	if !o.Tx.OK() || !o.Rx.OK() {
		t.Fatalf("%v / %v", o.Tx, o.Rx)
	}
	check(t, "rtn", c, o, ps, 0)
	if o.Sent[0].Retransmissions == 0 || o.Sent[0].Modem == t30.V17_14400 {
		t.Fatalf("no RTN path: %+v", o.Sent[0])
	}
	for _, rp := range o.Received {
		if rp.Stats.BadRows != 0 {
			t.Fatalf("accepted a bad page: %+v", rp.Stats)
		}
	}
}

func TestSimECMLossPPR(t *testing.T) {
	rng := rand.New(rand.NewPCG(23, 1))
	ps := pages(rng, 2, 200, t30.ResFine)
	for seed := uint64(1); seed <= 20; seed++ {
		c := baseCall(seed, ps, true)
		c.Version, c.Redundancy = 3, 0
		c.Forward = Channel{Loss: 0.03}
		o, err := Run(c)
		if err != nil {
			t.Fatal(err)
		}
		check(t, "ppr", c, o, ps, 0)
		if o.Tx.OK() && o.Sent[0].PPRs+o.Sent[1].PPRs > 0 {
			return // a PPR round ended in a clean copy
		}
	}
	t.Fatal("no seed went through PPR to success")
}

func TestSimTimeouts(t *testing.T) {
	rng := rand.New(rand.NewPCG(24, 1))
	ps := pages(rng, 2, 20, t30.ResFine)

	// Nobody there: the receiver's DIS never reaches us.
	c := baseCall(1, ps, false)
	c.Back = Channel{CutAfter: time.Nanosecond}
	c.Forward = Channel{CutAfter: time.Nanosecond}
	o, err := Run(c)
	if err != nil {
		t.Fatal(err)
	}
	if o.Tx.Reason != t30.ReasonT1Expired || o.Rx.Reason != t30.ReasonT1Expired {
		t.Fatalf("%v / %v", o.Tx, o.Rx)
	}

	// The receiver falls silent after the first page: the sender repeats
	// its post-page command and gives up; the receiver times out.
	for _, ecm := range []bool{false, true} {
		c = baseCall(2, ps, ecm)
		c.Back = Channel{CutAfter: 16 * time.Second}
		o, err = Run(c)
		if err != nil {
			t.Fatal(err)
		}
		if o.Tx.Reason != t30.ReasonNoResponse || o.Tx.NextPage != len(o.Sent) {
			t.Fatalf("ecm=%v sender %v", ecm, o.Tx)
		}
		// The receiver may have everything (only its last MCF was lost).
		if r := o.Rx.Reason; r != t30.ReasonT2Expired && r != t30.ReasonDCNUnexpected && (r != t30.ReasonOK || len(o.Received) != len(ps)) {
			t.Fatalf("ecm=%v receiver %v", ecm, o.Rx)
		}
	}
}

func TestSimDCN(t *testing.T) {
	rng := rand.New(rand.NewPCG(25, 1))
	ps := pages(rng, 3, 20, t30.ResFine)
	// The receiver hangs up (DCN) in the middle of the document.
	c := baseCall(3, ps, false)
	c.AbortAt, c.AbortSide = 16*time.Second, 1
	o, err := Run(c)
	if err != nil {
		t.Fatal(err)
	}
	if o.Rx.Reason != t30.ReasonCancelled || o.Tx.Reason != t30.ReasonDCNUnexpected {
		t.Fatalf("%v / %v", o.Tx, o.Rx)
	}
	if o.Tx.NextPage != len(o.Sent) || o.Tx.NextPage == len(ps) {
		t.Fatalf("next page %d after %d sent", o.Tx.NextPage, len(o.Sent))
	}
	check(t, "dcn", c, o, ps, 0)
}

func TestSimResume(t *testing.T) {
	rng := rand.New(rand.NewPCG(26, 1))
	ps := pages(rng, 4, 20, t30.ResFine)
	c := baseCall(4, ps, true)
	c.Tx.StartPage = 2
	o, err := Run(c)
	if err != nil {
		t.Fatal(err)
	}
	if !o.Tx.OK() || len(o.Received) != 2 || o.Sent[0].Page != 2 {
		t.Fatalf("%v %+v", o.Tx, o.Sent)
	}
	check(t, "resume", c, o, ps, 2)
}

func TestSimFullPages(t *testing.T) {
	rng := rand.New(rand.NewPCG(27, 1))
	ps := []*bilevel.Image{synthPage(rng, bilevel.WidthA4, 2287, t30.ResFine), synthPage(rng, bilevel.WidthA4, 1143, t30.ResStandard)}
	for _, tc := range []struct {
		ecm bool
		red int
		ch  Channel
	}{{false, 0, Channel{}}, {true, 3, Channel{Loss: 0.05, Jitter: 30 * time.Millisecond}}} {
		c := baseCall(5, ps, tc.ecm)
		c.Redundancy, c.Forward, c.Back = tc.red, tc.ch, tc.ch
		o, err := Run(c)
		if err != nil {
			t.Fatal(err)
		}
		if !o.Tx.OK() || !o.Rx.OK() {
			t.Fatalf("ecm=%v: %v / %v", tc.ecm, o.Tx, o.Rx)
		}
		check(t, "full", c, o, ps, 0)
		t.Logf("ecm=%v: %v of line time, %d octets first page", tc.ecm, o.Elapsed, o.Sent[0].Bytes)
	}
}
