package session

import (
	"context"
	"errors"
	"math/rand/v2"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/faxd/faxd/t38/bilevel"
	"github.com/faxd/faxd/t38/ifp"
	"github.com/faxd/faxd/t38/t30"
	"github.com/faxd/faxd/t38/udptl"
)

// TestRunLoopback sends a fax between two real-time sessions over UDP on
// loopback, with redundancy, as the SIP channels will: on IPv4 sockets, on
// a socket bound to every address (AF_INET6 dual-stack where the kernel
// has IPv6, so IPv4 peers are v4-mapped), and through a net.PacketConn
// that is not a *net.UDPConn (Run's portable path).
func TestRunLoopback(t *testing.T) {
	t.Parallel()
	var wg sync.WaitGroup
	for _, c := range []struct {
		name  string
		bAddr string
		wrap  bool
	}{{"udp4", "127.0.0.1:0", false}, {"any-address", ":0", false}, {"packetconn", "127.0.0.1:0", true}} {
		// Real-time calls mostly wait: run them all at once rather than
		// under t.Parallel's GOMAXPROCS cap.
		wg.Add(1)
		go t.Run(c.name, func(t *testing.T) {
			defer wg.Done()
			a, err := net.ListenPacket("udp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer a.Close()
			b, err := net.ListenPacket("udp", c.bAddr)
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close()
			bAddr := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: b.LocalAddr().(*net.UDPAddr).Port}
			if c.wrap {
				a, b = plainConn{a}, plainConn{b}
			}
			runLoopback(t, a, b, bAddr)
		})
	}
	wg.Wait()
}

// plainConn hides the *net.UDPConn behind net.PacketConn.
type plainConn struct{ net.PacketConn }

func runLoopback(t *testing.T, a, b net.PacketConn, bAddr net.Addr) {
	rng := rand.New(rand.NewPCG(1, 2))
	page := bilevel.New(bilevel.WidthA4, 30)
	for i := 0; i < 400; i++ {
		page.SetBlack(rng.IntN(page.Width), rng.IntN(page.Height), true)
	}
	fast := 200 * time.Millisecond // short V.21 preambles keep the test short
	tx, err := New(Config{Version: 3, Preamble: fast, T30: t30.Config{Calling: true, Transmit: true, ECM: true,
		Pages: t30.ImagePages{page}}}, NewMonoClock())
	if err != nil {
		t.Fatal(err)
	}
	rx, err := New(Config{Version: 3, Preamble: fast, T30: t30.Config{ECM: true, Fine: true, Decoder: t30.T4Decoder{}}}, NewMonoClock())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var got []*t30.ReceivedPage
	done := make(chan *t30.Result, 1)
	go func() {
		r, err := Run(ctx, b, rx, RunConfig{Peer: a.LocalAddr(), UDPTL: udptl.Config{Redundancy: 3},
			OnEvent: func(o t30.Output) {
				if o.Kind == t30.OutPageReceived {
					got = append(got, o.Received)
				}
			}})
		if err != nil {
			t.Error(err)
		}
		done <- r
	}()
	res, err := Run(ctx, a, tx, RunConfig{Peer: bAddr, UDPTL: udptl.Config{Redundancy: 3}, Linger: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	rres := <-done
	if !res.OK() || !rres.OK() {
		t.Fatalf("%v / %v", res, rres)
	}
	if len(got) != 1 || !got[0].Image.Equal(page) {
		t.Fatalf("received %d pages", len(got))
	}
	// Both Runs counted what crossed the wire, and nothing was lost on
	// loopback. Every packet went out once as itself and the indicators
	// and transmission ends again as copies under the same sequence
	// number, which the receiver dropped as duplicates: T.30 saw each
	// packet once. The receiver stops reading once the call is over, so
	// the end of the sender's DCN transmission and its copies (at most 7
	// datagrams) may go unread.
	ts, rs := tx.Stats(), rx.Stats()
	if ts.DatagramsOut != ts.PacketsOut+ts.Repeats || ts.Repeats == 0 || rs.DatagramsOut == 0 {
		t.Errorf("datagrams out: sender %+v, receiver %+v", ts, rs)
	}
	u := rs.UDPTL
	if got := int(u.Datagrams); got > ts.DatagramsOut || got < ts.DatagramsOut-7 ||
		int(u.Delivered) != rs.PacketsIn || u.Lost != 0 || u.Delivered+u.Duplicates != u.Datagrams ||
		rs.PacketsIn < ts.PacketsOut-1 || u.Duplicates == 0 {
		t.Errorf("receiver UDPTL %+v, %d packets in, after %d datagrams (%d packets) sent", u, rs.PacketsIn, ts.DatagramsOut, ts.PacketsOut)
	}
}

// TestRunCancel: cancelling the context ends a Run that is waiting for a
// far end that never speaks, at once, with the call dropped.
func TestRunCancel(t *testing.T) {
	t.Parallel()
	conn, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	rx, err := New(Config{T30: t30.Config{ECM: true, Decoder: t30.T4Decoder{}}}, NewMonoClock())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(200*time.Millisecond, cancel)
	start := time.Now()
	res, err := Run(ctx, conn, rx, RunConfig{Tick: 10 * time.Second})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v, want context.Canceled", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Run took %v to notice the cancellation", d)
	}
	if res == nil || res.Reason != t30.ReasonCallDropped {
		t.Errorf("result %v, want call dropped", res)
	}
	// Run gives the socket back without a read deadline.
	if err := conn.SetReadDeadline(time.Now().Add(50 * time.Millisecond)); err != nil {
		t.Fatal(err)
	}
}

