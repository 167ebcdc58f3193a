package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/faxd/faxd/internal/audit"
	"github.com/faxd/faxd/internal/users"
)

// cheapHashes keep the tests' argon2id work small; hashes carry their
// parameters, so the API's own store verifies them.
var cheapHashes = users.Params{Memory: 64, Time: 1, Threads: 1}

// decoded is r after decoding its body into v.
func decoded(t *testing.T, r *response, v any) *response {
	t.Helper()
	r.json(t, v)
	return r
}

// session is a logged-in account for API tests.
type session struct {
	e    *env
	sess users.Session
	user users.User
}

func (e *env) login(name string, role users.Role) *session {
	e.t.Helper()
	s := users.New(e.pool, users.Options{Params: cheapHashes})
	ctx := context.Background()
	u, err := s.Create(ctx, name, "a long enough password", role)
	if err != nil {
		e.t.Fatal(err)
	}
	if _, err := s.Authenticate(ctx, name, "a long enough password", "192.0.2.1:1"); err != nil {
		e.t.Fatal(err)
	}
	sess, err := s.StartSession(ctx, u)
	if err != nil {
		e.t.Fatal(err)
	}
	return &session{e: e, sess: sess, user: u}
}

// do sends a request with the session cookie and, when csrf, its token.
func (s *session) do(method, path string, body any, csrf bool) *response {
	s.e.t.Helper()
	hdr := []string{"Cookie", users.CookieName + "=" + s.sess.Token}
	if csrf {
		hdr = append(hdr, users.CSRFHeader, s.sess.CSRF)
	}
	if body == nil {
		return s.e.do(method, path, "", nil, "", hdr...)
	}
	b, _ := json.Marshal(body)
	return s.e.do(method, path, "", bytes.NewReader(b), "application/json", hdr...)
}

func (s *session) submit(csrf bool) *response {
	s.e.t.Helper()
	body, ct := multipartBody(`{"to":"+4930123456"}`, textDoc("hello"))
	hdr := []string{"Cookie", users.CookieName + "=" + s.sess.Token}
	if csrf {
		hdr = append(hdr, users.CSRFHeader, s.sess.CSRF)
	}
	return s.e.do("POST", "/v1/faxes", "", body, ct, hdr...)
}

