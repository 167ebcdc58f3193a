package server

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/faxd/faxd/internal/api/tokens"
	"github.com/faxd/faxd/internal/config"
)

// waitClosed reads from c until the server closes it. The 30 s bound is
// only there so a broken server fails the test instead of hanging it; the
// server's own deadlines in these tests are a fraction of a second.
func waitClosed(t *testing.T, c net.Conn, what string) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(30 * time.Second))
	_, err := io.Copy(io.Discard, c)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("%s: the server kept the connection open", what)
	}
}

// trickle sends one byte of body at a time until the connection breaks,
// like a client that sends a byte every few seconds.
func trickle(c net.Conn) {
	go func() {
		for {
			if _, err := c.Write([]byte("x")); err != nil {
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()
}

func dial(t *testing.T, s *Server) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", s.HTTPAddr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// A stranger sending a body a byte at a time is cut off at
// http.read_timeout, headers over http.max_header_bytes get 431, and every
// answer carries nosniff and a CSP.
func TestHTTPSlowBodyUnauthenticated(t *testing.T) {
	s := startServer(t, func(c *config.Config) {
		c.Channels.Count = 0
		c.HTTP.ReadHeaderTimeout = config.Duration(100 * time.Millisecond)
		c.HTTP.ReadTimeout = config.Duration(200 * time.Millisecond)
		c.HTTP.MaxHeaderBytes = 4096
	})
	c := dial(t, s)
	// Under 256 KB, so after answering 401 the server reads the rest of
	// the body to keep the connection: only read_timeout ends that.
	io.WriteString(c, "POST /v1/faxes HTTP/1.1\r\nHost: faxd\r\nContent-Type: text/plain\r\nContent-Length: 100000\r\n\r\n")
	trickle(c)
	waitClosed(t, c, "slow unauthenticated body")

	req, _ := http.NewRequest("GET", "http://"+s.HTTPAddr()+"/healthz", nil)
	req.Header.Set("X-Big", strings.Repeat("x", 64<<10))
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("64 KiB of headers with http.max_header_bytes 4096: %v %v", err, resp)
	} else {
		resp.Body.Close()
	}

	for _, path := range []string{"/healthz", "/v1/whoami", "/v1/nothing-here"} {
		resp, err := http.Get("http://" + s.HTTPAddr() + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.Header.Get("X-Content-Type-Options") != "nosniff" || resp.Header.Get("Content-Security-Policy") != contentSecurityPolicy {
			t.Errorf("%s (%d): nosniff %q, CSP %q", path, resp.StatusCode, resp.Header.Get("X-Content-Type-Options"), resp.Header.Get("Content-Security-Policy"))
		}
	}
}

// An authenticated upload that stalls is cut off at http.upload_timeout
// even though http.read_timeout is long, and an idle keep-alive
// connection is closed at http.idle_timeout.
func TestHTTPSlowUploadAndIdle(t *testing.T) {
	s := startServer(t, func(c *config.Config) {
		c.Channels.Count = 0
		c.HTTP.ReadTimeout = config.Duration(time.Hour)
		c.HTTP.WriteTimeout = config.Duration(time.Hour)
		c.HTTP.UploadTimeout = config.Duration(200 * time.Millisecond)
		c.HTTP.IdleTimeout = config.Duration(200 * time.Millisecond)
	})
	cl := newClient(t, s, tokens.Submitter, "slow")
	c := dial(t, s)
	io.WriteString(c, "POST /v1/faxes HTTP/1.1\r\nHost: faxd\r\nAuthorization: Bearer "+cl.token+
		"\r\nContent-Type: multipart/form-data; boundary=b\r\nContent-Length: 1000000\r\n\r\n--b\r\n")
	trickle(c)
	waitClosed(t, c, "slow authenticated upload")

	idle := dial(t, s)
	io.WriteString(idle, "GET /healthz HTTP/1.1\r\nHost: faxd\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(idle), nil)
	if err != nil || resp.StatusCode != 200 || resp.Close {
		t.Fatalf("keep-alive request: %v %+v", err, resp)
	}
	io.Copy(io.Discard, resp.Body)
	waitClosed(t, idle, "idle keep-alive connection")
}

// With http.max_connections 2, a third client is not served until one of
// the first two goes, and then it is.
func TestHTTPConnectionCap(t *testing.T) {
	s := startServer(t, func(c *config.Config) {
		c.Channels.Count = 0
		c.HTTP.MaxConnections = 2
	})
	get := func(c net.Conn, r *bufio.Reader, limit time.Duration) error {
		_ = c.SetDeadline(time.Now().Add(limit))
		if _, err := io.WriteString(c, "GET /healthz HTTP/1.1\r\nHost: faxd\r\n\r\n"); err != nil {
			return err
		}
		resp, err := http.ReadResponse(r, nil)
		if err != nil {
			return err
		}
		_, err = io.Copy(io.Discard, resp.Body)
		return err
	}
	var held []net.Conn
	for range 2 {
		c := dial(t, s)
		if err := get(c, bufio.NewReader(c), 30*time.Second); err != nil {
			t.Fatal(err)
		}
		held = append(held, c)
	}
	third := dial(t, s)
	r3 := bufio.NewReader(third)
	_ = third.SetDeadline(time.Now().Add(300 * time.Millisecond))
	io.WriteString(third, "GET /healthz HTTP/1.1\r\nHost: faxd\r\n\r\n")
	if _, err := r3.ReadByte(); err == nil {
		t.Fatal("a third connection was served while two were open with http.max_connections 2")
	}
	if g := gaugeValue(t, s, "faxd_http_connections_open"); g != 2 {
		t.Errorf("faxd_http_connections_open %v, want 2", g)
	}
	held[0].Close()
	_ = third.SetDeadline(time.Now().Add(30 * time.Second))
	resp, err := http.ReadResponse(r3, nil)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("third connection after one closed: %v %+v", err, resp)
	}
}

func gaugeValue(t *testing.T, s *Server, name string) float64 {
	t.Helper()
	mfs, err := s.Metrics.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name && len(mf.Metric) == 1 {
			return mf.Metric[0].GetGauge().GetValue()
		}
	}
	t.Fatalf("no metric %s", name)
	return 0
}

// testCA makes a CA and a certificate it signed (server or client), as
// PEM files under dir.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  string
}

func newTestCA(t *testing.T, dir string) *testCA {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "faxd test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	path := filepath.Join(dir, "ca.pem")
	writePEM(t, path, "CERTIFICATE", der)
	return &testCA{cert: cert, key: key, pem: path}
}

func (ca *testCA) issue(t *testing.T, dir, name string, usage x509.ExtKeyUsage) (certFile, keyFile string) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		ExtKeyUsage: []x509.ExtKeyUsage{usage}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	kder, _ := x509.MarshalECPrivateKey(key)
	certFile, keyFile = filepath.Join(dir, name+".pem"), filepath.Join(dir, name+".key")
	writePEM(t, certFile, "CERTIFICATE", der)
	writePEM(t, keyFile, "EC PRIVATE KEY", kder)
	return certFile, keyFile
}

