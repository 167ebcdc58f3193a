// Package server is faxd's composition root: it opens the databases (or
// starts the embedded PostgreSQL), migrates them, connects to NATS (or
// embeds it), and serves the HTTP API, metrics and health endpoints until
// its context ends.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/faxd/faxd/archive"
	"github.com/faxd/faxd/internal/api"
	"github.com/faxd/faxd/internal/buildinfo"
	"github.com/faxd/faxd/internal/calltrace"
	"github.com/faxd/faxd/internal/cluster"
	"github.com/faxd/faxd/internal/config"
	"github.com/faxd/faxd/internal/console"
	"github.com/faxd/faxd/internal/docstore"
	"github.com/faxd/faxd/internal/metrics"
	"github.com/faxd/faxd/internal/natsbus"
	"github.com/faxd/faxd/internal/pgcluster"
	"github.com/faxd/faxd/internal/secretbox"
	"github.com/faxd/faxd/internal/users"
	"github.com/faxd/faxd/queue"
	"github.com/faxd/faxd/schemas"
)

// embeddedDB is the database faxd creates in its embedded cluster.
const embeddedDB = "faxd"

// Databases are the two pools; Archive is Queue when they share a server.
type Databases struct {
	Queue, Archive *pgxpool.Pool
	cluster        *pgcluster.Cluster
}

// Close closes the pools and stops the embedded cluster, if any.
func (d *Databases) Close(ctx context.Context) {
	if d.Archive != nil && d.Archive != d.Queue {
		d.Archive.Close()
	}
	if d.Queue != nil {
		d.Queue.Close()
	}
	if d.cluster != nil {
		if err := d.cluster.Stop(ctx); err != nil {
			slog.Default().Error("stopping embedded PostgreSQL", "err", err)
		}
	}
}

// OpenDatabases connects to the configured DSNs, or starts the embedded
// cluster under database.embedded_dir when queue_dsn is empty.
func OpenDatabases(ctx context.Context, cfg config.Database, log *slog.Logger) (*Databases, error) {
	d := &Databases{}
	queueDSN := cfg.QueueDSN
	if queueDSN == "" {
		dir, err := filepath.Abs(cfg.EmbeddedDir)
		if err != nil {
			return nil, err
		}
		// A faxd already running on this directory (make run) owns the
		// postmaster: a command beside it shares that server.
		if dsn, ok, err := pgcluster.Attach(dir, embeddedDB); err != nil {
			return nil, err
		} else if ok {
			queueDSN = dsn
			log.Debug("using the embedded PostgreSQL of the running faxd", "dir", dir)
		} else {
			c, err := pgcluster.Start(ctx, pgcluster.Options{Dir: dir, Logger: log.With("component", "postgres")})
			if err != nil {
				return nil, fmt.Errorf("embedded PostgreSQL under %s: %w", dir, err)
			}
			d.cluster = c
			if err := createDatabase(ctx, c.DSN("postgres"), embeddedDB); err != nil {
				d.Close(ctx)
				return nil, err
			}
			queueDSN = c.DSN(embeddedDB)
			log.Info("embedded PostgreSQL started", "dir", dir, "port", c.Port())
		}
	}
	var err error
	if d.Queue, err = openPool(ctx, queueDSN, cfg.MaxConns); err != nil {
		d.Close(ctx)
		return nil, fmt.Errorf("queue database: %w", err)
	}
	d.Archive = d.Queue
	if cfg.ArchiveDSN != "" && cfg.ArchiveDSN != cfg.QueueDSN {
		if d.Archive, err = openPool(ctx, cfg.ArchiveDSN, cfg.MaxConns); err != nil {
			d.Archive = nil
			d.Close(ctx)
			return nil, fmt.Errorf("archive database: %w", err)
		}
	}
	return d, nil
}

func openPool(ctx context.Context, dsn string, maxConns int) (*pgxpool.Pool, error) {
	pc, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		// pgx echoes the DSN, password included, in its parse errors.
		return nil, errors.New("cannot parse the connection string (check its syntax; it is not logged because it may hold a password)")
	}
	pc.MaxConns = int32(maxConns)
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return nil, err
	}
	pctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if err := pool.Ping(pctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("connect to %s:%d/%s: %w", pc.ConnConfig.Host, pc.ConnConfig.Port, pc.ConnConfig.Database, err)
	}
	return pool, nil
}

