//go:build linux && (amd64 || arm64)

package session

import (
	"net"
	"net/netip"
	"os"
	"syscall"
	"time"
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

// recvNow reads one datagram into b if there is one; ok is false when the
// socket has none (a spurious wake-up).
func (r *rawUDP) recvNow(b []byte) (n int, from netip.AddrPort, ok bool, err error) {
	var rerr error
	err = r.rc.Read(func(fd uintptr) bool {
		for {
			r.fromlen = syscall.SizeofSockaddrAny
			m, _, e := syscall.RawSyscall6(syscall.SYS_RECVFROM, fd, uintptr(unsafe.Pointer(unsafe.SliceData(b))), uintptr(len(b)),
				0, uintptr(unsafe.Pointer(&r.from)), uintptr(unsafe.Pointer(&r.fromlen)))
			switch e {
			case 0:
				n, from, ok = int(m), sockaddrToAddrPort(&r.from), true
			case syscall.EINTR:
				continue
			case syscall.EAGAIN:
			default:
				rerr = e
			}
			return true // never wait here: the caller waits in its epoll
		}
	})
	if err == nil {
		err = rerr
	}
	return n, from, ok, err
}

// timerPoll waits for a datagram or a deadline in one epoll set of its own
// (the socket and a timerfd), itself waited on in the runtime's netpoller.
//
// Why: a goroutine woken by a runtime timer (a read deadline, time.Timer)
// is made runnable from the scheduler, which also wakes a second thread to
// look for work that is not there: about three context switches per
// wake-up against one for a wake-up by I/O. A sending terminal wakes for
// every paced packet, so the deadline comes from the kernel as I/O instead.
type timerPoll struct {
	ep     *os.File // the epoll descriptor, in the netpoller
	eprc   syscall.RawConn
	tfd    int
	sockfd int32
	evs    [4]syscall.EpollEvent
	its    [4]int64 // struct itimerspec: interval, value
}

// newTimerPoll returns nil if any step fails; Run then waits with read
// deadlines instead.
func newTimerPoll(r *rawUDP) *timerPoll {
	var sockfd int
	if err := r.rc.Control(func(fd uintptr) { sockfd = int(fd) }); err != nil {
		return nil
	}
	ep, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return nil
	}
	const clockMonotonic, tfdNonblock, tfdCloexec = 1, syscall.O_NONBLOCK, syscall.O_CLOEXEC
	tfd, _, e := syscall.RawSyscall(syscall.SYS_TIMERFD_CREATE, clockMonotonic, tfdNonblock|tfdCloexec, 0)
	if e != 0 {
		syscall.Close(ep)
		return nil
	}
	t := &timerPoll{tfd: int(tfd), sockfd: int32(sockfd)}
	fail := func() *timerPoll {
		syscall.Close(t.tfd)
		syscall.Close(ep)
		return nil
	}
	for _, fd := range []int{sockfd, t.tfd} {
		ev := syscall.EpollEvent{Events: syscall.EPOLLIN, Fd: int32(fd)}
		if syscall.EpollCtl(ep, syscall.EPOLL_CTL_ADD, fd, &ev) != nil {
			return fail()
		}
	}
	if syscall.SetNonblock(ep, true) != nil {
		return fail()
	}
	t.ep = os.NewFile(uintptr(ep), "session-epoll")
	if t.eprc, err = t.ep.SyscallConn(); err != nil {
		syscall.Close(t.tfd)
		t.ep.Close()
		return nil
	}
	return t
}

// close releases the epoll set and the timer (not the socket).
func (t *timerPoll) close() {
	syscall.Close(t.tfd)
	t.ep.Close()
}

// arm sets the timer to fire at wake (at once if that has passed).
func (t *timerPoll) arm(wake time.Time) error {
	d := max(time.Until(wake), time.Nanosecond) // zero would disarm
	t.its = [4]int64{0, 0, int64(d / time.Second), int64(d % time.Second)}
	_, _, e := syscall.RawSyscall6(syscall.SYS_TIMERFD_SETTIME, uintptr(t.tfd), 0, uintptr(unsafe.Pointer(&t.its)), 0, 0, 0)
	if e != 0 {
		return e
	}
	return nil
}

// wait blocks until the socket is readable or the timer has fired. A read
// deadline on t.ep ends the wait with os.ErrDeadlineExceeded (Run's
// cancellation). The timer stays readable until clearTimer or arm.
func (t *timerPoll) wait() (sock, timer bool, err error) {
	err = t.eprc.Read(func(fd uintptr) bool {
		n, _, e := syscall.RawSyscall6(syscall.SYS_EPOLL_PWAIT, fd, uintptr(unsafe.Pointer(&t.evs[0])), uintptr(len(t.evs)), 0, 0, 0)
		if e != 0 || n == 0 {
			return false // EINTR or nothing ready: wait in the netpoller
		}
		for _, ev := range t.evs[:n] {
			switch ev.Fd {
			case t.sockfd:
				sock = true
			case int32(t.tfd):
				timer = true
			}
		}
		return true
	})
	return sock, timer, err
}

// clearTimer consumes a fired timer.
func (t *timerPoll) clearTimer() {
	var buf [8]byte
	syscall.RawSyscall(syscall.SYS_READ, uintptr(t.tfd), uintptr(unsafe.Pointer(&buf[0])), 8)
}

// interrupt ends a wait in progress, and every later one, at once.
func (t *timerPoll) interrupt() { _ = t.ep.SetReadDeadline(time.Unix(1, 0)) }

// alive reports an error once the socket is closed, without a system call.
func (r *rawUDP) alive() error { return r.rc.Control(func(uintptr) {}) }