func writePEM(t *testing.T, path, typ string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

// With http.tls_cert and http.tls_key the server speaks only TLS; with
// http.tls_client_ca it also refuses clients without a certificate from
// that CA.
func TestHTTPNativeTLS(t *testing.T) {
	dir := t.TempDir()
	ca := newTestCA(t, dir)
	srvCert, srvKey := ca.issue(t, dir, "server", x509.ExtKeyUsageServerAuth)
	cliCert, cliKey := ca.issue(t, dir, "client", x509.ExtKeyUsageClientAuth)
	s := startServer(t, func(c *config.Config) {
		c.Channels.Count = 0
		c.HTTP.TLSCert, c.HTTP.TLSKey, c.HTTP.TLSClientCA = srvCert, srvKey, ca.pem
	})
	roots := x509.NewCertPool()
	roots.AddCert(ca.cert)
	client := func(certs ...tls.Certificate) *http.Client {
		return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
			TLSClientConfig: &tls.Config{RootCAs: roots, Certificates: certs}}}
	}
	url := "https://" + s.HTTPAddr() + "/healthz"
	if _, err := client().Get(url); err == nil {
		t.Error("a client without a certificate was served although http.tls_client_ca is set")
	}
	pair, err := tls.LoadX509KeyPair(cliCert, cliKey)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := client(pair).Get(url)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || strings.TrimSpace(string(body)) != "ok" || resp.TLS == nil {
		t.Fatalf("healthz over TLS: %d %q", resp.StatusCode, body)
	}
	// Go's TLS server answers a plain request with a 400 saying so.
	if resp, err := http.Get("http://" + s.HTTPAddr() + "/healthz"); err == nil {
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("plain HTTP on a TLS listener: %d, want 400", resp.StatusCode)
		}
	}
}
