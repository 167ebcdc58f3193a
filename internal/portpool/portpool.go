// Package portpool hands out UDP sockets for RTP and UDPTL media from a
// configured port range, so a node's media ports stay inside the range the
// firewall opens and every port comes back when its call ends.
package portpool

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
)

// Kind says which ports a lease may take.
type Kind int

const (
	// RTP takes even ports only (RFC 3550 §11: RTP on an even port, RTCP on
	// the next odd one, which the pool then leaves unused).
	RTP Kind = iota
	// UDPTL takes any free port.
	UDPTL
)

func (k Kind) String() string {
	if k == RTP {
		return "rtp"
	}
	return "udptl"
}

// ErrExhausted means every port of the kind asked for is leased or could
// not be bound.
var ErrExhausted = errors.New("portpool: no free port")

// Pool is a range of UDP ports bound on one local address. It is safe for
// concurrent use.
type Pool struct {
	addr     netip.Addr
	min, max int

	mu     sync.Mutex
	inUse  []bool // index port-min
	cursor int    // next index to try, so ports rotate and a port just freed is not reused at once
	leased int
}

// New returns a pool of the ports min..max (inclusive) on the local address
// bind (for example "0.0.0.0" or "127.0.0.1").
func New(bind string, min, max int) (*Pool, error) {
	addr, err := netip.ParseAddr(bind)
	if err != nil {
		return nil, fmt.Errorf("portpool: bind address %q: %w", bind, err)
	}
	if min < 1024 || max > 65535 || min > max {
		return nil, fmt.Errorf("portpool: bad range %d-%d (need 1024 <= min <= max <= 65535)", min, max)
	}
	return &Pool{addr: addr, min: min, max: max, inUse: make([]bool, max-min+1)}, nil
}

// Addr is the local address the pool binds.
func (p *Pool) Addr() netip.Addr { return p.addr }

// Size is the number of ports in the range.
func (p *Pool) Size() int { return p.max - p.min + 1 }

// Leased is the number of ports currently leased.
func (p *Pool) Leased() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.leased
}

// Acquire binds a free port of the given kind and returns its lease. A port
// that is free in the pool but taken by another process is skipped.
func (p *Pool) Acquire(kind Kind) (*Lease, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := len(p.inUse)
	var lastErr error
	for i := 0; i < n; i++ {
		idx := (p.cursor + i) % n
		port := p.min + idx
		if p.inUse[idx] || (kind == RTP && port%2 != 0) {
			continue
		}
		conn, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(p.addr, uint16(port))))
		if err != nil {
			lastErr = err
			continue
		}
		p.inUse[idx] = true
		p.leased++
		p.cursor = (idx + 1) % n
		return &Lease{pool: p, port: port, conn: conn}, nil
	}
	if lastErr != nil {
		return nil, fmt.Errorf("%w for %s in %d-%d (last bind error: %v)", ErrExhausted, kind, p.min, p.max, lastErr)
	}
	return nil, fmt.Errorf("%w for %s in %d-%d", ErrExhausted, kind, p.min, p.max)
}

func (p *Pool) put(port int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	idx := port - p.min
	if p.inUse[idx] {
		p.inUse[idx] = false
		p.leased--
	}
}

// Lease is one bound port. Release closes the socket and returns the port;
// it is safe to call more than once and from a defer on every exit path.
type Lease struct {
	pool *Pool
	port int
	conn *net.UDPConn
	once sync.Once
}

// Port is the leased port number.
func (l *Lease) Port() int { return l.port }

// Conn is the bound socket. It is closed by Release.
func (l *Lease) Conn() *net.UDPConn { return l.conn }

// Release closes the socket and gives the port back. Nil-safe and idempotent.
func (l *Lease) Release() {
	if l == nil {
		return
	}
	l.once.Do(func() {
		_ = l.conn.Close()
		l.pool.put(l.port)
	})
}
