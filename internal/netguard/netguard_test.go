package netguard

import (
	"errors"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestCheckURL(t *testing.T) {
	p, err := New([]string{"10.9.0.0/16", "192.168.7.7", "hooks.internal.example"}, "notify.outbound_allow")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		url   string
		class string // "" allowed; "bad" not a URL; else the refused class
	}{
		{"https://hooks.example.com/fax", ""},
		{"http://93.184.215.14:8080/x", ""},
		{"http://[2606:2800:21f:cb07:6820:80da:af6b:8b2c]/", ""},
		{"http://localhost:8080/", ""}, // a name: checked when dialled
		{"http://127.0.0.1:8080/", "loopback"},
		{"http://127.1.2.3/", "loopback"},
		{"http://[::1]:9000/", "loopback"},
		{"http://[::ffff:127.0.0.1]/", "loopback"},
		{"http://2130706433/", "loopback"},
		{"http://0x7f.1/", "loopback"},
		{"http://0177.0.0.1/", "loopback"},
		{"http://169.254.169.254/latest/meta-data/", "link-local"},
		{"http://[fe80::1%25eth0]/", "link-local"},
		{"http://10.0.0.5/", "private"},
		{"http://172.16.3.4/", "private"},
		{"http://192.168.1.1/", "private"},
		{"http://100.64.0.1/", "shared (CGNAT)"},
		{"http://[fd00::1]/", "unique-local"},
		{"http://224.0.0.1/", "multicast"},
		{"http://[ff02::1]/", "multicast"},
		{"http://0.0.0.0:80/", "unspecified"},
		{"http://[::]/", "unspecified"},
		{"http://[64:ff9b::7f00:1]/", "loopback"},
		{"http://10.9.3.4/", ""},       // allowed CIDR
		{"http://192.168.7.7:81/", ""}, // allowed address
		{"http://192.168.7.8:81/", "private"},
		{"ftp://example.com/", "bad"},
		{"file:///etc/passwd", "bad"},
		{"https://user:pw@example.com/", "bad"},
		{"example.com/hook", "bad"},
		{"http:///path", "bad"},
	} {
		err := p.CheckURL(c.url)
		var re *RefusedError
		switch {
		case c.class == "" && err != nil:
			t.Errorf("%s: refused: %v", c.url, err)
		case c.class == "bad" && (err == nil || errors.As(err, &re)):
			t.Errorf("%s: %v, want a URL error", c.url, err)
		case c.class != "" && c.class != "bad":
			if !errors.As(err, &re) || re.Class != c.class || !errors.Is(err, ErrRefused) {
				t.Errorf("%s: %v, want refused as %s", c.url, err, c.class)
			} else if !strings.Contains(err.Error(), "notify.outbound_allow") {
				t.Errorf("%s: %v does not name the allow-list key", c.url, err)
			}
		}
	}
}

func TestNewRefusesBadEntries(t *testing.T) {
	_, err := New([]string{"10.0.0.0/8", "not a host!", "10.0.0.0/99x"}, "k")
	if err == nil || !strings.Contains(err.Error(), `k[1]: "not a host!"`) || !strings.Contains(err.Error(), "k[2]") {
		t.Fatalf("%v", err)
	}
}

// listener counts the connections a 127.0.0.1 server accepts.
func listener(t *testing.T) (port string, accepted *atomic.Int64) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	accepted = new(atomic.Int64)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}),
		ConnState: func(_ net.Conn, s http.ConnState) {
			if s == http.StateNew {
				accepted.Add(1)
			}
		}}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	_, port, _ = net.SplitHostPort(ln.Addr().String())
	return port, accepted
}

func client(p *Policy) *http.Client {
	return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		Proxy:       nil,
		DialContext: p.DialContext(&net.Dialer{Timeout: 10 * time.Second}),
	}}
}

// "localhost" passes CheckURL (it is a name), yet the dial is refused
// because it resolves to a loopback address: the 127.0.0.1 listener never
// sees a connection. Allowing 127.0.0.1 lets the same request through.
func TestDialRefusesWhatANameResolvesTo(t *testing.T) {
	port, accepted := listener(t)
	deny, _ := New(nil, "notify.outbound_allow")
	for _, u := range []string{"http://localhost:" + port + "/hook", "http://127.0.0.1:" + port + "/hook", "http://[::ffff:127.0.0.1]:" + port + "/hook"} {
		resp, err := client(deny).Post(u, "application/json", strings.NewReader("{}"))
		if err == nil {
			resp.Body.Close()
			t.Fatalf("%s: delivered", u)
		}
		var ue *url.Error
		if !errors.As(err, &ue) || !errors.Is(err, ErrRefused) {
			t.Errorf("%s: %v, want a refusal", u, err)
		}
	}
	if n := accepted.Load(); n != 0 {
		t.Fatalf("the 127.0.0.1 listener accepted %d connections", n)
	}
	allow, _ := New([]string{"127.0.0.1"}, "notify.outbound_allow")
	resp, err := client(allow).Post("http://localhost:"+port+"/hook", "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatalf("allowed: %v", err)
	}
	resp.Body.Close()
	if accepted.Load() != 1 {
		t.Fatalf("allowed request: %d connections", accepted.Load())
	}
	byName, _ := New([]string{"localhost"}, "notify.outbound_allow")
	if err := byName.CheckAddr("LOCALHOST.", netip.MustParseAddr("::1")); err != nil {
		t.Errorf("host allow-list: %v", err)
	}
	if err := byName.CheckAddr("evil.example", netip.MustParseAddr("::1")); err == nil {
		t.Error("a host allow-list entry allowed another name")
	}
}

func FuzzCheckURL(f *testing.F) {
	for _, s := range []string{"http://127.0.0.1/", "https://example.com/", "http://[::1]/", "http://0x7f.1/", "http://1.2.3/"} {
		f.Add(s)
	}
	p, _ := New([]string{"10.0.0.0/8"}, "k")
	f.Fuzz(func(t *testing.T, s string) {
		err := p.CheckURL(s)
		if err != nil {
			return
		}
		// Whatever is accepted is an http(s) URL whose literal host, if
		// any, is not refused.
		u, perr := url.Parse(s)
		if perr != nil || (u.Scheme != "http" && u.Scheme != "https") {
			t.Fatalf("%q accepted", s)
		}
		if ip, e := netip.ParseAddr(u.Hostname()); e == nil && p.CheckAddr(u.Hostname(), ip) != nil {
			t.Fatalf("%q accepted with a refused literal", s)
		}
	})
}
