// Package mailin is faxd's email-to-fax intake: an SMTP listener that
// turns a mail to <number>@<domain> into a fax of its attachments (and,
// if configured, its text as the first page), submitted through the same
// validation, rendering and queue as the HTTP API. The sender is told by
// mail that the fax was queued (or why it was not), and when it finishes
// (the fax carries the sender as its notify_email).
//
// Who may send: a session that authenticated (AUTH PLAIN or LOGIN, with
// an API token as the password, or whatever Authenticator the server
// wires in), or an envelope sender on smtp_intake.allow_senders. Nothing
// else: the intake is never an open fax relay.
package mailin

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/faxd/faxd/internal/docstore"
	"github.com/faxd/faxd/internal/notify"
)

// Authenticator checks a user name and password (or token) and returns
// whom the fax is submitted as. API tokens satisfy it (TokenAuth); user
// accounts can too.
type Authenticator interface {
	Authenticate(ctx context.Context, username, password, remoteAddr string) (submitter string, err error)
}

// Submission is one fax made from a mail.
type Submission struct {
	To        string // the fax number, as addressed
	Submitter string
	Key       string // the same mail delivered again is the same fax
	Documents []docstore.Source
	// Metadata goes with the fax (notify_email: the sender).
	Metadata map[string]any
}

// Submitter queues a fax. A SenderError means the mail's fault (its
// sentence goes back to the sender); other errors are the server's.
type Submitter interface {
	SubmitMail(ctx context.Context, s Submission) (id int64, pages int, err error)
}

// SenderError is a refusal whose detail the sender can act on.
type SenderError struct{ Detail string }

func (e *SenderError) Error() string { return e.Detail }

// Mailer queues a notice mail (internal/notify's Notifier).
type Mailer interface {
	Enqueue(ctx context.Context, q notify.Querier, r notify.Request) (int64, error)
}

// Deps are what the intake works with.
type Deps struct {
	Submitter Submitter
	Auth      Authenticator // nil: no AUTH offered
	Mailer    Mailer        // nil: no notice mails
	// NormalizeNumber checks a fax number at RCPT time.
	NormalizeNumber func(string) (string, error)
	Logger          *slog.Logger
	// Registry, when set, gets faxd_mail_intake_total{outcome}.
	Registry prometheus.Registerer
}

// Events of the notice mails (X-Faxd-Event).
const (
	EventMailAccepted = "mail.accepted"
	EventMailRefused  = "mail.refused"
)

// Server is a running intake.
type Server struct {
	cfg  Config
	deps Deps
	log  *slog.Logger
	srv  *smtp.Server
	// outcomes counts mails and recipients by what became of them.
	outcomes *prometheus.CounterVec

	mu sync.Mutex
	ln net.Listener
}

// Outcomes of faxd_mail_intake_total.
const (
	outQueued       = "queued"            // one fax per recipient
	outRefusedAuth  = "auth_failed"       // AUTH with a wrong password or token
	outRefusedFrom  = "sender_refused"    // 530 or 550 at MAIL FROM
	outRefusedRcpt  = "recipient_refused" // unknown domain or bad number
	outRefusedFax   = "fax_refused"       // the documents could not be made into a fax
	outRefusedMail  = "mail_refused"      // unreadable, too large, nothing attached
	outTemporaryErr = "temporary_failure" // 451: the server's fault
)

func (s *Server) count(outcome string) { s.outcomes.WithLabelValues(outcome).Inc() }