// An operator works the queue and the received faxes but gets 403 with a
// problem on every piece of configuration.
func TestOperatorRole(t *testing.T) {
	e := newEnv(t, Config{RateLimit: 1000, RateBurst: 1000})
	op := e.login("olga", users.Operator)
	r := e.submit(e.sub, `{"to":"+4930123456"}`, []doc{textDoc("from billing")})
	var f Fax
	if r.json(t, &f); r.status != 201 {
		t.Fatalf("submit: %d %s", r.status, r.body)
	}
	for _, c := range []struct{ method, path string }{
		{"GET", "/v1/gateways"}, {"GET", "/v1/routes"}, {"GET", "/v1/inbound-rules"}, {"GET", "/v1/tokens"},
		{"POST", "/v1/tokens"}, {"GET", "/v1/users"}, {"POST", "/v1/users"}, {"GET", "/v1/audit"},
		{"POST", "/v1/cluster/standby/promote"}, {"POST", "/v1/cluster/standby/sync"},
	} {
		var body any
		if c.method == "POST" {
			body = map[string]any{}
		}
		r := op.do(c.method, c.path, body, true)
		if p := r.problem(t); r.status != 403 || !strings.Contains(p.Detail, "admin") {
			t.Errorf("operator %s %s: %d %s, want 403", c.method, c.path, r.status, r.body)
		}
	}
	// The whole queue: another submitter's fax, listed, read and cancelled.
	var list FaxList
	if r := decoded(t, op.do("GET", "/v1/faxes", nil, false), &list); r.status != 200 || len(list.Faxes) != 1 {
		t.Fatalf("operator list: %d %s", r.status, r.body)
	}
	if r := op.do("GET", fmt.Sprintf("/v1/faxes/%d", f.ID), nil, false); r.status != 200 {
		t.Fatalf("operator get: %d %s", r.status, r.body)
	}
	if r := op.do("POST", fmt.Sprintf("/v1/faxes/%d/cancel", f.ID), nil, true); r.status != 200 {
		t.Fatalf("operator cancel: %d %s", r.status, r.body)
	}
	// Received faxes: every one, and reroutes.
	rec := e.archiveReceived("+4955500", "+4989111", 1)
	if r := op.do("GET", "/v1/received", nil, false); r.status != 200 {
		t.Fatalf("operator received: %d %s", r.status, r.body)
	}
	r = op.do("POST", fmt.Sprintf("/v1/received/%d/reroute", rec.ID), map[string]any{"destination": map[string]any{"kind": "mailbox", "mailbox": "sales"}, "reason": "sales handles it"}, true)
	var rr RerouteView
	if r.json(t, &rr); r.status != 201 || rr.Actor != "olga" {
		t.Fatalf("operator reroute: %d %s", r.status, r.body)
	}
	if r := op.do("POST", fmt.Sprintf("/v1/received/%d/read", rec.ID), nil, true); r.status != 200 || !strings.Contains(string(r.body), `"user:olga"`) {
		t.Fatalf("operator mark read: %d %s", r.status, r.body)
	}
	// Their own password: the current one is needed; this session stays.
	if r := op.do("POST", "/v1/me/password", map[string]any{"current_password": "wrong password!", "new_password": "a new long password"}, true); r.status != 403 || !strings.Contains(r.problem(t).Detail, "current_password") {
		t.Fatalf("wrong current password: %d %s", r.status, r.body)
	}
	if r := op.do("POST", "/v1/me/password", map[string]any{"current_password": "a long enough password", "new_password": "short"}, true); r.status != 400 || !strings.HasPrefix(r.problem(t).Detail, "new_password: ") {
		t.Fatalf("short new password: %d %s", r.status, r.body)
	}
	if r := op.do("POST", "/v1/me/password", map[string]any{"current_password": "a long enough password", "new_password": "a new long password"}, true); r.status != 204 {
		t.Fatalf("change password: %d %s", r.status, r.body)
	}
	if r := e.doJSON("POST", "/v1/me/password", e.admin, map[string]any{"current_password": "x", "new_password": "a new long password"}); r.status != 403 {
		t.Fatalf("token of no user changes a password: %d %s", r.status, r.body)
	}
	var me Me
	if r := decoded(t, op.do("GET", "/v1/me", nil, false), &me); r.status != 200 || me.Kind != "session" || me.Role != "operator" || me.CSRFToken != op.sess.CSRF {
		t.Fatalf("me: %d %s", r.status, r.body)
	}
}