// TestRunClosedConn: closing the socket under a waiting Run ends the call
// with a receive error within about one Tick.
func TestRunClosedConn(t *testing.T) {
	t.Parallel()
	conn, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	rx, err := New(Config{T30: t30.Config{ECM: true, Decoder: t30.T4Decoder{}}}, NewMonoClock())
	if err != nil {
		t.Fatal(err)
	}
	time.AfterFunc(200*time.Millisecond, func() { conn.Close() })
	start := time.Now()
	res, err := Run(context.Background(), conn, rx, RunConfig{Tick: 300 * time.Millisecond})
	if err == nil || !errors.Is(err, net.ErrClosed) {
		t.Fatalf("err %v, want one wrapping net.ErrClosed", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Run took %v to notice the closed socket", d)
	}
	if res == nil || res.Reason != t30.ReasonCallDropped {
		t.Errorf("result %v, want call dropped", res)
	}
}

// TestRunForeignSource: the far end of an earlier call on the same port
// (after a restart) still sends, here a DCN. Run takes datagrams only
// from the peer, so the call completes and the stale ones are counted;
// with AnySource the stale DCN reaches T.30 and ends the call, which is
// the failure this guards against.
func TestRunForeignSource(t *testing.T) {
	t.Parallel()
	// A complete DCN burst in one datagram: no-signal as primary,
	// preamble, DCN and FCS-OK-sig-end as secondaries.
	old := udptl.NewSender(udptl.Config{Redundancy: 3, FirstSeq: 30000})
	var stale []byte
	for _, p := range []ifp.Packet{
		{Indicator: ifp.V21Preamble},
		{IsData: true, DataType: ifp.V21, Fields: []ifp.Field{{Type: ifp.HDLCData, Data: t30.ReverseBits([]byte{0xff, 0xc8, t30.FCFDCN})}}},
		{IsData: true, DataType: ifp.V21, Fields: []ifp.Field{{Type: ifp.HDLCFCSOKSigEnd}}},
		{Indicator: ifp.NoSignal},
	} {
		b, err := p.Marshal(3)
		if err != nil {
			t.Fatal(err)
		}
		if stale, err = old.Build(b); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	for _, anySource := range []bool{false, true} {
		wg.Add(1)
		go t.Run(map[bool]string{false: "peer-only", true: "any-source"}[anySource], func(t *testing.T) {
			defer wg.Done()
			a, err := net.ListenPacket("udp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer a.Close()
			b, err := net.ListenPacket("udp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close()
			c, err := net.ListenPacket("udp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			fast := 200 * time.Millisecond
			page := bilevel.New(bilevel.WidthA4, 20)
			tx, _ := New(Config{Version: 3, Preamble: fast, T30: t30.Config{Calling: true, Transmit: true, Pages: t30.ImagePages{page}}}, NewMonoClock())
			rx, _ := New(Config{Version: 3, Preamble: fast, T30: t30.Config{Fine: true, Decoder: t30.T4Decoder{}}}, NewMonoClock())
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			stop := make(chan struct{})
			go func() { // the stale sender, every 300 ms until the call ends
				tk := time.NewTicker(300 * time.Millisecond)
				defer tk.Stop()
				for {
					_, _ = c.WriteTo(stale, b.LocalAddr())
					select {
					case <-stop:
						return
					case <-tk.C:
					}
				}
			}()
			done := make(chan *t30.Result, 1)
			go func() {
				r, _ := Run(ctx, b, rx, RunConfig{Peer: a.LocalAddr(), UDPTL: udptl.Config{Redundancy: 3}, AnySource: anySource})
				done <- r
			}()
			res, _ := Run(ctx, a, tx, RunConfig{Peer: b.LocalAddr(), UDPTL: udptl.Config{Redundancy: 3}})
			rres := <-done
			close(stop)
			if anySource {
				if rres.OK() || rres.Reason != t30.ReasonDCNUnexpected {
					t.Fatalf("with any source the stale DCN should end the call: %v / %v", res, rres)
				}
				return
			}
			if !res.OK() || !rres.OK() {
				t.Fatalf("%v / %v", res, rres)
			}
			if rx.Stats().Foreign == 0 || tx.Stats().Foreign != 0 {
				t.Fatalf("foreign datagrams: receiver %d, sender %d", rx.Stats().Foreign, tx.Stats().Foreign)
			}
		})
	}
	wg.Wait()
}

// TestRunLatchesBehindNAT: the far end's SDP names an address it never
// sends from (NAT). Its datagrams are foreign at first; after 10 s with
// nothing from the named address Run takes their source as the peer,
// sends there, and the call completes within T1.
func TestRunLatchesBehindNAT(t *testing.T) {
	t.Parallel()
	a, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	// The "private" address b believes a has: a socket nobody reads.
	nowhere, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer nowhere.Close()
	fast := 200 * time.Millisecond
	page := bilevel.New(bilevel.WidthA4, 20)
	tx, _ := New(Config{Version: 0, Preamble: fast, T30: t30.Config{Calling: true, Transmit: true, Pages: t30.ImagePages{page}}}, NewMonoClock())
	rx, _ := New(Config{Version: 0, Preamble: fast, T30: t30.Config{Fine: true, Decoder: t30.T4Decoder{}}}, NewMonoClock())
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	done := make(chan *t30.Result, 1)
	go func() {
		r, _ := Run(ctx, b, rx, RunConfig{Peer: nowhere.LocalAddr(), UDPTL: udptl.Config{Redundancy: 3}})
		done <- r
	}()
	res, _ := Run(ctx, a, tx, RunConfig{Peer: b.LocalAddr(), UDPTL: udptl.Config{Redundancy: 3}})
	rres := <-done
	if !res.OK() || !rres.OK() {
		t.Fatalf("%v / %v", res, rres)
	}
	if st := rx.Stats(); !st.Latched || st.Foreign == 0 {
		t.Fatalf("receiver %+v: want latched after foreign datagrams", st)
	}
	if tx.Stats().Latched {
		t.Fatal("the sender latched though its peer answered")
	}
}
