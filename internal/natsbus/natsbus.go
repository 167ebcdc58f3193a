// Package natsbus gives faxd its NATS connection with JetStream: to an
// external NATS (a cluster, in a two-site deployment) when a URL is
// configured, otherwise to a nats-server embedded in the process, so a
// single server needs nothing else running.
package natsbus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	neturl "net/url"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Options selects the bus.
type Options struct {
	URL    string // external NATS; empty starts the embedded server
	Dir    string // embedded JetStream storage
	Listen string // embedded server's client address, host:port (port 0 picks one)
	Name   string // connection name, shown in NATS monitoring
	Logger *slog.Logger
	// ServerName names the embedded server; JetStream in a cluster needs
	// it unique and stable across restarts (it is the replica's identity).
	ServerName string
	Cluster    Cluster // the embedded server joins a NATS cluster when Listen is set
}

// Cluster lets the embedded server route to other NATS servers (embedded
// in other faxd nodes or standalone), forming one JetStream cluster.
type Cluster struct {
	Name   string   // the same on every server of the cluster
	Listen string   // host:port for routes from the other servers
	Routes []string // the other servers' cluster addresses, host:port or nats-route:// URLs; listing itself is harmless
}

// routeURLs parses the configured routes.
func (c Cluster) routeURLs() ([]*neturl.URL, error) {
	var urls []*neturl.URL
	for _, r := range c.Routes {
		if !strings.Contains(r, "://") {
			r = "nats-route://" + r
		}
		u, err := neturl.Parse(r)
		if err != nil {
			return nil, fmt.Errorf("natsbus: cluster route %q: %w", r, err)
		}
		if _, _, err := net.SplitHostPort(u.Host); err != nil {
			return nil, fmt.Errorf("natsbus: cluster route %q: want host:port: %w", r, err)
		}
		urls = append(urls, u)
	}
	return urls, nil
}

// Bus is a connection, and the embedded server when there is one.
type Bus struct {
	Conn      *nats.Conn
	JetStream jetstream.JetStream
	server    *server.Server
	log       *slog.Logger
}

// Open connects to the configured NATS or starts the embedded one. An
// external NATS need not answer yet: the connection keeps trying in the
// background (a node starts and serves while NATS is down, its results
// waiting in the outbox), Ready reports it, and WaitJetStream waits for
// it. Only a bad configuration is an error.
func Open(ctx context.Context, o Options) (*Bus, error) {
	log := o.Logger
	if log == nil {
		log = slog.Default()
	}
	b := &Bus{log: log}
	url := o.URL
	if url == "" {
		host, portStr, err := net.SplitHostPort(o.Listen)
		if err != nil {
			return nil, fmt.Errorf("natsbus: listen %q: %w", o.Listen, err)
		}
		port, err := strconv.Atoi(portStr)
		if err != nil {
			return nil, fmt.Errorf("natsbus: listen %q: %w", o.Listen, err)
		}
		if port == 0 {
			port = server.RANDOM_PORT
		}
		name := o.ServerName
		if name == "" {
			name = o.Name
		}
		sopts := &server.Options{
			ServerName: name,
			Host:       host,
			Port:       port,
			JetStream:  true,
			StoreDir:   o.Dir,
			NoSigs:     true, // faxd owns the process's signals
			NoLog:      true,
		}
		if o.Cluster.Listen != "" {
			if err := clusterOptions(sopts, o.Cluster); err != nil {
				return nil, err
			}
		}
		ns, err := server.NewServer(sopts)
		if err != nil {
			return nil, fmt.Errorf("natsbus: embedded server: %w", err)
		}
		go ns.Start()
		if !ns.ReadyForConnections(15 * time.Second) {
			ns.Shutdown()
			if o.Cluster.Listen != "" {
				return nil, errors.New("natsbus: embedded server did not become ready within 15s (in a cluster: are the routes other servers' cluster addresses, and is the store directory this server's own?)")
			}
			return nil, errors.New("natsbus: embedded server did not become ready within 15s")
		}
		b.server = ns
		url = ns.ClientURL()
		if o.Cluster.Listen != "" {
			log.Info("embedded NATS started in a cluster", "url", url, "dir", o.Dir, "server_name", name,
				"cluster", o.Cluster.Name, "cluster_listen", ns.ClusterAddr().String(), "routes", len(sopts.Routes))
		} else {
			log.Info("embedded NATS started", "url", url, "dir", o.Dir)
		}
	}
	nc, err := nats.Connect(url,
		nats.Name(o.Name),
		nats.MaxReconnects(-1),          // a NATS outage must not end the server: the outbox waits
		nats.RetryOnFailedConnect(true), // nor a NATS that is not up yet when the server starts
		nats.ReconnectWait(500*time.Millisecond),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil { // nil means we closed it ourselves
				log.Warn("NATS disconnected", "err", err)
			}
		}),
		nats.ReconnectHandler(func(c *nats.Conn) { log.Info("NATS reconnected", "url", c.ConnectedUrlRedacted()) }),
	)
	if err != nil {
		b.Close()
		return nil, fmt.Errorf("natsbus: connect: %w", err)
	}
	b.Conn = nc
	js, err := jetstream.New(nc)
	if err != nil {
		b.Close()
		return nil, fmt.Errorf("natsbus: jetstream: %w", err)
	}
	b.JetStream = js
	if !nc.IsConnected() {
		log.Warn("NATS not reachable yet; connecting in the background", "url", redact(url))
	}
	return b, nil
}