// A user sees their own faxes and the received faxes of the mailboxes
// granted to them, nothing else; every change by cookie needs the CSRF
// token.
func TestUserRoleAndCSRF(t *testing.T) {
	e := newEnv(t, Config{RateLimit: 1000, RateBurst: 1000})
	ctx := context.Background()
	u := e.login("ursula", users.RoleUser)
	store := users.New(e.pool, users.Options{Params: cheapHashes})
	if err := store.Grant(ctx, u.user.ID, "sales"); err != nil {
		t.Fatal(err)
	}
	// Without the CSRF token a change is refused and nothing is queued;
	// with a wrong one too.
	if r := u.submit(false); r.status != 403 || r.problem(t).Type == "" || !strings.Contains(string(r.body), "CSRF") {
		t.Fatalf("submit without CSRF: %d %s", r.status, r.body)
	}
	bad := *u
	// Another first character (the token itself may start with "x").
	first := "x"
	if strings.HasPrefix(u.sess.CSRF, first) {
		first = "y"
	}
	bad.sess.CSRF = first + u.sess.CSRF[1:]
	if r := bad.submit(true); r.status != 403 {
		t.Fatalf("submit with a wrong CSRF token: %d %s", r.status, r.body)
	}
	var list FaxList
	if r := decoded(t, e.do("GET", "/v1/faxes", e.admin, nil, ""), &list); len(list.Faxes) != 0 {
		t.Fatalf("a refused submission was queued: %s", r.body)
	}
	r := u.submit(true)
	var mine Fax
	if r.json(t, &mine); r.status != 201 || mine.Submitter != "ursula" {
		t.Fatalf("submit with CSRF: %d %s", r.status, r.body)
	}
	r = e.submit(e.sub, `{"to":"+4930123456"}`, []doc{textDoc("billing's")})
	var theirs Fax
	r.json(t, &theirs)
	if r := u.do("GET", fmt.Sprintf("/v1/faxes/%d", theirs.ID), nil, false); r.status != 404 {
		t.Fatalf("another's fax: %d %s", r.status, r.body)
	}
	if r := decoded(t, u.do("GET", "/v1/faxes", nil, false), &list); r.status != 200 || len(list.Faxes) != 1 || list.Faxes[0].ID != mine.ID {
		t.Fatalf("user's list: %d %s", r.status, r.body)
	}
	if r := u.do("GET", "/v1/faxes?submitter=billing", nil, false); r.status != 403 {
		t.Fatalf("listing billing's: %d", r.status)
	}
	// Received: one fax in sales (granted), one in hr (not).
	sales := e.archiveReceived("+4955500", "+4989111", 1)
	hr := e.archiveReceived("+4955501", "+4989112", 1)
	for rec, mb := range map[int64]string{sales.ID: "sales", hr.ID: "hr"} {
		r := e.doJSON("POST", fmt.Sprintf("/v1/received/%d/reroute", rec), e.admin, map[string]any{"destination": map[string]any{"kind": "mailbox", "mailbox": mb}, "reason": "test"})
		if r.status != 201 {
			t.Fatalf("file into %s: %d %s", mb, r.status, r.body)
		}
	}
	for _, c := range []struct {
		method, path string
		status       int
	}{
		{"GET", fmt.Sprintf("/v1/received/%d", sales.ID), 200},
		{"GET", fmt.Sprintf("/v1/received/%d/document", sales.ID), 200},
		{"GET", fmt.Sprintf("/v1/received/%d/reroutes", sales.ID), 200},
		{"POST", fmt.Sprintf("/v1/received/%d/read", sales.ID), 200},
		{"GET", fmt.Sprintf("/v1/received/%d", hr.ID), 404},
		{"GET", fmt.Sprintf("/v1/received/%d/document", hr.ID), 404},
		{"GET", fmt.Sprintf("/v1/received/%d/thumbnail", hr.ID), 404},
		{"POST", fmt.Sprintf("/v1/received/%d/read", hr.ID), 404},
		{"POST", fmt.Sprintf("/v1/received/%d/reroute", sales.ID), 403},
		{"GET", fmt.Sprintf("/v1/received/%d/trace", sales.ID), 403},
		{"GET", "/v1/received", 403},
		{"GET", "/v1/mailboxes/sales", 200},
		{"GET", "/v1/mailboxes/hr", 404},
		{"GET", "/v1/gateways", 403},
		{"GET", "/v1/cluster", 403},
		{"GET", "/v1/archive?direction=inbound", 403},
	} {
		var body any
		if c.path[len(c.path)-7:] == "reroute" {
			body = map[string]any{"destination": map[string]any{"kind": "mailbox", "mailbox": "x"}}
		}
		if r := u.do(c.method, c.path, body, true); r.status != c.status {
			t.Errorf("user %s %s: %d %s, want %d", c.method, c.path, r.status, r.body, c.status)
		}
	}
	var mbs struct {
		Mailboxes []struct {
			Mailbox string `json:"mailbox"`
			Unread  int    `json:"unread"`
		} `json:"mailboxes"`
	}
	if r := decoded(t, u.do("GET", "/v1/mailboxes", nil, false), &mbs); len(mbs.Mailboxes) != 1 || mbs.Mailboxes[0].Mailbox != "sales" || mbs.Mailboxes[0].Unread != 0 {
		t.Fatalf("user's mailboxes: %s", r.body)
	}
	// Read marks are the user's own: the admin token still sees it unread.
	var all struct {
		Mailboxes []struct {
			Mailbox       string
			Total, Unread int
		}
	}
	decoded(t, e.do("GET", "/v1/mailboxes", e.admin, nil, ""), &all)
	adminSales := 0
	for _, m := range all.Mailboxes {
		if m.Mailbox == "sales" {
			adminSales = m.Unread
		}
	}
	if len(all.Mailboxes) != 2 || adminSales != 1 {
		r := e.do("GET", "/v1/mailboxes", e.admin, nil, "")
		t.Fatalf("admin's mailboxes: %s", r.body)
	}
}

