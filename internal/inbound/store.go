package inbound

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/faxd/faxd/internal/secretbox"
)

// DB is a pool or a transaction: a change and its audit entry can share
// a transaction (WithTx).
type DB interface {
	Begin(context.Context) (pgx.Tx, error)
	Exec(context.Context, string, ...any) (pgconn.CommandTag, error)
	Query(context.Context, string, ...any) (pgx.Rows, error)
	QueryRow(context.Context, string, ...any) pgx.Row
}

// Store keeps inbound rules in the queue database (table inbound_rules).
// Webhook secrets are stored sealed (secretbox); a Rule read from the
// store carries the sealed value in Destination.Secret, which notify
// opens when it signs, so the plaintext exists only while signing.
type Store struct {
	pool    DB
	secrets *secretbox.Keyring
}

// NewStore returns a Store on the queue database. Without WithSecrets it
// refuses to store webhook secrets.
func NewStore(pool *pgxpool.Pool) *Store { return &Store{pool: pool} }

// WithSecrets sets the keyring webhook secrets are sealed with.
func (s *Store) WithSecrets(k *secretbox.Keyring) *Store {
	s.secrets = k
	return s
}

// WithTx returns a copy of s working inside tx.
func (s *Store) WithTx(tx pgx.Tx) *Store {
	c := *s
	c.pool = tx
	return &c
}

// SecretColumns are the columns holding sealed secrets, for re-sealing.
var SecretColumns = []secretbox.Column{{Table: "inbound_rules", Key: "id", Value: "secret"}}

// sealSecret seals r's webhook secret for storage (a kept, already sealed
// one stays as it is).
func (s *Store) sealSecret(r *Rule) error {
	v, err := s.secrets.Seal(r.Destination.Secret)
	if err != nil {
		return fmt.Errorf("inbound: the webhook secret cannot be stored: %w", err)
	}
	r.Destination.Secret = v
	return nil
}

const ruleCols = `id, priority, match_kind, match, caller_kind, caller_match, dest_kind, destination,
	secret, description, enabled, created_at, updated_at, tsi_kind, tsi_match, pages`

func scanRule(row pgx.Row) (Rule, error) {
	var r Rule
	var dest string
	var enabled bool
	err := row.Scan(&r.ID, &r.Priority, &r.Number.Kind, &r.Number.Value, &r.Caller.Kind, &r.Caller.Value,
		&r.Destination.Kind, &dest, &r.Destination.Secret, &r.Description, &enabled, &r.CreatedAt, &r.UpdatedAt,
		&r.TSI.Kind, &r.TSI.Value, &r.Pages)
	if err != nil {
		return Rule{}, err
	}
	r.Disabled = !enabled
	switch r.Destination.Kind {
	case DestMailbox:
		r.Destination.Mailbox = dest
	case DestEmail:
		r.Destination.Emails = strings.Split(dest, ",")
	case DestWebhook:
		r.Destination.URL = dest
	}
	return r, nil
}

// destColumn is the destination column's value: the mailbox, the
// addresses joined by commas, or the URL.
func destColumn(d Destination) string {
	switch d.Kind {
	case DestMailbox:
		return d.Mailbox
	case DestEmail:
		return strings.Join(d.Emails, ",")
	}
	return d.URL
}

// Create validates and stores a new rule, returning it with its ID and
// timestamps. A validation failure is a *ValidationError.
func (s *Store) Create(ctx context.Context, r Rule) (Rule, error) {
	r = r.normalize()
	if err := r.Validate(); err != nil {
		return Rule{}, err
	}
	if err := s.sealSecret(&r); err != nil {
		return Rule{}, err
	}
	out, err := scanRule(s.pool.QueryRow(ctx, `INSERT INTO inbound_rules
		(priority, match_kind, match, caller_kind, caller_match, dest_kind, destination, secret, description, enabled,
		 tsi_kind, tsi_match, pages)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) RETURNING `+ruleCols,
		r.Priority, r.Number.Kind, r.Number.Value, r.Caller.Kind, r.Caller.Value, r.Destination.Kind,
		destColumn(r.Destination), r.Destination.Secret, r.Description, !r.Disabled, r.TSI.Kind, r.TSI.Value, r.Pages))
	if err != nil {
		return Rule{}, fmt.Errorf("inbound: create rule: %w", err)
	}
	return out, nil
}

