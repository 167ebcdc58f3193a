package session

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"sync/atomic"
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
	// AnySource takes datagrams from any address. By default only the
	// Peer's count (or, without a Peer, those of the first source heard);
	// others are dropped and counted in Stats.Foreign. One exception: if
	// for 10 s nothing came from Peer but another source sent, that
	// source becomes the peer, for sending too (Stats.Latched): a far end
	// behind NAT whose SDP names an address it does not send from.
	AnySource bool
}

// latchAfter is how long Run waits for the peer before it takes another
// source that talks to it as the peer: longer than any far end is silent
// at the start of a call (an answerer sends CED and DIS at once, a caller
// answers DIS within seconds), well inside T1 (35 s).
const latchAfter = 10 * time.Second

// canon makes v4-mapped IPv6 addresses (a dual-stack socket's view of an
// IPv4 peer) compare equal to the IPv4 ones.
func canon(ap netip.AddrPort) netip.AddrPort {
	return netip.AddrPortFrom(ap.Addr().Unmap().WithZone(""), ap.Port())
}

// addrPortOf is a net.Addr's address, if it is a UDP one.
func addrPortOf(a net.Addr) netip.AddrPort {
	if ua, ok := a.(*net.UDPAddr); ok {
		return ua.AddrPort()
	}
	return netip.AddrPort{}
}

// SeqMap remembers which UDPTL sequence number carried each of the last
// packets a session sent, so a driver can send a Repeat under the same
// number (udptl.Sender.AppendRepeat). The zero value is ready.
type SeqMap struct {
	ids  [seqMapSize]uint32
	seqs [seqMapSize]uint16
	set  [seqMapSize]bool
}

const seqMapSize = 16 // as many datagrams as udptl.Sender keeps

// Put records that packet id went out with sequence number seq.
func (m *SeqMap) Put(id uint32, seq uint16) {
	i := id % seqMapSize
	m.ids[i], m.seqs[i], m.set[i] = id, seq, true
}

// Seq is the sequence number packet id went out with, if still known.
func (m *SeqMap) Seq(id uint32) (uint16, bool) {
	i := id % seqMapSize
	if !m.set[i] || m.ids[i] != id {
		return 0, false
	}
	return m.seqs[i], true
}

// ErrNoPeer means the session had something to send before any peer
// address was known.
var ErrNoPeer = errors.New("session: no peer address yet")