func createDatabase(ctx context.Context, adminDSN, name string) error {
	conn, err := pgx.Connect(ctx, adminDSN)
	if err != nil {
		return fmt.Errorf("embedded PostgreSQL: %w", err)
	}
	defer conn.Close(ctx)
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&exists); err != nil {
		return fmt.Errorf("embedded PostgreSQL: %w", err)
	}
	if !exists {
		if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
			return fmt.Errorf("embedded PostgreSQL: create database %s: %w", name, err)
		}
	}
	return nil
}

// Server is one running faxd node.
type Server struct {
	sites   routerSites // the queue's site preference, from the router
	cfg     config.Config
	log     *slog.Logger
	DB      *Databases
	Bus     *natsbus.Bus
	Metrics *metrics.Metrics
	Queue   *queue.Queue
	Node    *queue.Node
	Archive *archive.Store

	secrets  *secretbox.Keyring // internal/server/secrets.go; nil: none configured
	api      *api.API
	docs     *docstore.Store
	relay    *archive.Relay
	archiver *archive.Archiver
	tasks    []*exclusiveTask
	httpLn   net.Listener
	httpSrv  *http.Server
	wg       sync.WaitGroup

	channels *channels // internal/server/channels.go
	nats     natsStart // internal/server/natsstart.go
	gauges   *gauges   // internal/server/gauges.go

	notify  *notifyParts     // internal/server/notify.go
	members *cluster.Watcher // internal/server/cluster.go
	inbound *inboundParts    // internal/server/inbound.go
	standby *standbyParts    // internal/server/standby.go (node.role standby only)
	systemd *systemdParts    // internal/server/systemd.go

	// Users are people's accounts and Sessions their cookie and CSRF
	// handling, shared by the API and the console (internal/server/users.go).
	Users    *users.Store
	Sessions *users.HTTP
	mailIn   *mailInParts // internal/server/mailin.go (smtp_intake)
}

