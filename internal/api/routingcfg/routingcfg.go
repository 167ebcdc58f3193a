// Package routingcfg holds the outbound routing configuration
// administrators edit through the API, in the queue database: IP gateways
// (with their SIP digest credentials) and least-cost routes by destination
// prefix. The outbound router loads from here; the standby's sync copies
// these tables. Inbound rules are internal/inbound's.
package routingcfg

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"net"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/faxd/faxd/internal/channel"
	"github.com/faxd/faxd/internal/secretbox"
	"github.com/faxd/faxd/routing"
)

var (
	// ErrNotFound: no such gateway or route.
	ErrNotFound = errors.New("routingcfg: not found")
	// ErrConflict: the change clashes with what is stored (a duplicate
	// name, a gateway still used by routes).
	ErrConflict = errors.New("routingcfg: conflict")
)

// ValidationError lists every bad field of an object, each message naming
// the field, so an administrator fixes a request in one go.
type ValidationError struct {
	Problems []string
}

func (e *ValidationError) Error() string { return strings.Join(e.Problems, "; ") }

type checker struct{ problems []string }

func (c *checker) bad(format string, a ...any) {
	c.problems = append(c.problems, fmt.Sprintf(format, a...))
}

func (c *checker) err() error {
	if len(c.problems) == 0 {
		return nil
	}
	return &ValidationError{Problems: c.problems}
}

// Gateway is an IP gateway with its credentials. Password is write-only:
// it is stored encrypted (secretbox) and never returned (json "-"; reads
// leave it empty, Store.Password decrypts); HasPassword says whether one
// is set.
type Gateway struct {
	Name        string `json:"name"`
	Address     string `json:"address"`
	MaxChannels int    `json:"max_channels"`
	Username    string `json:"username"`
	Password    string `json:"-"`
	HasPassword bool   `json:"has_password"`
	Enabled     bool   `json:"enabled"`
	// Profile is how faxd calls the gateway; unset fields keep the
	// server's settings.
	Profile channel.Profile `json:"profile"`
	// Sites that reach the gateway (none: every site); SiteCosts adds a
	// cost per site to every route through it.
	Sites     []string           `json:"sites"`
	SiteCosts map[string]float64 `json:"site_costs"`
	CreatedAt time.Time          `json:"created_at"`
	UpdatedAt time.Time          `json:"updated_at"`

	sealed string // the stored column value
}