// New builds the intake; Serve or ListenAndServe runs it.
func New(cfg Config, d Deps) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if d.Submitter == nil || d.NormalizeNumber == nil {
		return nil, errors.New("mailin: Deps.Submitter and Deps.NormalizeNumber are required")
	}
	log := d.Logger
	if log == nil {
		log = slog.Default()
	}
	s := &Server{cfg: cfg, deps: d, log: log.With("component", "mailin"),
		outcomes: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "faxd", Name: "mail_intake_total",
			Help: "Email-to-fax: faxes queued and refusals, by outcome."}, []string{"outcome"})}
	for _, o := range []string{outQueued, outRefusedAuth, outRefusedFrom, outRefusedRcpt, outRefusedFax, outRefusedMail, outTemporaryErr} {
		s.outcomes.WithLabelValues(o) // every series from the start, at 0
	}
	if d.Registry != nil {
		if err := d.Registry.Register(s.outcomes); err != nil {
			return nil, fmt.Errorf("mailin: metrics: %w", err)
		}
	}
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		return &session{s: s, remote: c.Conn().RemoteAddr().String()}, nil
	}))
	srv.Addr = cfg.Listen
	srv.Domain = cfg.Hostname
	if srv.Domain == "" && len(cfg.Domains) > 0 {
		srv.Domain = cfg.Domains[0]
	}
	srv.MaxMessageBytes = cfg.MaxMessageBytes
	srv.MaxRecipients = cfg.MaxRecipients
	srv.ReadTimeout, srv.WriteTimeout = cfg.Timeout, cfg.Timeout
	if cfg.TLSCert != "" {
		cert, err := tls.LoadX509KeyPair(cfg.TLSCert, cfg.TLSKey)
		if err != nil {
			return nil, fmt.Errorf("smtp_intake.tls_cert: %w", err)
		}
		srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	} else {
		// Without TLS there is no other way; the docs say to listen on
		// loopback or a trusted network then.
		srv.AllowInsecureAuth = true
	}
	s.srv = srv
	return s, nil
}

// Serve accepts sessions on ln until Close.
func (s *Server) Serve(ln net.Listener) error {
	s.mu.Lock()
	s.ln = ln
	s.mu.Unlock()
	s.log.Info("email-to-fax listening", "addr", ln.Addr().String(), "domains", strings.Join(s.cfg.Domains, ","))
	err := s.srv.Serve(ln)
	if errors.Is(err, smtp.ErrServerClosed) {
		return nil
	}
	return err
}

// ListenAndServe listens on smtp_intake.listen.
func (s *Server) ListenAndServe() error {
	ln, err := net.Listen("tcp", s.cfg.Listen)
	if err != nil {
		return fmt.Errorf("smtp_intake.listen: %w", err)
	}
	return s.Serve(ln)
}

// Close stops the listener and ends every session.
func (s *Server) Close() error { return s.srv.Close() }

func smtpErr(code int, enh smtp.EnhancedCode, format string, a ...any) *smtp.SMTPError {
	return &smtp.SMTPError{Code: code, EnhancedCode: enh, Message: fmt.Sprintf(format, a...)}
}

type rcpt struct{ addr, number string }

type session struct {
	s         *Server
	remote    string
	submitter string // from AUTH; "" unauthenticated
	from      string
	rcpts     []rcpt
}

func (ss *session) Reset()        { ss.from, ss.rcpts = "", nil }
func (ss *session) Logout() error { return nil }

func (ss *session) AuthMechanisms() []string {
	if ss.s.deps.Auth == nil {
		return nil
	}
	return []string{sasl.Plain, sasl.Login}
}

func (ss *session) Auth(mech string) (sasl.Server, error) {
	check := func(user, pass string) error {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		name, err := ss.s.deps.Auth.Authenticate(ctx, user, pass, ss.remote)
		if err != nil {
			ss.s.log.Warn("email-to-fax authentication failed", "remote", ss.remote, "user", user)
			ss.s.count(outRefusedAuth)
			return smtpErr(535, smtp.EnhancedCode{5, 7, 8}, "Authentication failed: wrong user name or password (or token)")
		}
		ss.submitter = name
		return nil
	}
	switch mech {
	case sasl.Plain:
		return sasl.NewPlainServer(func(identity, user, pass string) error {
			if identity != "" && identity != user {
				return smtpErr(535, smtp.EnhancedCode{5, 7, 8}, "Authentication failed: acting for another identity is not supported")
			}
			return check(user, pass)
		}), nil
	case sasl.Login:
		return &loginServer{check: check}, nil
	}
	return nil, smtp.ErrAuthUnknownMechanism
}

// senderAllowed matches the envelope sender against allow_senders.
func (ss *session) senderAllowed(from string) bool {
	from = strings.ToLower(from)
	_, domain, _ := strings.Cut(from, "@")
	for _, a := range ss.s.cfg.AllowSenders {
		a = strings.ToLower(a)
		if a == from || (strings.HasPrefix(a, "@") && a[1:] == domain) {
			return true
		}
	}
	return false
}

