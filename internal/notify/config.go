package notify

import (
	"errors"
	"fmt"
	"net/mail"
	"time"

	"github.com/faxd/faxd/internal/netguard"
)

// Config is the notify section of faxd's configuration.
type Config struct {
	SMTP SMTP `yaml:"smtp"`
	// Administrators who get the R19 cluster events (server down/up,
	// became primary, failure, sync completed).
	AdminEmails   []string  `yaml:"admin_emails"`
	AdminWebhooks []Webhook `yaml:"admin_webhooks"`
	// Key that signs submitters' callback_url requests; empty sends them
	// unsigned.
	CallbackSecret string `yaml:"callback_secret" secret:"true"`
	// Send a notice when a configuration sync completes (failures are
	// always sent).
	SyncCompleted bool  `yaml:"sync_completed"`
	Retry         Retry `yaml:"retry"`
	// Deliveries this node works on at once.
	Workers int `yaml:"workers"`
	// How often an idle worker looks for due deliveries when no wake-up
	// arrives.
	PollInterval time.Duration `yaml:"poll_interval"`
	// Limit on one webhook request, connection to last byte.
	WebhookTimeout time.Duration `yaml:"webhook_timeout"`
	// CIDRs, addresses and host names that webhooks and callbacks may
	// reach although they are internal (loopback, private, link-local...);
	// everything else internal is refused where it is dialled.
	OutboundAllow []string `yaml:"outbound_allow"`
}

// OutboundAllowKey names the allow-list in error messages.
const OutboundAllowKey = "notify.outbound_allow"

// Outbound is the policy for the URLs deliveries call.
func (c Config) Outbound() (*netguard.Policy, error) {
	return netguard.New(c.OutboundAllow, OutboundAllowKey)
}

// SMTP is the outgoing mail relay.
type SMTP struct {
	Host string `yaml:"host"` // empty: email deliveries fail with a clear error
	Port int    `yaml:"port"`
	From string `yaml:"from"`
	// AUTH PLAIN credentials; empty username skips AUTH. net/smtp refuses
	// to send them over an unencrypted connection except to localhost.
	Username string `yaml:"username"`
	Password string `yaml:"password" secret:"true"`
	// STARTTLS: "auto" (when offered), "always" (fail without it), "never".
	StartTLS string `yaml:"starttls"`
	// PEM file of CAs to trust for STARTTLS instead of the system pool.
	CAFile    string        `yaml:"ca_file"`
	HelloName string        `yaml:"hello_name"` // EHLO name; default: localhost
	Timeout   time.Duration `yaml:"timeout"`    // whole session
}

// Webhook is a URL and the key its requests are signed with.
type Webhook struct {
	URL    string `yaml:"url"`
	Secret string `yaml:"secret" secret:"true"`
}

// Retry is the back-off of failed deliveries: attempt n waits
// Initial·2^(n-1), at most Max, plus up to 10% jitter; after MaxAttempts
// the delivery is failed with the last error kept.
type Retry struct {
	Initial     time.Duration `yaml:"initial"`
	Max         time.Duration `yaml:"max"`
	MaxAttempts int           `yaml:"max_attempts"`
}

// StartTLS modes.
const (
	StartTLSAuto   = "auto"
	StartTLSAlways = "always"
	StartTLSNever  = "never"
)

// DefaultConfig is what an empty notify section means.
func DefaultConfig() Config {
	return Config{
		SMTP:           SMTP{Port: 25, From: "faxd@localhost", StartTLS: StartTLSAuto, HelloName: "localhost", Timeout: time.Minute},
		Retry:          Retry{Initial: 30 * time.Second, Max: time.Hour, MaxAttempts: 10},
		Workers:        4,
		PollInterval:   5 * time.Second,
		WebhookTimeout: 15 * time.Second,
	}
}

// Validate reports every problem, each naming its key.
func (c Config) Validate() error {
	var errs []error
	bad := func(key, format string, a ...any) {
		errs = append(errs, fmt.Errorf("notify.%s: %s", key, fmt.Sprintf(format, a...)))
	}
	if c.SMTP.Host != "" {
		if c.SMTP.Port <= 0 || c.SMTP.Port > 65535 {
			bad("smtp.port", "must be 1..65535, not %d", c.SMTP.Port)
		}
		if _, err := mail.ParseAddress(c.SMTP.From); err != nil {
			bad("smtp.from", "%q is not an email address", c.SMTP.From)
		}
	}
	switch c.SMTP.StartTLS {
	case StartTLSAuto, StartTLSAlways, StartTLSNever:
	default:
		bad("smtp.starttls", "must be auto, always or never, not %q", c.SMTP.StartTLS)
	}
	if c.SMTP.Timeout <= 0 {
		bad("smtp.timeout", "must be positive")
	}
	for i, a := range c.AdminEmails {
		if err := checkEmail(a); err != nil {
			bad(fmt.Sprintf("admin_emails[%d]", i), "%v", err)
		}
	}
	guard, err := c.Outbound()
	if err != nil {
		errs = append(errs, err)
	}
	for i, w := range c.AdminWebhooks {
		if err := checkURL(w.URL); err != nil {
			bad(fmt.Sprintf("admin_webhooks[%d].url", i), "%v", err)
		} else if err := guard.CheckURL(w.URL); err != nil {
			bad(fmt.Sprintf("admin_webhooks[%d].url", i), "%v", err)
		}
	}
	if c.Retry.Initial <= 0 {
		bad("retry.initial", "must be positive")
	}
	if c.Retry.Max < c.Retry.Initial {
		bad("retry.max", "must be at least retry.initial")
	}
	if c.Retry.MaxAttempts < 1 {
		bad("retry.max_attempts", "must be at least 1")
	}
	if c.Workers < 1 {
		bad("workers", "must be at least 1")
	}
	if c.PollInterval <= 0 {
		bad("poll_interval", "must be positive")
	}
	if c.WebhookTimeout <= 0 {
		bad("webhook_timeout", "must be positive")
	}
	return errors.Join(errs...)
}
