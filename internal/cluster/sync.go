package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/faxd/faxd/internal/notify"
)

// The configuration sync (R18): a standby with its own queue database
// copies what it needs to serve from the primary's (002: "replicas of the
// state it needs before it can serve a user"): gateways, routes, inbound
// rules and API tokens. Each run mirrors the primary: rows are upserted by
// their natural key (gateway name, route prefix and gateway, rule id,
// token id: the id is part of the token's text) and rows the primary no
// longer has are deleted, all in one transaction.

// ErrSameDatabase: the primary's DSN names this node's own database.
var ErrSameDatabase = errors.New("cluster: sync: the primary's database is this node's own")

// ErrNoSync: no sync is configured (standby.sync.primary_dsn is empty).
var ErrNoSync = errors.New("cluster: no configuration sync on this node (standby.sync.primary_dsn is empty)")

// SyncNotifier tells administrators of sync results; AdminNotices
// implements it.
type SyncNotifier interface {
	SyncCompleted(ctx context.Context, e notify.SyncEvent) error
	Failure(ctx context.Context, e notify.FailureEvent) error
}

// SyncResult counts one run's changes per table.
type SyncResult struct {
	Copied  map[string]int // rows inserted or changed
	Deleted map[string]int
}

// Syncer copies the configuration on a schedule.
type Syncer struct {
	self     string
	primary  string // name for notices
	dsn      string
	local    *pgxpool.Pool
	schedule Schedule
	notifier SyncNotifier
	log      *slog.Logger
	// Skip, when set and true, skips a scheduled run (while this node is
	// promoted it is the source of truth and the primary is down).
	Skip func() bool

	mu      sync.Mutex
	next    time.Time
	last    time.Time
	lastErr string
	lastRes SyncResult
}

// NewSyncer syncs from primaryDSN into local. primary names the primary
// in notices; the DSN itself is never logged.
func NewSyncer(self, primary string, cfg SyncConfig, local *pgxpool.Pool, n SyncNotifier, log *slog.Logger) (*Syncer, error) {
	start, err := ParseStartTime(cfg.StartTime)
	if err != nil {
		return nil, fmt.Errorf("standby.sync.start_time: %w", err)
	}
	if _, err := pgx.ParseConfig(cfg.PrimaryDSN); err != nil {
		return nil, errors.New("standby.sync.primary_dsn: cannot parse the connection string (not logged: it may hold a password)")
	}
	if log == nil {
		log = slog.Default()
	}
	return &Syncer{self: self, primary: primary, dsn: cfg.PrimaryDSN, local: local,
		schedule: Schedule{Start: start, Every: cfg.Every.D()}, notifier: n, log: log}, nil
}

// Status is a snapshot.
func (s *Syncer) Status() (next, last time.Time, lastErr string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.next, s.last, s.lastErr
}

// Run syncs at every scheduled time until ctx ends. A run missed while
// the node was down is not caught up: the next slot comes soon enough.
func (s *Syncer) Run(ctx context.Context) {
	for {
		next := s.schedule.Next(time.Now())
		s.mu.Lock()
		s.next = next
		s.mu.Unlock()
		t := time.NewTimer(time.Until(next))
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		if s.Skip != nil && s.Skip() {
			s.log.Info("configuration sync skipped: this node is the primary now")
			continue
		}
		_, _ = s.SyncNow(ctx)
	}
}

// SyncNow runs one sync and sends its notices: completed (when
// notify.sync_completed is on) or failure.
func (s *Syncer) SyncNow(ctx context.Context) (SyncResult, error) {
	started := time.Now()
	res, err := s.sync(ctx)
	finished := time.Now()
	s.mu.Lock()
	s.last = finished
	s.lastRes = res
	s.lastErr = ""
	if err != nil {
		s.lastErr = err.Error()
	}
	s.mu.Unlock()
	if err != nil {
		s.log.Error("configuration sync failed", "primary", s.primary, "err", err)
		if s.notifier != nil {
			if nerr := s.notifier.Failure(ctx, notify.FailureEvent{Node: s.self, Component: "sync",
				Message: fmt.Sprintf("copying the configuration of %s failed: %v", s.primary, err), At: finished}); nerr != nil {
				s.log.Warn("sync failure notice not queued", "err", nerr)
			}
		}
		return res, err
	}
	s.log.Info("configuration synced", "primary", s.primary, "copied", res.Copied, "deleted", res.Deleted)
	if s.notifier != nil {
		copied := map[string]int{}
		for k, v := range res.Copied {
			copied[k] = v
		}
		for k, v := range res.Deleted {
			copied[k+"_deleted"] = v
		}
		if nerr := s.notifier.SyncCompleted(ctx, notify.SyncEvent{Node: s.self, Primary: s.primary,
			StartedAt: started, FinishedAt: finished, Copied: copied}); nerr != nil {
			s.log.Warn("sync notice not queued", "err", nerr)
		}
	}
	return res, nil
}