func (ss *session) Mail(from string, _ *smtp.MailOptions) error {
	if err := ss.mail(from); err != nil {
		ss.s.count(outRefusedFrom)
		return err
	}
	ss.from = from
	return nil
}

func (ss *session) mail(from string) error {
	if from == "" || notify.CheckEmail(from) != nil {
		// No one to report to, and bounces must not become faxes.
		return smtpErr(550, smtp.EnhancedCode{5, 1, 7}, "A fax needs a sender address to report to")
	}
	switch {
	case ss.submitter != "":
	case ss.s.cfg.RequireAuth || len(ss.s.cfg.AllowSenders) == 0:
		return smtpErr(530, smtp.EnhancedCode{5, 7, 0}, "Authentication required: AUTH with your user name and API token")
	case !ss.senderAllowed(from):
		ss.s.log.Warn("email-to-fax sender refused", "remote", ss.remote, "from", from)
		return smtpErr(550, smtp.EnhancedCode{5, 7, 1}, "Sender %s is not allowed to send faxes (smtp_intake.allow_senders); authenticate instead", from)
	}
	return nil
}

func (ss *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	err := ss.rcpt(to)
	if err != nil {
		ss.s.count(outRefusedRcpt)
	}
	return err
}

func (ss *session) rcpt(to string) error {
	local, domain, ok := strings.Cut(to, "@")
	if !ok {
		return smtpErr(553, smtp.EnhancedCode{5, 1, 3}, "Address the fax to <number>@%s", ss.s.cfg.Domains[0])
	}
	known := false
	for _, d := range ss.s.cfg.Domains {
		if strings.EqualFold(d, domain) {
			known = true
		}
	}
	if !known {
		return smtpErr(550, smtp.EnhancedCode{5, 1, 2}, "Domain %s is not a fax domain of this server (%s)", domain, strings.Join(ss.s.cfg.Domains, ", "))
	}
	n, err := ss.s.deps.NormalizeNumber(local)
	if err != nil {
		return smtpErr(553, smtp.EnhancedCode{5, 1, 3}, "%q is not a fax number: %v", local, err)
	}
	ss.rcpts = append(ss.rcpts, rcpt{addr: to, number: n})
	return nil
}

func (ss *session) Data(r io.Reader) error {
	err := ss.data(r)
	var se *smtp.SMTPError
	if errors.As(err, &se) && se.Code >= 500 && se.Code != 554 {
		ss.s.count(outRefusedMail) // 554s are counted where they are decided
	}
	return err
}

func (ss *session) data(r io.Reader) error {
	m, err := parseMail(r, ss.s.cfg.BodyAsCover)
	if errors.Is(err, smtp.ErrDataTooLarge) || isTooLarge(err) {
		return smtp.ErrDataTooLarge
	}
	if err != nil {
		ss.s.count(outRefusedMail)
		return smtpErr(554, smtp.EnhancedCode{5, 6, 0}, "The mail cannot be read: %v", err)
	}
	if len(m.docs) == 0 {
		ss.s.count(outRefusedMail)
		return smtpErr(554, smtp.EnhancedCode{5, 6, 0}, "Nothing to fax: attach a document (PDF, TIFF, PNG, JPEG, text, office document)")
	}
	submitter := ss.submitter
	if submitter == "" {
		submitter = "mail:" + strings.ToLower(ss.from)
	}
	ctx := context.Background()
	var accepted, refused int
	var firstRefusal string
	for _, rc := range ss.rcpts {
		key := mailKey(m.messageID, ss.from, rc.number, m.digest)
		id, pages, err := ss.s.deps.Submitter.SubmitMail(ctx, Submission{
			To: rc.number, Submitter: submitter, Key: key, Documents: m.docs,
			Metadata: map[string]any{notify.NotifyEmailKey: ss.from, "source": "email", "subject": trimTo(m.subject, 200)},
		})
		var se *SenderError
		switch {
		case errors.As(err, &se):
			refused++
			ss.s.count(outRefusedFax)
			if firstRefusal == "" {
				firstRefusal = se.Detail
			}
			ss.s.log.Info("email-to-fax refused", "from", ss.from, "to", rc.number, "reason", se.Detail)
			ss.notice(ctx, EventMailRefused, key, fmt.Sprintf("Fax to %s not sent: %s", rc.number, trim(m.subject)),
				fmt.Sprintf("Your mail to %s (subject %q) was not made into a fax:\n\n%s\n", rc.addr, m.subject, se.Detail))
		case err != nil:
			// The server's fault: the sending server keeps the mail and
			// retries; the faxes already queued are the same on retry (key).
			ss.s.log.Error("email-to-fax submission failed", "from", ss.from, "to", rc.number, "err", err)
			ss.s.count(outTemporaryErr)
			return smtpErr(451, smtp.EnhancedCode{4, 3, 0}, "Temporary failure queueing the fax; try again later")
		default:
			accepted++
			ss.s.count(outQueued)
			ss.s.log.Info("email-to-fax queued", "fax", id, "from", ss.from, "to", rc.number, "pages", pages, "submitter", submitter)
			ss.notice(ctx, EventMailAccepted, key, fmt.Sprintf("Fax %d to %s queued (%s)", id, rc.number, pagesWord(pages)),
				fmt.Sprintf("Your mail to %s (subject %q) is fax %d: %d page(s) queued for %s.\n"+
					"You get another mail when it has been sent or has failed.\n", rc.addr, m.subject, id, pages, rc.number))
		}
	}
	if accepted == 0 && refused > 0 {
		// Nothing taken: the refusal is the answer (the notice mail says
		// the same to whoever reads mail rather than bounces).
		return smtpErr(554, smtp.EnhancedCode{5, 6, 0}, "Not faxed: %s", oneLine(firstRefusal))
	}
	return nil
}

