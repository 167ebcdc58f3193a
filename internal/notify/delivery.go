package notify

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/mail"
	"net/url"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Kind is how a delivery goes out.
type Kind string

// Delivery kinds.
const (
	KindEmail   Kind = "email"
	KindWebhook Kind = "webhook"
)

// State is where a delivery stands.
type State string

// Delivery states.
const (
	StatePending   State = "pending"
	StateDelivered State = "delivered"
	StateFailed    State = "failed"
)

// Sentinel errors.
var (
	ErrNotFound = errors.New("notify: delivery not found")
	ErrInvalid  = errors.New("notify: invalid delivery")
)

// Querier runs statements: a *pgxpool.Pool, or a pgx.Tx when a delivery
// must be enqueued in the same transaction as what caused it.
type Querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// Request describes one delivery to enqueue.
type Request struct {
	Kind Kind
	// Event names what happened (fax.received, server.down, ...).
	Event string
	// Recipients of an email (one message to all), or the one webhook URL.
	Targets []string
	Subject string
	Text    string // mail body
	// Data is the event's details: the webhook body's "data" member.
	Data any
	// FaxRef names the fax whose PDF is attached when Attach is set.
	FaxRef string
	Attach bool
	Secret string // webhook HMAC key
	// Key identifies the delivery: enqueueing the same key twice (a
	// retried caller, two nodes seeing the same event) makes one delivery.
	Key string
	// MaxAttempts overrides the configured retry.max_attempts when > 0.
	MaxAttempts int
}

// Delivery is one row of the delivery log.
type Delivery struct {
	ID             int64           `json:"id"`
	Kind           Kind            `json:"kind"`
	Event          string          `json:"event"`
	Target         string          `json:"target"`
	Subject        string          `json:"subject,omitempty"`
	Body           string          `json:"-"`
	Payload        json.RawMessage `json:"payload"`
	FaxRef         string          `json:"fax_ref,omitempty"`
	Attach         bool            `json:"attach"`
	Secret         string          `json:"-"` // sealed (secretbox)
	IdempotencyKey string          `json:"idempotency_key"`
	Attempts       int             `json:"attempts"`
	MaxAttempts    int             `json:"max_attempts"`
	NextAttemptAt  time.Time       `json:"next_attempt_at"`
	State          State           `json:"state"`
	LastError      string          `json:"last_error,omitempty"`
	NodeID         string          `json:"node_id,omitempty"`
	CreatedAt      time.Time       `json:"created_at"`
	UpdatedAt      time.Time       `json:"updated_at"`
	FinishedAt     time.Time       `json:"finished_at,omitzero"`
}

const deliveryCols = `id, kind, event, target, subject, body, payload, payload_ref, attach, secret,
	idempotency_key, attempts, max_attempts, next_attempt_at, state, last_error, node_id,
	created_at, updated_at, finished_at`

func scanDelivery(row pgx.Row) (Delivery, error) {
	var d Delivery
	var finished *time.Time
	err := row.Scan(&d.ID, &d.Kind, &d.Event, &d.Target, &d.Subject, &d.Body, &d.Payload, &d.FaxRef,
		&d.Attach, &d.Secret, &d.IdempotencyKey, &d.Attempts, &d.MaxAttempts, &d.NextAttemptAt,
		&d.State, &d.LastError, &d.NodeID, &d.CreatedAt, &d.UpdatedAt, &finished)
	if finished != nil {
		d.FinishedAt = *finished
	}
	return d, err
}

// Targets splits an email delivery's target into addresses.
func (d Delivery) Targets() []string {
	if d.Kind != KindEmail {
		return []string{d.Target}
	}
	var out []string
	for a := range strings.SplitSeq(d.Target, ",") {
		if a = strings.TrimSpace(a); a != "" {
			out = append(out, a)
		}
	}
	return out
}

func checkEmail(a string) error {
	addr, err := mail.ParseAddress(a)
	if err != nil || addr.Name != "" || addr.Address != a || strings.ContainsAny(a, ",\r\n") {
		return fmt.Errorf("%q is not a plain email address (name@example.com)", a)
	}
	return nil
}

func checkURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || len(s) > 2048 {
		return fmt.Errorf("%q is not an http or https URL", s)
	}
	if u.User != nil {
		return fmt.Errorf("%q: put credentials in the secret, not the URL", s)
	}
	return nil
}

// CheckEmail reports whether a is a plain address faxd can mail to.
func CheckEmail(a string) error { return checkEmail(a) }

// CheckURL reports whether s is a URL faxd can call.
func CheckURL(s string) error { return checkURL(s) }

// hashKey keeps stored keys short whatever the caller's key is.
func hashKey(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return "fd-" + hex.EncodeToString(h.Sum(nil)[:16])
}

// Enqueue records a delivery for the workers; q is nil for the pool, or the
// transaction the delivery belongs to (then call Wake after the commit).
// The same Key enqueued again returns the existing delivery's id.
func (n *Notifier) Enqueue(ctx context.Context, q Querier, r Request) (int64, error) {
	if len(r.Targets) == 0 {
		return 0, fmt.Errorf("%w: no target", ErrInvalid)
	}
	switch r.Kind {
	case KindEmail:
		for _, a := range r.Targets {
			if err := checkEmail(a); err != nil {
				return 0, fmt.Errorf("%w: %v", ErrInvalid, err)
			}
		}
	case KindWebhook:
		if len(r.Targets) != 1 {
			return 0, fmt.Errorf("%w: a webhook delivery has one URL", ErrInvalid)
		}
		if err := checkURL(r.Targets[0]); err != nil {
			return 0, fmt.Errorf("%w: %v", ErrInvalid, err)
		}
	default:
		return 0, fmt.Errorf("%w: kind %q", ErrInvalid, r.Kind)
	}
	if r.Event == "" || r.Key == "" {
		return 0, fmt.Errorf("%w: event and key are required", ErrInvalid)
	}
	if r.Attach && r.FaxRef == "" {
		return 0, fmt.Errorf("%w: attach without a fax reference", ErrInvalid)
	}
	data := r.Data
	if data == nil {
		data = struct{}{}
	}
	payload, err := json.Marshal(data)
	if err != nil {
		return 0, fmt.Errorf("%w: data: %v", ErrInvalid, err)
	}
	// The webhook secret is stored sealed; one already sealed (copied from
	// an inbound rule) stays as it is.
	secret, err := n.opts.Secrets.Seal(r.Secret)
	if err != nil {
		return 0, fmt.Errorf("notify: enqueue %s: the webhook secret cannot be stored: %w", r.Event, err)
	}
	maxAtt := r.MaxAttempts
	if maxAtt <= 0 {
		maxAtt = n.cfg.Retry.MaxAttempts
	}
	target := strings.Join(r.Targets, ", ")
	key := hashKey(r.Key, string(r.Kind), target)
	if q == nil {
		q = n.pool
	}
	// The no-op update makes RETURNING give the existing row's id.
	var id int64
	err = q.QueryRow(ctx, `INSERT INTO deliveries
		(kind, event, target, subject, body, payload, payload_ref, attach, secret, idempotency_key, max_attempts)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
		ON CONFLICT (idempotency_key) DO UPDATE SET idempotency_key = EXCLUDED.idempotency_key
		RETURNING id`,
		r.Kind, r.Event, target, oneLine(r.Subject), r.Text, payload, r.FaxRef, r.Attach, secret, key, maxAtt).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("notify: enqueue %s: %w", r.Event, err)
	}
	if _, err := q.Exec(ctx, `SELECT pg_notify('faxd_deliveries', '')`); err != nil {
		return 0, fmt.Errorf("notify: enqueue %s: %w", r.Event, err)
	}
	if q == Querier(n.pool) {
		n.Wake()
	}
	return id, nil
}

// oneLine keeps header values on one line: a CR or LF in a subject would
// let data inject mail headers.
func oneLine(s string) string {
	return strings.Join(strings.FieldsFunc(s, func(r rune) bool { return r == '\r' || r == '\n' }), " ")
}

