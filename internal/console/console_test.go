package console

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/faxd/faxd/internal/pgtest"
	"github.com/faxd/faxd/internal/users"
)

// Errors of a problem+json answer are shown beside the field they name.
func TestFieldError(t *testing.T) {
	errs := []string{`name "x y": use 1-64 letters`, "address: port \"x\" must be a number", "password without username: digest needs both"}
	if got := fieldError(errs, "name"); got != errs[0] {
		t.Errorf("name: %q", got)
	}
	if got := fieldError(errs, "address"); got != errs[1] {
		t.Errorf("address: %q", got)
	}
	if got := fieldError(errs, "username"); got != "" {
		t.Errorf("username: %q", got)
	}
	if got := otherErrors(errs, "name", "address"); len(got) != 1 || got[0] != errs[2] {
		t.Errorf("other errors: %q", got)
	}
}

// After login the browser only ever goes to a console page.
func TestSafeNext(t *testing.T) {
	for in, want := range map[string]string{
		"/console/outbound?state=sent": "/console/outbound?state=sent",
		"https://evil.example/":        "/console/",
		"//evil.example/console/":      "/console/",
		"/v1/faxes":                    "/console/",
		"/console/\r\nSet-Cookie: x":   "/console/",
	} {
		if got := safeNext(in); got != want {
			t.Errorf("safeNext(%q) = %q, want %q", in, got, want)
		}
	}
}

// fakeAPI records what the console's in-process transport sends, so that
// the console's own checks can be tested without a whole server.
type fakeAPI struct {
	mu              sync.Mutex
	calls           int
	cookie, csrfHdr string
}

func (f *fakeAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.calls++
	f.cookie, f.csrfHdr = "", r.Header.Get(users.CSRFHeader)
	if c, err := r.Cookie(users.CookieName); err == nil {
		f.cookie = c.Value
	}
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write([]byte(`{"standby":{}}`))
}

func (f *fakeAPI) last() (int, string, string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls, f.cookie, f.csrfHdr
}

// Login is by name and password; a change without the session's CSRF
// token is refused before the API is called; the API is called with the
// session cookie and the session's CSRF token; without a session every
// page sends the browser to the login.
func TestLoginCSRFAndRedirect(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store := users.New(pgtest.NewDB(t), users.Options{})
	if _, err := store.Create(ctx, "ops", "a long enough password", users.Admin); err != nil {
		t.Fatal(err)
	}
	api := &fakeAPI{}
	c, err := New(Options{API: api, Sessions: users.NewHTTP(store, false)})
	if err != nil {
		t.Fatal(err)
	}
	h := c.Handler()

	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/console/outbound", nil))
	if rec.Code != http.StatusSeeOther || !strings.HasPrefix(rec.Header().Get("Location"), "/console/login?next=") {
		t.Errorf("no cookie: %d %q", rec.Code, rec.Header().Get("Location"))
	}

	login := func(form url.Values) *httptest.ResponseRecorder {
		r := httptest.NewRequest("POST", "/console/login", strings.NewReader(form.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		return rec
	}
	rec = login(url.Values{"name": {"ops"}, "password": {"wrong password"}})
	if rec.Code != http.StatusUnauthorized || !strings.Contains(rec.Body.String(), "Wrong name or password") || len(rec.Result().Cookies()) != 0 {
		t.Errorf("bad login: %d, cookies %v", rec.Code, rec.Result().Cookies())
	}
	if rec := login(url.Values{"name": {"ops"}}); rec.Code != http.StatusBadRequest {
		t.Errorf("login without password: %d", rec.Code)
	}
	rec = login(url.Values{"name": {"ops"}, "password": {"a long enough password"}, "next": {"/console/audit"}})
	ck := rec.Result().Cookies()
	if rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != "/console/audit" || len(ck) != 1 ||
		ck[0].Name != users.CookieName || !ck[0].HttpOnly || ck[0].SameSite != http.SameSiteStrictMode {
		t.Fatalf("good login: %d %q %v", rec.Code, rec.Header().Get("Location"), ck)
	}
	sess, _, err := store.Session(ctx, ck[0].Value)
	if err != nil {
		t.Fatal(err)
	}

	post := func(form url.Values) *httptest.ResponseRecorder {
		r := httptest.NewRequest("POST", "/console/cluster/promote", strings.NewReader(form.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r.AddCookie(ck[0])
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		return rec
	}
	if rec := post(url.Values{}); rec.Code != http.StatusForbidden || !strings.Contains(rec.Body.String(), "Form expired") {
		t.Errorf("no form token: %d", rec.Code)
	}
	if rec := post(url.Values{users.CSRFField: {"0123456789abcdef"}}); rec.Code != http.StatusForbidden {
		t.Errorf("another session's form token: %d", rec.Code)
	}
	if n, _, _ := api.last(); n != 0 {
		t.Errorf("the API was called %d times for refused forms", n)
	}
	if rec := post(url.Values{users.CSRFField: {sess.CSRF}}); rec.Code != http.StatusSeeOther {
		t.Errorf("form with the session's token: %d %s", rec.Code, rec.Body.String())
	}
	if n, cookie, csrf := api.last(); n != 1 || cookie != sess.Token || csrf != sess.CSRF {
		t.Errorf("API call: %d calls, cookie %q (want the session's), csrf %q (want %q)", n, cookie, csrf, sess.CSRF)
	}

	// Logging out ends the session: the cookie no longer opens a page.
	if rec := post(url.Values{users.CSRFField: {sess.CSRF}}); rec.Code != http.StatusSeeOther {
		t.Fatal(rec.Code)
	}
	r := httptest.NewRequest("POST", "/console/logout", strings.NewReader(url.Values{users.CSRFField: {sess.CSRF}}.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.AddCookie(ck[0])
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	if rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != "/console/login" {
		t.Errorf("logout: %d %q", rec.Code, rec.Header().Get("Location"))
	}
	r = httptest.NewRequest("GET", "/console/outbound", nil)
	r.AddCookie(ck[0])
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	if rec.Code != http.StatusSeeOther || !strings.HasPrefix(rec.Header().Get("Location"), "/console/login") {
		t.Errorf("after logout: %d %q", rec.Code, rec.Header().Get("Location"))
	}
}
