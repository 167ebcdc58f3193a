// Package console is faxd's web console under /console: server-rendered
// pages (html/template) for administrators, operators and users, with every
// asset embedded in the binary.
//
// The console holds no fax logic and no authorisation of its own: every
// page calls the HTTP API in-process through the public Go client, with the
// signed-in person's credential, so the API decides what each person may
// see and do, exactly as it does for programs.
package console

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"time"

	"github.com/faxd/faxd/client"
	"github.com/faxd/faxd/internal/api"
	"github.com/faxd/faxd/internal/users"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Options configure the console.
type Options struct {
	// API is the API's handler; the console calls it in-process.
	API http.Handler
	// Sessions logs people in and out and checks their session cookie
	// and CSRF token, exactly as the API does.
	Sessions *users.HTTP
	Logger   *slog.Logger
	// LiveInterval is how often live pages (dashboard, a fax being sent)
	// are refreshed over server-sent events; default 2 s.
	LiveInterval time.Duration
}

// Console serves /console.
type Console struct {
	api   http.Handler
	sess  *users.HTTP
	log   *slog.Logger
	live  time.Duration
	pages map[string]*template.Template
}

// New parses the templates.
func New(o Options) (*Console, error) {
	if o.API == nil {
		return nil, errors.New("console: Options.API is required")
	}
	if o.Sessions == nil {
		return nil, errors.New("console: Options.Sessions is required")
	}
	c := &Console{api: o.API, sess: o.Sessions, log: o.Logger, live: o.LiveInterval}
	if c.log == nil {
		c.log = slog.Default()
	}
	c.log = c.log.With("component", "console")
	if c.live <= 0 {
		c.live = 2 * time.Second
	}
	var err error
	if c.pages, err = parsePages(); err != nil {
		return nil, err
	}
	return c, nil
}

// parsePages makes one template set per page: the layout plus the page.
func parsePages() (map[string]*template.Template, error) {
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		return nil, err
	}
	pages := map[string]*template.Template{}
	for _, n := range names {
		base := strings.TrimSuffix(strings.TrimPrefix(n, "templates/"), ".html")
		if base == "layout" {
			continue
		}
		t, err := template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", n)
		if err != nil {
			return nil, fmt.Errorf("console: template %s: %w", n, err)
		}
		pages[base] = t
	}
	return pages, nil
}

// contentSecurityPolicy allows only the console's own assets: no inline
// script, no other origin.
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// Routes registers the console on mux under /console/.
func (c *Console) Routes(mux *http.ServeMux) {
	mux.Handle("/console/", c.Handler())
	mux.Handle("GET /console", http.RedirectHandler("/console/", http.StatusFound))
}

// Handler serves /console/ (paths include the /console prefix).
func (c *Console) Handler() http.Handler {
	mux := http.NewServeMux()
	static, _ := fs.Sub(staticFS, "static")
	files := http.StripPrefix("/console/static/", http.FileServerFS(static))
	mux.Handle("GET /console/static/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=3600")
		files.ServeHTTP(w, r)
	}))
	mux.HandleFunc("GET /console/login", c.loginPage)
	mux.HandleFunc("POST /console/login", c.login)
	mux.Handle("POST /console/logout", c.auth(c.logout))
	c.pageRoutes(mux) // pages.go
	mux.Handle("/console/", c.auth(func(w http.ResponseWriter, r *http.Request, s *session) {
		c.render(w, r, s, http.StatusNotFound, "error", errorPage{Title: "Not found", Message: "There is no console page " + r.URL.Path + "."})
	}))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy", contentSecurityPolicy)
		w.Header().Set("Referrer-Policy", "same-origin")
		mux.ServeHTTP(w, r)
	})
}

// session is the signed-in person of one request.
type session struct {
	Who  who
	CSRF string // the session's CSRF token, carried by every form
	api  *client.Client
}

// who is what the layout shows of the signed-in person.
type who struct{ Name, Role string }