var (
	nameRE   = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)
	hostRE   = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9.-]{0,252})$`)
	prefixRE = regexp.MustCompile(`^\+?[0-9]{0,20}$`)
)

// ValidName reports whether s may name a gateway.
func ValidName(s string) bool { return nameRE.MatchString(s) }

// ValidateAddress checks a gateway address: host or host:port.
func ValidateAddress(a string) error {
	host, port := a, ""
	if h, p, err := net.SplitHostPort(a); err == nil {
		host, port = h, p
	}
	if port != "" {
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return fmt.Errorf("port %q must be a number from 1 to 65535", port)
		}
	}
	if net.ParseIP(host) == nil && !hostRE.MatchString(host) {
		return fmt.Errorf("%q is not a host name or IP address (write host or host:port, without sip:)", a)
	}
	return nil
}

// Validate checks every field.
func (g *Gateway) Validate() error {
	var c checker
	if !nameRE.MatchString(g.Name) {
		c.bad("name %q: use 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit", g.Name)
	}
	if g.Address == "" {
		c.bad("address is required (host or host:port of the gateway's SIP service)")
	} else if err := ValidateAddress(g.Address); err != nil {
		c.bad("address: %v", err)
	}
	if g.MaxChannels < 0 || g.MaxChannels > 10000 {
		c.bad("max_channels %d: must be from 0 (unlimited) to 10000", g.MaxChannels)
	}
	if len(g.Username) > 128 {
		c.bad("username: at most 128 characters")
	}
	if len(g.Password) > 256 {
		c.bad("password: at most 256 characters")
	}
	if g.Password != "" && g.Username == "" {
		c.bad("password without username: digest authentication needs both")
	}
	if err := g.Profile.Validate(); err != nil {
		for _, e := range strings.Split(err.Error(), "\n") {
			c.bad("profile.%s", e)
		}
	}
	checkSites(&c, g.Sites, g.SiteCosts)
	return c.err()
}

// maxSites bounds the sites one gateway or route names.
const maxSites = 64

// checkSites checks the sites and site_costs fields of a gateway or a
// route: site names as gateway names, costs as route costs.
func checkSites(c *checker, sites []string, costs map[string]float64) {
	if len(sites) > maxSites {
		c.bad("sites: at most %d", maxSites)
	}
	seen := map[string]bool{}
	for i, s := range sites {
		switch {
		case !nameRE.MatchString(s):
			c.bad("sites[%d] %q: use 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit", i, s)
		case seen[s]:
			c.bad("sites[%d] %q: named twice", i, s)
		}
		seen[s] = true
	}
	if len(costs) > maxSites {
		c.bad("site_costs: at most %d sites", maxSites)
	}
	for _, s := range slices.Sorted(maps.Keys(costs)) {
		if !nameRE.MatchString(s) {
			c.bad("site_costs %q: not a site name (1-64 letters, digits, '.', '_' or '-')", s)
		}
		if v := costs[s]; v < 0 || v > 1e9 || math.IsNaN(v) {
			c.bad("site_costs.%s %v: must be from 0 to 1e9", s, v)
		}
	}
}

// Window is a cost period of a route: from From to To ("HH:MM"; To
// "24:00" is midnight, To at or before From runs past midnight) on Days
// ("mon".."sun"; none: every day) the route costs Cost, in the time zone
// of channel.time_zone.
type Window struct {
	Days []string `json:"days,omitempty"`
	From string   `json:"from"`
	To   string   `json:"to"`
	Cost float64  `json:"cost"`
}

func (w Window) routing() (routing.Window, error) {
	return channel.RouteWindow{Days: w.Days, From: w.From, To: w.To, Cost: w.Cost}.Window()
}

// Route sends numbers starting with Prefix through Gateway at Cost.
type Route struct {
	ID      int64   `json:"id"`
	Prefix  string  `json:"prefix"`
	Gateway string  `json:"gateway"`
	Cost    float64 `json:"cost"`
	Weight  int     `json:"weight"`
	// Sites that may use the route (none: every site); SiteCosts adds a
	// cost per site; Windows are its cost periods (cheap rates).
	Sites     []string           `json:"sites"`
	SiteCosts map[string]float64 `json:"site_costs"`
	Windows   []Window           `json:"windows"`
	CreatedAt time.Time          `json:"created_at"`
	UpdatedAt time.Time          `json:"updated_at"`
}

// maxWindows bounds a route's cost windows.
const maxWindows = 32

// Validate checks every field.
func (r *Route) Validate() error {
	var c checker
	if !prefixRE.MatchString(r.Prefix) {
		c.bad("prefix %q: digits only (at most 20), optionally after '+'; empty matches every number", r.Prefix)
	}
	if !nameRE.MatchString(r.Gateway) {
		c.bad("gateway %q: not a gateway name", r.Gateway)
	}
	if r.Cost < 0 || r.Cost > 1e9 {
		c.bad("cost %v: must be from 0 to 1e9", r.Cost)
	}
	if r.Weight < 0 || r.Weight > 1000000 {
		c.bad("weight %d: must be from 0 to 1000000", r.Weight)
	}
	checkSites(&c, r.Sites, r.SiteCosts)
	if len(r.Windows) > maxWindows {
		c.bad("windows: at most %d", maxWindows)
	}
	for i, w := range r.Windows {
		if _, err := w.routing(); err != nil {
			c.bad("windows[%d]: %v", i, err)
		} else if w.Cost > 1e9 {
			c.bad("windows[%d]: cost %v: must be from 0 to 1e9", i, w.Cost)
		}
	}
	return c.err()
}

// DB is a pool or a transaction: a change and its audit entry can share
// a transaction (WithTx).
type DB interface {
	Begin(context.Context) (pgx.Tx, error)
	Exec(context.Context, string, ...any) (pgconn.CommandTag, error)
	Query(context.Context, string, ...any) (pgx.Rows, error)
	QueryRow(context.Context, string, ...any) pgx.Row
}

// Store is the routing configuration in the queue database.
type Store struct {
	pool    DB
	secrets *secretbox.Keyring
}

// New returns a store on pool (schemas.Queue applied). Without
// WithSecrets it cannot store or read gateway passwords.
func New(pool *pgxpool.Pool) *Store { return &Store{pool: pool} }

// WithSecrets sets the keyring gateway passwords are sealed with.
func (s *Store) WithSecrets(k *secretbox.Keyring) *Store {
	s.secrets = k
	return s
}

// WithTx returns a copy of s working inside tx.
func (s *Store) WithTx(tx pgx.Tx) *Store {
	c := *s
	c.pool = tx
	return &c
}

// SecretColumns are the columns holding sealed secrets, for re-sealing.
var SecretColumns = []secretbox.Column{{Table: "gateways", Key: "name", Value: "password"}}

// Password decrypts g's stored password ("" for none). The error names
// the gateway and the key, never the value.
func (s *Store) Password(g Gateway) (string, error) {
	p, err := s.secrets.Open(g.sealed)
	if err != nil {
		return "", fmt.Errorf("routingcfg: gateway %q password: %w", g.Name, err)
	}
	return p, nil
}

// seal encrypts a new password for storage.
func (s *Store) seal(g Gateway) (string, error) {
	v, err := s.secrets.Seal(g.Password)
	if err != nil {
		return "", fmt.Errorf("routingcfg: gateway %q password cannot be stored: %w", g.Name, err)
	}
	return v, nil
}

func pgCode(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}

const gatewayCols = `name, address, max_channels, username, password, enabled, profile, sites, site_costs, created_at, updated_at`

func scanGateway(row pgx.Row) (Gateway, error) {
	var g Gateway
	var maxCh int32
	err := row.Scan(&g.Name, &g.Address, &maxCh, &g.Username, &g.sealed, &g.Enabled, &g.Profile, &g.Sites, &g.SiteCosts, &g.CreatedAt, &g.UpdatedAt)
	g.MaxChannels, g.HasPassword = int(maxCh), g.sealed != ""
	g.Sites, g.SiteCosts = orEmpty(g.Sites), orEmptyMap(g.SiteCosts)
	return g, err
}

// orEmpty and orEmptyMap make absent lists and maps [] and {} (not null)
// in the API's answers and in the stored columns.
func orEmpty[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func orEmptyMap(m map[string]float64) map[string]float64 {
	if m == nil {
		return map[string]float64{}
	}
	return m
}

// Gateways lists every gateway by name.
func (s *Store) Gateways(ctx context.Context) ([]Gateway, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+gatewayCols+` FROM gateways ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("routingcfg: gateways: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Gateway, error) { return scanGateway(r) })
}

