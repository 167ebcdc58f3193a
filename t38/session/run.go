package session

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/faxd/faxd/t38/ifp"
	"github.com/faxd/faxd/t38/t30"
	"github.com/faxd/faxd/t38/udptl"
)

// MonoClock is a Clock on the monotonic wall clock, counting from Start.
type MonoClock struct{ start time.Time }

// NewMonoClock starts a real-time clock at zero.
func NewMonoClock() *MonoClock { return &MonoClock{start: time.Now()} }

// Now is the time since the clock started.
func (c *MonoClock) Now() time.Duration { return time.Since(c.start) }

// RunConfig is what Run needs beyond the session.
type RunConfig struct {
	// Peer is where to send; nil learns it from the first datagram received.
	Peer  net.Addr
	UDPTL udptl.Config
	// OnEvent, when set, gets every engine event (pages, phases, result) as
	// it happens, on Run's goroutine.
	OnEvent func(t30.Output)
	// Tick bounds how long Run sleeps without looking at the session;
	// 0: 500 ms (every timer and paced packet is a session deadline).
	Tick time.Duration
	// FlushAfter is how long UDPTL may hold IFPs behind a gap; 0: 60 ms.
	FlushAfter time.Duration
	// Linger keeps the socket open this long after the end, so the last
	// packets (DCN) can be repeated by redundancy; 0: none.
	Linger time.Duration
}

// ErrNoPeer means the session had something to send before any peer
// address was known.
var ErrNoPeer = errors.New("session: no peer address yet")

// Run carries s over conn in real time until the call ends or ctx is
// done. s must use a real-time Clock (NewMonoClock). On ctx cancellation
// the session is told the call dropped. The result is the engine's.
func Run(ctx context.Context, conn net.PacketConn, s *Session, cfg RunConfig) (*t30.Result, error) {
	if cfg.Tick == 0 {
		// Every timer and every paced packet is a session deadline, so
		// this is only a safety net, not a clock.
		cfg.Tick = 500 * time.Millisecond
	}
	if cfg.FlushAfter == 0 {
		cfg.FlushAfter = 60 * time.Millisecond
	}
	snd := udptl.NewSender(cfg.UDPTL)
	version := s.cfg.Version
	rcv := udptl.NewReceiverConfig(udptl.ReceiverConfig{TrimRepaired: func(b []byte) []byte {
		if n, err := ifp.Len(b, version); err == nil {
			return b[:n]
		}
		return b
	}})
	type dgram struct {
		b    []byte
		from net.Addr
	}
	in := make(chan dgram, 64)
	readErr := make(chan error, 1)
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		buf := make([]byte, 65536)
		for {
			// The reader wakes up now and then to notice stop; it moves
			// its own deadline so an expired one never makes it spin.
			_ = conn.SetReadDeadline(time.Now().Add(250 * time.Millisecond))
			n, from, err := conn.ReadFrom(buf)
			if err != nil {
				var ne net.Error
				if errors.As(err, &ne) && ne.Timeout() {
					select {
					case <-stop:
						return
					default:
						continue
					}
				}
				readErr <- err
				return
			}
			select {
			case in <- dgram{append([]byte(nil), buf[:n]...), from}:
			case <-stop:
				return
			}
		}
	}()
	peer := cfg.Peer
	var lastIn time.Time
	var sendErr error
	flush := func() {
		for _, p := range s.Outgoing() {
			d, err := snd.Build(p)
			if err != nil {
				sendErr = fmt.Errorf("session: udptl: %w", err)
				continue
			}
			if peer == nil {
				sendErr = ErrNoPeer
				continue
			}
			if _, err := conn.WriteTo(d, peer); err != nil {
				sendErr = fmt.Errorf("session: send: %w", err)
			}
		}
		if cfg.OnEvent != nil {
			for _, e := range s.Events() {
				cfg.OnEvent(e)
			}
		} else {
			s.Events()
		}
	}
	deliver := func(ds []udptl.Delivered) {
		for _, d := range ds {
			s.Receive(d.Seq, d.IFP)
		}
	}
	s.Start()
	flush()
	timer := time.NewTimer(cfg.Tick)
	defer timer.Stop()
	for !s.Done() {
		wait := cfg.Tick
		if d, ok := s.NextDeadline(); ok {
			wait = min(wait, max(d-s.clock.Now(), 0))
		}
		if rcv.Held() > 0 {
			wait = min(wait, max(cfg.FlushAfter-time.Since(lastIn), 0))
		}
		timer.Reset(wait)
		select {
		case <-ctx.Done():
			s.Hangup()
			flush()
			return s.Result(), ctx.Err()
		case err := <-readErr:
			s.Hangup()
			flush()
			return s.Result(), fmt.Errorf("session: receive: %w", err)
		case d := <-in:
			if peer == nil {
				peer = d.from
			}
			lastIn = time.Now()
			ds, err := rcv.Receive(d.b)
			if err == nil {
				deliver(ds)
			}
		case <-timer.C:
		}
		if rcv.Held() > 0 && time.Since(lastIn) >= cfg.FlushAfter {
			deliver(rcv.Flush())
		}
		s.Tick()
		flush()
	}
	if cfg.Linger > 0 {
		select {
		case <-ctx.Done():
		case <-time.After(cfg.Linger):
		}
	}
	return s.Result(), sendErr
}
