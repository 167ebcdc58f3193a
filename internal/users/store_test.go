package users

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/faxd/faxd/internal/audit"
	"github.com/faxd/faxd/internal/pgtest"
)

// clock is a fake clock the tests move by hand.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func newPool(t *testing.T) *pgxpool.Pool { t.Helper(); return pgtest.NewDB(t) }

func newStore(t *testing.T, o Options) (*Store, *clock, *pgxpool.Pool) {
	t.Helper()
	pool := newPool(t)
	c := &clock{now: time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)}
	o.Now = c.Now
	o.Params = cheap
	return New(pool, o), c, pool
}

const pw = "a long enough password"

func mustCreate(t *testing.T, s *Store, name string, role Role) User {
	t.Helper()
	u, err := s.Create(context.Background(), name, pw, role)
	if err != nil {
		t.Fatalf("create %s: %v", name, err)
	}
	return u
}

func auditActions(t *testing.T, pool *pgxpool.Pool, objectID string) []string {
	t.Helper()
	es, _, err := audit.List(context.Background(), pool, audit.Filter{ObjectType: audit.User, ObjectID: objectID})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for i := len(es) - 1; i >= 0; i-- { // oldest first
		out = append(out, es[i].Action)
	}
	return out
}

func TestCreateValidates(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _, pool := newStore(t, Options{})
	for _, c := range []struct {
		name, pw string
		role     Role
	}{
		{"", pw, Admin}, {"-x", pw, Admin}, {"ok", "short", Admin}, {"ok", pw, "root"},
	} {
		if _, err := s.Create(ctx, c.name, c.pw, c.role); !errors.Is(err, ErrBadRequest) {
			t.Errorf("Create(%q, %q, %q) = %v, want ErrBadRequest", c.name, c.pw, c.role, err)
		}
	}
	u := mustCreate(t, s, "alice", Admin)
	if u.ID == 0 || u.Role != Admin || u.Disabled || u.CreatedAt.IsZero() {
		t.Fatalf("created %+v", u)
	}
	if _, err := s.Create(ctx, "alice", pw, RoleUser); !errors.Is(err, ErrExists) {
		t.Fatalf("second alice: %v", err)
	}
	var stored string
	if err := pool.QueryRow(ctx, `SELECT password_hash FROM users WHERE id = $1`, u.ID).Scan(&stored); err != nil {
		t.Fatal(err)
	}
	if ok, _ := VerifyPassword(pw, stored); !ok || stored == pw {
		t.Fatalf("stored %q is not a hash of the password", stored)
	}
	if got := auditActions(t, pool, idStr(u.ID)); len(got) != 1 || got[0] != "create" {
		t.Fatalf("audit = %v, want [create]", got)
	}
}

func TestAuthenticate(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _, pool := newStore(t, Options{})
	u := mustCreate(t, s, "bob", Operator)
	got, err := s.Authenticate(ctx, "bob", pw, "192.0.2.1:5000")
	if err != nil || got.ID != u.ID || got.Role != Operator {
		t.Fatalf("good login: %+v %v", got, err)
	}
	for _, c := range []struct{ name, pw string }{{"bob", pw + "x"}, {"nobody", pw}} {
		if _, err := s.Authenticate(ctx, c.name, c.pw, "192.0.2.1:5000"); !errors.Is(err, ErrBadCredentials) {
			t.Errorf("Authenticate(%q) = %v, want ErrBadCredentials", c.name, err)
		}
	}
	if _, err := s.Disable(ctx, u.ID, true); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Authenticate(ctx, "bob", pw, "192.0.2.1:5000"); !errors.Is(err, ErrBadCredentials) {
		t.Fatalf("disabled account logged in: %v", err)
	}
	want := []string{"create", "login", "login-failed", "disable", "login-failed"}
	es, _, err := audit.List(ctx, pool, audit.Filter{ObjectType: audit.User})
	if err != nil {
		t.Fatal(err)
	}
	var acts []string
	for i := len(es) - 1; i >= 0; i-- {
		if es[i].ObjectID == "bob" || es[i].ObjectID == idStr(u.ID) {
			acts = append(acts, es[i].Action)
		}
	}
	if len(acts) != len(want) {
		t.Fatalf("audit for bob = %v, want %v", acts, want)
	}
	for i := range want {
		if acts[i] != want[i] {
			t.Fatalf("audit for bob = %v, want %v", acts, want)
		}
	}
	if es[0].RemoteAddr != "192.0.2.1:5000" {
		t.Errorf("login audit remote_addr = %q", es[0].RemoteAddr)
	}
}