// Gateway returns one gateway.
func (s *Store) Gateway(ctx context.Context, name string) (Gateway, error) {
	g, err := scanGateway(s.pool.QueryRow(ctx, `SELECT `+gatewayCols+` FROM gateways WHERE name = $1`, name))
	if errors.Is(err, pgx.ErrNoRows) {
		return Gateway{}, fmt.Errorf("%w: gateway %q", ErrNotFound, name)
	}
	return g, err
}

// CreateGateway adds a gateway.
func (s *Store) CreateGateway(ctx context.Context, g Gateway) (Gateway, error) {
	if err := g.Validate(); err != nil {
		return Gateway{}, err
	}
	stored, err := s.seal(g)
	if err != nil {
		return Gateway{}, err
	}
	out, err := scanGateway(s.pool.QueryRow(ctx, `
		INSERT INTO gateways (name, address, max_channels, username, password, enabled, profile, sites, site_costs)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING `+gatewayCols,
		g.Name, g.Address, g.MaxChannels, g.Username, stored, g.Enabled, g.Profile, orEmpty(g.Sites), orEmptyMap(g.SiteCosts)))
	if pgCode(err) == "23505" {
		return Gateway{}, fmt.Errorf("%w: a gateway named %q exists already", ErrConflict, g.Name)
	}
	return out, err
}

