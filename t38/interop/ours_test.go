package interop

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"syscall"
	"time"

	"github.com/faxd/faxd/t38/bilevel"
	"github.com/faxd/faxd/t38/ifp"
	"github.com/faxd/faxd/t38/session"
	"github.com/faxd/faxd/t38/t30"
	"github.com/faxd/faxd/t38/udptl"
)

// This file drives our own stack (t38/session over t38/udptl) on a real UDP
// socket in real time. It is a stand-in: t38/session has no real-time UDP
// driver yet; when it gets one, the matrix should run through that instead.

// ourOptions configure our terminal for one call.
type ourOptions struct {
	Calling     bool
	Pages       []*bilevel.Image // to send; nil to receive
	Ident       string
	Version     int
	ECM         bool
	Codings     t30.Codings
	Redundancy  int
	FEC         bool
	MaxDatagram int // the far end's T38FaxMaxDatagram; 0: 400
}

// ourResult is what our terminal reported.
type ourResult struct {
	Result   *t30.Result
	Sent     []t30.PageStats
	Received []*t30.ReceivedPage
	Wire     session.Stats
	UDPTL    udptl.Stats
	Call     time.Duration // start to the end of the call
	CPU      time.Duration // process CPU over the call (meaningful only when it runs alone)
}

type monoClock struct{ t0 time.Time }

func (c monoClock) Now() time.Duration { return time.Since(c.t0) }

// gapFlush is how long the receiver waits for a datagram to fill a gap
// before giving it up (the simulation uses the same value).
const gapFlush = 60 * time.Millisecond

// listenUDP opens our socket on loopback.
func listenUDP() (*net.UDPConn, error) {
	return net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
}

// runOurs runs our terminal on conn against remote until the call ends.
// It owns conn and closes it.
func runOurs(ctx context.Context, conn *net.UDPConn, remote netip.AddrPort, o ourOptions) (ourResult, error) {
	defer conn.Close()
	var out ourResult
	maxDG := o.MaxDatagram
	if maxDG == 0 {
		maxDG = 400
	}
	ec := udptl.ECRedundancy
	if o.FEC {
		ec = udptl.ECFEC
	} else if o.Redundancy == 0 {
		ec = udptl.ECNone
	}
	maxIFP, entries := udptl.FarMaxIFP(maxDG, ec, o.Redundancy)
	cfg := t30.Config{
		Calling: o.Calling, Transmit: o.Pages != nil, Ident: o.Ident,
		ECM: o.ECM, Codings: o.Codings, Fine: true, Superfine: true,
	}
	if o.Pages != nil {
		cfg.Pages = t30.ImagePages(o.Pages)
	} else {
		cfg.Decoder = t30.T4Decoder{}
	}
	start := time.Now()
	cpu0 := processCPU()
	ses, err := session.New(session.Config{T30: cfg, Version: o.Version, MaxIFP: maxIFP}, monoClock{start})
	if err != nil {
		return out, err
	}
	sc := udptl.Config{Redundancy: entries, FarMaxDatagram: maxDG}
	if o.FEC {
		sc = udptl.Config{FEC: true, FECSpan: udptl.DefaultFECSpan, FECEntries: max(entries, 1), FarMaxDatagram: maxDG}
	} else if o.Redundancy == 0 {
		sc.Redundancy = 0
	}
	snd := udptl.NewSender(sc)
	rcv := udptl.NewReceiverConfig(udptl.ReceiverConfig{TrimRepaired: func(b []byte) []byte {
		if n, err := ifp.Len(b, o.Version); err == nil {
			return b[:n]
		}
		return b
	}})

	in := make(chan []byte, 1024)
	go func() {
		defer close(in)
		buf := make([]byte, 4096)
		for {
			n, err := conn.Read(buf)
			if err != nil {
				return
			}
			in <- append([]byte(nil), buf[:n]...)
		}
	}()

	transmit := func() error {
		for _, p := range ses.Outgoing() {
			d, err := snd.Build(p)
			if err != nil {
				return fmt.Errorf("udptl build: %w", err)
			}
			if _, err := conn.WriteToUDPAddrPort(d, remote); err != nil {
				return err
			}
		}
		return ses.Err()
	}
	deliver := func(ds []udptl.Delivered) {
		for _, d := range ds {
			ses.Receive(d.Seq, d.IFP)
		}
	}
	collect := func() {
		for _, ev := range ses.Events() {
			switch ev.Kind {
			case t30.OutPageSent:
				out.Sent = append(out.Sent, *ev.Stats)
			case t30.OutPageReceived:
				out.Received = append(out.Received, ev.Received)
			}
		}
	}

	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	var lastIn time.Duration
	ses.Start()
	for !ses.Done() {
		if err := transmit(); err != nil {
			return out, err
		}
		collect()
		now := time.Since(start)
		// Wake at the session's next deadline or to give up a held gap; the
		// session is event driven, so no periodic media tick is needed.
		wake := now + time.Minute
		if d, ok := ses.NextDeadline(); ok && d < wake {
			wake = max(d, now)
		}
		if rcv.Held() > 0 && lastIn+gapFlush < wake {
			wake = max(lastIn+gapFlush, now)
		}
		timer.Reset(wake - now)
		select {
		case <-ctx.Done():
			ses.Abort()
			_ = transmit()
			return out, ctx.Err()
		case b, ok := <-in:
			if !ok {
				return out, errors.New("socket closed")
			}
			lastIn = time.Since(start)
			ds, err := rcv.Receive(b)
			if err == nil {
				deliver(ds)
			}
		case <-timer.C:
		}
		if rcv.Held() > 0 && time.Since(start) >= lastIn+gapFlush {
			deliver(rcv.Flush())
		}
		ses.Tick()
	}
	if err := transmit(); err != nil {
		return out, err
	}
	collect()
	out.Result = ses.Result()
	out.Wire = ses.Stats()
	out.UDPTL = rcv.Stats()
	out.Call = time.Since(start)
	out.CPU = processCPU() - cpu0
	return out, nil
}

// processCPU is this process's user+system CPU time.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
