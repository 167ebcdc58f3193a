package portpool

import (
	"errors"
	"net"
	"testing"
)

func TestAcquireKindsAndRelease(t *testing.T) {
	p, err := New("127.0.0.1", 41000, 41009)
	if err != nil {
		t.Fatal(err)
	}
	var leases []*Lease
	for i := 0; i < 5; i++ {
		l, err := p.Acquire(RTP)
		if err != nil {
			t.Fatalf("rtp %d: %v", i, err)
		}
		if l.Port()%2 != 0 {
			t.Fatalf("RTP port %d is odd", l.Port())
		}
		if got := l.Conn().LocalAddr().(*net.UDPAddr).Port; got != l.Port() {
			t.Fatalf("socket bound to %d, lease says %d", got, l.Port())
		}
		leases = append(leases, l)
	}
	if _, err := p.Acquire(RTP); !errors.Is(err, ErrExhausted) {
		t.Fatalf("sixth RTP lease: err = %v, want ErrExhausted", err)
	}
	u, err := p.Acquire(UDPTL)
	if err != nil {
		t.Fatal(err)
	}
	if u.Port()%2 != 1 {
		t.Fatalf("UDPTL got %d while only odd ports were free", u.Port())
	}
	if p.Leased() != 6 {
		t.Fatalf("leased = %d, want 6", p.Leased())
	}
	for _, l := range leases {
		l.Release()
		l.Release() // double release is harmless
	}
	u.Release()
	if p.Leased() != 0 {
		t.Fatalf("leased after release = %d", p.Leased())
	}
	// The port is really closed: it can be bound again.
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: u.Port()})
	if err != nil {
		t.Fatalf("port %d still bound after Release: %v", u.Port(), err)
	}
	c.Close()
	var nilLease *Lease
	nilLease.Release()
}

func TestSkipsPortsTakenElsewhere(t *testing.T) {
	// Another socket holds an even port the OS picked: the start of a
	// four-port range the pool must then skip.
	var other *net.UDPConn
	for i := 0; i < 100 && other == nil; i++ {
		c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			t.Fatal(err)
		}
		if c.LocalAddr().(*net.UDPAddr).Port%2 == 0 && c.LocalAddr().(*net.UDPAddr).Port <= 65532 {
			other = c
		} else {
			c.Close()
		}
	}
	if other == nil {
		t.Fatal("the OS handed out no even port in 100 tries")
	}
	defer other.Close()
	base := other.LocalAddr().(*net.UDPAddr).Port
	p, err := New("127.0.0.1", base, base+3)
	if err != nil {
		t.Fatal(err)
	}
	l, err := p.Acquire(RTP)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release()
	if l.Port() != base+2 {
		t.Fatalf("got %d, want %d (%d is taken by another socket)", l.Port(), base+2, base)
	}
	if _, err := p.Acquire(RTP); !errors.Is(err, ErrExhausted) {
		t.Fatalf("err = %v, want ErrExhausted", err)
	}
}

func TestNewRejectsBadRange(t *testing.T) {
	for _, c := range []struct{ min, max int }{{100, 200}, {5000, 4000}, {60000, 70000}} {
		if _, err := New("127.0.0.1", c.min, c.max); err == nil {
			t.Errorf("New(%d,%d) accepted", c.min, c.max)
		}
	}
	if _, err := New("nonsense", 5000, 5001); err == nil {
		t.Error("bad bind address accepted")
	}
}

func BenchmarkAcquireRelease(b *testing.B) {
	p, err := New("127.0.0.1", 42000, 42999)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		l, err := p.Acquire(UDPTL)
		if err != nil {
			b.Fatal(err)
		}
		l.Release()
	}
}
