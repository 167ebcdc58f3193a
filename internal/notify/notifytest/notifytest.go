// Package notifytest runs real receivers for faxd's deliveries in tests: an
// SMTP server (github.com/emersion/go-smtp) on a loopback socket that keeps
// every message it accepts, and a webhook receiver that checks signatures
// with notify.Verify and answers with a status the test chooses.
package notifytest

import (
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
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/faxd/faxd/internal/notify"
)

// Mail is one message the SMTP server accepted.
type Mail struct {
	From   string
	To     []string
	Data   []byte
	User   string // AUTH PLAIN identity, "" without AUTH
	TLS    bool   // the session ran over STARTTLS
	Client string // EHLO name
}

// SMTPOptions configure the server.
type SMTPOptions struct {
	// With a username, AUTH PLAIN is offered and required.
	Username, Password string
	// STARTTLS with a fresh self-signed certificate for 127.0.0.1;
	// CAFile then names its PEM for notify.smtp.ca_file.
	TLS bool
	// RcptReply, when set, decides each RCPT: nil accepts.
	RcptReply func(to string) error
}

// SMTPServer is a running server.
type SMTPServer struct {
	Host   string
	Port   int
	CAFile string

	opts SMTPOptions
	mu   sync.Mutex
	mail []Mail
	cond chan struct{}
}

// StartSMTP starts a server on 127.0.0.1, stopped when the test ends.
func StartSMTP(t testing.TB, opts SMTPOptions) *SMTPServer {
	t.Helper()
	s := &SMTPServer{opts: opts, cond: make(chan struct{}, 1)}
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		return &session{srv: s, conn: c}, nil
	}))
	srv.Domain = "localhost"
	srv.ReadTimeout, srv.WriteTimeout = 10*time.Second, 10*time.Second
	srv.MaxMessageBytes = 32 << 20
	srv.AllowInsecureAuth = !opts.TLS
	if opts.TLS {
		cfg, caFile := selfSigned(t)
		srv.TLSConfig = cfg
		s.CAFile = caFile
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.Host = "127.0.0.1"
	s.Port = ln.Addr().(*net.TCPAddr).Port
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return s
}

// Config returns notify's SMTP section pointing at the server.
func (s *SMTPServer) Config(from string) notify.SMTP {
	c := notify.DefaultConfig().SMTP
	c.Host, c.Port, c.From = s.Host, s.Port, from
	c.Username, c.Password, c.CAFile = s.opts.Username, s.opts.Password, s.CAFile
	c.Timeout = 10 * time.Second
	if s.opts.TLS {
		c.StartTLS = notify.StartTLSAlways
	}
	return c
}

// Messages returns what the server accepted so far.
func (s *SMTPServer) Messages() []Mail {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Mail(nil), s.mail...)
}

// Wait waits until the server has accepted n messages.
func (s *SMTPServer) Wait(t testing.TB, n int, timeout time.Duration) []Mail {
	t.Helper()
	deadline := time.After(timeout)
	for {
		if m := s.Messages(); len(m) >= n {
			return m
		}
		select {
		case <-s.cond:
		case <-deadline:
			t.Fatalf("SMTP server got %d messages, want %d", len(s.Messages()), n)
		}
	}
}

type session struct {
	srv  *SMTPServer
	conn *smtp.Conn
	user string
	cur  Mail
}

func (ss *session) AuthMechanisms() []string {
	if ss.srv.opts.Username == "" {
		return nil
	}
	return []string{sasl.Plain}
}

func (ss *session) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(identity, username, password string) error {
		if username != ss.srv.opts.Username || password != ss.srv.opts.Password {
			return smtp.ErrAuthFailed
		}
		ss.user = username
		return nil
	}), nil
}

func (ss *session) Mail(from string, _ *smtp.MailOptions) error {
	if ss.srv.opts.Username != "" && ss.user == "" {
		return smtp.ErrAuthRequired
	}
	ss.cur = Mail{From: from, User: ss.user, Client: ss.conn.Hostname()}
	_, ss.cur.TLS = ss.conn.TLSConnectionState()
	return nil
}