// UpdateGateway replaces a gateway's settings. keepPassword leaves the
// stored password as it is (the request did not mention it).
func (s *Store) UpdateGateway(ctx context.Context, g Gateway, keepPassword bool) (Gateway, error) {
	var stored string
	check := g
	if keepPassword {
		old, err := s.Gateway(ctx, g.Name)
		if err != nil {
			return Gateway{}, err
		}
		// The kept value is copied sealed: no key is needed to keep it.
		stored = old.sealed
		if stored != "" {
			check.Password = "(kept)" // so Validate sees that one is set
		}
	}
	if err := check.Validate(); err != nil {
		return Gateway{}, err
	}
	if !keepPassword {
		var err error
		if stored, err = s.seal(g); err != nil {
			return Gateway{}, err
		}
	}
	out, err := scanGateway(s.pool.QueryRow(ctx, `
		UPDATE gateways SET address = $2, max_channels = $3, username = $4, password = $5, enabled = $6,
			profile = $7, sites = $8, site_costs = $9, updated_at = now()
		WHERE name = $1 RETURNING `+gatewayCols,
		g.Name, g.Address, g.MaxChannels, g.Username, stored, g.Enabled, g.Profile, orEmpty(g.Sites), orEmptyMap(g.SiteCosts)))
	if errors.Is(err, pgx.ErrNoRows) {
		return Gateway{}, fmt.Errorf("%w: gateway %q", ErrNotFound, g.Name)
	}
	return out, err
}