// New opens every dependency and migrates the schemas. Close undoes it.
func New(ctx context.Context, cfg config.Config, log *slog.Logger) (*Server, error) {
	s := &Server{cfg: cfg, log: log, Metrics: metrics.New(cfg.Node.ID, buildinfo.Version)}
	if err := s.openSystemd(); err != nil { // internal/server/systemd.go
		return nil, err
	}
	var err error
	if s.DB, err = OpenDatabases(ctx, cfg.Database, log); err != nil {
		return nil, err
	}
	if err := Migrate(ctx, s.DB); err != nil {
		s.Close(ctx)
		return nil, err
	}
	if s.secrets, err = OpenSecrets(cfg, log); err != nil { // internal/server/secrets.go
		s.Close(ctx)
		return nil, err
	}
	if err := s.prepareSecrets(ctx); err != nil {
		s.Close(ctx)
		return nil, err
	}
	if s.Bus, err = natsbus.Open(ctx, natsbus.Options{
		URL: cfg.NATS.URL, Dir: cfg.NATS.EmbeddedDir, Listen: cfg.NATS.EmbeddedListen,
		Name: "faxd-" + cfg.Node.ID, Logger: log.With("component", "nats"),
		ServerName: cfg.NATS.ServerName, // empty: faxd-<node.id>
		Cluster:    natsbus.Cluster{Name: cfg.NATS.Cluster.Name, Listen: cfg.NATS.Cluster.Listen, Routes: cfg.NATS.Cluster.Routes},
	}); err != nil {
		s.Close(ctx)
		return nil, err
	}
	if s.httpLn, err = net.Listen("tcp", cfg.HTTP.Listen); err != nil {
		s.Close(ctx)
		return nil, fmt.Errorf("http.listen %s: %w", cfg.HTTP.Listen, err)
	}
	httpOpen := prometheus.NewGauge(prometheus.GaugeOpts{Name: "faxd_http_connections_open",
		Help: "HTTP connections open now; at most http.max_connections, further clients wait."})
	s.Metrics.Registry.MustRegister(httpOpen)
	s.httpLn = newLimitListener(s.httpLn, cfg.HTTP.MaxConnections, httpOpen) // internal/server/httpserver.go
	if err := s.openQueue(ctx); err != nil {
		s.Close(ctx)
		return nil, err
	}
	s.docs = docstore.New(s.DB.Queue, docstore.Config{MaxBytes: cfg.API.DocumentMaxBytes})
	if err := s.openArchive(ctx); err != nil {
		s.Close(ctx)
		return nil, err
	}
	s.registerGauges() // internal/server/gauges.go
	s.tasks = []*exclusiveTask{
		s.newTask("queue_purged_jobs", s.DB.Queue, purgeLockKey, min(time.Hour, s.cfg.Queue.PurgeAfter.D()/10),
			"Finished jobs deleted from the queue after queue.purge_after.",
			func(ctx context.Context) (int64, error) {
				n, err := s.Queue.Purge(ctx, s.cfg.Queue.PurgeAfter.D())
				if err != nil {
					return n, err
				}
				// The purged jobs' documents go with them, and call traces
				// as old (outbound ones also go with their jobs).
				if _, err = s.docs.GC(ctx); err != nil {
					return n, err
				}
				_, err = calltrace.NewStore(s.DB.Queue).Purge(ctx, s.cfg.Queue.PurgeAfter.D())
				return n, err
			}),
		s.newTask("archive_purged_faxes", s.DB.Archive, archivePurgeLockKey, min(time.Hour, s.cfg.Archive.PurgeAfter.D()/10),
			"Faxes deleted from the archive after archive.purge_after.",
			func(ctx context.Context) (int64, error) { return s.Archive.Purge(ctx, s.cfg.Archive.PurgeAfter.D()) }),
	}
	if err := s.openNotify(ctx); err != nil { // internal/server/notify.go
		s.Close(ctx)
		return nil, err
	}
	s.openMembership()
	if err := s.openStandby(ctx); err != nil { // internal/server/standby.go
		s.Close(ctx)
		return nil, err
	}
	if err := s.openInbound(ctx); err != nil { // internal/server/inbound.go
		s.Close(ctx)
		return nil, err
	}
	s.openUsers()                          // internal/server/users.go
	outbound, err := cfg.Notify.Outbound() // validated with the configuration
	if err != nil {
		s.Close(ctx)
		return nil, err
	}
	if s.api, err = api.New(cfg.API, api.Deps{Pool: s.DB.Queue, Queue: s.Queue, Logger: log, // api adds its component
		Archive: s.Archive, Inbound: s.inbound.router, Cluster: s.clusterAPI(), Secrets: s.secrets, Gateways: routerHealth{s},
		CheapWindows:  &s.sites,
		UploadTimeout: cfg.HTTP.UploadTimeout.D(), Outbound: outbound, Users: s.Users}); err != nil {
		s.Close(ctx)
		return nil, err
	}
	if err := s.openMailIn(); err != nil { // internal/server/mailin.go
		s.Close(ctx)
		return nil, err
	}
	if err := s.openChannels(ctx); err != nil { // internal/server/channels.go
		s.Close(ctx)
		return nil, err
	}
	if s.httpSrv, err = newHTTPServer(cfg.HTTP, s.routes(), log.With("component", "http")); err != nil { // internal/server/httpserver.go
		s.Close(ctx)
		return nil, err
	}
	s.Metrics.Role.WithLabelValues(cfg.Node.Role).Set(1)
	return s, nil
}

// HTTPAddr is the address the HTTP listener got (useful with port 0).
func (s *Server) HTTPAddr() string { return s.httpLn.Addr().String() }

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.Metrics.Registry, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /readyz", s.readyz)
	s.api.Routes(mux)
	if con, err := console.New(console.Options{API: s.api.Handler(), Sessions: s.Sessions, Logger: s.log}); err == nil { // internal/console
		con.Routes(mux)
	} else {
		s.log.Error("console disabled", "err", err)
	}
	return mux
}

// componentCheck is one dependency's readiness.
type componentCheck struct {
	name string
	err  error
}

