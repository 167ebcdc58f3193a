// Package api is faxd's HTTP API for business applications and
// administrators, under /v1: submitting faxes (multipart documents plus a
// JSON description), following and cancelling them, downloading their
// pages; received faxes from the archive (list, download, reroute) and the
// mailboxes inbound rules file them in; searching the archive; and
// administering gateways, routes, inbound rules and API tokens.
//
// Every request carries an API token (Authorization: Bearer); tokens have
// the role submitter (its own faxes) or admin (everything), and each token
// has its own rate limit. Every error is an RFC 9457 problem+json object
// whose detail a person can act on. schemas/openapi.yaml describes it all,
// and a test holds the served API to that file.
package api

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/http"
	"strconv"
	"strings"
	"text/template"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/faxd/faxd/archive"
	"github.com/faxd/faxd/internal/api/routingcfg"
	"github.com/faxd/faxd/internal/api/tokens"
	"github.com/faxd/faxd/internal/calltrace"
	"github.com/faxd/faxd/internal/docstore"
	"github.com/faxd/faxd/internal/inbound"
	"github.com/faxd/faxd/internal/netguard"
	"github.com/faxd/faxd/internal/notify"
	"github.com/faxd/faxd/internal/secretbox"
	"github.com/faxd/faxd/internal/users"
	"github.com/faxd/faxd/queue"
)

// Deps are what the API works on.
type Deps struct {
	// Pool is the queue database (documents, tokens and routing
	// configuration live there too).
	Pool  *pgxpool.Pool
	Queue *queue.Queue
	// Archive and Inbound serve received faxes, mailboxes, reroutes and
	// the archive search; without them those endpoints answer 503.
	Archive *archive.Store
	Inbound *inbound.Router
	Logger  *slog.Logger
	// Cluster serves /v1/cluster and the standby controls (standby.go).
	Cluster Cluster
	// Secrets seals gateway passwords and webhook secrets; nil refuses to
	// store them (the API answers 409 naming secrets.key_file).
	Secrets *secretbox.Keyring
	// Now is the clock token expiry is judged by; nil: time.Now.
	Now func() time.Time
	// Gateways serves /v1/gateway-health (gatewayhealth.go); nil on a
	// node without fax channels.
	Gateways GatewayHealth
	// UploadTimeout (http.upload_timeout) replaces the server's read
	// deadline once a request with a body is authenticated; 0 keeps it.
	UploadTimeout time.Duration
	// Outbound refuses callback and webhook URLs naming internal
	// addresses (notify.outbound_allow); nil refuses every internal one.
	Outbound *netguard.Policy
	// CheapWindows answers a submission's cheap_window flag: when the
	// number's best route next costs less (its cost windows); nil on a
	// node without a router, where the flag is refused.
	CheapWindows CheapWindows
	// Users are people's accounts: the API accepts their session cookie
	// and their tokens, and serves /v1/users and /v1/me (users.go). nil:
	// a store with the default session and throttle settings.
	Users *users.Store
}

// CheapWindows tells when a fax to number should go to wait for a
// cheap-rate period (routing.Router.NextCheapWindow).
type CheapWindows interface {
	NextCheapWindow(number string) (time.Time, error)
}

// API serves /v1.
type API struct {
	cfg     Config
	log     *slog.Logger
	pool    *pgxpool.Pool
	queue   *queue.Queue
	docs    *docstore.Store
	tokens  *tokens.Store
	routing *routingcfg.Store
	rules   *inbound.Store
	archive *archive.Store
	inbound *inbound.Router
	cluster Cluster
	health  GatewayHealth
	traces  *calltrace.Store
	limit   *limiter
	renders chan struct{}
	cover   *template.Template // nil: render's built-in cover layout
	routes  []route

	// From Deps: the upload deadline (wrap) and the URL policy (outbound.go).
	upload   time.Duration
	outbound *netguard.Policy
	cheap    CheapWindows
	users    *users.Store
	// fetcher fetches documents given by URL (submit.go).
	fetcher *http.Client
}

