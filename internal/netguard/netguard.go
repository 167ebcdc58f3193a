// Package netguard holds the policy for URLs that faxd calls on behalf of
// others (submitters' callback_url, inbound-rule webhooks, administrators'
// webhooks): http or https only, and never an address inside the server's
// own networks (loopback, private, link-local, unique-local, CGNAT,
// multicast, unspecified, reserved) unless the operator allows it.
//
// The address is checked where it is dialled, in the net.Dialer's Control
// hook, after name resolution: a host name that resolves (or later
// re-resolves, DNS rebinding) to 127.0.0.1 is refused as surely as the
// literal. CheckURL refuses what can be told from the URL alone, so a
// request naming a refused literal is turned away when it is made.
package netguard

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"syscall"
)

// ErrRefused is wrapped by every refusal.
var ErrRefused = errors.New("address refused")

// RefusedError says which address was refused and why.
type RefusedError struct {
	Addr  netip.Addr
	Class string // "loopback", "private", ...
	Key   string // the allow-list's configuration key, for the hint
}

func (e *RefusedError) Error() string {
	hint := ""
	if e.Key != "" {
		hint = "; list it in " + e.Key + " to allow it"
	}
	return fmt.Sprintf("%s is a %s address: faxd does not call it%s", e.Addr, e.Class, hint)
}

func (e *RefusedError) Unwrap() error { return ErrRefused }

// refused are the ranges no outbound call may reach unless allowed.
// CGNAT (100.64/10) is among them: behind a carrier or cloud NAT it is
// the provider's internal network, not the internet.
var refused = []struct {
	class string
	nets  []netip.Prefix
}{
	{"loopback", prefixes("127.0.0.0/8", "::1/128")},
	{"unspecified", prefixes("0.0.0.0/8", "::/128")},
	{"private", prefixes("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16")},
	{"shared (CGNAT)", prefixes("100.64.0.0/10")},
	{"link-local", prefixes("169.254.0.0/16", "fe80::/10")},
	{"unique-local", prefixes("fc00::/7")},
	{"multicast", prefixes("224.0.0.0/4", "ff00::/8")},
	{"reserved", prefixes("240.0.0.0/4", "192.0.0.0/24", "198.18.0.0/15")},
}

func prefixes(ss ...string) []netip.Prefix {
	out := make([]netip.Prefix, len(ss))
	for i, s := range ss {
		out[i] = netip.MustParsePrefix(s)
	}
	return out
}

// nat64 carries an IPv4 address in its last 32 bits (RFC 6052).
var nat64 = netip.MustParsePrefix("64:ff9b::/96")

// Policy decides which addresses outbound calls may reach. The zero value
// refuses every internal address and allows nothing extra.
type Policy struct {
	nets  []netip.Prefix
	hosts map[string]bool
	key   string
}

// New builds a Policy. Each allow entry is a CIDR (10.1.0.0/16), an
// address (192.168.1.5, ::1) or a host name (hooks.internal.example),
// which allows whatever that name resolves to. key names the allow-list
// in error messages.
func New(allow []string, key string) (*Policy, error) {
	p := &Policy{hosts: map[string]bool{}, key: key}
	var errs []error
	for i, a := range allow {
		a = strings.TrimSpace(a)
		if pfx, err := netip.ParsePrefix(a); err == nil {
			p.nets = append(p.nets, pfx.Masked())
			continue
		}
		if ip, err := netip.ParseAddr(a); err == nil {
			p.nets = append(p.nets, netip.PrefixFrom(ip.Unmap(), ip.Unmap().BitLen()))
			continue
		}
		if !validHost(a) {
			errs = append(errs, fmt.Errorf("%s[%d]: %q is not a CIDR, an IP address or a host name", key, i, a))
			continue
		}
		p.hosts[normHost(a)] = true
	}
	return p, errors.Join(errs...)
}

