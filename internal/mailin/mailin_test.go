package mailin

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"net/smtp"
	"net/textproto"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	gosmtp "github.com/emersion/go-smtp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/faxd/faxd/internal/api"
	"github.com/faxd/faxd/internal/api/tokens"
	"github.com/faxd/faxd/internal/notify"
	"github.com/faxd/faxd/internal/notify/notifytest"
	"github.com/faxd/faxd/internal/pgtest"
	"github.com/faxd/faxd/internal/secretbox"
	"github.com/faxd/faxd/queue"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

type env struct {
	t     *testing.T
	queue *queue.Queue
	sink  *notifytest.SMTPServer
	addr  string
	token string
	ca    *x509.CertPool
	reg   *prometheus.Registry
}

// newEnv runs the intake against a real queue database and API, with the
// notifier mailing to a test SMTP sink.
func newEnv(t *testing.T, cfg Config) *env {
	t.Helper()
	pool := pgtest.NewDB(t)
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	q, err := queue.New(pool, queue.Config{Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	a, err := api.New(api.Config{}, api.Deps{Pool: pool, Queue: q, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	sink := notifytest.StartSMTP(t, notifytest.SMTPOptions{})
	keys, err := secretbox.NewRandom("test")
	if err != nil {
		t.Fatal(err)
	}
	ncfg := notify.DefaultConfig()
	ncfg.SMTP = sink.Config("fax@example.com")
	ncfg.PollInterval = 20 * time.Millisecond
	n, err := notify.New(pool, ncfg, notify.Options{Secrets: keys, NodeID: "mailin-test", Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = n.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	store := tokens.New(pool)
	secret, _, err := store.Create(context.Background(), "mailer", tokens.Submitter)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, queue: q, sink: sink, token: secret, reg: prometheus.NewRegistry()}
	if cfg.Listen == "" {
		cfg.Listen = "127.0.0.1:0"
	}
	if len(cfg.Domains) == 0 {
		cfg.Domains = []string{"fax.example.com"}
	}
	def := DefaultConfig()
	if cfg.MaxMessageBytes == 0 {
		cfg.MaxMessageBytes = def.MaxMessageBytes
	}
	if cfg.MaxRecipients == 0 {
		cfg.MaxRecipients = def.MaxRecipients
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 30 * time.Second
	}
	if cfg.TLSCert == "TEST" {
		cfg.TLSCert, cfg.TLSKey, e.ca = selfSigned(t)
	}
	s, err := New(cfg, Deps{Submitter: APISubmitter{API: a}, Auth: Tokens(store), Mailer: n,
		NormalizeNumber: api.NormalizeNumber, Logger: log, Registry: e.reg})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e.addr = ln.Addr().String()
	go func() { _ = s.Serve(ln) }()
	t.Cleanup(func() { _ = s.Close() })
	return e
}

// selfSigned writes a certificate for 127.0.0.1 and returns its files
// and a pool trusting it.
func selfSigned(t *testing.T) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "faxd test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalECPrivateKey(key)
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600)
	cert, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

// pdfDoc makes a two-page PDF with Ghostscript.
func pdfDoc(t *testing.T) []byte {
	t.Helper()
	gs, err := exec.LookPath("gs")
	if err != nil {
		t.Skip("Ghostscript (gs) is not installed")
	}
	out := filepath.Join(t.TempDir(), "doc.pdf")
	ps := "/Helvetica findfont 36 scalefont setfont 72 700 moveto (Page one) show showpage 72 700 moveto (Page two) show showpage"
	if b, err := exec.Command(gs, "-q", "-dSAFER", "-dBATCH", "-dNOPAUSE", "-sDEVICE=pdfwrite", "-sOutputFile="+out, "-c", ps).CombinedOutput(); err != nil {
		t.Fatalf("gs: %v: %s", err, b)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

type attachment struct {
	name, ct string
	data     []byte
}

// mailBytes builds a multipart mail with a text body and attachments.
func mailBytes(from, to, subject, body string, atts ...attachment) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "From: %s\r\nTo: %s\r\nSubject: %s\r\nMessage-ID: <%d@test>\r\nMIME-Version: 1.0\r\n", from, to, subject, time.Now().UnixNano())
	fmt.Fprintf(&b, "Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n%s\r\n", body)
	for _, a := range atts {
		fmt.Fprintf(&b, "--b1\r\nContent-Type: %s\r\nContent-Disposition: attachment; filename=\"%s\"\r\nContent-Transfer-Encoding: base64\r\n\r\n", a.ct, a.name)
		enc := base64.StdEncoding.EncodeToString(a.data)
		for len(enc) > 76 {
			b.WriteString(enc[:76] + "\r\n")
			enc = enc[76:]
		}
		b.WriteString(enc + "\r\n")
	}
	b.WriteString("--b1--\r\n")
	return b.Bytes()
}

// send runs one SMTP session with net/smtp; the returned error carries
// the server's reply code.
func (e *env) send(auth smtp.Auth, startTLS bool, from string, to []string, msg []byte) error {
	c, err := smtp.Dial(e.addr)
	if err != nil {
		e.t.Fatal(err)
	}
	defer c.Close()
	if err := c.Hello("client.test"); err != nil {
		return err
	}
	if startTLS {
		if err := c.StartTLS(&tls.Config{RootCAs: e.ca, ServerName: "127.0.0.1"}); err != nil {
			return err
		}
	}
	if auth != nil {
		if err := c.Auth(auth); err != nil {
			return err
		}
	}
	if err := c.Mail(from); err != nil {
		return err
	}
	for _, r := range to {
		if err := c.Rcpt(r); err != nil {
			return err
		}
	}
	w, err := c.Data()
	if err != nil {
		return err
	}
	if _, err := w.Write(msg); err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	return c.Quit()
}

func code(err error) int {
	var tp *textproto.Error
	if errors.As(err, &tp) {
		return tp.Code
	}
	return 0
}

func (e *env) jobs() []queue.Job {
	e.t.Helper()
	js, err := e.queue.List(context.Background(), queue.ListFilter{Limit: 100})
	if err != nil {
		e.t.Fatal(err)
	}
	return js
}

// A mail from an allowed sender with a PDF attachment becomes a queued
// fax of its pages (and the body as first page); the sender is mailed a
// confirmation, and the fax carries the sender for the final report.
func TestMailBecomesFax(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{AllowSenders: []string{"@acme.example"}, BodyAsCover: true})
	pdf := pdfDoc(t)
	msg := mailBytes("clerk@acme.example", "+4930123456@fax.example.com", "Invoice 4711", "Please find the invoice.",
		attachment{"invoice.pdf", "application/pdf", pdf})
	if err := e.send(nil, false, "clerk@acme.example", []string{"+4930123456@FAX.example.com"}, msg); err != nil {
		t.Fatalf("send: %v", err)
	}
	js := e.jobs()
	if len(js) != 1 {
		t.Fatalf("%d jobs, want 1", len(js))
	}
	j := js[0]
	if j.Destination != "+4930123456" || j.PagesTotal != 3 || j.State != queue.Pending || j.Submitter != "mail:clerk@acme.example" {
		t.Fatalf("job %+v: want 3 pages (body + 2 PDF) to +4930123456 from mail:clerk@acme.example", j)
	}
	if j.Metadata[notify.NotifyEmailKey] != "clerk@acme.example" || j.Metadata[api.ReportMetadataKey] != true {
		t.Fatalf("metadata %v: the sender is not the notice address, or the notice lacks the report", j.Metadata)
	}
	mails := e.sink.Wait(t, 1, 30*time.Second)
	m := mails[0]
	if len(m.To) != 1 || m.To[0] != "clerk@acme.example" ||
		!bytes.Contains(m.Data, []byte(fmt.Sprintf("Subject: Fax %d to +4930123456 queued (3 pages)", j.ID))) ||
		!bytes.Contains(m.Data, []byte("X-Faxd-Event: "+EventMailAccepted)) {
		t.Fatalf("confirmation: to %v\n%s", m.To, m.Data)
	}
	// The same mail delivered again is the same fax.
	if err := e.send(nil, false, "clerk@acme.example", []string{"+4930123456@fax.example.com"}, msg); err != nil {
		t.Fatalf("resend: %v", err)
	}
	if n := len(e.jobs()); n != 1 {
		t.Fatalf("after a redelivery: %d jobs, want 1", n)
	}
}

// Refusals carry the SMTP codes a sending server understands, and queue
// nothing.
func TestMailRefusals(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{AllowSenders: []string{"boss@acme.example", "@acme.example"}, MaxMessageBytes: 64 << 10, MaxRecipients: 2})
	ok := mailBytes("boss@acme.example", "x", "s", "b", attachment{"a.txt", "text/plain", []byte("hello\n")})
	cases := []struct {
		name string
		from string
		to   []string
		msg  []byte
		code int
		want string
	}{
		{"sender not allowed", "eve@evil.example", []string{"123456@fax.example.com"}, ok, 550, "not allowed"},
		{"unknown domain", "boss@acme.example", []string{"123456@other.example"}, ok, 550, "not a fax domain"},
		{"bad number", "boss@acme.example", []string{"call-me@fax.example.com"}, ok, 553, "not a fax number"},
		{"too many recipients", "boss@acme.example", []string{"123456@fax.example.com", "123457@fax.example.com", "123458@fax.example.com"}, ok, 452, "recipients"},
		{"oversized", "boss@acme.example", []string{"123456@fax.example.com"},
			mailBytes("boss@acme.example", "x", "big", "b", attachment{"big.txt", "text/plain", bytes.Repeat([]byte("all work and no play\n"), 4000)}), 552, ""},
		{"no attachment", "boss@acme.example", []string{"123456@fax.example.com"}, mailBytes("boss@acme.example", "x", "s", "body only"), 554, "attach a document"},
		{"unrenderable", "boss@acme.example", []string{"123456@fax.example.com"},
			mailBytes("boss@acme.example", "x", "s", "b", attachment{"x.bin", "application/octet-stream", []byte{0, 1, 2, 3, 4}}), 554, "document 1 (x.bin)"},
	}
	for _, c := range cases {
		err := e.send(nil, false, c.from, c.to, c.msg)
		if code(err) != c.code || !strings.Contains(fmt.Sprint(err), c.want) {
			t.Errorf("%s: %v, want %d containing %q", c.name, err, c.code, c.want)
		}
	}
	if n := len(e.jobs()); n != 0 {
		t.Fatalf("%d jobs queued by refused mails", n)
	}
	// Too many recipients is go-smtp's own refusal, before faxd sees it.
	want := `
# HELP faxd_mail_intake_total Email-to-fax: faxes queued and refusals, by outcome.
# TYPE faxd_mail_intake_total counter
faxd_mail_intake_total{outcome="auth_failed"} 0
faxd_mail_intake_total{outcome="fax_refused"} 1
faxd_mail_intake_total{outcome="mail_refused"} 2
faxd_mail_intake_total{outcome="queued"} 0
faxd_mail_intake_total{outcome="recipient_refused"} 2
faxd_mail_intake_total{outcome="sender_refused"} 1
faxd_mail_intake_total{outcome="temporary_failure"} 0
`
	if err := testutil.GatherAndCompare(e.reg, strings.NewReader(want), "faxd_mail_intake_total"); err != nil {
		t.Fatal(err)
	}
	// The unrenderable mail was accepted as mail but refused as a fax: its
	// sender is told by mail too.
	mails := e.sink.Wait(t, 1, 30*time.Second)
	if !bytes.Contains(mails[0].Data, []byte("X-Faxd-Event: "+EventMailRefused)) || !bytes.Contains(mails[0].Data, []byte("x.bin")) {
		t.Fatalf("refusal notice:\n%s", mails[0].Data)
	}
}

// With STARTTLS configured AUTH is offered only inside TLS; a token
// authenticates with PLAIN or LOGIN, the fax is the token's; a wrong token
// is 535 and no authentication at all 530.
func TestMailStartTLSAuth(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{TLSCert: "TEST", RequireAuth: true})
	msg := mailBytes("anyone@example.org", "x", "s", "b", attachment{"a.txt", "text/plain", []byte("hello\n")})
	to := []string{"+15550100@fax.example.com"}

	if err := e.send(nil, true, "anyone@example.org", to, msg); code(err) != 530 {
		t.Fatalf("without AUTH: %v, want 530", err)
	}
	if err := e.send(smtp.PlainAuth("", "me", "faxd_1_wrong", "127.0.0.1"), true, "anyone@example.org", to, msg); code(err) != 535 {
		t.Fatalf("wrong token: %v, want 535", err)
	}
	if err := e.send(smtp.PlainAuth("", "me", e.token, "127.0.0.1"), true, "anyone@example.org", to, msg); err != nil {
		t.Fatalf("PLAIN over STARTTLS: %v", err)
	}
	// AUTH before STARTTLS is not offered.
	c, err := gosmtp.Dial(e.addr)
	if err != nil {
		t.Fatal(err)
	}
	if ok, _ := c.Extension("AUTH"); ok {
		t.Fatal("AUTH offered before STARTTLS")
	}
	c.Close()
	// LOGIN, with go-smtp's client.
	c, err = gosmtp.DialStartTLS(e.addr, &tls.Config{RootCAs: e.ca, ServerName: "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Auth(sasl.NewLoginClient("me", e.token)); err != nil {
		t.Fatalf("LOGIN: %v", err)
	}
	if err := c.SendMail("anyone@example.org", []string{"+15550101@fax.example.com"}, bytes.NewReader(msg)); err != nil {
		t.Fatalf("LOGIN send: %v", err)
	}
	js := e.jobs()
	if len(js) != 2 || js[0].Submitter != "mailer" || js[1].Submitter != "mailer" {
		t.Fatalf("jobs %+v: want two faxes by the token's name", js)
	}
	for outcome, want := range map[string]float64{"auth_failed": 1, "sender_refused": 1, "queued": 2} {
		if got := testutil.ToFloat64(sOutcomes(t, e.reg, outcome)); got != want {
			t.Errorf("faxd_mail_intake_total{outcome=%q} = %v, want %v", outcome, got, want)
		}
	}
}

// sOutcomes reads one series of faxd_mail_intake_total from the registry.
func sOutcomes(t *testing.T, reg *prometheus.Registry, outcome string) prometheus.Collector {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			if mf.GetName() == "faxd_mail_intake_total" && m.GetLabel()[0].GetValue() == outcome {
				c := prometheus.NewCounter(prometheus.CounterOpts{Name: "x"})
				c.Add(m.GetCounter().GetValue())
				return c
			}
		}
	}
	t.Fatalf("no series for outcome %q", outcome)
	return nil
}