// Get returns one rule; ErrNotFound when there is none.
func (s *Store) Get(ctx context.Context, id int64) (Rule, error) {
	r, err := scanRule(s.pool.QueryRow(ctx, `SELECT `+ruleCols+` FROM inbound_rules WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return Rule{}, fmt.Errorf("%w: rule %d", ErrNotFound, id)
	}
	if err != nil {
		return Rule{}, fmt.Errorf("inbound: get rule %d: %w", id, err)
	}
	return r, nil
}

// List returns every rule in evaluation order: priority, then id.
func (s *Store) List(ctx context.Context) ([]Rule, error) {
	return s.list(ctx, s.pool, false)
}

func (s *Store) list(ctx context.Context, q interface {
	Query(context.Context, string, ...any) (pgx.Rows, error)
}, enabledOnly bool) ([]Rule, error) {
	rows, err := q.Query(ctx, `SELECT `+ruleCols+` FROM inbound_rules
		WHERE enabled OR NOT $1 ORDER BY priority, id`, enabledOnly)
	if err != nil {
		return nil, fmt.Errorf("inbound: list rules: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Rule, error) { return scanRule(r) })
	if err != nil {
		return nil, fmt.Errorf("inbound: list rules: %w", err)
	}
	return out, nil
}

// Update replaces rule r.ID's fields. A webhook rule updated without a
// secret keeps the one it has, since the API never shows it.
func (s *Store) Update(ctx context.Context, r Rule) (Rule, error) {
	r = r.normalize()
	var out Rule
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		old, err := scanRule(tx.QueryRow(ctx, `SELECT `+ruleCols+` FROM inbound_rules WHERE id = $1 FOR UPDATE`, r.ID))
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("%w: rule %d", ErrNotFound, r.ID)
		}
		if err != nil {
			return err
		}
		if r.Destination.Kind == DestWebhook && r.Destination.Secret == "" && old.Destination.Kind == DestWebhook {
			r.Destination.Secret = old.Destination.Secret
		}
		if err := r.Validate(); err != nil {
			return err
		}
		if err := s.sealSecret(&r); err != nil {
			return err
		}
		out, err = scanRule(tx.QueryRow(ctx, `UPDATE inbound_rules SET priority = $2, match_kind = $3, match = $4,
			caller_kind = $5, caller_match = $6, dest_kind = $7, destination = $8, secret = $9, description = $10,
			enabled = $11, tsi_kind = $12, tsi_match = $13, pages = $14,
			updated_at = greatest(now(), updated_at + interval '1 microsecond')
			WHERE id = $1 RETURNING `+ruleCols,
			r.ID, r.Priority, r.Number.Kind, r.Number.Value, r.Caller.Kind, r.Caller.Value, r.Destination.Kind,
			destColumn(r.Destination), r.Destination.Secret, r.Description, !r.Disabled, r.TSI.Kind, r.TSI.Value, r.Pages))
		return err
	})
	if err != nil {
		if errors.Is(err, ErrInvalid) || errors.Is(err, ErrNotFound) || errors.Is(err, secretbox.ErrNoKey) {
			return Rule{}, err
		}
		return Rule{}, fmt.Errorf("inbound: update rule %d: %w", r.ID, err)
	}
	return out, nil
}

// Delete removes a rule; ErrNotFound when there is none.
func (s *Store) Delete(ctx context.Context, id int64) error {
	tag, err := s.pool.Exec(ctx, `DELETE FROM inbound_rules WHERE id = $1`, id)
	if err != nil {
		return fmt.Errorf("inbound: delete rule %d: %w", id, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("%w: rule %d", ErrNotFound, id)
	}
	return nil
}

// Disposition is where a received fax went.
type Disposition struct {
	FaxRef      string    `json:"fax_ref"`
	RuleID      int64     `json:"rule_id,omitempty"` // 0: unrouted or rerouted
	Destination string    `json:"destination"`       // "unrouted" or Destination.String()
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
}

// Unrouted is the disposition of a fax no rule matched.
const Unrouted = "unrouted"

func scanDisposition(row pgx.Row) (Disposition, error) {
	var d Disposition
	var rule *int64
	err := row.Scan(&d.FaxRef, &rule, &d.Destination, &d.CreatedAt, &d.UpdatedAt)
	if rule != nil {
		d.RuleID = *rule
	}
	return d, err
}