// Get returns one delivery.
func (n *Notifier) Get(ctx context.Context, id int64) (Delivery, error) {
	d, err := scanDelivery(n.pool.QueryRow(ctx, `SELECT `+deliveryCols+` FROM deliveries WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return Delivery{}, fmt.Errorf("%w: %d", ErrNotFound, id)
	}
	if err != nil {
		return Delivery{}, fmt.Errorf("notify: get %d: %w", id, err)
	}
	return d, nil
}

// Filter selects deliveries for List; zero fields select everything.
type Filter struct {
	FaxRef string
	State  State
	Event  string
	// Before continues a list: only deliveries with a smaller id.
	Before int64
	Limit  int // default 100, at most MaxLimit
}

// MaxLimit is the most deliveries one List returns.
const MaxLimit = 1000

// Rows runs queries: a *pgxpool.Pool or a pgx.Tx.
type Rows interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// List returns deliveries, newest first.
func (n *Notifier) List(ctx context.Context, f Filter) ([]Delivery, error) {
	return List(ctx, n.pool, f)
}

// List returns deliveries, newest first, from the queue database q (the
// API lists them without a Notifier: a node need not run workers to show
// them).
func List(ctx context.Context, q Rows, f Filter) ([]Delivery, error) {
	if f.Limit <= 0 || f.Limit > MaxLimit {
		f.Limit = 100
	}
	rows, err := q.Query(ctx, `SELECT `+deliveryCols+` FROM deliveries
		WHERE ($1 = '' OR payload_ref = $1) AND ($2 = '' OR state = $2) AND ($3 = '' OR event = $3)
		AND ($5 = 0 OR id < $5)
		ORDER BY id DESC LIMIT $4`, f.FaxRef, string(f.State), f.Event, f.Limit, f.Before)
	if err != nil {
		return nil, fmt.Errorf("notify: list: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Delivery, error) { return scanDelivery(r) })
	if err != nil {
		return nil, fmt.Errorf("notify: list: %w", err)
	}
	return out, nil
}

// Retry puts a failed delivery back to pending with a fresh attempt budget,
// for an administrator who fixed the receiver.
func (n *Notifier) Retry(ctx context.Context, id int64) error {
	if err := RetryDelivery(ctx, n.pool, id); err != nil {
		return err
	}
	n.Wake()
	return nil
}

// RetryDelivery makes failed delivery id due now with a fresh attempt budget, in
// q (a transaction when the caller audits it). Every node's workers hear
// of it when q commits.
func RetryDelivery(ctx context.Context, q Querier, id int64) error {
	tag, err := q.Exec(ctx, `UPDATE deliveries SET state = 'pending', attempts = 0,
		next_attempt_at = now(), finished_at = NULL, updated_at = now()
		WHERE id = $1 AND state = 'failed'`, id)
	if err != nil {
		return fmt.Errorf("notify: retry %d: %w", id, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("%w: %d (or not failed)", ErrNotFound, id)
	}
	if _, err := q.Exec(ctx, `SELECT pg_notify('faxd_deliveries', '')`); err != nil {
		return fmt.Errorf("notify: retry %d: %w", id, err)
	}
	return nil
}

// Purge deletes deliveries that finished (delivered or failed) more than
// age ago, in batches, and returns how many. Pending ones are kept
// whatever their age.
func (n *Notifier) Purge(ctx context.Context, age time.Duration) (int64, error) {
	if age <= 0 {
		return 0, fmt.Errorf("%w: purge age must be positive", ErrInvalid)
	}
	var total int64
	for {
		tag, err := n.pool.Exec(ctx, `DELETE FROM deliveries WHERE id IN (
			SELECT id FROM deliveries WHERE state <> 'pending'
			AND finished_at < now() - $1 * interval '1 microsecond' LIMIT 1000)`, age.Microseconds())
		if err != nil {
			return total, fmt.Errorf("notify: purge: %w", err)
		}
		total += tag.RowsAffected()
		if tag.RowsAffected() < 1000 {
			return total, nil
		}
	}
}