// Admin reports whether the person may see configuration pages;
// Operator whether they may see every fax and reroute received ones (the
// API still decides every call).
func (s *session) Admin() bool    { return s.Who.Role == string(users.Admin) }
func (s *session) Operator() bool { return s.Admin() || s.Who.Role == string(users.Operator) }

// apiClient calls the API in-process with the person's session cookie;
// the client's remote address is passed on for the audit log.
func (c *Console) apiClient(sess users.Session, remote string) (*client.Client, error) {
	return client.New(client.Options{
		Servers:           []string{"http://console.invalid"},
		AttemptsPerServer: 1, Cycles: 1,
		HTTPClient: &http.Client{Transport: inProcess{h: c.api, remote: remote, sess: sess, counted: new(atomic.Bool)}},
	})
}

// inProcess hands a request straight to the API's handler, as the
// browser would send it: with the session cookie and, on a change, the
// session's CSRF token.
type inProcess struct {
	h      http.Handler
	remote string
	sess   users.Session
	// counted is set once the page's first API call has been counted
	// against the session's rate limit; the page's other calls are not
	// (one page, one request).
	counted *atomic.Bool
}

func (t inProcess) RoundTrip(r *http.Request) (*http.Response, error) {
	ctx := r.Context()
	if t.counted.Swap(true) {
		ctx = api.CountedRequest(ctx)
	}
	r = r.Clone(ctx)
	r.RemoteAddr = t.remote
	r.RequestURI = r.URL.RequestURI()
	r.Header.Del("Cookie")
	r.AddCookie(&http.Cookie{Name: users.CookieName, Value: t.sess.Token})
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		r.Header.Set(users.CSRFHeader, t.sess.CSRF)
	}
	rec := httptest.NewRecorder()
	t.h.ServeHTTP(rec, r)
	return rec.Result(), nil
}

// auth runs h for a signed-in person, and sends anyone else to the login
// page. State-changing requests must carry the session's CSRF token.
func (c *Console) auth(h func(http.ResponseWriter, *http.Request, *session)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sess, u, err := c.sess.FromRequest(r)
		if err != nil {
			if !users.IsAuthError(err) {
				c.log.Error("console session", "err", err)
				c.render(w, r, nil, http.StatusServiceUnavailable, "error", errorPage{Title: "Server error", Message: "The session could not be checked; try again."})
				return
			}
			if users.HasCookie(r) {
				c.clearSession(w, r)
			}
			c.toLogin(w, r)
			return
		}
		api, err := c.apiClient(sess, r.RemoteAddr)
		if err != nil {
			c.log.Error("console API client", "err", err)
			c.render(w, r, nil, http.StatusServiceUnavailable, "error", errorPage{Title: "Server error", Message: "The console could not reach the API; try again."})
			return
		}
		s := &session{Who: who{Name: u.Name, Role: string(u.Role)}, CSRF: sess.CSRF, api: api}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			if err := r.ParseMultipartForm(64 << 20); err != nil && !errors.Is(err, http.ErrNotMultipart) {
				c.render(w, r, s, http.StatusBadRequest, "error", errorPage{Title: "Bad request", Message: "The form could not be read: " + err.Error()})
				return
			}
			if err := users.CheckCSRF(r, sess); err != nil {
				c.log.Info("console form refused", "remote", r.RemoteAddr, "user", u.Name, "err", err)
				c.render(w, r, s, http.StatusForbidden, "error", errorPage{Title: "Form expired", Message: "This form was not sent from a current console page. Reload the page and try again."})
				return
			}
		}
		h(w, r, s)
	})
}

// clearSession drops the browser's session cookie (the session itself is
// already gone or is ended here).
func (c *Console) clearSession(w http.ResponseWriter, r *http.Request) {
	if err := c.sess.Logout(w, r); err != nil {
		c.log.Warn("console session end", "err", err)
	}
}