// A token that belongs to a user acts as the user: their name, role and
// grants; disabling the user stops the token.
func TestUserToken(t *testing.T) {
	e := newEnv(t, Config{RateLimit: 1000, RateBurst: 1000})
	ctx := context.Background()
	u := e.login("tom", users.RoleUser)
	store := users.New(e.pool, users.Options{Params: cheapHashes})
	if err := store.Grant(ctx, u.user.ID, "sales"); err != nil {
		t.Fatal(err)
	}
	// An admin role asked for is not what the token gets: the user's is.
	r := e.doJSON("POST", "/v1/tokens", e.admin, map[string]any{"name": "tom-script", "role": "admin", "user_id": u.user.ID})
	var ct CreatedToken
	if r.json(t, &ct); r.status != 201 || ct.UserID != u.user.ID || ct.Role != "submitter" {
		t.Fatalf("create owned token: %d %s", r.status, r.body)
	}
	if r := e.doJSON("POST", "/v1/tokens", e.admin, map[string]any{"name": "ghost", "user_id": 9999}); r.status != 400 || !strings.Contains(r.problem(t).Detail, "user_id") {
		t.Fatalf("token for no user: %d %s", r.status, r.body)
	}
	var me Me
	if r := decoded(t, e.do("GET", "/v1/me", ct.Secret, nil, ""), &me); r.status != 200 || me.Kind != "token" || me.Role != "user" || me.Name != "tom" ||
		len(me.Grants) != 1 || me.Grants[0] != "sales" || me.CSRFToken != "" {
		t.Fatalf("me by token: %d %s", r.status, r.body)
	}
	r = e.submit(ct.Secret, `{"to":"+4930123456"}`, []doc{textDoc("by script")})
	var f Fax
	if r.json(t, &f); r.status != 201 || f.Submitter != "tom" {
		t.Fatalf("submit by owned token (no CSRF needed): %d %s", r.status, r.body)
	}
	if r := e.do("GET", "/v1/gateways", ct.Secret, nil, ""); r.status != 403 {
		t.Fatalf("owned token on configuration: %d", r.status)
	}
	if r := e.do("GET", fmt.Sprintf("/v1/faxes/%d", f.ID), "", nil, "", "Cookie", users.CookieName+"="+u.sess.Token); r.status != 200 {
		t.Fatalf("the session sees the token's fax as its own: %d %s", r.status, r.body)
	}
	if _, err := store.Disable(ctx, u.user.ID, true); err != nil {
		t.Fatal(err)
	}
	if r := e.do("GET", "/v1/me", ct.Secret, nil, ""); r.status != 401 || !strings.Contains(r.problem(t).Detail, "disabled") {
		t.Fatalf("token of a disabled user: %d %s", r.status, r.body)
	}
	if r := e.do("GET", "/v1/me", "", nil, "", "Cookie", users.CookieName+"="+u.sess.Token); r.status != 401 {
		t.Fatalf("session of a disabled user: %d %s", r.status, r.body)
	}
}

