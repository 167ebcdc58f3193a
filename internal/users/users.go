// Package users holds faxd's accounts for people: a name, a role (admin,
// operator or user), an argon2id password hash; their browser sessions;
// the mailboxes granted to each user; and login throttling counted in the
// queue database, so that it holds across every node.
//
// All SQL of these tables lives in this package. Changes are recorded in
// the audit log (internal/audit) in the transaction that makes them; the
// actor is taken from the context (WithActor).
package users

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"runtime"
	"strconv"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/faxd/faxd/internal/audit"
)

// Role is what a user may do.
type Role string

const (
	// Admin does everything, configuration included.
	Admin Role = "admin"
	// Operator works the queue and the received faxes, but changes no
	// configuration.
	Operator Role = "operator"
	// RoleUser sends faxes, sees their own, and reads the received faxes
	// of the mailboxes granted to them. (Not "User": that is the account
	// type.)
	RoleUser Role = "user"

	// RoleAdmin and RoleOperator are Admin and Operator under names
	// matching RoleUser.
	RoleAdmin    = Admin
	RoleOperator = Operator
)

// Valid reports whether r is a known role.
func (r Role) Valid() bool { return r == Admin || r == Operator || r == RoleUser }

// Rank orders roles by authority: user < operator < admin (0: unknown).
func (r Role) Rank() int {
	switch r {
	case RoleUser:
		return 1
	case Operator:
		return 2
	case Admin:
		return 3
	}
	return 0
}

// User is an account; the password hash is never part of it.
type User struct {
	ID        int64     `json:"id"`
	Name      string    `json:"name"`
	Role      Role      `json:"role"`
	Disabled  bool      `json:"disabled"`
	CreatedAt time.Time `json:"created_at"`
}

var (
	// ErrBadCredentials: unknown name, wrong password or disabled account.
	// Deliberately one error: the caller learns nothing more.
	ErrBadCredentials = errors.New("users: wrong name or password")
	// ErrThrottled: too many failed logins for this name or address
	// within the throttle window; no password was checked.
	ErrThrottled = errors.New("users: too many failed logins; try again later")
	// ErrNoSession: the session is unknown, ended or expired.
	ErrNoSession = errors.New("users: no such session (unknown, ended or expired)")
	// ErrNotFound: no user with that id or name.
	ErrNotFound = errors.New("users: no such user")
	// ErrBadRequest: a bad name, role, password or mailbox.
	ErrBadRequest = errors.New("users: bad request")
	// ErrExists: the name is taken.
	ErrExists = errors.New("users: a user with that name exists")
	// ErrLastAdmin: the change would leave no enabled admin.
	ErrLastAdmin = errors.New("users: the last enabled admin cannot be removed, disabled or demoted")
	// ErrBadCSRF: a state-changing request lacks the session's CSRF token.
	ErrBadCSRF = errors.New("users: missing or wrong CSRF token")
)

// Options tune a Store. Zero fields take the defaults below.
type Options struct {
	SessionTTL  time.Duration // absolute session lifetime; default 12h
	IdleTimeout time.Duration // a session unused this long ends; default 30m
	// Failed logins allowed within ThrottleWindow per account name and per
	// client address before further attempts are refused unchecked.
	MaxFailuresPerName int           // default 5
	MaxFailuresPerAddr int           // default 20
	ThrottleWindow     time.Duration // default 15m
	// Params are argon2id's costs for new hashes; default DefaultParams.
	Params Params
	// Now is the clock sessions and throttling are judged by.
	Now func() time.Time
	// OnLogin, when set, is told each login's outcome: "ok", "failed" or
	// "throttled" (for a metric).
	OnLogin func(result string)
}

// DefaultOptions are the defaults of Options.
func DefaultOptions() Options {
	return Options{SessionTTL: 12 * time.Hour, IdleTimeout: 30 * time.Minute,
		MaxFailuresPerName: 5, MaxFailuresPerAddr: 20, ThrottleWindow: 15 * time.Minute,
		Params: DefaultParams, Now: time.Now}
}

// db is a pool or a transaction.
type db interface {
	Begin(context.Context) (pgx.Tx, error)
	Exec(context.Context, string, ...any) (pgconn.CommandTag, error)
	Query(context.Context, string, ...any) (pgx.Rows, error)
	QueryRow(context.Context, string, ...any) pgx.Row
}

