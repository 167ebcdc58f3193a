package users

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/jackc/pgx/v5"
)

// Session is a logged-in browser. Token is the secret cookie value; only
// its SHA-256 is stored. CSRF is derived from Token, so it needs no
// column and cannot be computed from what the database holds.
type Session struct {
	Token   string
	CSRF    string
	UserID  int64
	Expires time.Time // the absolute end; idleness may end it sooner
}

func sessionHash(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

// csrfFor derives a session's CSRF token: a different hash domain from
// the stored one.
func csrfFor(token string) string {
	h := sha256.Sum256([]byte("faxd-csrf\x00" + token))
	return base64.RawURLEncoding.EncodeToString(h[:])
}

// remoteKey is the throttle key of a client address: the host without
// the port.
func remoteKey(addr string) string {
	if h, _, err := net.SplitHostPort(addr); err == nil {
		return h
	}
	return addr
}

// Authenticate checks a name and password from remoteAddr. Failed
// attempts are counted per name and per address; past the limits within
// the window it answers ErrThrottled without checking the password. Every
// attempt, good or bad, is recorded in the audit log.
func (s *Store) Authenticate(ctx context.Context, name, password, remoteAddr string) (u User, err error) {
	defer func() { s.countLogin(err) }()
	return s.check(ctx, name, password, remoteAddr, "login", "")
}

// countLogin reports a login's outcome to Options.OnLogin.
func (s *Store) countLogin(err error) {
	if s.opts.OnLogin == nil {
		return
	}
	switch {
	case err == nil:
		s.opts.OnLogin("ok")
	case errors.Is(err, ErrThrottled):
		s.opts.OnLogin("throttled")
	case errors.Is(err, ErrBadCredentials):
		s.opts.OnLogin("failed")
	}
}

// check is Authenticate; a success is audited as okAction (none when
// empty) and failures get note after their reason.
func (s *Store) check(ctx context.Context, name, password, remoteAddr, okAction, note string) (User, error) {
	now := s.now()
	addr := remoteKey(remoteAddr)
	since := now.Add(-s.opts.ThrottleWindow)
	var byName, byAddr int
	err := s.db.QueryRow(ctx, `SELECT
			count(*) FILTER (WHERE kind = 'name' AND key = $1),
			count(*) FILTER (WHERE kind = 'addr' AND key = $2)
		FROM login_failures WHERE ((kind = 'name' AND key = $1) OR (kind = 'addr' AND key = $2)) AND at > $3`,
		name, addr, since).Scan(&byName, &byAddr)
	if err != nil {
		return User{}, fmt.Errorf("users: authenticate: %w", err)
	}
	if byName >= s.opts.MaxFailuresPerName || byAddr >= s.opts.MaxFailuresPerAddr {
		err := pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
			return s.audit(ctx, tx, "login-throttled", name, remoteAddr,
				fmt.Sprintf("%d failures for the name, %d from the address within %s", byName, byAddr, s.opts.ThrottleWindow))
		})
		if err != nil {
			return User{}, fmt.Errorf("users: authenticate: %w", err)
		}
		return User{}, ErrThrottled
	}
	var hash string
	u, err := scanUser(s.db.QueryRow(ctx, `SELECT `+userCols+`, password_hash FROM users WHERE name = $1`, name), &hash)
	known := err == nil
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return User{}, fmt.Errorf("users: authenticate: %w", err)
	}
	if !known {
		hash = s.dummyHash() // the same work as for a known name
	}
	select {
	case s.hashing <- struct{}{}:
	case <-ctx.Done():
		return User{}, ctx.Err()
	}
	ok, verr := VerifyPassword(password, hash)
	<-s.hashing
	if verr != nil {
		return User{}, fmt.Errorf("users: authenticate %q: stored hash: %w", name, verr)
	}
	if !known || !ok || u.Disabled {
		reason := "wrong password"
		switch {
		case !known:
			reason = "unknown name"
		case u.Disabled && ok:
			reason = "account disabled"
		}
		err := pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, `INSERT INTO login_failures (kind, key, at) VALUES ('name', $1, $3), ('addr', $2, $3)`, name, addr, now); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `DELETE FROM login_failures WHERE at <= $1`, since); err != nil {
				return err
			}
			return s.audit(ctx, tx, "login-failed", name, remoteAddr, reason+note)
		})
		if err != nil {
			return User{}, fmt.Errorf("users: authenticate: count failure: %w", err)
		}
		return User{}, ErrBadCredentials
	}
	// A success forgives the name's failures; the address's stay, so one
	// known password does not reopen guessing at others from there.
	err = pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM login_failures WHERE kind = 'name' AND key = $1`, name); err != nil {
			return err
		}
		if okAction == "" {
			return nil
		}
		return s.audit(ctx, tx, okAction, name, remoteAddr, "")
	})
	if err != nil {
		return User{}, fmt.Errorf("users: authenticate: %w", err)
	}
	return u, nil
}

// audit records a login event. The actor is the account name attempted
// (a login has no other identity yet).
func (s *Store) audit(ctx context.Context, tx pgx.Tx, action, name, remoteAddr, detail string) error {
	a := Actor{Name: name, RemoteAddr: remoteAddr}
	if a.Name == "" {
		a.Name = "(empty)"
	}
	return s.record(WithActor(ctx, a), tx, action, name, nil, nil, detail)
}

// StartSession opens a session for u (who has just authenticated).
func (s *Store) StartSession(ctx context.Context, u User) (Session, error) {
	var raw [32]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return Session{}, err
	}
	tok := base64.RawURLEncoding.EncodeToString(raw[:])
	now := s.now()
	sess := Session{Token: tok, CSRF: csrfFor(tok), UserID: u.ID, Expires: now.Add(s.opts.SessionTTL)}
	_, err := s.db.Exec(ctx, `INSERT INTO user_sessions (token_hash, user_id, created_at, last_seen_at, expires_at)
		VALUES ($1, $2, $3, $3, $4)`, sessionHash(tok), u.ID, now, sess.Expires)
	if err != nil {
		return Session{}, fmt.Errorf("users: start session: %w", err)
	}
	return sess, nil
}

// touchEvery limits last_seen_at writes; the idle timeout is then judged
// to within this much.
const touchEvery = time.Minute

// Session returns the live session with this cookie value and its user,
// recording its use. Expired sessions (absolute or idle) are deleted and
// answer ErrNoSession, as do those of disabled users.
func (s *Store) Session(ctx context.Context, token string) (Session, User, error) {
	if len(token) != 43 {
		return Session{}, User{}, ErrNoSession
	}
	now := s.now()
	h := sessionHash(token)
	var lastSeen, expires time.Time
	u, err := scanUser(s.db.QueryRow(ctx, `SELECT u.id, u.name, u.role, u.disabled, u.created_at, s.last_seen_at, s.expires_at
		FROM user_sessions s JOIN users u ON u.id = s.user_id WHERE s.token_hash = $1`, h), &lastSeen, &expires)
	if errors.Is(err, pgx.ErrNoRows) {
		return Session{}, User{}, ErrNoSession
	}
	if err != nil {
		return Session{}, User{}, fmt.Errorf("users: session: %w", err)
	}
	if !now.Before(expires) || !now.Before(lastSeen.Add(s.opts.IdleTimeout)) || u.Disabled {
		if _, err := s.db.Exec(ctx, `DELETE FROM user_sessions WHERE token_hash = $1`, h); err != nil {
			return Session{}, User{}, fmt.Errorf("users: session: %w", err)
		}
		return Session{}, User{}, ErrNoSession
	}
	if now.Sub(lastSeen) >= touchEvery {
		if _, err := s.db.Exec(ctx, `UPDATE user_sessions SET last_seen_at = $2 WHERE token_hash = $1`, h, now); err != nil {
			return Session{}, User{}, fmt.Errorf("users: session: %w", err)
		}
	}
	return Session{Token: token, CSRF: csrfFor(token), UserID: u.ID, Expires: expires}, u, nil
}

// EndSession logs a session out; ending an unknown one is no error.
func (s *Store) EndSession(ctx context.Context, token string) error {
	if _, err := s.db.Exec(ctx, `DELETE FROM user_sessions WHERE token_hash = $1`, sessionHash(token)); err != nil {
		return fmt.Errorf("users: end session: %w", err)
	}
	return nil
}

// PurgeSessions deletes sessions past their absolute or idle end and
// returns how many; sessions are also deleted when presented expired.
func (s *Store) PurgeSessions(ctx context.Context) (int64, error) {
	now := s.now()
	tag, err := s.db.Exec(ctx, `DELETE FROM user_sessions WHERE expires_at <= $1 OR last_seen_at <= $2`,
		now, now.Add(-s.opts.IdleTimeout))
	if err != nil {
		return 0, fmt.Errorf("users: purge sessions: %w", err)
	}
	return tag.RowsAffected(), nil
}

// ChangePassword is a user changing their own password: the current one
// is checked as a login is (throttled, failures audited), then replaced.
// Every session of the user ends except keepToken's (the one making the
// change; empty: none).
func (s *Store) ChangePassword(ctx context.Context, userID int64, current, next, remoteAddr, keepToken string) error {
	u, err := s.Get(ctx, userID)
	if err != nil {
		return err
	}
	if err := checkPassword(next); err != nil {
		return err
	}
	if _, err := s.check(ctx, u.Name, current, remoteAddr, "", " (password change)"); err != nil {
		return err
	}
	h, err := HashPassword(next, s.opts.Params)
	if err != nil {
		return fmt.Errorf("users: change password: %w", err)
	}
	_, err = s.change(ctx, userID, "set-password", func(tx pgx.Tx, u User) (User, string, error) {
		if _, err := tx.Exec(ctx, `UPDATE users SET password_hash = $2 WHERE id = $1`, userID, h); err != nil {
			return u, "", err
		}
		_, err := tx.Exec(ctx, `DELETE FROM user_sessions WHERE user_id = $1 AND token_hash <> $2`, userID, sessionHash(keepToken))
		return u, "changed by the user; other sessions ended", err
	})
	return err
}
