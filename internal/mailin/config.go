package mailin

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/faxd/faxd/internal/notify"
)

// Config is the smtp_intake section: email-to-fax. An empty Listen turns
// the intake off.
type Config struct {
	// Listen is the SMTP address (":2525"); empty: no intake.
	Listen string `yaml:"listen"`
	// Domains are the mail domains faxes are addressed to:
	// <number>@<domain>. Mail to another domain is refused with 550.
	Domains []string `yaml:"domains"`
	// Hostname is the name the server greets with; empty: the first domain.
	Hostname string `yaml:"hostname"`
	// MaxMessageBytes bounds one mail, attachments and encoding included
	// (552 beyond it).
	MaxMessageBytes int64 `yaml:"max_message_bytes"`
	// MaxRecipients bounds the fax numbers of one mail (452 beyond it).
	MaxRecipients int `yaml:"max_recipients"`
	// TLSCert and TLSKey enable STARTTLS; AUTH is then offered only
	// after STARTTLS.
	TLSCert string `yaml:"tls_cert"`
	TLSKey  string `yaml:"tls_key"`
	// RequireAuth refuses mail from a session that has not authenticated
	// (530), even from allowed senders.
	RequireAuth bool `yaml:"require_auth"`
	// AllowSenders lets unauthenticated mail in from these envelope
	// senders: full addresses or @domain for a whole domain.
	AllowSenders []string `yaml:"allow_senders"`
	// BodyAsCover makes the mail's text the first page of the fax.
	BodyAsCover bool `yaml:"body_as_cover"`
	// Timeout bounds each read and write of a session.
	Timeout time.Duration `yaml:"timeout"`
}

// DefaultConfig is the intake off, with the documented limits.
func DefaultConfig() Config {
	return Config{MaxMessageBytes: 32 << 20, MaxRecipients: 10, Timeout: 5 * time.Minute}
}

// Validate names every bad key, under smtp_intake.
func (c Config) Validate() error {
	if c.Listen == "" {
		return nil
	}
	var errs []error
	bad := func(key, format string, a ...any) {
		errs = append(errs, fmt.Errorf("smtp_intake.%s: %s", key, fmt.Sprintf(format, a...)))
	}
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		bad("listen", "%q: not host:port", c.Listen)
	}
	if len(c.Domains) == 0 {
		bad("domains", "at least one domain is needed: faxes are mailed to <number>@<domain>")
	}
	for i, d := range c.Domains {
		if d == "" || strings.ContainsAny(d, "@ /") {
			bad(fmt.Sprintf("domains[%d]", i), "%q is not a domain", d)
		}
	}
	if c.MaxMessageBytes < 1024 {
		bad("max_message_bytes", "%d: must be at least 1024", c.MaxMessageBytes)
	}
	if c.MaxRecipients < 1 || c.MaxRecipients > 1000 {
		bad("max_recipients", "%d: must be from 1 to 1000", c.MaxRecipients)
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		bad("tls_cert", "tls_cert and tls_key go together")
	} else if c.TLSCert != "" {
		if _, err := tls.LoadX509KeyPair(c.TLSCert, c.TLSKey); err != nil {
			bad("tls_cert", "%v", err)
		}
	}
	for i, s := range c.AllowSenders {
		a := strings.TrimPrefix(s, "@")
		if strings.HasPrefix(s, "@") {
			if a == "" || strings.ContainsAny(a, "@ ") {
				bad(fmt.Sprintf("allow_senders[%d]", i), "%q is not @domain", s)
			}
		} else if notify.CheckEmail(s) != nil {
			bad(fmt.Sprintf("allow_senders[%d]", i), "%q is neither an address nor @domain", s)
		}
	}
	if c.Timeout < time.Second {
		bad("timeout", "%v: must be at least 1s", c.Timeout)
	}
	return errors.Join(errs...)
}