// route is one served method and path pattern, and the role it needs.
type route struct {
	method, pattern string
	role            tokens.Role
	h               func(w http.ResponseWriter, r *http.Request, c *caller) error
}

// New builds the API. Zero fields of cfg take Defaults.
func New(cfg Config, d Deps) (*API, error) {
	def := Defaults()
	orDefault(&cfg.MaxUploadBytes, def.MaxUploadBytes)
	orDefault(&cfg.MaxDocuments, def.MaxDocuments)
	orDefault(&cfg.MaxPages, def.MaxPages)
	orDefault(&cfg.DocumentMaxBytes, def.DocumentMaxBytes)
	orDefault(&cfg.Resolution, def.Resolution)
	orDefault(&cfg.PageSize, def.PageSize)
	orDefault(&cfg.RenderTimeout, def.RenderTimeout)
	orDefault(&cfg.RenderConcurrency, def.RenderConcurrency)
	orDefault(&cfg.RateLimit, def.RateLimit)
	orDefault(&cfg.RateBurst, def.RateBurst)
	orDefault(&cfg.MaxImagePixels, def.MaxImagePixels)
	orDefault(&cfg.MaxImageBytes, def.MaxImageBytes)
	orDefault(&cfg.URLFetchTimeout, def.URLFetchTimeout)
	orDefault(&cfg.OfficeCommand, def.OfficeCommand)
	orDefault(&cfg.MaxBroadcastRecipients, def.MaxBroadcastRecipients)
	if errs := cfg.Validate(); len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if d.Pool == nil || d.Queue == nil {
		return nil, errors.New("api: Deps.Pool and Deps.Queue are required")
	}
	log := d.Logger
	if log == nil {
		log = slog.Default()
	}
	a := &API{
		cfg:     cfg,
		log:     log.With("component", "api"),
		pool:    d.Pool,
		queue:   d.Queue,
		docs:    docstore.New(d.Pool, docstore.Config{MaxBytes: cfg.DocumentMaxBytes}),
		tokens:  tokens.New(d.Pool),
		routing: routingcfg.New(d.Pool).WithSecrets(d.Secrets),
		rules:   inbound.NewStore(d.Pool).WithSecrets(d.Secrets),
		archive: d.Archive,
		inbound: d.Inbound,
		cluster: d.Cluster,
		health:  d.Gateways,
		traces:  calltrace.NewStore(d.Pool),
		cheap:   d.CheapWindows,
		limit:   newLimiter(cfg.RateLimit, cfg.RateBurst),
		renders: make(chan struct{}, cfg.RenderConcurrency),
	}
	if d.Now != nil {
		a.tokens.Now = d.Now
	}
	a.upload, a.outbound, a.users = d.UploadTimeout, d.Outbound, d.Users
	if a.users == nil {
		a.users = users.New(d.Pool, users.Options{Now: d.Now})
	}
	if a.outbound == nil {
		a.outbound, _ = notify.Config{}.Outbound() // no allow-list: cannot fail
	}
	a.fetcher = newFetcher(a.outbound.DialContext(&net.Dialer{Timeout: 10 * time.Second}))
	var err error
	if a.cover, err = cfg.coverTemplate(); err != nil {
		return nil, fmt.Errorf("api.cover_template: %w", err)
	}
	a.routes = []route{
		{"POST", "/v1/faxes", tokens.Submitter, a.submitFax},
		{"GET", "/v1/faxes", tokens.Submitter, a.listFaxes},
		{"GET", "/v1/faxes/{id}", tokens.Submitter, a.getFax},
		{"POST", "/v1/faxes/{id}/cancel", tokens.Submitter, a.cancelFax},
		{"POST", "/v1/faxes/{id}/retry", tokens.Submitter, a.retryFax},
		{"GET", "/v1/faxes/{id}/document", tokens.Submitter, a.faxDocument},
		{"GET", "/v1/faxes/{id}/thumbnail", tokens.Submitter, a.faxThumbnail},

		{"GET", "/v1/gateways", tokens.Admin, a.listGateways},
		{"POST", "/v1/gateways", tokens.Admin, a.createGateway},
		{"GET", "/v1/gateways/{name}", tokens.Admin, a.getGateway},
		{"PUT", "/v1/gateways/{name}", tokens.Admin, a.updateGateway},
		{"DELETE", "/v1/gateways/{name}", tokens.Admin, a.deleteGateway},

		{"GET", "/v1/routes", tokens.Admin, a.listRoutes},
		{"POST", "/v1/routes", tokens.Admin, a.createRoute},
		{"GET", "/v1/routes/{id}", tokens.Admin, a.getRoute},
		{"PUT", "/v1/routes/{id}", tokens.Admin, a.updateRoute},
		{"DELETE", "/v1/routes/{id}", tokens.Admin, a.deleteRoute},

		{"GET", "/v1/inbound-rules", tokens.Admin, a.listRules},
		{"POST", "/v1/inbound-rules", tokens.Admin, a.createRule},
		{"GET", "/v1/inbound-rules/{id}", tokens.Admin, a.getRule},
		{"PUT", "/v1/inbound-rules/{id}", tokens.Admin, a.updateRule},
		{"DELETE", "/v1/inbound-rules/{id}", tokens.Admin, a.deleteRule},

		{"GET", "/v1/received", needReceived, a.listReceived},
		{"GET", "/v1/received/{id}", needReceived, a.getReceived},
		{"GET", "/v1/received/{id}/document", needReceived, a.receivedDocument},
		{"GET", "/v1/received/{id}/thumbnail", needReceived, a.receivedThumbnail},
		{"POST", "/v1/received/{id}/reroute", needOperator, a.reroute},
		{"DELETE", "/v1/received/{id}", needOperator, a.deleteReceived}, // tombstone.go
		{"GET", "/v1/received/{id}/reroutes", needReceived, a.listReroutes},
		{"GET", "/v1/mailboxes", needReceived, a.listMailboxes},
		{"GET", "/v1/mailboxes/{name}", needReceived, a.getMailbox},
		{"GET", "/v1/archive", tokens.Submitter, a.searchArchive},

		{"GET", "/v1/tokens", tokens.Admin, a.listTokens},
		{"POST", "/v1/tokens", tokens.Admin, a.createToken},
		{"DELETE", "/v1/tokens/{id}", tokens.Admin, a.revokeToken},

		{"GET", "/v1/whoami", tokens.Submitter, a.whoami},

		{"GET", "/v1/audit", tokens.Admin, a.listAudit},

		{"POST", "/v1/faxes/{id}/resend", tokens.Submitter, a.resendFax},
		{"DELETE", "/v1/faxes/{id}", tokens.Submitter, a.deleteFax}, // tombstone.go

		{"GET", "/v1/faxes/{id}/report", tokens.Submitter, a.faxReport}, // report.go
	}
	a.routes = append(a.routes, a.clusterRoutes()...) // standby.go
	a.routes = append(a.routes, a.gatewayHealthRoutes()...)
	a.routes = append(a.routes, a.traceRoutes()...)
	a.routes = append(a.routes, a.readRoutes()...)      // received.go
	a.routes = append(a.routes, a.userRoutes()...)      // users.go
	a.routes = append(a.routes, a.statsRoutes()...)     // stats.go
	a.routes = append(a.routes, a.broadcastRoutes()...) // broadcasts.go
	a.routes = append(a.routes, a.deliveryRoutes()...)  // deliveries.go
	return a, nil
}

