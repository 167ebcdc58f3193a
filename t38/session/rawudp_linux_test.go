//go:build linux && (amd64 || arm64)

package session

import (
	"net/netip"
	"syscall"
	"testing"
	"unsafe"
)

func TestSockaddr(t *testing.T) {
	for _, c := range []struct {
		to      string
		v6      bool
		ok      bool
		n       uintptr
		wantRaw []byte // the first octets the kernel reads
	}{
		{"127.0.0.1:4660", false, true, syscall.SizeofSockaddrInet4, []byte{syscall.AF_INET, 0, 0x12, 0x34, 127, 0, 0, 1}},
		{"127.0.0.1:4660", true, true, syscall.SizeofSockaddrInet6, []byte{syscall.AF_INET6, 0, 0x12, 0x34, 0, 0, 0, 0,
			0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 127, 0, 0, 1}},
		{"[2001:db8::1]:5060", true, true, syscall.SizeofSockaddrInet6, []byte{syscall.AF_INET6, 0, 0x13, 0xc4, 0, 0, 0, 0,
			0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}},
		{"[2001:db8::1]:5060", false, false, 0, nil},
	} {
		to := netip.MustParseAddrPort(c.to)
		var sa syscall.RawSockaddrInet6
		n, ok := fillSockaddr(&sa, to, c.v6)
		if ok != c.ok || n != c.n {
			t.Errorf("%s v6=%v: %d %v, want %d %v", c.to, c.v6, n, ok, c.n, c.ok)
			continue
		}
		if !ok {
			continue
		}
		raw := unsafe.Slice((*byte)(unsafe.Pointer(&sa)), len(c.wantRaw))
		if string(raw) != string(c.wantRaw) {
			t.Errorf("%s v6=%v: % x, want % x", c.to, c.v6, raw, c.wantRaw)
		}
		var any syscall.RawSockaddrAny
		copy(unsafe.Slice((*byte)(unsafe.Pointer(&any)), n), unsafe.Slice((*byte)(unsafe.Pointer(&sa)), n))
		if got := sockaddrToAddrPort(&any); got != to {
			t.Errorf("%s v6=%v: read back %v", c.to, c.v6, got)
		}
	}
	var sa syscall.RawSockaddrInet6
	if _, ok := fillSockaddr(&sa, netip.AddrPort{}, true); ok {
		t.Error("the zero address was accepted")
	}
}
