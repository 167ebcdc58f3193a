package interop

import (
	"context"
	"net"
	"net/netip"
	"time"

	"github.com/faxd/faxd/t38/bilevel"
	"github.com/faxd/faxd/t38/session"
	"github.com/faxd/faxd/t38/t30"
	"github.com/faxd/faxd/t38/udptl"
)

// Our side of a call: t38/session on its real-time UDP driver
// (session.Run), configured the way the SIP channels configure it from SDP.

// ourOptions configure our terminal for one call.
type ourOptions struct {
	Calling     bool
	Pages       []*bilevel.Image `json:"-"` // to send; nil to receive
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
	// Call is the wire time: start to the engine's end of the call (DCN
	// sent or received), as spandsp's call_ms runs to phase E; the linger
	// after it is not counted.
	Call time.Duration
}

// listenUDP opens our socket on loopback.
func listenUDP() (*net.UDPConn, error) {
	return net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
}

// runOurs runs our terminal on conn against remote (the zero AddrPort:
// whoever sends first) until the call ends.
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
	uc := udptl.Config{FarMaxDatagram: maxDG}
	switch ec {
	case udptl.ECRedundancy:
		uc.Redundancy = entries
	case udptl.ECFEC:
		uc.FEC, uc.FECSpan, uc.FECEntries = true, udptl.DefaultFECSpan, max(entries, 1)
	}
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
	ses, err := session.New(session.Config{T30: cfg, Version: o.Version, MaxIFP: maxIFP}, session.NewMonoClock())
	if err != nil {
		return out, err
	}
	var peer net.Addr // unknown: learnt from the first datagram
	if remote.IsValid() {
		peer = net.UDPAddrFromAddrPort(remote)
	}
	res, err := session.Run(ctx, conn, ses, session.RunConfig{
		Peer:   peer,
		UDPTL:  uc,
		Linger: 500 * time.Millisecond, // as the peer does: let the DCN's repeats leave
		OnEvent: func(ev t30.Output) {
			switch ev.Kind {
			case t30.OutDone:
				out.Call = time.Since(start)
			case t30.OutPageSent:
				out.Sent = append(out.Sent, *ev.Stats)
			case t30.OutPageReceived:
				out.Received = append(out.Received, ev.Received)
			}
		},
	})
	out.Result = res
	out.Wire = ses.Stats()
	if out.Call == 0 {
		out.Call = time.Since(start)
	}
	return out, err
}