// orDefault sets a zero *v to def.
func orDefault[T comparable](v *T, def T) {
	var zero T
	if *v == zero {
		*v = def
	}
}

// Routes registers the API on mux, under /v1/.
func (a *API) Routes(mux *http.ServeMux) {
	methods := map[string][]string{}
	for _, rt := range a.routes {
		mux.Handle(rt.method+" "+rt.pattern, a.wrap(rt))
		methods[rt.pattern] = append(methods[rt.pattern], rt.method)
	}
	// The same paths with other methods: 405 as problem+json.
	for pattern, ms := range methods {
		allow := strings.Join(ms, ", ")
		mux.Handle(pattern, a.wrap(route{pattern: pattern, h: func(w http.ResponseWriter, r *http.Request, _ *caller) error {
			w.Header().Set("Allow", allow)
			return newProblem(http.StatusMethodNotAllowed, "method-not-allowed", "%s is not supported on %s; use %s", r.Method, r.URL.Path, allow)
		}}))
	}
	mux.Handle("/v1/", a.wrap(route{pattern: "/v1/", h: func(w http.ResponseWriter, r *http.Request, _ *caller) error {
		return newProblem(http.StatusNotFound, "not-found", "there is no API endpoint %s (see schemas/openapi.yaml)", r.URL.Path)
	}}))
}

