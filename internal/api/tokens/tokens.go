// Package tokens holds faxd's API tokens: random secrets shown once at
// creation and stored only as their SHA-256, each with a name and a role.
//
// A token reads faxd_<id>_<secret>, the secret being 32 random bytes in
// unpadded base64url. The id finds the row in one index look-up; the hash
// of the whole string, compared in constant time, proves the secret.
package tokens

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Role is what a token may do.
type Role string

const (
	// Submitter sends faxes and sees its own.
	Submitter Role = "submitter"
	// Admin does everything: all faxes, gateways, routes, inbound rules,
	// tokens.
	Admin Role = "admin"
)

// Valid reports whether r is a known role.
func (r Role) Valid() bool { return r == Submitter || r == Admin }

// Prefix starts every token, so secret scanners and people recognise one.
const Prefix = "faxd_"

var (
	// ErrInvalid: the presented token is malformed, unknown, wrong or
	// revoked. Deliberately one error: the caller learns nothing more.
	ErrInvalid = errors.New("tokens: invalid or revoked token")
	// ErrNotFound: no token with that id.
	ErrNotFound = errors.New("tokens: no such token")
	// ErrBadRequest: a bad name or role at creation.
	ErrBadRequest = errors.New("tokens: bad request")
	// ErrExpired: the token is genuine but past its expiry. Unlike
	// ErrInvalid it is told apart, since the holder proved the secret and
	// needs to know to ask for a new token rather than check for typos.
	ErrExpired = errors.New("tokens: token expired")
)

// Token describes a token; the secret is never part of it.
type Token struct {
	ID         int64     `json:"id"`
	Name       string    `json:"name"`
	Role       Role      `json:"role"`
	CreatedAt  time.Time `json:"created_at"`
	LastUsedAt time.Time `json:"last_used_at,omitzero"`
	RevokedAt  time.Time `json:"revoked_at,omitzero"`
	ExpiresAt  time.Time `json:"expires_at,omitzero"`
	// UserID is the user account the token belongs to (0: none); such a
	// token acts with that user's role and identity.
	UserID int64 `json:"user_id,omitempty"`
}

// Expired reports whether t has expired at now.
func (t Token) Expired(now time.Time) bool { return !t.ExpiresAt.IsZero() && !now.Before(t.ExpiresAt) }

// DB is a pool or a transaction: a change and its audit entry can share
// a transaction (WithTx).
type DB interface {
	Begin(context.Context) (pgx.Tx, error)
	Exec(context.Context, string, ...any) (pgconn.CommandTag, error)
	Query(context.Context, string, ...any) (pgx.Rows, error)
	QueryRow(context.Context, string, ...any) pgx.Row
}

// Store is the token table in the queue database.
type Store struct {
	pool DB
	// TouchEvery limits last_used_at writes to one per token per period.
	TouchEvery time.Duration
	// Now is the clock expiry is judged by (tests set it).
	Now func() time.Time
}

// New returns a store on pool (schemas.Queue applied).
func New(pool *pgxpool.Pool) *Store {
	return &Store{pool: pool, TouchEvery: time.Minute, Now: time.Now}
}

// WithTx returns a copy of s working inside tx.
func (s *Store) WithTx(tx pgx.Tx) *Store {
	c := *s
	c.pool = tx
	return &c
}

func (s *Store) now() time.Time {
	if s.Now == nil {
		return time.Now()
	}
	return s.Now()
}

var nameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$`)

// ValidateName explains what is wrong with a token name, or returns nil.
func ValidateName(name string) error {
	if !nameRE.MatchString(name) {
		return fmt.Errorf("%w: name %q: use 1-64 letters, digits, '.', '_', '@' or '-', starting with a letter or digit", ErrBadRequest, name)
	}
	return nil
}

func hash(secret string) []byte {
	h := sha256.Sum256([]byte(secret))
	return h[:]
}

// Create makes a token that does not expire and returns its secret,
// which is not stored and cannot be shown again.
func (s *Store) Create(ctx context.Context, name string, role Role) (string, Token, error) {
	return s.CreateExpiring(ctx, name, role, time.Time{})
}

// CreateExpiring is Create with an expiry (zero: none), which must lie in
// the future.
func (s *Store) CreateExpiring(ctx context.Context, name string, role Role, expires time.Time) (string, Token, error) {
	return s.CreateOwned(ctx, name, role, expires, 0)
}

// CreateOwned is CreateExpiring for a token that belongs to the user
// account userID (0: none). An owned token is stored with the role
// submitter whatever role is asked: its authority is its user's, and
// where users are unknown (a standby that syncs tokens only) it must not
// carry more.
func (s *Store) CreateOwned(ctx context.Context, name string, role Role, expires time.Time, userID int64) (string, Token, error) {
	if userID != 0 {
		role = Submitter
	}
	if err := ValidateName(name); err != nil {
		return "", Token{}, err
	}
	if !expires.IsZero() && !expires.After(s.now()) {
		return "", Token{}, fmt.Errorf("%w: expires_at %s is not in the future", ErrBadRequest, expires.UTC().Format(time.RFC3339))
	}
	if !role.Valid() {
		return "", Token{}, fmt.Errorf("%w: role %q: must be submitter or admin", ErrBadRequest, role)
	}
	var raw [32]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return "", Token{}, err
	}
	secretPart := base64.RawURLEncoding.EncodeToString(raw[:])
	var t Token
	var secret string
	// The id is part of the hashed string, so insert and hash in one
	// transaction.
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, `SELECT nextval(pg_get_serial_sequence('api_tokens', 'id'))`).Scan(&t.ID); err != nil {
			return err
		}
		secret = Prefix + strconv.FormatInt(t.ID, 10) + "_" + secretPart
		return tx.QueryRow(ctx, `
			INSERT INTO api_tokens (id, name, role, hash, expires_at, user_id) OVERRIDING SYSTEM VALUE VALUES ($1, $2, $3, $4, $5, $6)
			RETURNING created_at`, t.ID, name, string(role), hash(secret), optTime(expires), optID(userID)).Scan(&t.CreatedAt)
	})
	if err != nil {
		return "", Token{}, fmt.Errorf("tokens: create: %w", err)
	}
	t.Name, t.Role, t.ExpiresAt, t.UserID = name, role, expires, userID
	return secret, t, nil
}

func optID(id int64) *int64 {
	if id == 0 {
		return nil
	}
	return &id
}

func optTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// parse extracts the id from a presented token.
func parse(secret string) (int64, bool) {
	rest, ok := strings.CutPrefix(secret, Prefix)
	if !ok {
		return 0, false
	}
	idPart, sec, ok := strings.Cut(rest, "_")
	if !ok || len(sec) != 43 {
		return 0, false
	}
	id, err := strconv.ParseInt(idPart, 10, 64)
	return id, err == nil && id > 0
}

const tokenCols = `id, name, role, created_at, last_used_at, revoked_at, expires_at, user_id`

func scan(row pgx.Row, extra ...any) (Token, error) {
	var t Token
	var role string
	var used, revoked, expires *time.Time
	var userID *int64
	if err := row.Scan(append([]any{&t.ID, &t.Name, &role, &t.CreatedAt, &used, &revoked, &expires, &userID}, extra...)...); err != nil {
		return Token{}, err
	}
	if userID != nil {
		t.UserID = *userID
	}
	t.Role = Role(role)
	if used != nil {
		t.LastUsedAt = *used
	}
	if revoked != nil {
		t.RevokedAt = *revoked
	}
	if expires != nil {
		t.ExpiresAt = *expires
	}
	return t, nil
}

// Authenticate checks a presented token and records its use.
func (s *Store) Authenticate(ctx context.Context, secret string) (Token, error) {
	id, ok := parse(secret)
	if !ok {
		return Token{}, ErrInvalid
	}
	var stored []byte
	t, err := scan(s.pool.QueryRow(ctx, `SELECT `+tokenCols+`, hash FROM api_tokens WHERE id = $1`, id), &stored)
	if errors.Is(err, pgx.ErrNoRows) {
		return Token{}, ErrInvalid
	}
	if err != nil {
		return Token{}, fmt.Errorf("tokens: authenticate: %w", err)
	}
	if subtle.ConstantTimeCompare(stored, hash(secret)) != 1 || !t.RevokedAt.IsZero() {
		return Token{}, ErrInvalid
	}
	now := s.now()
	if t.Expired(now) {
		return t, fmt.Errorf("%w: token %d (%s) expired at %s", ErrExpired, t.ID, t.Name, t.ExpiresAt.UTC().Format(time.RFC3339))
	}
	if t.LastUsedAt.IsZero() || now.Sub(t.LastUsedAt) > s.TouchEvery {
		if _, err := s.pool.Exec(ctx, `UPDATE api_tokens SET last_used_at = now() WHERE id = $1`, id); err != nil {
			return Token{}, fmt.Errorf("tokens: record use: %w", err)
		}
		t.LastUsedAt = now
	}
	return t, nil
}

// List returns every token, revoked ones included, oldest first.
func (s *Store) List(ctx context.Context) ([]Token, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+tokenCols+` FROM api_tokens ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("tokens: list: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Token, error) { return scan(r) })
	if err != nil {
		return nil, fmt.Errorf("tokens: list: %w", err)
	}
	return out, nil
}

// Get returns one token.
func (s *Store) Get(ctx context.Context, id int64) (Token, error) {
	t, err := scan(s.pool.QueryRow(ctx, `SELECT `+tokenCols+` FROM api_tokens WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return Token{}, fmt.Errorf("%w: %d", ErrNotFound, id)
	}
	if err != nil {
		return Token{}, fmt.Errorf("tokens: get %d: %w", id, err)
	}
	return t, nil
}

// Revoke revokes a token at once; revoking twice keeps the first time.
func (s *Store) Revoke(ctx context.Context, id int64) (Token, error) {
	t, err := scan(s.pool.QueryRow(ctx, `
		UPDATE api_tokens SET revoked_at = coalesce(revoked_at, now()) WHERE id = $1
		RETURNING `+tokenCols, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return Token{}, fmt.Errorf("%w: %d", ErrNotFound, id)
	}
	if err != nil {
		return Token{}, fmt.Errorf("tokens: revoke %d: %w", id, err)
	}
	return t, nil
}

// ParseExpiry reads an expiry: a lifetime from now ("90d", "12h", "30m",
// "1d12h") or a date ("2027-01-31", meaning its start in UTC) or an RFC
// 3339 time. Empty means no expiry (zero time).
func ParseExpiry(s string, now time.Time) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse("2006-01-02", s); err == nil {
		return t, nil
	}
	var d time.Duration
	rest := s
	if days, after, ok := strings.Cut(rest, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil || n < 0 || n > 36600 {
			return time.Time{}, fmt.Errorf("expiry %q: write a lifetime like 90d or 12h, or a date like 2027-01-31", s)
		}
		d, rest = time.Duration(n)*24*time.Hour, after
	}
	if rest != "" {
		x, err := time.ParseDuration(rest)
		if err != nil || x < 0 {
			return time.Time{}, fmt.Errorf("expiry %q: write a lifetime like 90d or 12h, or a date like 2027-01-31", s)
		}
		d += x
	}
	if d <= 0 {
		return time.Time{}, fmt.Errorf("expiry %q: the lifetime must be positive", s)
	}
	return now.Add(d), nil
}
