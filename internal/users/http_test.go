package users

import (
	"crypto/tls"
	"errors"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// CSRF: safe methods pass; a change needs the session's token in the
// header or the form field; a wrong or other session's token is refused.
func TestCheckCSRF(t *testing.T) {
	t.Parallel()
	sess := Session{Token: "t", CSRF: csrfFor("t")}
	other := csrfFor("u")
	req := func(method, body, ct string) *http.Request {
		r := httptest.NewRequest(method, "/x", strings.NewReader(body))
		if ct != "" {
			r.Header.Set("Content-Type", ct)
		}
		return r
	}
	form := "application/x-www-form-urlencoded"
	cases := []struct {
		name string
		r    *http.Request
		ok   bool
	}{
		{"GET", req("GET", "", ""), true},
		{"HEAD", req("HEAD", "", ""), true},
		{"POST bare", req("POST", "", ""), false},
		{"DELETE bare", req("DELETE", "", ""), false},
		{"POST form field", req("POST", url.Values{CSRFField: {sess.CSRF}}.Encode(), form), true},
		{"POST form wrong", req("POST", url.Values{CSRFField: {other}}.Encode(), form), false},
		{"POST form empty", req("POST", CSRFField+"=", form), false},
		{"POST field in JSON body", req("POST", `{"csrf_token":"`+sess.CSRF+`"}`, "application/json"), false},
	}
	h := req("PUT", "{}", "application/json")
	h.Header.Set(CSRFHeader, sess.CSRF)
	cases = append(cases, struct {
		name string
		r    *http.Request
		ok   bool
	}{"PUT header", h, true})
	hw := req("POST", "", "")
	hw.Header.Set(CSRFHeader, sess.CSRF[:len(sess.CSRF)-1])
	cases = append(cases, struct {
		name string
		r    *http.Request
		ok   bool
	}{"POST header truncated", hw, false})
	// A multipart form the caller parsed.
	var b strings.Builder
	mw := multipart.NewWriter(&b)
	_ = mw.WriteField(CSRFField, sess.CSRF)
	_ = mw.Close()
	mp := req("POST", b.String(), mw.FormDataContentType())
	if err := mp.ParseMultipartForm(1 << 20); err != nil {
		t.Fatal(err)
	}
	cases = append(cases, struct {
		name string
		r    *http.Request
		ok   bool
	}{"POST multipart parsed", mp, true})
	for _, c := range cases {
		err := CheckCSRF(c.r, sess)
		if c.ok != (err == nil) || (err != nil && !errors.Is(err, ErrBadCSRF)) {
			t.Errorf("%s: err = %v, want ok=%v", c.name, err, c.ok)
		}
	}
	// A session without a CSRF value refuses everything that changes.
	r := req("POST", "", "")
	r.Header.Set(CSRFHeader, "")
	if err := CheckCSRF(r, Session{}); err == nil {
		t.Error("empty CSRF accepted")
	}
}

// Login sets a Secure (over TLS or when forced), HttpOnly,
// SameSite=Strict cookie on /; FromRequest finds its session; Logout
// ends it and clears the cookie.
func TestHTTPLoginLogout(t *testing.T) {
	t.Parallel()
	s, _, _ := newStore(t, Options{})
	mustCreate(t, s, "gina", Operator)
	for _, c := range []struct {
		tls, always, secure bool
	}{{false, false, false}, {true, false, true}, {false, true, true}} {
		h := NewHTTP(s, c.always)
		r := httptest.NewRequest("POST", "/login", nil)
		if c.tls {
			r.TLS = &tls.ConnectionState{}
		}
		w := httptest.NewRecorder()
		sess, u, err := h.Login(w, r, "gina", pw)
		if err != nil || u.Name != "gina" {
			t.Fatalf("login: %v", err)
		}
		cs := w.Result().Cookies()
		if len(cs) != 1 {
			t.Fatalf("cookies %v", cs)
		}
		ck := cs[0]
		if ck.Name != CookieName || ck.Value != sess.Token || !ck.HttpOnly || ck.SameSite != http.SameSiteStrictMode || ck.Path != "/" || ck.Secure != c.secure {
			t.Fatalf("tls=%v always=%v: cookie %+v", c.tls, c.always, ck)
		}
		r2 := httptest.NewRequest("GET", "/", nil)
		r2.AddCookie(ck)
		got, gu, err := h.FromRequest(r2)
		if err != nil || got.CSRF != sess.CSRF || gu.ID != u.ID {
			t.Fatalf("FromRequest: %+v %v", got, err)
		}
		// Authenticated: a POST without the CSRF token is refused, with it passes.
		r3 := httptest.NewRequest("POST", "/", nil)
		r3.AddCookie(ck)
		if _, _, _, err := h.Authenticated(r3); !errors.Is(err, ErrBadCSRF) {
			t.Fatalf("POST without CSRF: %v", err)
		}
		r3.Header.Set(CSRFHeader, sess.CSRF)
		actx, _, _, err := h.Authenticated(r3)
		if err != nil || actorFrom(actx).Name != "gina" {
			t.Fatalf("POST with CSRF: %v", err)
		}
		w4 := httptest.NewRecorder()
		if err := h.Logout(w4, r2); err != nil {
			t.Fatal(err)
		}
		if cl := w4.Result().Cookies(); len(cl) != 1 || cl[0].MaxAge >= 0 || cl[0].Value != "" {
			t.Fatalf("logout cookie %+v", cl)
		}
		if _, _, err := h.FromRequest(r2); !errors.Is(err, ErrNoSession) {
			t.Fatalf("after logout: %v", err)
		}
	}
	if _, _, err := NewHTTP(s, false).FromRequest(httptest.NewRequest("GET", "/", nil)); !errors.Is(err, ErrNoSession) {
		t.Fatalf("no cookie: %v", err)
	}
	w := httptest.NewRecorder()
	if _, _, err := NewHTTP(s, false).Login(w, httptest.NewRequest("POST", "/", nil), "gina", "wrong password!"); !errors.Is(err, ErrBadCredentials) || len(w.Result().Cookies()) != 0 {
		t.Fatalf("bad login: %v, cookies %v", err, w.Result().Cookies())
	}
}