// Handler is a handler serving only the API.
func (a *API) Handler() http.Handler {
	mux := http.NewServeMux()
	a.Routes(mux)
	return mux
}

// caller is who is behind a request: a token, or a user's session. For a
// user (session or owned token), Token.Name is the user's name and
// Token.Role is admin for admins, submitter otherwise (users.go).
type caller struct {
	tokens.Token
	user    *users.User    // the account; nil for a token of no user
	session *users.Session // set when the session cookie authenticated
	// counted: a session request whose rate-limit share was already
	// taken (see CountedRequest).
	counted bool
}

func (c *caller) admin() bool { return c.Role == tokens.Admin }

// statusWriter remembers the status for the access log.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s *statusWriter) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

// wrap authenticates, authorises and rate-limits a request, runs the
// handler, turns its error into a problem, and logs one line (never the
// token: only its id and name).
func (a *API) wrap(rt route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		c, err := a.authenticate(r, rt.role)
		if err == nil && c != nil {
			a.extendDeadlines(w, r)
			r = r.WithContext(withCaller(r, c)) // users.go
		}
		if err == nil {
			err = rt.h(sw, r, c)
		}
		if err != nil {
			a.fail(sw, r, err)
		}
		attrs := []any{"method", r.Method, "path", r.URL.Path, "status", sw.status, "duration", time.Since(start)}
		if c != nil {
			attrs = append(attrs, "token_id", c.ID, "token_name", c.Name)
			if c.user != nil {
				attrs = append(attrs, "user_id", c.user.ID)
			}
		}
		a.log.Info("api request", attrs...)
	})
}

// extendDeadlines gives an authenticated request with a body
// http.upload_timeout to send it, and the answer as long again after that:
// the server's short read_timeout only has to cover strangers.
func (a *API) extendDeadlines(w http.ResponseWriter, r *http.Request) {
	if a.upload <= 0 || r.Body == nil || r.Body == http.NoBody {
		return
	}
	rc := http.NewResponseController(w)
	now := time.Now()
	// Errors mean the connection cannot take deadlines (a test recorder):
	// the server's own then stay.
	_ = rc.SetReadDeadline(now.Add(a.upload))
	_ = rc.SetWriteDeadline(now.Add(2 * a.upload))
}