func (ss *session) notice(ctx context.Context, event, key, subject, text string) {
	if ss.s.deps.Mailer == nil {
		return
	}
	_, err := ss.s.deps.Mailer.Enqueue(ctx, nil, notify.Request{Kind: notify.KindEmail, Event: event,
		Targets: []string{ss.from}, Subject: subject, Text: text, Key: event + ":" + key})
	if err != nil {
		ss.s.log.Error("email-to-fax notice not queued", "to", ss.from, "event", event, "err", err)
	}
}

// mailKey identifies one fax of one mail: a redelivery (same Message-ID,
// sender, number and content) is the same fax.
func mailKey(messageID, from, number string, digest []byte) string {
	h := sha256.New()
	for _, s := range []string{messageID, strings.ToLower(from), number} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	h.Write(digest)
	return "mail-" + hex.EncodeToString(h.Sum(nil)[:16])
}

func pagesWord(n int) string {
	if n == 1 {
		return "1 page"
	}
	return fmt.Sprintf("%d pages", n)
}

func trim(s string) string { return trimTo(s, 60) }

// trimTo shortens s to at most n bytes, on a rune boundary.
func trimTo(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "..."
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// loginServer is SASL LOGIN (the draft mechanism Outlook and many
// devices use): username and password prompted one after the other.
type loginServer struct {
	check    func(user, pass string) error
	user     string
	step     int
	finished bool
}

func (l *loginServer) Next(response []byte) (challenge []byte, done bool, err error) {
	switch l.step {
	case 0:
		l.step = 1
		if len(response) == 0 { // no initial response: prompt for it
			return []byte("Username:"), false, nil
		}
		fallthrough
	case 1:
		l.user, l.step = string(response), 2
		return []byte("Password:"), false, nil
	case 2:
		l.step = 3
		return nil, true, l.check(l.user, string(response))
	}
	return nil, true, errors.New("unexpected LOGIN response")
}

// TokenAuth authenticates with an API token as the password; the user
// name is free (mail clients insist on one). The fax is submitted as the
// token's name.
type TokenAuth struct {
	Verify func(ctx context.Context, secret string) (name string, err error)
}

// Authenticate implements Authenticator.
func (t TokenAuth) Authenticate(ctx context.Context, _, password, _ string) (string, error) {
	return t.Verify(ctx, password)
}

// AnyAuth tries each authenticator in turn (user accounts, then tokens).
type AnyAuth []Authenticator

// Authenticate implements Authenticator.
func (a AnyAuth) Authenticate(ctx context.Context, user, pass, remote string) (string, error) {
	err := errors.New("no authenticator")
	for _, x := range a {
		var name string
		if name, err = x.Authenticate(ctx, user, pass, remote); err == nil {
			return name, nil
		}
	}
	return "", err
}
