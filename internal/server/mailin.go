package server

import (
	"context"
	"fmt"
	"net"

	"github.com/faxd/faxd/internal/api"
	"github.com/faxd/faxd/internal/api/tokens"
	"github.com/faxd/faxd/internal/mailin"
	"github.com/faxd/faxd/internal/users"
)

// userAuth lets user accounts send mail: the fax is the user's.
type userAuth struct{ store *users.Store }

func (u userAuth) Authenticate(ctx context.Context, name, password, remoteAddr string) (string, error) {
	if u.store == nil {
		return "", users.ErrBadCredentials
	}
	usr, err := u.store.Authenticate(ctx, name, password, remoteAddr)
	if err != nil {
		return "", err
	}
	return usr.Name, nil
}

// mailInParts is the email-to-fax intake (smtp_intake).
type mailInParts struct {
	srv *mailin.Server
	ln  net.Listener
}

// openMailIn binds smtp_intake.listen, so a taken port fails start-up.
// Senders authenticate with an API token as the password (any user name),
// or with a user account's name and password (login throttling and audit
// as for the console). Tokens are tried first, so that a token sent under
// some user name does not count as a failed login of that name.
func (s *Server) openMailIn() error {
	cfg := s.cfg.SMTPIntake
	if cfg.Listen == "" {
		return nil
	}
	var mailer mailin.Mailer
	if s.notify != nil && s.notify.notifier != nil {
		mailer = s.notify.notifier
	}
	srv, err := mailin.New(cfg, mailin.Deps{
		Submitter: mailin.APISubmitter{API: s.api}, Auth: mailin.AnyAuth{mailin.Tokens(tokens.New(s.DB.Queue)), userAuth{s.Users}},
		Mailer: mailer, NormalizeNumber: api.NormalizeNumber, Logger: s.log, Registry: s.Metrics.Registry,
	})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("smtp_intake.listen: %w", err)
	}
	s.mailIn = &mailInParts{srv: srv, ln: ln}
	return nil
}

func (s *Server) runMailIn(ctx context.Context) {
	if s.mailIn == nil {
		return
	}
	go func() { <-ctx.Done(); _ = s.mailIn.srv.Close() }()
	if err := s.mailIn.srv.Serve(s.mailIn.ln); err != nil && ctx.Err() == nil {
		s.log.Error("email-to-fax intake stopped", "err", err)
	}
}

// MailInAddr is the address the email-to-fax listener got ("" when off).
func (s *Server) MailInAddr() string {
	if s.mailIn == nil {
		return ""
	}
	return s.mailIn.ln.Addr().String()
}
