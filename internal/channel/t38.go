package channel

import (
	"net"
	"time"

	"github.com/faxd/faxd/internal/sip"
	"github.com/faxd/faxd/t38/sdp"
	"github.com/faxd/faxd/t38/session"
	"github.com/faxd/faxd/t38/t30"
	"github.com/faxd/faxd/t38/udptl"
)

// redundancyEntries is how many earlier IFPs ride along in each datagram
// when the far end agreed to redundancy (three is what gateways commonly
// use; FarMaxIFP lowers it when the far end's datagrams are small).
const redundancyEntries = 3

// linger keeps the socket open after our last packet so that redundancy
// can repeat the final DCN before the BYE.
const linger = 300 * time.Millisecond

// Terminal builds the T.38 session and the driver configuration for a
// call whose media is m, from the far end's agreed parameters (version,
// error correction, its receive limits). The channels use it, and so do
// the end-to-end tests that run our stack against other terminals.
func Terminal(m sip.Media, cfg t30.Config) (*session.Session, session.RunConfig, error) {
	p := m.Params
	ec := udptl.ECNone
	switch p.UDPEC {
	case sdp.ECRedundancy:
		ec = udptl.ECRedundancy
	case sdp.ECFEC:
		ec = udptl.ECFEC
	}
	dgram := p.MaxDatagram
	if dgram == 0 {
		dgram = 400 // absent: what most gateways accept
	}
	maxIFP, entries := udptl.FarMaxIFP(dgram, ec, redundancyEntries)
	uc := udptl.Config{FarMaxDatagram: dgram}
	switch ec {
	case udptl.ECRedundancy:
		uc.Redundancy = entries
	case udptl.ECFEC:
		uc.FEC, uc.FECSpan, uc.FECEntries = true, udptl.DefaultFECSpan, max(entries, 1)
	}
	cfg.T38 = true
	s, err := session.New(session.Config{T30: cfg, Version: p.Version, MaxIFP: maxIFP, MaxBuffer: p.MaxBuffer}, session.NewMonoClock())
	if err != nil {
		return nil, session.RunConfig{}, err
	}
	return s, session.RunConfig{Peer: net.UDPAddrFromAddrPort(m.Remote), UDPTL: uc, Linger: linger}, nil
}
