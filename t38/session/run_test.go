package session

import (
	"context"
	"math/rand/v2"
	"net"
	"testing"
	"time"

	"github.com/faxd/faxd/t38/bilevel"
	"github.com/faxd/faxd/t38/t30"
	"github.com/faxd/faxd/t38/udptl"
)

// TestRunLoopback sends a fax between two real-time sessions over UDP on
// loopback, with redundancy, as the SIP channels will.
func TestRunLoopback(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2))
	page := bilevel.New(bilevel.WidthA4, 30)
	for i := 0; i < 400; i++ {
		page.SetBlack(rng.IntN(page.Width), rng.IntN(page.Height), true)
	}
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
	res, err := Run(ctx, a, tx, RunConfig{Peer: b.LocalAddr(), UDPTL: udptl.Config{Redundancy: 3}, Linger: 300 * time.Millisecond})
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
}