// DeleteGateway deletes a gateway no route uses.
func (s *Store) DeleteGateway(ctx context.Context, name string) error {
	tag, err := s.pool.Exec(ctx, `DELETE FROM gateways WHERE name = $1`, name)
	if pgCode(err) == "23503" {
		return fmt.Errorf("%w: gateway %q is used by routes; delete or move them first", ErrConflict, name)
	}
	if err != nil {
		return fmt.Errorf("routingcfg: delete gateway: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("%w: gateway %q", ErrNotFound, name)
	}
	return nil
}

const routeCols = `id, prefix, gateway, cost, weight, sites, site_costs, windows, created_at, updated_at`

func scanRoute(row pgx.Row) (Route, error) {
	var r Route
	var w int32
	err := row.Scan(&r.ID, &r.Prefix, &r.Gateway, &r.Cost, &w, &r.Sites, &r.SiteCosts, &r.Windows, &r.CreatedAt, &r.UpdatedAt)
	r.Weight = int(w)
	r.Sites, r.SiteCosts, r.Windows = orEmpty(r.Sites), orEmptyMap(r.SiteCosts), orEmpty(r.Windows)
	return r, err
}

func routeErr(err error, r Route) error {
	switch pgCode(err) {
	case "23503":
		return &ValidationError{Problems: []string{fmt.Sprintf("gateway %q: no such gateway; create it first", r.Gateway)}}
	case "23505":
		return fmt.Errorf("%w: a route for prefix %q through gateway %q exists already", ErrConflict, r.Prefix, r.Gateway)
	}
	return err
}

// Routes lists every route by prefix.
func (s *Store) Routes(ctx context.Context) ([]Route, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+routeCols+` FROM routes ORDER BY prefix, cost, id`)
	if err != nil {
		return nil, fmt.Errorf("routingcfg: routes: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Route, error) { return scanRoute(r) })
}

// Route returns one route.
func (s *Store) Route(ctx context.Context, id int64) (Route, error) {
	r, err := scanRoute(s.pool.QueryRow(ctx, `SELECT `+routeCols+` FROM routes WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return Route{}, fmt.Errorf("%w: route %d", ErrNotFound, id)
	}
	return r, err
}

// CreateRoute adds a route through an existing gateway.
func (s *Store) CreateRoute(ctx context.Context, r Route) (Route, error) {
	if err := r.Validate(); err != nil {
		return Route{}, err
	}
	out, err := scanRoute(s.pool.QueryRow(ctx, `
		INSERT INTO routes (prefix, gateway, cost, weight, sites, site_costs, windows)
		VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING `+routeCols,
		r.Prefix, r.Gateway, r.Cost, r.Weight, orEmpty(r.Sites), orEmptyMap(r.SiteCosts), orEmpty(r.Windows)))
	return out, routeErr(err, r)
}

// UpdateRoute replaces a route.
func (s *Store) UpdateRoute(ctx context.Context, r Route) (Route, error) {
	if err := r.Validate(); err != nil {
		return Route{}, err
	}
	out, err := scanRoute(s.pool.QueryRow(ctx, `
		UPDATE routes SET prefix = $2, gateway = $3, cost = $4, weight = $5, sites = $6, site_costs = $7,
			windows = $8, updated_at = now()
		WHERE id = $1 RETURNING `+routeCols, r.ID, r.Prefix, r.Gateway, r.Cost, r.Weight,
		orEmpty(r.Sites), orEmptyMap(r.SiteCosts), orEmpty(r.Windows)))
	if errors.Is(err, pgx.ErrNoRows) {
		return Route{}, fmt.Errorf("%w: route %d", ErrNotFound, r.ID)
	}
	return out, routeErr(err, r)
}

// DeleteRoute deletes a route.
func (s *Store) DeleteRoute(ctx context.Context, id int64) error {
	tag, err := s.pool.Exec(ctx, `DELETE FROM routes WHERE id = $1`, id)
	if err != nil {
		return fmt.Errorf("routingcfg: delete route: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("%w: route %d", ErrNotFound, id)
	}
	return nil
}

// Load returns the enabled gateways and the routes through them, ready
// for routing.New or Router.Update.
func (s *Store) Load(ctx context.Context) ([]routing.Gateway, []routing.Route, error) {
	gws, err := s.Gateways(ctx)
	if err != nil {
		return nil, nil, err
	}
	rts, err := s.Routes(ctx)
	if err != nil {
		return nil, nil, err
	}
	enabled := map[string]bool{}
	var gout []routing.Gateway
	for _, g := range gws {
		if g.Enabled {
			enabled[g.Name] = true
			var cg channel.Gateway
			_ = g.Profile.Apply(&cg) // validated when stored
			gout = append(gout, routing.Gateway{Name: g.Name, Address: g.Address, MaxChannels: g.MaxChannels, Probe: cg.ProbePolicy(),
				Sites: g.Sites, SiteCosts: g.SiteCosts})
		}
	}
	var rout []routing.Route
	for _, r := range rts {
		if !enabled[r.Gateway] {
			continue
		}
		var ws []routing.Window
		for i, w := range r.Windows {
			rw, err := w.routing()
			if err != nil { // validated when stored; a hand-edited row is named
				return nil, nil, fmt.Errorf("routingcfg: route %d windows[%d]: %w", r.ID, i, err)
			}
			ws = append(ws, rw)
		}
		rout = append(rout, routing.Route{Prefix: r.Prefix, Gateway: r.Gateway, Cost: r.Cost, Weight: r.Weight,
			Sites: r.Sites, SiteCosts: r.SiteCosts, Windows: ws})
	}
	return gout, rout, nil
}