// Store is the user tables in the queue database.
type Store struct {
	db   db
	opts Options
	// dummy is a hash verified for unknown names, so that their answer
	// takes as long as a wrong password's; made on first use.
	dummyOnce sync.Once
	dummy     string
	// hashing bounds concurrent argon2id checks (64 MiB each by default),
	// so a burst of logins queues instead of exhausting memory.
	hashing chan struct{}
}

// New returns a store on pool (schemas.Queue applied).
func New(pool *pgxpool.Pool, opts Options) *Store {
	def := DefaultOptions()
	if opts.SessionTTL <= 0 {
		opts.SessionTTL = def.SessionTTL
	}
	if opts.IdleTimeout <= 0 {
		opts.IdleTimeout = def.IdleTimeout
	}
	if opts.MaxFailuresPerName <= 0 {
		opts.MaxFailuresPerName = def.MaxFailuresPerName
	}
	if opts.MaxFailuresPerAddr <= 0 {
		opts.MaxFailuresPerAddr = def.MaxFailuresPerAddr
	}
	if opts.ThrottleWindow <= 0 {
		opts.ThrottleWindow = def.ThrottleWindow
	}
	if opts.Params == (Params{}) {
		opts.Params = def.Params
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Store{db: pool, opts: opts, hashing: make(chan struct{}, max(2, runtime.GOMAXPROCS(0)))}
}

func (s *Store) dummyHash() string {
	s.dummyOnce.Do(func() { s.dummy, _ = HashPassword("faxd-no-such-user", s.opts.Params) })
	return s.dummy
}

// Options returns the store's options, defaults filled in.
func (s *Store) Options() Options { return s.opts }

func (s *Store) now() time.Time { return s.opts.Now() }

// Actor is who makes a change, for the audit log.
type Actor struct {
	TokenID    int64  // the API token, if one made the change
	Name       string // token or user name
	RemoteAddr string
}

type actorKey struct{}

// WithActor returns ctx carrying the actor that audit entries name.
func WithActor(ctx context.Context, a Actor) context.Context {
	return context.WithValue(ctx, actorKey{}, a)
}

func actorFrom(ctx context.Context) Actor {
	a, _ := ctx.Value(actorKey{}).(Actor)
	if a.Name == "" {
		a.Name = "unknown"
	}
	return a
}

func (s *Store) record(ctx context.Context, tx pgx.Tx, action, objectID string, before, after any, detail string) error {
	a := actorFrom(ctx)
	_, err := audit.Record(ctx, tx, audit.Change{ActorID: a.TokenID, Actor: a.Name, RemoteAddr: a.RemoteAddr,
		Action: action, ObjectType: audit.User, ObjectID: objectID, Before: before, After: after, Detail: detail})
	return err
}

var (
	nameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$`)
	// The same rule as inbound rules' destination.mailbox.
	mailboxRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)
)

// ValidateName explains what is wrong with a user name, or returns nil.
func ValidateName(name string) error {
	if !nameRE.MatchString(name) {
		return fmt.Errorf("%w: name %q: use 1-64 letters, digits, '.', '_', '@' or '-', starting with a letter or digit", ErrBadRequest, name)
	}
	return nil
}

func checkRole(r Role) error {
	if !r.Valid() {
		return fmt.Errorf("%w: role %q: must be admin, operator or user", ErrBadRequest, r)
	}
	return nil
}

const userCols = `id, name, role, disabled, created_at`

func scanUser(row pgx.Row, extra ...any) (User, error) {
	var u User
	var role string
	if err := row.Scan(append([]any{&u.ID, &u.Name, &role, &u.Disabled, &u.CreatedAt}, extra...)...); err != nil {
		return User{}, err
	}
	u.Role = Role(role)
	return u, nil
}

func idStr(id int64) string { return strconv.FormatInt(id, 10) }

// Create makes an account.
func (s *Store) Create(ctx context.Context, name, password string, role Role) (User, error) {
	if err := ValidateName(name); err != nil {
		return User{}, err
	}
	if err := checkRole(role); err != nil {
		return User{}, err
	}
	if err := checkPassword(password); err != nil {
		return User{}, err
	}
	h, err := HashPassword(password, s.opts.Params)
	if err != nil {
		return User{}, fmt.Errorf("users: create: %w", err)
	}
	var u User
	err = pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		var err error
		u, err = scanUser(tx.QueryRow(ctx, `INSERT INTO users (name, role, password_hash) VALUES ($1, $2, $3)
			ON CONFLICT (name) DO NOTHING RETURNING `+userCols, name, string(role), h))
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("%w: %q", ErrExists, name)
		}
		if err != nil {
			return err
		}
		return s.record(ctx, tx, "create", idStr(u.ID), nil, u, "")
	})
	if err != nil {
		return User{}, wrap("create", err)
	}
	return u, nil
}

// wrap adds context to database errors; the package's own errors pass.
func wrap(op string, err error) error {
	for _, e := range []error{ErrNotFound, ErrBadRequest, ErrExists, ErrLastAdmin} {
		if errors.Is(err, e) {
			return err
		}
	}
	return fmt.Errorf("users: %s: %w", op, err)
}

// List returns every account, oldest first.
func (s *Store) List(ctx context.Context) ([]User, error) {
	rows, err := s.db.Query(ctx, `SELECT `+userCols+` FROM users ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("users: list: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (User, error) { return scanUser(r) })
	if err != nil {
		return nil, fmt.Errorf("users: list: %w", err)
	}
	return out, nil
}

// Get returns one account.
func (s *Store) Get(ctx context.Context, id int64) (User, error) {
	return s.get(ctx, s.db, id, false)
}

// GetByName returns the account named name.
func (s *Store) GetByName(ctx context.Context, name string) (User, error) {
	u, err := scanUser(s.db.QueryRow(ctx, `SELECT `+userCols+` FROM users WHERE name = $1`, name))
	if errors.Is(err, pgx.ErrNoRows) {
		return User{}, fmt.Errorf("%w: %q", ErrNotFound, name)
	}
	if err != nil {
		return User{}, fmt.Errorf("users: get %q: %w", name, err)
	}
	return u, nil
}

func (s *Store) get(ctx context.Context, q db, id int64, lock bool) (User, error) {
	sql := `SELECT ` + userCols + ` FROM users WHERE id = $1`
	if lock {
		sql += ` FOR UPDATE`
	}
	u, err := scanUser(q.QueryRow(ctx, sql, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return User{}, fmt.Errorf("%w: %d", ErrNotFound, id)
	}
	if err != nil {
		return User{}, fmt.Errorf("users: get %d: %w", id, err)
	}
	return u, nil
}

// keepAnAdmin refuses a change that takes the admin authority from u when
// no other enabled admin exists. Every admin row is locked first, so two
// nodes demoting the last two admins at once cannot both pass.
func keepAnAdmin(ctx context.Context, tx pgx.Tx, u User) error {
	if u.Role != Admin || u.Disabled {
		return nil
	}
	var others int
	err := tx.QueryRow(ctx, `SELECT count(*) FROM (SELECT id FROM users WHERE role = 'admin' AND NOT disabled FOR UPDATE) a
		WHERE id <> $1`, u.ID).Scan(&others)
	if err != nil {
		return err
	}
	if others == 0 {
		return fmt.Errorf("%w: %q is the only one; make another admin first", ErrLastAdmin, u.Name)
	}
	return nil
}

// change runs f on the locked row of user id and records the result.
func (s *Store) change(ctx context.Context, id int64, action string, f func(tx pgx.Tx, before User) (User, string, error)) (User, error) {
	var after User
	err := pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		before, err := s.get(ctx, tx, id, true)
		if err != nil {
			return err
		}
		var detail string
		if after, detail, err = f(tx, before); err != nil {
			return err
		}
		return s.record(ctx, tx, action, idStr(id), before, after, detail)
	})
	if err != nil {
		return User{}, wrap(action, err)
	}
	return after, nil
}

// SetPassword replaces a password and ends the user's sessions.
func (s *Store) SetPassword(ctx context.Context, id int64, password string) error {
	if err := checkPassword(password); err != nil {
		return err
	}
	h, err := HashPassword(password, s.opts.Params)
	if err != nil {
		return fmt.Errorf("users: set password: %w", err)
	}
	_, err = s.change(ctx, id, "set-password", func(tx pgx.Tx, u User) (User, string, error) {
		if _, err := tx.Exec(ctx, `UPDATE users SET password_hash = $2 WHERE id = $1`, id, h); err != nil {
			return u, "", err
		}
		_, err := tx.Exec(ctx, `DELETE FROM user_sessions WHERE user_id = $1`, id)
		return u, "password changed; sessions ended", err
	})
	return err
}

// SetRole changes a user's role.
func (s *Store) SetRole(ctx context.Context, id int64, role Role) (User, error) {
	if err := checkRole(role); err != nil {
		return User{}, err
	}
	return s.change(ctx, id, "set-role", func(tx pgx.Tx, u User) (User, string, error) {
		if role != Admin {
			if err := keepAnAdmin(ctx, tx, u); err != nil {
				return u, "", err
			}
		}
		after, err := scanUser(tx.QueryRow(ctx, `UPDATE users SET role = $2 WHERE id = $1 RETURNING `+userCols, id, string(role)))
		return after, "", err
	})
}

// Disable stops (disabled true) or restores an account; disabling ends
// its sessions, and its tokens are refused while it stays disabled.
func (s *Store) Disable(ctx context.Context, id int64, disabled bool) (User, error) {
	action := "enable"
	if disabled {
		action = "disable"
	}
	return s.change(ctx, id, action, func(tx pgx.Tx, u User) (User, string, error) {
		if disabled {
			if err := keepAnAdmin(ctx, tx, u); err != nil {
				return u, "", err
			}
			if _, err := tx.Exec(ctx, `DELETE FROM user_sessions WHERE user_id = $1`, id); err != nil {
				return u, "", err
			}
		}
		after, err := scanUser(tx.QueryRow(ctx, `UPDATE users SET disabled = $2 WHERE id = $1 RETURNING `+userCols, id, disabled))
		return after, "", err
	})
}

// Delete removes an account with its sessions, grants and API tokens.
func (s *Store) Delete(ctx context.Context, id int64) error {
	_, err := s.change(ctx, id, "delete", func(tx pgx.Tx, u User) (User, string, error) {
		if err := keepAnAdmin(ctx, tx, u); err != nil {
			return u, "", err
		}
		_, err := tx.Exec(ctx, `DELETE FROM users WHERE id = $1`, id)
		return User{}, "", err
	})
	return err
}

// ValidateMailbox explains what is wrong with a mailbox name, or returns nil.
func ValidateMailbox(mailbox string) error {
	if !mailboxRE.MatchString(mailbox) {
		return fmt.Errorf("%w: mailbox %q: 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit", ErrBadRequest, mailbox)
	}
	return nil
}

// Grant lets a user see the received faxes of a mailbox (inbound rules'
// destination.mailbox). Granting twice is no error.
func (s *Store) Grant(ctx context.Context, userID int64, mailbox string) error {
	if err := ValidateMailbox(mailbox); err != nil {
		return err
	}
	_, err := s.change(ctx, userID, "grant", func(tx pgx.Tx, u User) (User, string, error) {
		_, err := tx.Exec(ctx, `INSERT INTO user_grants (user_id, mailbox) VALUES ($1, $2) ON CONFLICT DO NOTHING`, userID, mailbox)
		return u, "mailbox " + mailbox, err
	})
	return err
}

// Revoke takes a mailbox grant back; revoking one not granted is no error.
func (s *Store) Revoke(ctx context.Context, userID int64, mailbox string) error {
	if err := ValidateMailbox(mailbox); err != nil {
		return err
	}
	_, err := s.change(ctx, userID, "revoke", func(tx pgx.Tx, u User) (User, string, error) {
		_, err := tx.Exec(ctx, `DELETE FROM user_grants WHERE user_id = $1 AND mailbox = $2`, userID, mailbox)
		return u, "mailbox " + mailbox, err
	})
	return err
}

// Grants returns the mailboxes granted to a user, sorted.
func (s *Store) Grants(ctx context.Context, userID int64) ([]string, error) {
	rows, err := s.db.Query(ctx, `SELECT mailbox FROM user_grants WHERE user_id = $1 ORDER BY mailbox`, userID)
	if err != nil {
		return nil, fmt.Errorf("users: grants: %w", err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("users: grants: %w", err)
	}
	if out == nil {
		out = []string{}
	}
	return out, nil
}

// GrantedFax reports whether a received fax (its archive record key) is
// filed in a mailbox granted to the user.
func (s *Store) GrantedFax(ctx context.Context, userID int64, faxRef string) (bool, error) {
	var ok bool
	err := s.db.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM mailbox_entries m JOIN user_grants g ON g.mailbox = m.mailbox
		WHERE g.user_id = $1 AND m.fax_ref = $2)`, userID, faxRef).Scan(&ok)
	if err != nil {
		return false, fmt.Errorf("users: granted fax: %w", err)
	}
	return ok, nil
}

// Granted reports whether a user may see mailbox.
func (s *Store) Granted(ctx context.Context, userID int64, mailbox string) (bool, error) {
	var ok bool
	err := s.db.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM user_grants WHERE user_id = $1 AND mailbox = $2)`, userID, mailbox).Scan(&ok)
	if err != nil {
		return false, fmt.Errorf("users: granted: %w", err)
	}
	return ok, nil
}
