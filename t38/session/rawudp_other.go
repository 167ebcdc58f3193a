//go:build !(linux && (amd64 || arm64))

package session

import (
	"net"
	"net/netip"
	"time"
)

// rawUDP exists only on Linux (rawudp_linux.go); elsewhere Run uses the
// net package's calls.
type rawUDP struct{}

func newRawUDP(net.PacketConn) *rawUDP { return nil }

func (*rawUDP) recv([]byte) (int, netip.AddrPort, error) { panic("session: no raw UDP") }

func (*rawUDP) send([]byte, netip.AddrPort) error { panic("session: no raw UDP") }

type timerPoll struct{}

func newTimerPoll(*rawUDP) *timerPoll { return nil }

func (*timerPoll) close() {}

func (*timerPoll) arm(time.Time) error { panic("session: no timer poll") }

func (*timerPoll) wait() (sock, timer bool, err error) { panic("session: no timer poll") }

func (*rawUDP) recvNow([]byte) (int, netip.AddrPort, bool, error) { panic("session: no raw UDP") }

func (*timerPoll) interrupt() {}

func (*timerPoll) clearTimer() {}

func (*rawUDP) alive() error { panic("session: no raw UDP") }
