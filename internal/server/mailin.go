package server

import (
	"context"
	"fmt"
	"net"

	"github.com/faxd/faxd/internal/api"
	"github.com/faxd/faxd/internal/api/tokens"
	"github.com/faxd/faxd/internal/mailin"
)

// mailInParts is the email-to-fax intake (smtp_intake).
type mailInParts struct {
	srv *mailin.Server
	ln  net.Listener
}

// openMailIn binds smtp_intake.listen, so a taken port fails start-up.
// Senders authenticate with API tokens; user accounts can be added to
// Auth as a mailin.AnyAuth.
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
		Submitter: mailin.APISubmitter{API: s.api}, Auth: mailin.Tokens(tokens.New(s.DB.Queue)),
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