func (ss *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	if f := ss.srv.opts.RcptReply; f != nil {
		if err := f(to); err != nil {
			return err
		}
	}
	ss.cur.To = append(ss.cur.To, to)
	return nil
}

func (ss *session) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	ss.cur.Data = b
	ss.srv.mu.Lock()
	ss.srv.mail = append(ss.srv.mail, ss.cur)
	ss.srv.mu.Unlock()
	select {
	case ss.srv.cond <- struct{}{}:
	default:
	}
	return nil
}

func (ss *session) Reset()        { ss.cur = Mail{} }
func (ss *session) Logout() error { return nil }

// SMTPError builds a reply for RcptReply.
func SMTPError(code int, msg string) error {
	return &smtp.SMTPError{Code: code, EnhancedCode: smtp.EnhancedCodeNotSet, Message: msg}
}

func selfSigned(t testing.TB) (*tls.Config, string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: "faxd test SMTP"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:              []string{"localhost"},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := tls.X509KeyPair(certPEM, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}))
	if err != nil {
		t.Fatal(err)
	}
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, caFile
}

// Request is one request the webhook receiver got.
type Request struct {
	N         int // 1-based arrival order
	At        time.Time
	Header    http.Header
	Body      []byte
	VerifyErr error // notify.Verify's verdict on the signature
	Status    int   // what the receiver answered
}

// Webhook is a running receiver.
type Webhook struct {
	URL    string
	Secret string

	// Respond picks the status for the nth request (1-based); nil: 200.
	// Requests whose signature does not verify get 401 regardless.
	respond func(n int) int
	mu      sync.Mutex
	count   int
	reqs    []Request
	cond    chan struct{}
}

// StartWebhook starts a receiver, stopped when the test ends.
func StartWebhook(t testing.TB, secret string, respond func(n int) int) *Webhook {
	t.Helper()
	w := &Webhook{Secret: secret, respond: respond, cond: make(chan struct{}, 1)}
	srv := httptest.NewServer(http.HandlerFunc(w.serve))
	t.Cleanup(srv.Close)
	w.URL = srv.URL + "/hook"
	return w
}

func (w *Webhook) serve(rw http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(rw, err.Error(), http.StatusBadRequest)
		return
	}
	verr := notify.Verify([]byte(w.Secret), r.Header.Get(notify.SignatureHeader), body, 0, time.Now())
	if w.Secret == "" && r.Header.Get(notify.SignatureHeader) == "" {
		verr = nil
	} else if w.Secret == "" {
		verr = errors.New("signed with no secret configured")
	}
	at := time.Now()
	w.mu.Lock()
	w.count++
	n := w.count
	w.mu.Unlock()
	status := http.StatusOK
	if w.respond != nil {
		status = w.respond(n)
	}
	if verr != nil {
		status = http.StatusUnauthorized
	}
	w.mu.Lock()
	w.reqs = append(w.reqs, Request{N: n, At: at, Header: r.Header.Clone(), Body: body, VerifyErr: verr, Status: status})
	sort.Slice(w.reqs, func(i, j int) bool { return w.reqs[i].N < w.reqs[j].N })
	w.mu.Unlock()
	select {
	case w.cond <- struct{}{}:
	default:
	}
	if status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable {
		rw.Header().Set("Retry-After", strconv.Itoa(0))
	}
	rw.WriteHeader(status)
	_, _ = io.WriteString(rw, http.StatusText(status))
}

// Requests returns what the receiver got so far.
func (w *Webhook) Requests() []Request {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]Request(nil), w.reqs...)
}

// Wait waits until the receiver has got n requests.
func (w *Webhook) Wait(t testing.TB, n int, timeout time.Duration) []Request {
	t.Helper()
	deadline := time.After(timeout)
	for {
		if r := w.Requests(); len(r) >= n {
			return r
		}
		select {
		case <-w.cond:
		case <-deadline:
			t.Fatalf("webhook receiver got %d requests, want %d", len(w.Requests()), n)
		}
	}
}