func validHost(h string) bool {
	if h == "" || len(h) > 253 || strings.Contains(h, "/") {
		return false
	}
	for _, r := range h {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '.' || r == '_') {
			return false
		}
	}
	return true
}

func normHost(h string) string { return strings.TrimSuffix(strings.ToLower(h), ".") }

// CheckAddr reports whether ip may be called when the URL named host.
func (p *Policy) CheckAddr(host string, ip netip.Addr) error {
	if p != nil && p.hosts[normHost(host)] {
		return nil
	}
	ip = ip.Unmap().WithZone("")
	if p != nil {
		for _, n := range p.nets {
			if n.Contains(ip) {
				return nil
			}
		}
	}
	check := ip
	if nat64.Contains(ip) {
		b := ip.As16()
		check = netip.AddrFrom4([4]byte(b[12:]))
	}
	for _, r := range refused {
		for _, n := range r.nets {
			if n.Contains(check) {
				key := ""
				if p != nil {
					key = p.key
				}
				return &RefusedError{Addr: ip, Class: r.class, Key: key}
			}
		}
	}
	return nil
}

// CheckURL refuses what the URL itself shows: a scheme other than http or
// https, no host, credentials in the URL, or a literal address the policy
// refuses. Host names pass here; the dial checks what they resolve to.
func (p *Policy) CheckURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Opaque != "" {
		return fmt.Errorf("%q is not an absolute http or https URL", s)
	}
	if u.User != nil {
		return fmt.Errorf("%q: credentials do not belong in the URL", s)
	}
	host := u.Hostname()
	if host == "" {
		return fmt.Errorf("%q has no host", s)
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		return p.CheckAddr(host, ip)
	}
	if ip, ok := legacyIPv4(host); ok {
		// 2130706433 or 0x7f.1 reach 127.0.0.1 through some resolvers.
		return p.CheckAddr(host, ip)
	}
	return nil
}

// legacyIPv4 parses the inet_aton forms (decimal, octal, hex, fewer than
// four parts) that netip refuses but C resolvers accept.
func legacyIPv4(h string) (netip.Addr, bool) {
	parts := strings.Split(h, ".")
	if len(parts) > 4 {
		return netip.Addr{}, false
	}
	var vals []uint64
	for _, s := range parts {
		// Base 0 reads 0x.. as hex and a leading 0 as octal, like inet_aton.
		v, err := strconv.ParseUint(s, 0, 32)
		if err != nil {
			return netip.Addr{}, false
		}
		vals = append(vals, v)
	}
	var n uint64
	switch len(vals) {
	case 1:
		n = vals[0]
	case 2:
		n = vals[0]<<24 | vals[1]
	case 3:
		n = vals[0]<<24 | vals[1]<<16 | vals[2]
	case 4:
		n = vals[0]<<24 | vals[1]<<16 | vals[2]<<8 | vals[3]
	}
	if n > 0xffffffff {
		return netip.Addr{}, false
	}
	return netip.AddrFrom4([4]byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)}), true
}

// DialContext wraps d so that every connection it makes is checked,
// address by address, just before connect(2): what was resolved is what
// is checked. host is taken from the address being dialled; use it as an
// http.Transport's DialContext (with no proxy, or the proxy is what gets
// checked).
func (p *Policy) DialContext(d *net.Dialer) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		host, _, err := net.SplitHostPort(addr)
		if err != nil {
			return nil, err
		}
		dd := *d
		prev := d.Control
		dd.Control = func(network, address string, c syscall.RawConn) error {
			ap, err := netip.ParseAddrPort(address)
			if err != nil {
				return fmt.Errorf("netguard: %q: %w", address, err)
			}
			if err := p.CheckAddr(host, ap.Addr()); err != nil {
				return err
			}
			if prev != nil {
				return prev(network, address, c)
			}
			return nil
		}
		dd.ControlContext = nil
		return dd.DialContext(ctx, network, addr)
	}
}