// scrub removes the DSN's password from an error text, should a driver
// ever echo it.
func (s *Syncer) scrub(err error) error {
	if err == nil {
		return nil
	}
	cfg, perr := pgx.ParseConfig(s.dsn)
	if perr != nil || cfg.Password == "" || !strings.Contains(err.Error(), cfg.Password) {
		return err
	}
	return errors.New(strings.ReplaceAll(err.Error(), cfg.Password, "********"))
}

// config is the primary's configuration as read in one snapshot.
type config struct {
	gateways []gatewayRow
	routes   []routeRow
	rules    []ruleRow
	tokens   []tokenRow
}

type gatewayRow struct {
	Name, Address, Username, Password string
	MaxChannels                       int32
	Enabled                           bool
	Profile                           []byte // JSON, copied as it is
	CreatedAt, UpdatedAt              time.Time
	Sites                             []string
	SiteCosts                         []byte // JSON, copied as it is
}

type routeRow struct {
	Prefix, Gateway      string
	Cost                 float64
	Weight               int32
	CreatedAt, UpdatedAt time.Time
	Sites                []string
	SiteCosts, Windows   []byte // JSON, copied as they are
}

type ruleRow struct {
	ID                      int64
	Priority                int32
	MatchKind, Match        string
	CallerKind, CallerMatch string
	DestKind, Destination   string
	Secret, Description     string
	Enabled                 bool
	CreatedAt, UpdatedAt    time.Time
	TSIKind, TSIMatch       string
	Pages                   string
}

type tokenRow struct {
	ID                  int64
	Name, Role          string
	Hash                []byte
	CreatedAt           time.Time
	LastUsed, RevokedAt *time.Time
	ExpiresAt           *time.Time
}

func (s *Syncer) sync(ctx context.Context) (SyncResult, error) {
	res := SyncResult{Copied: map[string]int{}, Deleted: map[string]int{}}
	pc, err := pgx.ParseConfig(s.dsn)
	if err != nil {
		return res, errors.New("cannot parse standby.sync.primary_dsn (not logged: it may hold a password)")
	}
	cctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	conn, err := pgx.ConnectConfig(cctx, pc)
	cancel()
	if err != nil {
		return res, s.scrub(fmt.Errorf("connect to the primary's database: %w", err))
	}
	defer conn.Close(context.WithoutCancel(ctx))
	same, err := sameDatabase(ctx, conn, s.local)
	if err != nil {
		return res, s.scrub(err)
	}
	if same {
		return res, ErrSameDatabase
	}
	cfg, err := readConfig(ctx, conn)
	if err != nil {
		return res, s.scrub(fmt.Errorf("read the primary's configuration: %w", err))
	}
	err = pgx.BeginFunc(ctx, s.local, func(tx pgx.Tx) error { return applyConfig(ctx, tx, cfg, &res) })
	if err != nil {
		return SyncResult{}, fmt.Errorf("write the configuration: %w", err)
	}
	return res, nil
}

func identity(ctx context.Context, q interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}) (string, error) {
	var id string
	err := q.QueryRow(ctx, `SELECT (SELECT id::text FROM db_identity) || '/' || current_database()`).Scan(&id)
	return id, err
}

func sameDatabase(ctx context.Context, primary *pgx.Conn, local *pgxpool.Pool) (bool, error) {
	p, err := identity(ctx, primary)
	if err != nil {
		return false, fmt.Errorf("the primary's database identity (is it migrated?): %w", err)
	}
	l, err := identity(ctx, local)
	if err != nil {
		return false, fmt.Errorf("this node's database identity: %w", err)
	}
	return p == l, nil
}

