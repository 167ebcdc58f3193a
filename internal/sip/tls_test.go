package sip

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// selfSigned writes a certificate for 127.0.0.1 (its own CA) and its key.
func selfSigned(t *testing.T) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "faxd test gateway"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600)
	return certFile, keyFile
}

// A call over TLS to a gateway whose certificate sip.tls_ca trusts gets
// through and carries T.38; without that trust it fails as a gateway
// failure (the next gateway is tried), never as the number's fault.
func TestT38DirectTLS(t *testing.T) {
	t.Parallel()
	cert, key := selfSigned(t)
	tlsUA := func(ca string) *UA {
		return newTestUA(t, func(c *Config) {
			c.ListenTLS, c.TLSCert, c.TLSKey, c.TLSCA = "127.0.0.1:0", cert, key, ca
		})
	}
	callee := tlsUA("")
	ans := newAnswering(Accept)
	callee.SetAdmission(ans)

	caller := tlsUA(cert)
	c, err := caller.Dial(context.Background(), Dial{Target: target(callee, "tls", "4930123"), CallerID: "4940999"})
	if err != nil {
		t.Fatal(err)
	}
	in := waitCall(t, ans)
	exchange(t, c.Media(), in.Media())
	ans.mu.Lock()
	got := ans.in[0]
	ans.mu.Unlock()
	if got.Transport != "TLS" || got.DID != "4930123" {
		t.Fatalf("incoming %+v", got)
	}
	if err := c.Hangup(context.Background()); err != nil {
		t.Fatal(err)
	}

	untrusting := tlsUA("")
	_, err = untrusting.Dial(context.Background(), Dial{Target: target(callee, "tls", "4930123")})
	if o := outcomeOf(t, err); o.Class != ClassRoute {
		t.Fatalf("untrusted certificate: %v", o)
	}
}

func TestTLSCAConfig(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "ca.pem")
	os.WriteFile(bad, []byte("not a certificate"), 0o600)
	c := Config{ListenUDP: "127.0.0.1:5060", TLSCA: bad}
	c.Defaults()
	if err := c.Validate(); err == nil {
		t.Fatal("a tls_ca without certificates was accepted")
	}
}
