package server

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/faxd/faxd/internal/config"
)

// newHTTPServer applies the http section's limits: every phase of a
// connection has a deadline, so a client that sends slowly or sits idle
// is dropped instead of holding a descriptor and a goroutine for ever.
func newHTTPServer(cfg config.HTTP, h http.Handler, log *slog.Logger) (*http.Server, error) {
	srv := &http.Server{
		// Handshake failures and dropped clients: noise from scanners
		// unless one is looking for them.
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
		Handler:           securityHeaders(h),
		ReadHeaderTimeout: cfg.ReadHeaderTimeout.D(),
		// Bounds the whole request, body included; the API extends it to
		// http.upload_timeout once a request is authenticated.
		ReadTimeout:    cfg.ReadTimeout.D(),
		WriteTimeout:   cfg.WriteTimeout.D(),
		IdleTimeout:    cfg.IdleTimeout.D(),
		MaxHeaderBytes: cfg.MaxHeaderBytes,
	}
	if cfg.TLSCert == "" {
		return srv, nil
	}
	tc, err := tlsConfig(cfg)
	if err != nil {
		return nil, err
	}
	srv.TLSConfig = tc
	return srv, nil
}

func tlsConfig(cfg config.HTTP) (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(cfg.TLSCert, cfg.TLSKey)
	if err != nil {
		return nil, fmt.Errorf("http.tls_cert/http.tls_key: %w", err)
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}}
	if cfg.TLSClientCA != "" {
		pem, err := os.ReadFile(cfg.TLSClientCA)
		if err != nil {
			return nil, fmt.Errorf("http.tls_client_ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("http.tls_client_ca: %s holds no PEM certificate", cfg.TLSClientCA)
		}
		tc.ClientCAs = pool
		tc.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return tc, nil
}

// contentSecurityPolicy forbids everything: the API serves JSON, PDF, TIFF
// and PNG, never anything a browser should run, embed or frame.
const contentSecurityPolicy = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"

// securityHeaders sets, on every answer, the headers that stop a browser
// from sniffing a served document into something executable.
func securityHeaders(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("Content-Security-Policy", contentSecurityPolicy)
		h.ServeHTTP(w, r)
	})
}

// limitListener accepts at most n connections at a time; further clients
// wait in the kernel's backlog until one closes, so a flood of clients
// costs a bounded number of descriptors and goroutines.
type limitListener struct {
	net.Listener
	slots chan struct{}
	open  prometheus.Gauge
	done  chan struct{}
	once  sync.Once
}

func newLimitListener(l net.Listener, n int, open prometheus.Gauge) *limitListener {
	return &limitListener{Listener: l, slots: make(chan struct{}, n), open: open, done: make(chan struct{})}
}

func (l *limitListener) Accept() (net.Conn, error) {
	select {
	case l.slots <- struct{}{}:
	case <-l.done:
		return nil, net.ErrClosed
	}
	c, err := l.Listener.Accept()
	if err != nil {
		<-l.slots
		return nil, err
	}
	l.open.Inc()
	return &limitConn{Conn: c, release: func() { l.open.Dec(); <-l.slots }}, nil
}

func (l *limitListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return l.Listener.Close()
}

type limitConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *limitConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}
