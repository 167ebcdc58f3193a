// Package notify sends faxd's emails and webhooks through a durable
// delivery log in PostgreSQL.
//
// Whatever needs telling (a received fax routed to an address, a reroute,
// a submitter's completion notice, a cluster event for administrators)
// becomes a row in the deliveries table, written in the caller's
// transaction when it has one. A worker on every node claims a due row
// with FOR UPDATE SKIP LOCKED by leasing it (next_attempt_at moves to the
// lease's end, committed at once), makes the attempt with no transaction
// open, and records the outcome only while its lease still holds, so a
// delivery is worked by one node at a time and is never sent twice by two
// healthy nodes. Failed attempts are retried with exponential back-off
// counted from the attempt's end and given up after a number of attempts
// with the reason kept. A node that dies mid-attempt leaves the row to
// another node once the lease runs out: delivery is at least once, and
// every attempt carries the same idempotency key so a receiver can drop
// the rare repeat.
package notify

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/faxd/faxd/internal/netguard"
	"github.com/faxd/faxd/internal/secretbox"
)

// Documents fetches a received fax's PDF for attachments; the archive
// implements it.
type Documents interface {
	PDF(ctx context.Context, faxRef string) ([]byte, error)
}

// ErrNoDocument is what a Documents implementation wraps when a fax's PDF
// is gone for good (purged): the delivery then fails without retrying.
var ErrNoDocument = errors.New("notify: fax document not found")

// Options are the run-time collaborators of a Notifier.
type Options struct {
	NodeID    string    // recorded on each attempt
	Documents Documents // required for deliveries with attachments
	Logger    *slog.Logger
	// Secrets seals the webhook secrets stored with deliveries and opens
	// them to sign; nil refuses deliveries that carry a plaintext secret.
	Secrets *secretbox.Keyring
}

// SecretColumns are the columns holding sealed secrets, for re-sealing.
var SecretColumns = []secretbox.Column{{Table: "deliveries", Key: "id", Value: "secret"}}

// Notifier enqueues deliveries and, through Run, works them.
type Notifier struct {
	pool  *pgxpool.Pool
	cfg   Config
	opts  Options
	log   *slog.Logger
	wake  chan struct{}
	http  *http.Client
	roots *x509.CertPool
	guard *netguard.Policy
}

// Secrets is the keyring deliveries' webhook secrets are sealed with;
// inbound routing seals its rules' secrets with the same one.
func (n *Notifier) Secrets() *secretbox.Keyring { return n.opts.Secrets }

// New returns a Notifier on the queue database's pool.
func New(pool *pgxpool.Pool, cfg Config, opts Options) (*Notifier, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	n := &Notifier{pool: pool, cfg: cfg, opts: opts, log: opts.Logger, wake: make(chan struct{}, 1)}
	if n.log == nil {
		n.log = slog.Default()
	}
	n.log = n.log.With("component", "notify")
	if cfg.SMTP.CAFile != "" {
		pem, err := os.ReadFile(cfg.SMTP.CAFile)
		if err != nil {
			return nil, fmt.Errorf("notify.smtp.ca_file: %w", err)
		}
		n.roots = x509.NewCertPool()
		if !n.roots.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("notify.smtp.ca_file: %s holds no PEM certificate", cfg.SMTP.CAFile)
		}
	}
	guard, err := cfg.Outbound()
	if err != nil {
		return nil, err
	}
	n.guard = guard
	tr := http.DefaultTransport.(*http.Transport).Clone()
	// The address is checked as it is dialled, after resolution, so a
	// name that resolves to an internal address is refused too. No proxy:
	// through one, only the proxy's address could be checked.
	tr.Proxy = nil
	tr.DialContext = guard.DialContext(&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second})
	n.http = &http.Client{
		Transport: tr,
		Timeout:   cfg.WebhookTimeout,
		// A redirect would resend a signed body somewhere nobody
		// configured: report it instead.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return n, nil
}

// Config returns the configuration the Notifier runs with.
func (n *Notifier) Config() Config { return n.cfg }

// Wake tells an idle worker of this node to look for due deliveries now.
// Enqueue on the pool does it itself; after enqueueing in a transaction,
// call it once the transaction has committed.
func (n *Notifier) Wake() {
	select {
	case n.wake <- struct{}{}:
	default:
	}
}

// Delay is the back-off before attempt number attempt+1, without jitter.
func (r Retry) Delay(attempt int) time.Duration {
	d := r.Initial
	for i := 1; i < attempt && d < r.Max; i++ {
		d *= 2
	}
	return min(d, r.Max)
}