// Admins manage accounts and grants; answers never carry a hash; every
// change lands in the audit log under the admin's name.
func TestUsersAdmin(t *testing.T) {
	e := newEnv(t, Config{RateLimit: 1000, RateBurst: 1000})
	admin := e.login("root", users.Admin)
	r := admin.do("POST", "/v1/users", map[string]any{"name": "vera", "password": "a long enough password", "role": "user"}, true)
	var v UserView
	if r.json(t, &v); r.status != 201 || v.Name != "vera" || v.Role != users.RoleUser || len(v.Grants) != 0 {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	for _, c := range []struct {
		body   map[string]any
		status int
		field  string
	}{
		{map[string]any{"name": "vera", "password": "a long enough password"}, 409, "exists"},
		{map[string]any{"name": "w", "password": "short"}, 400, "password"},
		{map[string]any{"name": "bad name", "password": "a long enough password"}, 400, "name"},
		{map[string]any{"name": "w", "password": "a long enough password", "role": "root"}, 400, "role"},
	} {
		r := e.doJSON("POST", "/v1/users", e.admin, c.body)
		if p := r.problem(t); r.status != c.status || !strings.Contains(p.Detail, c.field) {
			t.Errorf("create %v: %d %s, want %d naming %s", c.body, r.status, r.body, c.status, c.field)
		}
	}
	var g struct {
		UserID    int64    `json:"user_id"`
		Mailboxes []string `json:"mailboxes"`
	}
	if r := decoded(t, e.doJSON("POST", fmt.Sprintf("/v1/users/%d/grants", v.ID), e.admin, map[string]any{"mailbox": "sales"}), &g); r.status != 200 || g.UserID != v.ID || len(g.Mailboxes) != 1 || g.Mailboxes[0] != "sales" {
		t.Fatalf("grant: %d %s", r.status, r.body)
	}
	if r := e.doJSON("POST", fmt.Sprintf("/v1/users/%d/grants", v.ID), e.admin, map[string]any{"mailbox": "no good"}); r.status != 400 {
		t.Fatalf("bad grant: %d %s", r.status, r.body)
	}
	if r := decoded(t, e.do("DELETE", fmt.Sprintf("/v1/users/%d/grants/sales", v.ID), e.admin, nil, ""), &g); r.status != 200 || g.Mailboxes == nil || len(g.Mailboxes) != 0 {
		t.Fatalf("revoke: %d %s", r.status, r.body)
	}
	r = e.doJSON("PATCH", fmt.Sprintf("/v1/users/%d", v.ID), e.admin, map[string]any{"role": "operator", "disabled": true})
	if r.json(t, &v); r.status != 200 || v.Role != users.Operator || !v.Disabled {
		t.Fatalf("patch: %d %s", r.status, r.body)
	}
	// root is the only admin account: demoting root is refused.
	if r := e.doJSON("PATCH", fmt.Sprintf("/v1/users/%d", admin.user.ID), e.admin, map[string]any{"role": "user"}); r.status != 409 {
		t.Fatalf("demote the last admin: %d %s", r.status, r.body)
	}
	r = admin.do("GET", "/v1/users", nil, false)
	if r.status != 200 || strings.Contains(string(r.body), "argon2") || strings.Contains(string(r.body), "password") {
		t.Fatalf("list: %d %s", r.status, r.body)
	}
	if r := e.do("DELETE", fmt.Sprintf("/v1/users/%d", v.ID), e.admin, nil, ""); r.status != 204 {
		t.Fatalf("delete: %d %s", r.status, r.body)
	}
	if r := e.do("GET", fmt.Sprintf("/v1/users/%d", v.ID), e.admin, nil, ""); r.status != 404 {
		t.Fatalf("get deleted: %d", r.status)
	}
	es, _, err := audit.List(context.Background(), e.pool, audit.Filter{ObjectType: audit.User, ObjectID: fmt.Sprint(v.ID)})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for i := len(es) - 1; i >= 0; i-- {
		got = append(got, es[i].Actor+":"+es[i].Action)
	}
	want := "root:create ops:grant ops:revoke ops:set-role ops:disable ops:delete"
	if strings.Join(got, " ") != want {
		t.Fatalf("audit = %v, want %s", got, want)
	}
}
