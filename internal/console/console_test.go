package console

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
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

// fakeAPI answers whoami for one token, so that the console's own checks
// can be tested without a server.
func fakeAPI(token string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+token {
			w.Header().Set("Content-Type", "application/problem+json")
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"status":401,"detail":"the API token is unknown, mistyped or revoked"}`))
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"id":1,"name":"ops","role":"admin","created_at":"2026-01-01T00:00:00Z"}`))
	})
}

// A change without the session's form token is refused before the API is
// called; without a credential every page sends the browser to the login.
func TestCSRFAndLoginRedirect(t *testing.T) {
	const tok = "faxd_1_secret"
	c, err := New(Options{API: fakeAPI(tok)})
	if err != nil {
		t.Fatal(err)
	}
	h := c.Handler()

	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/console/outbound", nil))
	if rec.Code != http.StatusSeeOther || !strings.HasPrefix(rec.Header().Get("Location"), "/console/login?next=") {
		t.Errorf("no cookie: %d %q", rec.Code, rec.Header().Get("Location"))
	}

	post := func(form url.Values) *httptest.ResponseRecorder {
		r := httptest.NewRequest("POST", "/console/cluster/promote", strings.NewReader(form.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r.AddCookie(&http.Cookie{Name: cookieName, Value: tok})
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		return rec
	}
	if rec := post(url.Values{}); rec.Code != http.StatusForbidden || !strings.Contains(rec.Body.String(), "Form expired") {
		t.Errorf("no form token: %d", rec.Code)
	}
	if rec := post(url.Values{"csrf": {csrfFor("faxd_2_other")}}); rec.Code != http.StatusForbidden {
		t.Errorf("another credential's form token: %d", rec.Code)
	}

	// Login refuses a token the API does not know, with the API's reason.
	r := httptest.NewRequest("POST", "/console/login", strings.NewReader("token=faxd_1_wrong"))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	if rec.Code != http.StatusUnauthorized || !strings.Contains(rec.Body.String(), "unknown, mistyped or revoked") || len(rec.Result().Cookies()) != 0 {
		t.Errorf("bad login: %d, cookies %v", rec.Code, rec.Result().Cookies())
	}
	r = httptest.NewRequest("POST", "/console/login", strings.NewReader("token="+tok+"&next=/console/audit"))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	ck := rec.Result().Cookies()
	if rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != "/console/audit" || len(ck) != 1 || !ck[0].HttpOnly || ck[0].SameSite != http.SameSiteStrictMode {
		t.Errorf("good login: %d %q %v", rec.Code, rec.Header().Get("Location"), ck)
	}
}