// Run carries s over conn in real time until the call ends or ctx is
// done. s must use a real-time Clock (NewMonoClock). On ctx cancellation
// the session is told the call dropped. The result is the engine's; the
// UDPTL counters are in s.Stats() afterwards.
//
// Run is one goroutine: it waits for a datagram or the session's next
// deadline (a due packet or T.30 timer) in one place, with no channel
// hand-off; the deadline is moved only when that instant changes. On Linux
// with a *net.UDPConn it sends and receives with raw system calls and
// waits on an epoll set of its own holding the socket and a timerfd
// (rawudp_linux.go says why); elsewhere it blocks in ReadFrom under a read
// deadline, which Run owns while it runs. Closing conn ends Run within a
// Tick; cancelling ctx ends it at once.
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
	defer func() { s.stats.UDPTL = rcv.Stats() }()

	// On Linux a *net.UDPConn is driven by raw send and receive calls
	// (rawUDP) and the session's deadlines come from a timerfd
	// (timerPoll); otherwise reading into netip.AddrPort at least
	// allocates nothing per datagram.
	udp, _ := conn.(interface {
		ReadFromUDPAddrPort([]byte) (int, netip.AddrPort, error)
	})
	peer := cfg.Peer
	raw := newRawUDP(conn)
	var peerAP netip.AddrPort // peer, for raw
	// want is the only source datagrams are taken from (unless AnySource):
	// the peer given, or the first one heard.
	var want netip.AddrPort
	var (
		heardPeer    bool           // a datagram came from want
		foreign      netip.AddrPort // the first other source, while none did
		foreignAP    netip.AddrPort // the same, as the socket reported it
		foreignSince time.Time
	)
	if ua, ok := peer.(*net.UDPAddr); ok {
		want = canon(ua.AddrPort())
	}
	if raw != nil && peer != nil {
		if ua, ok := peer.(*net.UDPAddr); ok && ua.Zone == "" {
			peerAP = ua.AddrPort()
		} else {
			raw = nil
		}
	}
	var poll *timerPoll
	if raw != nil {
		if poll = newTimerPoll(raw); poll != nil {
			defer poll.close()
		}
	}

	// Cancellation wakes a blocked wait by moving its deadline into the
	// past. The loop checks cancelled after each deadline it sets, so the
	// two cannot undo each other.
	var cancelled atomic.Bool
	stopWake := context.AfterFunc(ctx, func() {
		cancelled.Store(true)
		if poll != nil {
			poll.interrupt()
		} else {
			_ = conn.SetReadDeadline(time.Unix(1, 0))
		}
	})
	defer func() {
		if stopWake() && poll == nil {
			_ = conn.SetReadDeadline(time.Time{})
		}
	}()
	// readPoll waits in timerPoll: a datagram, or os.ErrDeadlineExceeded
	// when the timer fired.
	readPoll := func(buf []byte) (int, netip.AddrPort, error) {
		for {
			sock, timer, err := poll.wait()
			if err != nil {
				return 0, netip.AddrPort{}, err
			}
			if sock {
				if n, ap, ok, err := raw.recvNow(buf); ok || err != nil {
					return n, ap, err
				}
			}
			if timer {
				poll.clearTimer()
				// A closed socket leaves the epoll set without an
				// event: notice it here.
				if err := raw.alive(); err != nil {
					return 0, netip.AddrPort{}, err
				}
				return 0, netip.AddrPort{}, os.ErrDeadlineExceeded
			}
		}
	}

	// base turns session time into wall-clock instants, so a deadline that
	// has not changed maps to the same instant and is not set again.
	base := time.Now().Add(-s.clock.Now())
	if mc, ok := s.clock.(*MonoClock); ok {
		base = mc.start
	}

	var (
		lastIn  time.Time
		sendErr error
		dgram   []byte // reused: WriteTo copies it out
		setAt   time.Time
		tickAt  = time.Now().Add(cfg.Tick)
		buf     = make([]byte, 65536)
	)
	var seqs SeqMap
	send := func(p Packet) {
		var d []byte
		var err error
		if p.Repeat {
			seq, ok := seqs.Seq(p.ID)
			if !ok {
				return // the original was never sent
			}
			d, err = snd.AppendRepeat(dgram[:0], seq)
		} else {
			seqs.Put(p.ID, snd.Seq())
			d, err = snd.AppendBuild(dgram[:0], p.IFP)
		}
		if err != nil {
			sendErr = fmt.Errorf("session: udptl: %w", err)
			return
		}
		dgram = d
		if peer == nil {
			sendErr = ErrNoPeer
			return
		}
		if raw != nil {
			err = raw.send(d, peerAP)
		} else {
			_, err = conn.WriteTo(d, peer)
		}
		if err != nil {
			sendErr = fmt.Errorf("session: send: %w", err)
			return
		}
		s.stats.DatagramsOut++
	}
	flush := func() {
		s.DrainOutgoing(send)
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
	hangup := func(err error) (*t30.Result, error) {
		s.Hangup()
		flush()
		return s.Result(), err
	}
	s.Start()
	flush()
	for !s.Done() {
		wake := tickAt
		if d, ok := s.NextDeadline(); ok {
			if t := base.Add(d); t.Before(wake) {
				wake = t
			}
		}
		if rcv.Held() > 0 {
			if t := lastIn.Add(cfg.FlushAfter); t.Before(wake) {
				wake = t
			}
		}
		if !wake.Equal(setAt) {
			if poll != nil {
				if err := poll.arm(wake); err != nil {
					return hangup(fmt.Errorf("session: timer: %w", err))
				}
			} else {
				_ = conn.SetReadDeadline(wake)
			}
			setAt = wake
		}
		if cancelled.Load() {
			return hangup(ctx.Err())
		}
		var (
			n    int
			from net.Addr
			ap   netip.AddrPort
			err  error
		)
		switch {
		case poll != nil:
			n, ap, err = readPoll(buf)
		case raw != nil:
			n, ap, err = raw.recv(buf)
		case udp != nil:
			n, ap, err = udp.ReadFromUDPAddrPort(buf)
		default:
			n, from, err = conn.ReadFrom(buf)
		}
		now := time.Now()
		switch {
		case err == nil:
			if raw == nil && udp == nil {
				ap = addrPortOf(from)
			}
			if peer == nil {
				if raw != nil || udp != nil {
					from = net.UDPAddrFromAddrPort(ap)
				}
				peer, peerAP = from, ap
				want = canon(ap)
			}
			if c := canon(ap); !cfg.AnySource && want.IsValid() && c != want {
				// Someone else's datagrams: typically the far end of an
				// earlier call on this port (after a restart) still
				// sending. Its frames (a DCN, a DIS) would be taken as
				// this call's.
				s.stats.Foreign++
				if !heardPeer && !foreign.IsValid() {
					foreign, foreignAP, foreignSince = c, ap, now
				}
				break
			}
			heardPeer = true
			lastIn = now
			if ds, err := rcv.Receive(buf[:n]); err == nil {
				deliver(ds)
			}
		case errors.Is(err, os.ErrDeadlineExceeded):
			if cancelled.Load() {
				return hangup(ctx.Err())
			}
			if !now.Before(tickAt) {
				tickAt = now.Add(cfg.Tick)
			}
			// A fired timerfd stays quiet until armed again: arm it even
			// if the next wake-up is the same instant, so nothing can
			// stall.
			setAt = time.Time{}
		default:
			if cancelled.Load() {
				return hangup(ctx.Err())
			}
			return hangup(fmt.Errorf("session: receive: %w", err))
		}
		if !heardPeer && foreign.IsValid() && now.Sub(foreignSince) >= latchAfter {
			// Nothing from the peer in all this time, but someone else
			// talks to us: a far end behind NAT whose SDP names an address
			// it does not send from. Take that source as the peer and
			// answer there.
			want, heardPeer = foreign, true
			peer, peerAP = net.UDPAddrFromAddrPort(foreignAP), foreignAP
			s.stats.Latched = true
		}
		if rcv.Held() > 0 && now.Sub(lastIn) >= cfg.FlushAfter {
			deliver(rcv.Flush())
		}
		s.Tick()
		flush()
	}
	if cfg.Linger > 0 {
		t := time.NewTimer(cfg.Linger)
		defer t.Stop()
		select {
		case <-ctx.Done():
		case <-t.C:
		}
	}
	return s.Result(), sendErr
}