// readConfig reads the four tables in one repeatable-read snapshot.
func readConfig(ctx context.Context, conn *pgx.Conn) (config, error) {
	var c config
	err := pgx.BeginTxFunc(ctx, conn, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		rows, _ := tx.Query(ctx, `SELECT name, address, username, password, max_channels, enabled, profile, created_at, updated_at, sites, site_costs FROM gateways ORDER BY name`)
		var err error
		if c.gateways, err = pgx.CollectRows(rows, pgx.RowToStructByPos[gatewayRow]); err != nil {
			return fmt.Errorf("gateways: %w", err)
		}
		rows, _ = tx.Query(ctx, `SELECT prefix, gateway, cost, weight, created_at, updated_at, sites, site_costs, windows FROM routes ORDER BY id`)
		if c.routes, err = pgx.CollectRows(rows, pgx.RowToStructByPos[routeRow]); err != nil {
			return fmt.Errorf("routes: %w", err)
		}
		rows, _ = tx.Query(ctx, `SELECT id, priority, match_kind, match, caller_kind, caller_match, dest_kind, destination,
			secret, description, enabled, created_at, updated_at, tsi_kind, tsi_match, pages FROM inbound_rules ORDER BY id`)
		if c.rules, err = pgx.CollectRows(rows, pgx.RowToStructByPos[ruleRow]); err != nil {
			return fmt.Errorf("inbound rules: %w", err)
		}
		rows, _ = tx.Query(ctx, `SELECT id, name, role, hash, created_at, last_used_at, revoked_at, expires_at FROM api_tokens ORDER BY id`)
		if c.tokens, err = pgx.CollectRows(rows, pgx.RowToStructByPos[tokenRow]); err != nil {
			return fmt.Errorf("api tokens: %w", err)
		}
		return nil
	})
	return c, err
}

