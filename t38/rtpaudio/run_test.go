package rtpaudio

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"
)

// toneTerm sends a constant sample for frames frames, then is done, and
// records what it heard.
type toneTerm struct {
	level  int16
	frames int
	n      int
	heard  []int16
}

func (t *toneTerm) Process(in, out []int16) {
	t.heard = append(t.heard, in...)
	for i := range out {
		out[i] = t.level
	}
	t.n++
}

func (t *toneTerm) Done() bool { return t.n >= t.frames }

func udpPair(t testing.TB) (a, b *net.UDPConn) {
	t.Helper()
	var err error
	if a, err = net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)}); err != nil {
		t.Fatal(err)
	}
	if b, err = net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close(); b.Close() })
	return a, b
}

// TestRunLoopback runs two terminals against each other for 1 s: each
// hears the other's level after the jitter delay, every packet sent by
// one is received by the other, and both end when their terminal is done.
func TestRunLoopback(t *testing.T) {
	a, b := udpPair(t)
	ta := &toneTerm{level: 1000, frames: 50}
	tb := &toneTerm{level: -2000, frames: 50}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	type res struct {
		st  Stats
		err error
	}
	ch := make(chan res, 1)
	go func() {
		st, err := Run(ctx, b, a.LocalAddr().(*net.UDPAddr), tb, Config{PayloadType: 8})
		ch <- res{st, err}
	}()
	sa, err := Run(ctx, a, b.LocalAddr().(*net.UDPAddr), ta, Config{PayloadType: 8})
	if err != nil {
		t.Fatal(err)
	}
	rb := <-ch
	if rb.err != nil {
		t.Fatal(rb.err)
	}
	if sa.Sent != 50+tailFrames || rb.st.Sent != 50+tailFrames {
		t.Errorf("sent %d and %d, want %d each", sa.Sent, rb.st.Sent, 50+tailFrames)
	}
	for name, h := range map[string][]int16{"a": ta.heard, "b": tb.heard} {
		want := map[string]int16{"a": -2000, "b": 1000}[name]
		n := 0
		for _, s := range h {
			// A-law's step near 1000-2000 is 64: compare with its width.
			if d := int(s) - int(want); d > -64 && d < 64 {
				n++
			}
		}
		if n < len(h)/2 {
			t.Errorf("%s heard the other's level in %d of %d samples", name, n, len(h))
		}
	}
	if sa.Malformed != 0 || sa.UnknownPayload != 0 || sa.Foreign != 0 {
		t.Errorf("stats %+v", sa)
	}
}

// TestRunCancel ends a call whose terminal never finishes by its context,
// and a Run without a socket is refused.
func TestRunCancel(t *testing.T) {
	a, b := udpPair(t)
	ctx, cancel := context.WithCancel(context.Background())
	term := &toneTerm{frames: 1 << 30}
	done := make(chan error, 1)
	go func() {
		_, err := Run(ctx, a, b.LocalAddr().(*net.UDPAddr), term, Config{})
		done <- err
	}()
	// Wait for the call to be running (its packets arrive), then cancel.
	buf := make([]byte, 1500)
	_ = b.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := b.Read(buf); err != nil {
		t.Fatal(err)
	}
	cancel()
	wait, stop := context.WithTimeout(context.Background(), 10*time.Second)
	defer stop()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Run returned %v, want context.Canceled", err)
		}
	case <-wait.Done():
		t.Fatal("Run did not end after cancellation")
	}
	if _, err := Run(context.Background(), nil, nil, term, Config{}); err == nil {
		t.Error("Run without a socket accepted")
	}
	if _, err := Run(context.Background(), a, b.LocalAddr().(*net.UDPAddr), term, Config{PayloadType: 3}); err == nil {
		t.Error("payload type 3 accepted")
	}
}
