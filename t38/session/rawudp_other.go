//go:build !(linux && (amd64 || arm64))

package session

import (
	"net"
	"net/netip"
)

// rawUDP exists only on Linux (rawudp_linux.go); elsewhere Run uses the
// net package's calls.
type rawUDP struct{}

func newRawUDP(net.PacketConn) *rawUDP { return nil }

func (*rawUDP) recv([]byte) (int, netip.AddrPort, error) { panic("session: no raw UDP") }

func (*rawUDP) send([]byte, netip.AddrPort) error { panic("session: no raw UDP") }