// clusterOptions sets the route listener and the routes.
func clusterOptions(so *server.Options, c Cluster) error {
	if c.Name == "" {
		return errors.New("natsbus: cluster name must be set with a cluster listen address")
	}
	host, portStr, err := net.SplitHostPort(c.Listen)
	if err != nil {
		return fmt.Errorf("natsbus: cluster listen %q: %w", c.Listen, err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return fmt.Errorf("natsbus: cluster listen %q: %w", c.Listen, err)
	}
	if port == 0 {
		port = server.RANDOM_PORT
	}
	routes, err := c.routeURLs()
	if err != nil {
		return err
	}
	// nats-server refuses clustered JetStream without routes (and, with
	// logging off, would just never become ready): say so up front.
	if len(routes) == 0 {
		return errors.New("natsbus: a cluster needs routes: the cluster addresses of the servers (this one may be listed too)")
	}
	// Explicit routes are retried forever by nats-server, so a peer that
	// starts later (or comes back) is joined without faxd's help.
	so.Cluster = server.ClusterOpts{Name: c.Name, Host: host, Port: port}
	so.Routes = routes
	return nil
}

// ClusterAddr is the embedded server's route address, or nil when it is
// not in a cluster (or not embedded).
func (b *Bus) ClusterAddr() *net.TCPAddr {
	if b.server == nil {
		return nil
	}
	return b.server.ClusterAddr()
}

// WaitJetStream returns once JetStream answers on the connection, trying
// again with a growing pause (up to maxPause) while NATS is unreachable
// or its cluster has no JetStream leader yet, or when ctx ends.
func (b *Bus) WaitJetStream(ctx context.Context, maxPause time.Duration) error {
	pause := 250 * time.Millisecond
	for attempt := 1; ; attempt++ {
		if b.Conn.IsConnected() {
			actx, cancel := context.WithTimeout(ctx, 5*time.Second)
			_, err := b.JetStream.AccountInfo(actx)
			cancel()
			if err == nil {
				return nil
			}
			if attempt == 1 || attempt%10 == 0 {
				b.log.Warn("JetStream not available yet", "url", b.Conn.ConnectedUrlRedacted(), "attempt", attempt, "err", err)
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(pause):
		}
		pause = min(2*pause, maxPause)
	}
}

// redact drops a password from a URL for the log.
func redact(u string) string {
	p, err := neturl.Parse(u)
	if err != nil {
		return "(unparsable URL)"
	}
	return p.Redacted()
}

// Ready reports whether the connection is up, for /readyz.
func (b *Bus) Ready() error {
	if b.Conn == nil || !b.Conn.IsConnected() {
		return errors.New("NATS not connected")
	}
	return nil
}

// Embedded reports whether this process runs the NATS server itself.
func (b *Bus) Embedded() bool { return b.server != nil }

// Close drains the connection and stops the embedded server.
func (b *Bus) Close() {
	if b.Conn != nil {
		_ = b.Conn.Drain()
		b.Conn.Close()
	}
	if b.server != nil {
		b.server.Shutdown()
		b.server.WaitForShutdown()
	}
}

// StreamHealth is a JetStream stream's replication as one server sees it.
type StreamHealth struct {
	Replicas int // configured copies
	Current  int // copies up to date: the leader and the current followers; 0 without a leader
}

// Health reports the named stream's replication. An error (the stream
// missing, JetStream without a quorum to answer) is for the caller to
// count as Current 0.
func Health(ctx context.Context, js jetstream.JetStream, stream string) (StreamHealth, error) {
	s, err := js.Stream(ctx, stream)
	if err != nil {
		return StreamHealth{}, fmt.Errorf("natsbus: stream %s: %w", stream, err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		return StreamHealth{}, fmt.Errorf("natsbus: stream %s info: %w", stream, err)
	}
	h := StreamHealth{Replicas: max(info.Config.Replicas, 1)}
	if info.Cluster == nil || info.Cluster.Leader == "" {
		if h.Replicas == 1 && info.Cluster == nil { // a server outside any cluster
			h.Current = 1
		}
		return h, nil
	}
	h.Current = 1
	for _, r := range info.Cluster.Replicas {
		if r.Current && !r.Offline {
			h.Current++
		}
	}
	return h, nil
}