// applyConfig mirrors c into the local database inside tx. Order matters
// for the routes' foreign key: routes go before the gateways they name
// are deleted, gateways are written before the routes that name them.
func applyConfig(ctx context.Context, tx pgx.Tx, c config, res *SyncResult) error {
	exec := func(table string, counter map[string]int, sql string, args ...any) error {
		tag, err := tx.Exec(ctx, sql, args...)
		if err != nil {
			return fmt.Errorf("%s: %w", table, err)
		}
		counter[table] += int(tag.RowsAffected())
		return nil
	}
	var prefixes, rgws []string
	for _, r := range c.routes {
		prefixes, rgws = append(prefixes, r.Prefix), append(rgws, r.Gateway)
	}
	if err := exec("routes", res.Deleted, `
		DELETE FROM routes r WHERE NOT EXISTS (
			SELECT 1 FROM unnest($1::text[], $2::text[]) AS p(prefix, gateway)
			WHERE p.prefix = r.prefix AND p.gateway = r.gateway)`, prefixes, rgws); err != nil {
		return err
	}
	for _, g := range c.gateways {
		if err := exec("gateways", res.Copied, `
			INSERT INTO gateways AS t (name, address, username, password, max_channels, enabled, profile, created_at, updated_at,
				sites, site_costs)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
			ON CONFLICT (name) DO UPDATE SET address = EXCLUDED.address, username = EXCLUDED.username,
				password = EXCLUDED.password, max_channels = EXCLUDED.max_channels, enabled = EXCLUDED.enabled,
				profile = EXCLUDED.profile, created_at = EXCLUDED.created_at, updated_at = EXCLUDED.updated_at,
				sites = EXCLUDED.sites, site_costs = EXCLUDED.site_costs
			WHERE (t.address, t.username, t.password, t.max_channels, t.enabled, t.profile, t.created_at, t.updated_at,
				t.sites, t.site_costs)
				IS DISTINCT FROM (EXCLUDED.address, EXCLUDED.username, EXCLUDED.password, EXCLUDED.max_channels,
				EXCLUDED.enabled, EXCLUDED.profile, EXCLUDED.created_at, EXCLUDED.updated_at, EXCLUDED.sites, EXCLUDED.site_costs)`,
			g.Name, g.Address, g.Username, g.Password, g.MaxChannels, g.Enabled, g.Profile, g.CreatedAt, g.UpdatedAt,
			g.Sites, g.SiteCosts); err != nil {
			return err
		}
	}
	for _, r := range c.routes {
		if err := exec("routes", res.Copied, `
			INSERT INTO routes AS t (prefix, gateway, cost, weight, created_at, updated_at, sites, site_costs, windows)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
			ON CONFLICT (prefix, gateway) DO UPDATE SET cost = EXCLUDED.cost, weight = EXCLUDED.weight,
				created_at = EXCLUDED.created_at, updated_at = EXCLUDED.updated_at,
				sites = EXCLUDED.sites, site_costs = EXCLUDED.site_costs, windows = EXCLUDED.windows
			WHERE (t.cost, t.weight, t.created_at, t.updated_at, t.sites, t.site_costs, t.windows)
				IS DISTINCT FROM (EXCLUDED.cost, EXCLUDED.weight, EXCLUDED.created_at, EXCLUDED.updated_at,
				EXCLUDED.sites, EXCLUDED.site_costs, EXCLUDED.windows)`,
			r.Prefix, r.Gateway, r.Cost, r.Weight, r.CreatedAt, r.UpdatedAt, r.Sites, r.SiteCosts, r.Windows); err != nil {
			return err
		}
	}
	names := make([]string, 0, len(c.gateways))
	for _, g := range c.gateways {
		names = append(names, g.Name)
	}
	if err := exec("gateways", res.Deleted, `DELETE FROM gateways WHERE NOT (name = ANY($1::text[]))`, names); err != nil {
		return err
	}

	ids := make([]int64, 0, len(c.rules))
	for _, r := range c.rules {
		ids = append(ids, r.ID)
	}
	if err := exec("inbound_rules", res.Deleted, `DELETE FROM inbound_rules WHERE NOT (id = ANY($1::bigint[]))`, ids); err != nil {
		return err
	}
	for _, r := range c.rules {
		if err := exec("inbound_rules", res.Copied, `
			INSERT INTO inbound_rules AS t (id, priority, match_kind, match, caller_kind, caller_match, dest_kind,
				destination, secret, description, enabled, created_at, updated_at, tsi_kind, tsi_match, pages)
			OVERRIDING SYSTEM VALUE VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)
			ON CONFLICT (id) DO UPDATE SET priority = EXCLUDED.priority, match_kind = EXCLUDED.match_kind,
				match = EXCLUDED.match, caller_kind = EXCLUDED.caller_kind, caller_match = EXCLUDED.caller_match,
				dest_kind = EXCLUDED.dest_kind, destination = EXCLUDED.destination, secret = EXCLUDED.secret,
				description = EXCLUDED.description, enabled = EXCLUDED.enabled,
				created_at = EXCLUDED.created_at, updated_at = EXCLUDED.updated_at,
				tsi_kind = EXCLUDED.tsi_kind, tsi_match = EXCLUDED.tsi_match, pages = EXCLUDED.pages
			WHERE (t.priority, t.match_kind, t.match, t.caller_kind, t.caller_match, t.dest_kind, t.destination,
				t.secret, t.description, t.enabled, t.created_at, t.updated_at, t.tsi_kind, t.tsi_match, t.pages)
				IS DISTINCT FROM (EXCLUDED.priority, EXCLUDED.match_kind, EXCLUDED.match, EXCLUDED.caller_kind,
				EXCLUDED.caller_match, EXCLUDED.dest_kind, EXCLUDED.destination, EXCLUDED.secret,
				EXCLUDED.description, EXCLUDED.enabled, EXCLUDED.created_at, EXCLUDED.updated_at,
				EXCLUDED.tsi_kind, EXCLUDED.tsi_match, EXCLUDED.pages)`,
			r.ID, r.Priority, r.MatchKind, r.Match, r.CallerKind, r.CallerMatch, r.DestKind, r.Destination,
			r.Secret, r.Description, r.Enabled, r.CreatedAt, r.UpdatedAt, r.TSIKind, r.TSIMatch, r.Pages); err != nil {
			return err
		}
	}

	ids = ids[:0]
	for _, t := range c.tokens {
		ids = append(ids, t.ID)
	}
	if err := exec("api_tokens", res.Deleted, `DELETE FROM api_tokens WHERE NOT (id = ANY($1::bigint[]))`, ids); err != nil {
		return err
	}
	for _, t := range c.tokens {
		// last_used_at is not configuration: each side keeps its latest.
		if err := exec("api_tokens", res.Copied, `
			INSERT INTO api_tokens AS t (id, name, role, hash, created_at, last_used_at, revoked_at, expires_at)
			OVERRIDING SYSTEM VALUE VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
			ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, role = EXCLUDED.role, hash = EXCLUDED.hash,
				created_at = EXCLUDED.created_at, revoked_at = EXCLUDED.revoked_at, expires_at = EXCLUDED.expires_at,
				last_used_at = greatest(t.last_used_at, EXCLUDED.last_used_at)
			WHERE (t.name, t.role, t.hash, t.created_at, t.revoked_at, t.expires_at)
				IS DISTINCT FROM (EXCLUDED.name, EXCLUDED.role, EXCLUDED.hash, EXCLUDED.created_at, EXCLUDED.revoked_at, EXCLUDED.expires_at)`,
			t.ID, t.Name, t.Role, t.Hash, t.CreatedAt, t.LastUsed, t.RevokedAt, t.ExpiresAt); err != nil {
			return err
		}
	}
	// Ids copied explicitly leave the identity sequences behind: move them
	// past the copied rows so a rule or token created here later (after a
	// promotion) gets a fresh id.
	for _, table := range []string{"inbound_rules", "api_tokens"} {
		if _, err := tx.Exec(ctx, `SELECT setval(s, greatest(coalesce((SELECT max(id) FROM `+table+`), 0),
			coalesce(pg_sequence_last_value(s), 0), 1))
			FROM (SELECT pg_get_serial_sequence($1, 'id')::regclass AS s) q`, table); err != nil {
			return fmt.Errorf("%s: sequence: %w", table, err)
		}
	}
	return nil
}