func (a *API) authenticate(r *http.Request, need tokens.Role) (*caller, error) {
	if need == "" {
		return nil, nil // 404/405 fallbacks need no token
	}
	h := r.Header.Get("Authorization")
	scheme, secret, ok := strings.Cut(h, " ")
	if h == "" && users.HasCookie(r) {
		c, err := a.sessionCaller(r) // users.go
		if err != nil {
			return c, err
		}
		c.counted = counted(r.Context())
		return c, a.authorize(c, need)
	}
	if h == "" {
		return nil, newProblem(http.StatusUnauthorized, "unauthorized", "this endpoint needs an API token: send the header Authorization: Bearer <token>")
	}
	if !ok || !strings.EqualFold(scheme, "Bearer") || secret == "" {
		return nil, newProblem(http.StatusUnauthorized, "unauthorized", "the Authorization header must read Bearer <token>")
	}
	t, err := a.tokens.Authenticate(r.Context(), strings.TrimSpace(secret))
	if errors.Is(err, tokens.ErrInvalid) {
		return nil, newProblem(http.StatusUnauthorized, "unauthorized", "the API token is unknown, mistyped or revoked")
	}
	if errors.Is(err, tokens.ErrExpired) {
		return nil, newProblem(http.StatusUnauthorized, "unauthorized", "the API token %q expired at %s; ask an administrator for a new one",
			t.Name, t.ExpiresAt.UTC().Format(time.RFC3339))
	}
	if err != nil {
		return nil, err
	}
	c := &caller{Token: t}
	if t.UserID != 0 {
		if err := a.ownedToken(r, c); err != nil { // users.go
			return nil, err
		}
	}
	return c, a.authorize(c, need)
}

// authorize checks the caller's authority for a route and its rate limit.
func (a *API) authorize(c *caller, need tokens.Role) error {
	if need == tokens.Admin && !c.admin() {
		if c.user != nil {
			return newProblem(http.StatusForbidden, "forbidden", "this endpoint needs the admin role; %q has the role %s", c.user.Name, c.user.Role)
		}
		return newProblem(http.StatusForbidden, "forbidden", "this endpoint needs an admin token; token %q has the role %s", c.Name, c.Role)
	}
	if err := a.authorizeUser(c, need); err != nil { // users.go
		return err
	}
	key := c.ID
	if c.session != nil {
		key = -c.user.ID // a session's bucket: ids never meet a token's
	}
	if c.counted {
		return nil
	}
	if ok, wait := a.limit.allow(key); !ok {
		secs := int(math.Ceil(wait.Seconds()))
		if secs < 1 {
			secs = 1
		}
		return &rateLimited{retryAfter: secs, Problem: newProblem(http.StatusTooManyRequests, "rate-limited",
			"%s is over its rate limit of %g requests per second (burst %d); retry after %d s", c.who(), a.cfg.RateLimit, a.cfg.RateBurst, secs)}
	}
	return nil
}

type rateLimited struct {
	*Problem
	retryAfter int
}

// fail answers with the problem err is or wraps; anything else is a 500
// whose cause goes to the log, not to the client.
func (a *API) fail(w http.ResponseWriter, r *http.Request, err error) {
	var rl *rateLimited
	if errors.As(err, &rl) {
		w.Header().Set("Retry-After", strconv.Itoa(rl.retryAfter))
		writeProblem(w, rl.Problem)
		return
	}
	var p *Problem
	if errors.As(err, &p) {
		if p.Status == http.StatusUnauthorized {
			w.Header().Set("WWW-Authenticate", `Bearer realm="faxd"`)
		}
		writeProblem(w, p)
		return
	}
	if errors.Is(err, context.Canceled) && r.Context().Err() != nil {
		return // the client went away
	}
	a.log.Error("api request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	writeProblem(w, newProblem(http.StatusInternalServerError, "internal",
		"the server could not complete the request; it has been logged, try again later"))
}

// pathID parses a numeric path parameter.
func pathID(r *http.Request, name, what string) (int64, error) {
	s := r.PathValue(name)
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id <= 0 {
		return 0, newProblem(http.StatusNotFound, "not-found", "%q is not a %s id (ids are positive whole numbers)", s, what)
	}
	return id, nil
}

func (a *API) whoami(w http.ResponseWriter, r *http.Request, c *caller) error {
	writeJSON(w, http.StatusOK, c.Token)
	return nil
}

func notFound(format string, a ...any) error {
	return newProblem(http.StatusNotFound, "not-found", fmt.Sprintf(format, a...))
}