// Five failures for a name within the window refuse even the right
// password, unchecked; the window passing (fake clock) lets it in again.
// A success forgives the name's failures.
func TestThrottlePerName(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, clk, _ := newStore(t, Options{MaxFailuresPerName: 3, MaxFailuresPerAddr: 100, ThrottleWindow: 10 * time.Minute})
	mustCreate(t, s, "carol", RoleUser)
	// Two failures, then a success: forgiven.
	for range 2 {
		if _, err := s.Authenticate(ctx, "carol", "wrong", "198.51.100.1:1"); !errors.Is(err, ErrBadCredentials) {
			t.Fatal(err)
		}
	}
	if _, err := s.Authenticate(ctx, "carol", pw, "198.51.100.1:1"); err != nil {
		t.Fatalf("login after 2 failures: %v", err)
	}
	// Three failures from different addresses: the name is throttled.
	for i := range 3 {
		clk.Add(time.Minute)
		if _, err := s.Authenticate(ctx, "carol", "wrong", "198.51.100."+idStr(int64(i+2))+":1"); !errors.Is(err, ErrBadCredentials) {
			t.Fatal(err)
		}
	}
	if _, err := s.Authenticate(ctx, "carol", pw, "203.0.113.9:1"); !errors.Is(err, ErrThrottled) {
		t.Fatalf("4th attempt with the right password = %v, want ErrThrottled", err)
	}
	// The first failure leaves the window after 10 min: one slot frees.
	clk.Add(8 * time.Minute)
	if _, err := s.Authenticate(ctx, "carol", pw, "203.0.113.9:1"); err != nil {
		t.Fatalf("after the window: %v", err)
	}
}