func (c *Console) toLogin(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodGet && !strings.HasPrefix(r.URL.Path, "/console/events/") {
		http.Redirect(w, r, "/console/login?next="+urlQueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
		return
	}
	http.Redirect(w, r, "/console/login", http.StatusSeeOther)
}

type loginData struct {
	Next, Name, Error string
}

func (c *Console) loginPage(w http.ResponseWriter, r *http.Request) {
	c.render(w, r, nil, http.StatusOK, "login", loginData{Next: safeNext(r.FormValue("next"))})
}

// login checks name and password (with the store's throttling and audit)
// and starts a session whose cookie the API accepts too.
func (c *Console) login(w http.ResponseWriter, r *http.Request) {
	name, pw := strings.TrimSpace(r.FormValue("name")), r.FormValue("password")
	d := loginData{Next: safeNext(r.FormValue("next")), Name: name}
	if name == "" || pw == "" {
		d.Error = "Enter your name and password."
		c.render(w, r, nil, http.StatusBadRequest, "login", d)
		return
	}
	if _, _, err := c.sess.Login(w, r, name, pw); err != nil {
		c.log.Info("console login refused", "remote", r.RemoteAddr, "name", name, "err", err)
		switch {
		case errors.Is(err, users.ErrThrottled):
			d.Error = "Too many failed logins; wait a few minutes and try again."
			c.render(w, r, nil, http.StatusTooManyRequests, "login", d)
		case errors.Is(err, users.ErrBadCredentials):
			d.Error = "Wrong name or password."
			c.render(w, r, nil, http.StatusUnauthorized, "login", d)
		default:
			d.Error = "The server could not check the password; try again."
			c.render(w, r, nil, http.StatusServiceUnavailable, "login", d)
		}
		return
	}
	http.Redirect(w, r, d.Next, http.StatusSeeOther)
}

func (c *Console) logout(w http.ResponseWriter, r *http.Request, s *session) {
	c.clearSession(w, r)
	http.Redirect(w, r, "/console/login", http.StatusSeeOther)
}

// safeNext keeps a post-login redirect inside the console.
func safeNext(n string) string {
	if !strings.HasPrefix(n, "/console/") || strings.HasPrefix(n, "//") || strings.ContainsAny(n, "\\\r\n") {
		return "/console/"
	}
	return n
}

// page is what the layout gets.
type page struct {
	S      *session
	Title  string
	Active string
	Data   any
}

type errorPage struct {
	Title, Message string
}

// render writes a page with the layout. Rendering into a buffer first
// means a template error never sends half a page.
func (c *Console) render(w http.ResponseWriter, r *http.Request, s *session, status int, name string, data any) {
	t, ok := c.pages[name]
	if !ok {
		http.Error(w, "no page "+name, http.StatusInternalServerError)
		return
	}
	var b strings.Builder
	title := name
	if e, ok := data.(errorPage); ok {
		title = e.Title
	}
	if err := t.Execute(&b, page{S: s, Title: title, Active: name, Data: data}); err != nil {
		c.log.Error("console template", "page", name, "err", err)
		http.Error(w, "the page could not be rendered", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(b.String()))
}

// fail shows an API refusal as a page with the same status: 403 for what
// the person may not see, 404 for what does not exist.
func (c *Console) fail(w http.ResponseWriter, r *http.Request, s *session, err error) {
	var ae *client.Error
	if errors.As(err, &ae) {
		switch ae.Status {
		case http.StatusForbidden:
			c.render(w, r, s, http.StatusForbidden, "error", errorPage{Title: "Forbidden", Message: "You are not allowed to open this page. " + ae.Detail})
			return
		case http.StatusUnauthorized:
			c.clearSession(w, r)
			c.toLogin(w, r)
			return
		}
		c.render(w, r, s, ae.Status, "error", errorPage{Title: http.StatusText(ae.Status), Message: ae.Detail})
		return
	}
	if errors.Is(err, context.Canceled) {
		return
	}
	c.log.Error("console page", "path", r.URL.Path, "err", err)
	c.render(w, r, s, http.StatusBadGateway, "error", errorPage{Title: "Server error", Message: "The request failed: " + err.Error()})
}
