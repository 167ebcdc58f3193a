//go:build linux && (amd64 || arm64)

package session

import (
	"net"
	"net/netip"
	"syscall"
	"unsafe"
)

// rawUDP sends and receives datagrams as raw system calls on the socket of
// a *net.UDPConn, while waiting still goes through the runtime's netpoller
// (RawConn), deadlines included.
//
// Why: every ordinary system call from Go enters the scheduler's syscall
// state, and the first one after a quiet spell wakes the runtime's sysmon
// thread, which then polls every 20 µs until all Ps are idle again. A fax
// call makes one or two calls per packet, tens of times a second, on an
// otherwise idle process, so that was several context switches per packet
// and most of our CPU. sendto and recvfrom on a non-blocking UDP socket
// never block, which is what RawSyscall requires.
type rawUDP struct {
	rc syscall.RawConn
	v6 bool // the socket is AF_INET6 (IPv4 peers as v4-mapped)

	to    netip.AddrPort // the address sa holds
	sa    syscall.RawSockaddrInet6
	salen uintptr

	from    syscall.RawSockaddrAny
	fromlen uint32
}

// newRawUDP returns nil when conn is not a UDP socket it can drive.
func newRawUDP(conn net.PacketConn) *rawUDP {
	uc, ok := conn.(*net.UDPConn)
	if !ok {
		return nil
	}
	rc, err := uc.SyscallConn()
	if err != nil {
		return nil
	}
	var sa syscall.Sockaddr
	var nerr error
	if err := rc.Control(func(fd uintptr) { sa, nerr = syscall.Getsockname(int(fd)) }); err != nil || nerr != nil {
		return nil
	}
	r := &rawUDP{rc: rc}
	switch sa.(type) {
	case *syscall.SockaddrInet4:
	case *syscall.SockaddrInet6:
		r.v6 = true
	default:
		return nil
	}
	return r
}

// recv reads one datagram into b, waiting in the netpoller (subject to the
// conn's read deadline) while there is none.
func (r *rawUDP) recv(b []byte) (int, netip.AddrPort, error) {
	var n int
	var from netip.AddrPort
	var rerr error
	err := r.rc.Read(func(fd uintptr) bool {
		for {
			r.fromlen = syscall.SizeofSockaddrAny
			m, _, e := syscall.RawSyscall6(syscall.SYS_RECVFROM, fd, uintptr(unsafe.Pointer(unsafe.SliceData(b))), uintptr(len(b)),
				0, uintptr(unsafe.Pointer(&r.from)), uintptr(unsafe.Pointer(&r.fromlen)))
			switch e {
			case 0:
				n, from = int(m), sockaddrToAddrPort(&r.from)
				return true
			case syscall.EINTR:
				continue
			case syscall.EAGAIN:
				return false
			}
			rerr = e
			return true
		}
	})
	if err == nil {
		err = rerr
	}
	return n, from, err
}

// send writes b to to as one datagram.
func (r *rawUDP) send(b []byte, to netip.AddrPort) error {
	if to != r.to || r.salen == 0 {
		n, ok := fillSockaddr(&r.sa, to, r.v6)
		if !ok {
			return &net.AddrError{Err: "address family not supported by the socket", Addr: to.String()}
		}
		r.salen, r.to = n, to
	}
	var serr error
	err := r.rc.Write(func(fd uintptr) bool {
		for {
			_, _, e := syscall.RawSyscall6(syscall.SYS_SENDTO, fd, uintptr(unsafe.Pointer(unsafe.SliceData(b))), uintptr(len(b)),
				0, uintptr(unsafe.Pointer(&r.sa)), r.salen)
			switch e {
			case 0:
				return true
			case syscall.EINTR:
				continue
			case syscall.EAGAIN:
				return false // socket buffer full: wait until writable
			}
			serr = e
			return true
		}
	})
	if err == nil {
		err = serr
	}
	return err
}

// fillSockaddr writes to into sa for a socket of the given family and
// returns the length to pass to the kernel; false if the socket cannot
// reach to (IPv6 from an IPv4 socket).
func fillSockaddr(sa *syscall.RawSockaddrInet6, to netip.AddrPort, v6 bool) (uintptr, bool) {
	if !to.IsValid() || (!v6 && !to.Addr().Unmap().Is4()) {
		return 0, false
	}
	*sa = syscall.RawSockaddrInet6{}
	port := (*[2]byte)(unsafe.Pointer(&sa.Port))
	port[0], port[1] = byte(to.Port()>>8), byte(to.Port())
	if !v6 {
		s4 := (*syscall.RawSockaddrInet4)(unsafe.Pointer(sa))
		s4.Family = syscall.AF_INET
		s4.Addr = to.Addr().Unmap().As4()
		return syscall.SizeofSockaddrInet4, true
	}
	sa.Family = syscall.AF_INET6
	sa.Addr = to.Addr().As16() // IPv4 becomes v4-mapped
	return syscall.SizeofSockaddrInet6, true
}

// sockaddrToAddrPort reads a kernel socket address (IPv4-mapped addresses
// are unmapped, as net does).
func sockaddrToAddrPort(sa *syscall.RawSockaddrAny) netip.AddrPort {
	switch sa.Addr.Family {
	case syscall.AF_INET:
		s4 := (*syscall.RawSockaddrInet4)(unsafe.Pointer(sa))
		p := (*[2]byte)(unsafe.Pointer(&s4.Port))
		return netip.AddrPortFrom(netip.AddrFrom4(s4.Addr), uint16(p[0])<<8|uint16(p[1]))
	case syscall.AF_INET6:
		s6 := (*syscall.RawSockaddrInet6)(unsafe.Pointer(sa))
		p := (*[2]byte)(unsafe.Pointer(&s6.Port))
		return netip.AddrPortFrom(netip.AddrFrom16(s6.Addr).Unmap(), uint16(p[0])<<8|uint16(p[1]))
	}
	return netip.AddrPort{}
}