// Failures from one address count across names.
func TestThrottlePerAddress(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, clk, pool := newStore(t, Options{MaxFailuresPerName: 100, MaxFailuresPerAddr: 4, ThrottleWindow: time.Hour})
	mustCreate(t, s, "dave", RoleUser)
	for i := range 4 {
		if _, err := s.Authenticate(ctx, "guess"+idStr(int64(i)), "x", "[2001:db8::1]:443"); !errors.Is(err, ErrBadCredentials) {
			t.Fatal(err)
		}
	}
	// The port does not matter: the host is the key.
	if _, err := s.Authenticate(ctx, "dave", pw, "[2001:db8::1]:444"); !errors.Is(err, ErrThrottled) {
		t.Fatalf("5th from the address = %v, want ErrThrottled", err)
	}
	if _, err := s.Authenticate(ctx, "dave", pw, "[2001:db8::2]:443"); err != nil {
		t.Fatalf("another address: %v", err)
	}
	if got := auditActions(t, pool, "dave"); len(got) != 2 || got[0] != "login-throttled" || got[1] != "login" {
		t.Fatalf("audit for dave = %v", got)
	}
	// Old rows are deleted as new failures arrive.
	clk.Add(2 * time.Hour)
	if _, err := s.Authenticate(ctx, "dave", "x", "192.0.2.7"); !errors.Is(err, ErrBadCredentials) {
		t.Fatal(err)
	}
	var n int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM login_failures`).Scan(&n); err != nil || n != 2 {
		t.Fatalf("login_failures rows = %d %v, want 2 (the old ones purged)", n, err)
	}
}

func TestSessions(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, clk, pool := newStore(t, Options{SessionTTL: 8 * time.Hour, IdleTimeout: 30 * time.Minute})
	u := mustCreate(t, s, "erin", RoleUser)
	sess, err := s.StartSession(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	if len(sess.Token) != 43 || sess.CSRF == "" || sess.CSRF == sess.Token || sess.UserID != u.ID || !sess.Expires.Equal(clk.Now().Add(8*time.Hour)) {
		t.Fatalf("session %+v", sess)
	}
	var stored []byte
	if err := pool.QueryRow(ctx, `SELECT token_hash FROM user_sessions`).Scan(&stored); err != nil {
		t.Fatal(err)
	}
	if string(stored) == sess.Token || len(stored) != 32 {
		t.Fatal("the database holds the token itself, not its hash")
	}
	// Used every 20 minutes, it outlives the idle timeout...
	for range 20 {
		clk.Add(20 * time.Minute)
		got, gu, err := s.Session(ctx, sess.Token)
		if clk.Now().Before(sess.Expires) {
			if err != nil || got.CSRF != sess.CSRF || gu.Name != "erin" {
				t.Fatalf("at %s: %+v %v", clk.Now(), got, err)
			}
			continue
		}
		// ...until its absolute end.
		if !errors.Is(err, ErrNoSession) {
			t.Fatalf("past the absolute end: %v", err)
		}
		break
	}
	// Idle: 31 minutes unused ends it.
	s2, _ := s.StartSession(ctx, u)
	clk.Add(29 * time.Minute)
	if _, _, err := s.Session(ctx, s2.Token); err != nil {
		t.Fatalf("29 min idle: %v", err)
	}
	clk.Add(31 * time.Minute)
	if _, _, err := s.Session(ctx, s2.Token); !errors.Is(err, ErrNoSession) {
		t.Fatalf("31 min idle: %v", err)
	}
	// Logout, unknown and malformed tokens.
	s3, _ := s.StartSession(ctx, u)
	if err := s.EndSession(ctx, s3.Token); err != nil {
		t.Fatal(err)
	}
	for _, tok := range []string{s3.Token, "x", s3.Token[:42] + "A"} {
		if _, _, err := s.Session(ctx, tok); !errors.Is(err, ErrNoSession) {
			t.Errorf("Session(%q) = %v", tok, err)
		}
	}
	// A password change and a disable end every session.
	s4, _ := s.StartSession(ctx, u)
	if err := s.SetPassword(ctx, u.ID, "another long password"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Session(ctx, s4.Token); !errors.Is(err, ErrNoSession) {
		t.Fatalf("after password change: %v", err)
	}
	if _, err := s.Authenticate(ctx, "erin", "another long password", "local"); err != nil {
		t.Fatalf("new password: %v", err)
	}
	s5, _ := s.StartSession(ctx, u)
	if _, err := s.Disable(ctx, u.ID, true); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Session(ctx, s5.Token); !errors.Is(err, ErrNoSession) {
		t.Fatalf("after disable: %v", err)
	}
	if n, err := s.PurgeSessions(ctx); err != nil || n != 0 {
		t.Fatalf("purge: %d %v", n, err)
	}
}

func TestRolesGrantsAndLastAdmin(t *testing.T) {
	t.Parallel()
	ctx := WithActor(context.Background(), Actor{Name: "root", RemoteAddr: "local"})
	s, _, pool := newStore(t, Options{})
	a := mustCreate(t, s, "admin1", Admin)
	u := mustCreate(t, s, "frank", RoleUser)
	for _, f := range []func() error{
		func() error { _, err := s.SetRole(ctx, a.ID, Operator); return err },
		func() error { _, err := s.Disable(ctx, a.ID, true); return err },
		func() error { return s.Delete(ctx, a.ID) },
	} {
		if err := f(); !errors.Is(err, ErrLastAdmin) {
			t.Fatalf("change to the only admin: %v, want ErrLastAdmin", err)
		}
	}
	if _, err := s.SetRole(ctx, u.ID, "root"); !errors.Is(err, ErrBadRequest) {
		t.Fatal(err)
	}
	if got, err := s.SetRole(ctx, u.ID, Admin); err != nil || got.Role != Admin {
		t.Fatalf("promote: %+v %v", got, err)
	}
	if got, err := s.SetRole(ctx, a.ID, Operator); err != nil || got.Role != Operator {
		t.Fatalf("demote with another admin: %+v %v", got, err)
	}
	if _, err := s.SetRole(ctx, 9999, Admin); !errors.Is(err, ErrNotFound) {
		t.Fatal(err)
	}

	if err := s.Grant(ctx, a.ID, "sales"); err != nil {
		t.Fatal(err)
	}
	if err := s.Grant(ctx, a.ID, "billing"); err != nil {
		t.Fatal(err)
	}
	if err := s.Grant(ctx, a.ID, "sales"); err != nil {
		t.Fatalf("second grant: %v", err)
	}
	if err := s.Grant(ctx, a.ID, "bad name!"); !errors.Is(err, ErrBadRequest) {
		t.Fatal(err)
	}
	if g, err := s.Grants(ctx, a.ID); err != nil || len(g) != 2 || g[0] != "billing" || g[1] != "sales" {
		t.Fatalf("grants = %v %v", g, err)
	}
	if err := s.Revoke(ctx, a.ID, "sales"); err != nil {
		t.Fatal(err)
	}
	if ok, _ := s.Granted(ctx, a.ID, "sales"); ok {
		t.Fatal("revoked grant still granted")
	}
	if g, _ := s.Grants(ctx, u.ID); g == nil || len(g) != 0 {
		t.Fatalf("no grants = %#v, want empty slice", g)
	}
	list, err := s.List(ctx)
	if err != nil || len(list) != 2 || list[0].Name != "admin1" {
		t.Fatalf("list %+v %v", list, err)
	}
	if err := s.Delete(ctx, a.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx, a.ID); !errors.Is(err, ErrNotFound) {
		t.Fatal(err)
	}
	if g, _ := s.Grants(ctx, a.ID); len(g) != 0 {
		t.Fatal("grants outlived the user")
	}
	got := auditActions(t, pool, idStr(a.ID))
	want := []string{"create", "set-role", "grant", "grant", "grant", "revoke", "delete"}
	if len(got) != len(want) {
		t.Fatalf("audit = %v, want %v", got, want)
	}
	es, _, _ := audit.List(ctx, pool, audit.Filter{ObjectType: audit.User, Action: "set-role"})
	if len(es) == 0 || es[0].Actor != "root" || es[0].RemoteAddr != "local" {
		t.Fatalf("set-role entry %+v: the context's actor is not named", es)
	}
}

// A user changes their own password only with the current one (a wrong
// one counts as a failed login, and throttling applies); the session
// making the change stays, the others end. OnLogin hears each login's
// outcome, and a password change is no login.
func TestChangePasswordAndOnLogin(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	var got []string
	s, clk, pool := newStore(t, Options{MaxFailuresPerName: 2, ThrottleWindow: 10 * time.Minute, OnLogin: func(r string) { got = append(got, r) }})
	u := mustCreate(t, s, "hank", RoleUser)
	here, _ := s.StartSession(ctx, u)
	there, _ := s.StartSession(ctx, u)
	if err := s.ChangePassword(ctx, u.ID, "not the password", "a brand new password", "192.0.2.9:1", here.Token); !errors.Is(err, ErrBadCredentials) {
		t.Fatalf("wrong current password: %v", err)
	}
	if _, err := s.Authenticate(ctx, "hank", "wrong again", "x"); !errors.Is(err, ErrBadCredentials) {
		t.Fatal(err)
	}
	if err := s.ChangePassword(ctx, u.ID, pw, "a brand new password", "192.0.2.9:1", here.Token); !errors.Is(err, ErrThrottled) {
		t.Fatalf("after 2 failures: %v", err)
	}
	if _, err := s.Authenticate(ctx, "hank", pw, "x"); !errors.Is(err, ErrThrottled) {
		t.Fatalf("login after 2 failures: %v", err)
	}
	clk.Add(11 * time.Minute)
	if err := s.ChangePassword(ctx, u.ID, pw, "short", "192.0.2.9:1", here.Token); !errors.Is(err, ErrBadRequest) {
		t.Fatalf("short new password: %v", err)
	}
	if err := s.ChangePassword(ctx, u.ID, pw, "a brand new password", "192.0.2.9:1", here.Token); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Session(ctx, here.Token); err != nil {
		t.Fatalf("the changing session ended: %v", err)
	}
	if _, _, err := s.Session(ctx, there.Token); !errors.Is(err, ErrNoSession) {
		t.Fatalf("another session survived: %v", err)
	}
	if _, err := s.Authenticate(ctx, "hank", "a brand new password", "x"); err != nil {
		t.Fatalf("login with the new password: %v", err)
	}
	if a := auditActions(t, pool, idStr(u.ID)); len(a) != 2 || a[1] != "set-password" {
		t.Fatalf("audit = %v", a)
	}
	if want := "failed throttled ok"; strings.Join(got, " ") != want {
		t.Fatalf("OnLogin heard %v, want %s", got, want)
	}
}
