package users

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"time"
)

// CookieName is the session cookie's name.
const CookieName = "faxd_session"

// CSRFHeader and CSRFField carry a session's CSRF token on a
// state-changing request: the header for scripts, the form field for
// plain HTML forms.
const (
	CSRFHeader = "X-CSRF-Token"
	CSRFField  = "csrf_token"
)

// HTTP is the cookie and CSRF handling shared by the API and the console,
// so that both accept exactly the same sessions.
type HTTP struct {
	Store *Store
	// AlwaysSecure marks the cookie Secure even on plain-HTTP requests:
	// for faxd behind a TLS-terminating proxy (users.secure_cookie:
	// always). Otherwise it is Secure when the request came over TLS.
	AlwaysSecure bool
}

// NewHTTP returns the helper on s.
func NewHTTP(s *Store, alwaysSecure bool) *HTTP { return &HTTP{Store: s, AlwaysSecure: alwaysSecure} }

func (h *HTTP) cookie(r *http.Request, value string, expires time.Time) *http.Cookie {
	c := &http.Cookie{Name: CookieName, Value: value, Path: "/", HttpOnly: true,
		Secure: h.AlwaysSecure || r.TLS != nil, SameSite: http.SameSiteStrictMode}
	if value == "" {
		c.MaxAge = -1
	} else {
		c.Expires = expires
	}
	return c
}

// ActorFor is the audit actor of a request made by u.
func ActorFor(r *http.Request, u User) Actor {
	return Actor{Name: u.Name, RemoteAddr: r.RemoteAddr}
}

// Login checks name and password (with throttling, from r.RemoteAddr),
// starts a session and sets its cookie. Errors: ErrBadCredentials,
// ErrThrottled, or a database error.
func (h *HTTP) Login(w http.ResponseWriter, r *http.Request, name, password string) (Session, User, error) {
	u, err := h.Store.Authenticate(r.Context(), name, password, r.RemoteAddr)
	if err != nil {
		return Session{}, User{}, err
	}
	sess, err := h.Store.StartSession(r.Context(), u)
	if err != nil {
		return Session{}, User{}, err
	}
	http.SetCookie(w, h.cookie(r, sess.Token, sess.Expires))
	return sess, u, nil
}

// Logout ends the request's session, if any, and clears the cookie. The
// caller checks CSRF first, as for any change.
func (h *HTTP) Logout(w http.ResponseWriter, r *http.Request) error {
	http.SetCookie(w, h.cookie(r, "", time.Time{}))
	c, err := r.Cookie(CookieName)
	if err != nil {
		return nil
	}
	return h.Store.EndSession(r.Context(), c.Value)
}

// HasCookie reports whether r carries a session cookie at all.
func HasCookie(r *http.Request) bool {
	_, err := r.Cookie(CookieName)
	return err == nil
}

// FromRequest returns the session of r's cookie and its user;
// ErrNoSession when there is no cookie or its session is gone.
func (h *HTTP) FromRequest(r *http.Request) (Session, User, error) {
	c, err := r.Cookie(CookieName)
	if err != nil {
		return Session{}, User{}, ErrNoSession
	}
	return h.Store.Session(r.Context(), c.Value)
}

// safeMethod: methods that change nothing need no CSRF token.
func safeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}

// CheckCSRF refuses (ErrBadCSRF) a state-changing request made with the
// session cookie unless it carries sess.CSRF in the X-CSRF-Token header
// or the csrf_token form field (URL-encoded forms are parsed here; a
// multipart form must be parsed by the caller first, or use the header).
// Requests authenticated by bearer token need no check and should not
// call it.
func CheckCSRF(r *http.Request, sess Session) error {
	if safeMethod(r.Method) {
		return nil
	}
	got := r.Header.Get(CSRFHeader)
	if got == "" {
		if r.PostForm == nil && r.MultipartForm == nil {
			if ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); ct == "application/x-www-form-urlencoded" {
				_ = r.ParseForm() // a bad body then simply lacks the field
			}
		}
		if r.PostForm != nil {
			got = r.PostForm.Get(CSRFField)
		}
		if got == "" && r.MultipartForm != nil {
			if v := r.MultipartForm.Value[CSRFField]; len(v) > 0 {
				got = v[0]
			}
		}
	}
	if got == "" {
		return fmt.Errorf("%w: a change made with a session cookie must send the session's CSRF token in the %s header or the %s form field", ErrBadCSRF, CSRFHeader, CSRFField)
	}
	if sess.CSRF == "" || subtle.ConstantTimeCompare([]byte(got), []byte(sess.CSRF)) != 1 {
		return fmt.Errorf("%w: the CSRF token does not belong to this session; reload the page", ErrBadCSRF)
	}
	return nil
}

// CheckCSRF is the package function, for callers holding an HTTP.
func (h *HTTP) CheckCSRF(r *http.Request, sess Session) error { return CheckCSRF(r, sess) }

// Authenticated is FromRequest plus CheckCSRF, with the audit actor put
// into the returned context: what a handler needs in one call.
func (h *HTTP) Authenticated(r *http.Request) (context.Context, Session, User, error) {
	sess, u, err := h.FromRequest(r)
	if err != nil {
		return r.Context(), Session{}, User{}, err
	}
	if err := CheckCSRF(r, sess); err != nil {
		return r.Context(), sess, u, err
	}
	return WithActor(r.Context(), ActorFor(r, u)), sess, u, nil
}

// IsAuthError reports whether err is a login or session refusal (as
// opposed to a database failure).
func IsAuthError(err error) bool {
	return errors.Is(err, ErrBadCredentials) || errors.Is(err, ErrThrottled) || errors.Is(err, ErrNoSession) || errors.Is(err, ErrBadCSRF)
}