// checkComponents asks the queue database, the archive database and NATS
// whether they answer, and records each in faxd_component_up.
func (s *Server) checkComponents(ctx context.Context) []componentCheck {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	checks := []componentCheck{
		{"queue_db", s.DB.Queue.Ping(ctx)},
		{"archive_db", s.DB.Archive.Ping(ctx)},
		{"nats", s.natsReady()}, // internal/server/natsstart.go
	}
	for _, c := range checks {
		up := 1.0
		if c.err != nil {
			up = 0
		}
		s.Metrics.Up.WithLabelValues(c.name).Set(up)
	}
	return checks
}

// runHealth keeps faxd_component_up current for Prometheus, whether or
// not anything polls /readyz.
func (s *Server) runHealth(ctx context.Context) {
	t := time.NewTicker(5 * time.Second)
	defer t.Stop()
	for {
		s.checkComponents(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// readyz is ready when the queue database, the archive database and NATS
// all answer; the body names each so an operator sees which one is down.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	status := http.StatusOK
	var body string
	for _, c := range s.checkComponents(r.Context()) {
		line := c.name + " ok\n"
		if c.err != nil {
			status = http.StatusServiceUnavailable
			line = c.name + " down: " + c.err.Error() + "\n"
		}
		body += line
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(status)
	fmt.Fprint(w, body)
}

// Run serves until ctx ends, then shuts down gracefully.
func (s *Server) Run(ctx context.Context) error {
	errc := make(chan error, 1)
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		serve := s.httpSrv.Serve
		if s.httpSrv.TLSConfig != nil {
			serve = func(l net.Listener) error { return s.httpSrv.ServeTLS(l, "", "") }
		}
		if err := serve(s.httpLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.systemd.serving.Store(false)
			errc <- fmt.Errorf("http: %w", err)
		}
	}()
	bgCtx, stopBg := context.WithCancel(context.Background())
	defer stopBg()
	background := func(f func(context.Context)) {
		s.wg.Add(1)
		go func() { defer s.wg.Done(); f(bgCtx) }()
	}
	background(s.runNATS)   // internal/server/natsstart.go: relay, archiver, followers
	background(s.runNotify) // internal/server/notify.go
	background(s.runMembership)
	background(s.runStandby) // internal/server/standby.go
	background(s.runHealth)
	background(s.runRouting) // internal/server/channels.go
	background(s.runGauges)  // internal/server/gauges.go
	background(s.runMailIn)  // internal/server/mailin.go
	for _, t := range s.tasks {
		background(func(ctx context.Context) { t.loop(ctx, s) })
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		// Run renews the node lease until bgCtx ends, then gives it up so
		// the others take over at once instead of after lease_ttl.
		if err := s.Node.Run(bgCtx); err != nil && bgCtx.Err() == nil {
			errc <- fmt.Errorf("node lease: %w", err)
		}
	}()
	stopChannels := s.runChannels(ctx) // internal/server/channels.go
	// internal/server/systemd.go: READY=1, then the watchdog pings.
	background(func(bg context.Context) { s.runSystemd(ctx, bg) })
	s.log.Info("faxd running", "role", s.cfg.Node.Role, "http", s.HTTPAddr(),
		"pid", os.Getpid(), "version", buildinfo.Version)
	var err error
	select {
	case <-ctx.Done():
	case err = <-errc:
	}
	s.sdStopping()
	stopChannels() // drain calls while the node lease still holds
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	_ = s.httpSrv.Shutdown(shutdownCtx)
	stopBg()
	s.wg.Wait()
	return err
}

// Close releases everything New opened, in reverse order.
func (s *Server) Close(ctx context.Context) {
	s.closeChannels() // internal/server/channels.go
	if s.mailIn != nil {
		s.mailIn.ln.Close()
	}
	if s.httpLn != nil {
		s.httpLn.Close()
	}
	if s.Bus != nil {
		s.Bus.Close()
	}
	if s.DB != nil {
		s.DB.Close(ctx)
	}
}

// Migrate applies the queue set to the queue database and the archive set
// to the archive database (the same one by default).
func Migrate(ctx context.Context, d *Databases) error {
	if err := schemas.Migrate(ctx, d.Queue, schemas.Queue); err != nil {
		return fmt.Errorf("migrate queue database: %w", err)
	}
	if err := schemas.Migrate(ctx, d.Archive, schemas.Archive); err != nil {
		return fmt.Errorf("migrate archive database: %w", err)
	}
	return nil
}
