// Package config loads faxd's one YAML configuration file, applies
// environment overrides and validates every key, reporting all problems by
// name at once so an operator fixes a file in one pass.
//
// Every key can be overridden by an environment variable named FAXD_ plus
// the key's path in upper case with dots as underscores: queue.lease_ttl is
// FAXD_QUEUE_LEASE_TTL. docs/operations.md documents each key.
package config

import (
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/faxd/faxd/internal/api"
	"github.com/faxd/faxd/internal/channel"
	"github.com/faxd/faxd/internal/cluster"
	"github.com/faxd/faxd/internal/inbound"
	"github.com/faxd/faxd/internal/mailin"
	"github.com/faxd/faxd/internal/notify"
	"github.com/faxd/faxd/internal/secretbox"
	"github.com/faxd/faxd/internal/sip"
	"github.com/faxd/faxd/internal/users"
)

// EnvPrefix starts every environment override.
const EnvPrefix = "FAXD_"

// notKeys are FAXD_ variables that are not configuration keys: the file's
// own name, read by the command line, and faxctl's (an operator's shell
// often has them set when faxd is started from it).
var notKeys = map[string]bool{
	EnvPrefix + "CONFIG": true,
	EnvPrefix + "TOKEN":  true, EnvPrefix + "SERVER": true, EnvPrefix + "SERVERS": true, EnvPrefix + "DR_SERVERS": true,
}

// Config is the whole configuration. The yaml tags are the key names.
type Config struct {
	Node     Node                  `yaml:"node"`
	Log      Log                   `yaml:"log"`
	HTTP     HTTP                  `yaml:"http"`
	Database Database              `yaml:"database"`
	NATS     NATS                  `yaml:"nats"`
	Queue    Queue                 `yaml:"queue"`
	Archive  Archive               `yaml:"archive"`
	Channels Channels              `yaml:"channels"`
	SIP      sip.Config            `yaml:"sip"`
	Channel  channel.Config        `yaml:"channel"` // gateways, routes, station id (internal/channel)
	API      api.Config            `yaml:"api"`
	Notify   notify.Config         `yaml:"notify"`  // email, webhooks, callbacks (internal/notify)
	Inbound  inbound.Config        `yaml:"inbound"` // received-fax deliveries (internal/inbound)
	Standby  cluster.StandbyConfig `yaml:"standby"` // failover controls and sync (internal/cluster)
	Secrets  secretbox.Config      `yaml:"secrets"` // keys sealing stored passwords and webhook secrets (internal/secretbox)
	Users    users.Config          `yaml:"users"`   // people's accounts: sessions and login throttling (internal/users)
	// SMTPIntake is email-to-fax (internal/mailin); off without a listen address.
	SMTPIntake mailin.Config `yaml:"smtp_intake"`
}

// Node identifies this server in the cluster.
type Node struct {
	ID   string `yaml:"id"`   // unique per server; default: the host name
	Role string `yaml:"role"` // active or standby
	// Site is where this server runs (see channel routes' sites); "" is
	// none: it reaches every gateway and jobs have no site preference.
	Site string `yaml:"site"`
	// Balance makes this server claim new work only while no other live
	// balancing server of its site has more free channels.
	Balance bool `yaml:"balance"`
}

// Log selects the structured log output.
type Log struct {
	Format string `yaml:"format"` // text or json
	Level  string `yaml:"level"`  // debug, info, warn, error
}

// SlogLevel parses Level.
func (l Log) SlogLevel() (slog.Level, error) {
	var lv slog.Level
	err := lv.UnmarshalText([]byte(l.Level))
	return lv, err
}

// NewLogger builds the process logger this section describes.
func (l Log) NewLogger(w io.Writer) *slog.Logger {
	lv, _ := l.SlogLevel()
	opts := &slog.HandlerOptions{Level: lv}
	if l.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// HTTP is the API, metrics and health listener.
type HTTP struct {
	Listen string `yaml:"listen"`
	// Native TLS: both files or neither; TLSClientCA (PEM) then requires
	// a client certificate signed by one of its CAs.
	TLSCert     string `yaml:"tls_cert"`
	TLSKey      string `yaml:"tls_key"`
	TLSClientCA string `yaml:"tls_client_ca"`
	// Limits that keep slow or idle clients from holding connections.
	ReadHeaderTimeout Duration `yaml:"read_header_timeout"`
	ReadTimeout       Duration `yaml:"read_timeout"`   // whole request, before authentication
	UploadTimeout     Duration `yaml:"upload_timeout"` // an authenticated request's body
	WriteTimeout      Duration `yaml:"write_timeout"`  // handler and response (downloads)
	IdleTimeout       Duration `yaml:"idle_timeout"`   // keep-alive between requests
	MaxHeaderBytes    int      `yaml:"max_header_bytes"`
	MaxConnections    int      `yaml:"max_connections"`
}

func defaultHTTP() HTTP {
	return HTTP{Listen: "127.0.0.1:8080",
		ReadHeaderTimeout: Duration(10 * time.Second), ReadTimeout: Duration(30 * time.Second),
		UploadTimeout: Duration(10 * time.Minute), WriteTimeout: Duration(10 * time.Minute),
		IdleTimeout: Duration(2 * time.Minute), MaxHeaderBytes: 64 << 10, MaxConnections: 1024}
}

func (h HTTP) validate() []error {
	var errs []error
	bad := func(key, format string, a ...any) {
		errs = append(errs, fmt.Errorf("http.%s: %s", key, fmt.Sprintf(format, a...)))
	}
	if (h.TLSCert == "") != (h.TLSKey == "") {
		bad("tls_key", "http.tls_cert and http.tls_key go together: set both or neither")
	}
	if h.TLSClientCA != "" && h.TLSCert == "" {
		bad("tls_client_ca", "client certificates need native TLS: set http.tls_cert and http.tls_key too")
	}
	for key, f := range map[string]string{"tls_cert": h.TLSCert, "tls_key": h.TLSKey, "tls_client_ca": h.TLSClientCA} {
		if f == "" {
			continue
		}
		if _, err := os.Stat(f); err != nil {
			bad(key, "%v", err)
		}
	}
	for key, d := range map[string]Duration{"read_header_timeout": h.ReadHeaderTimeout, "read_timeout": h.ReadTimeout,
		"upload_timeout": h.UploadTimeout, "write_timeout": h.WriteTimeout, "idle_timeout": h.IdleTimeout} {
		if d <= 0 {
			bad(key, "%v: must be positive", d)
		}
	}
	if h.ReadTimeout < h.ReadHeaderTimeout {
		bad("read_timeout", "%v: must not be shorter than http.read_header_timeout (%v)", h.ReadTimeout, h.ReadHeaderTimeout)
	}
	if h.MaxHeaderBytes < 4096 || h.MaxHeaderBytes > 16<<20 {
		bad("max_header_bytes", "%d: must be from 4096 to 16777216", h.MaxHeaderBytes)
	}
	if h.MaxConnections < 1 {
		bad("max_connections", "%d: must be at least 1", h.MaxConnections)
	}
	return errs
}

// Database holds the two connection strings. An empty queue_dsn starts the
// embedded PostgreSQL cluster under embedded_dir; an empty archive_dsn
// shares the queue's database.
type Database struct {
	QueueDSN    string `yaml:"queue_dsn" secret:"true"`
	ArchiveDSN  string `yaml:"archive_dsn" secret:"true"`
	EmbeddedDir string `yaml:"embedded_dir"`
	MaxConns    int    `yaml:"max_conns"`
}

// NATS selects an external NATS (cluster) or the embedded server.
type NATS struct {
	URL            string `yaml:"url" secret:"true"` // empty: embedded
	EmbeddedDir    string `yaml:"embedded_dir"`
	EmbeddedListen string `yaml:"embedded_listen"`
	StreamReplicas int    `yaml:"stream_replicas"` // 1 alone; 3 in a NATS cluster
	// ServerName names the embedded server (default faxd-<node.id>); in a
	// cluster it is the JetStream replica's identity and must be unique.
	ServerName string      `yaml:"server_name"`
	Cluster    NATSCluster `yaml:"cluster"`
}

// NATSCluster lets the embedded server join other NATS servers (embedded
// in other faxd nodes or standalone) into one JetStream cluster.
type NATSCluster struct {
	Name   string   `yaml:"name"`
	Listen string   `yaml:"listen"` // empty: not clustered
	Routes []string `yaml:"routes"`
}

// Queue tunes leases, polling, retries and purge of the outbound queue.
type Queue struct {
	HeartbeatInterval Duration `yaml:"heartbeat_interval"`
	LeaseTTL          Duration `yaml:"lease_ttl"`
	PollInterval      Duration `yaml:"poll_interval"`
	// ProbeInterval: how often an active node looks for dead nodes' jobs,
	// and a standby for its primary's process.
	ProbeInterval Duration `yaml:"probe_interval"`
	// LivenessSession ties the node's liveness to a database session, so
	// a dead process is taken over at the next probe instead of after
	// lease_ttl; LivenessDSN is that session's direct connection when
	// queue_dsn goes through a pooler in transaction mode.
	LivenessSession bool     `yaml:"liveness_session"`
	LivenessDSN     string   `yaml:"liveness_dsn" secret:"true"`
	PurgeAfter      Duration `yaml:"purge_after"`
	MaxAttempts     int      `yaml:"max_attempts"`
	Retry           Retry    `yaml:"retry"`
}

// Retry is the first back-off delay per failure class; each further
// attempt doubles it up to max_delay.
type Retry struct {
	Busy     Duration `yaml:"busy"`
	NoAnswer Duration `yaml:"no_answer"`
	Gateway  Duration `yaml:"gateway"`
	Protocol Duration `yaml:"protocol"`
	MaxDelay Duration `yaml:"max_delay"`
}

// Archive tunes the shared archive.
type Archive struct {
	PurgeAfter Duration `yaml:"purge_after"`
}

// Channels sizes this server's fax channel pool.
type Channels struct {
	Count int `yaml:"count"`
}

// validateCluster checks the embedded server's cluster keys.
func (n NATS) validateCluster() []error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, &problem{Key: key, Msg: fmt.Sprintf(format, args...)})
	}
	cl := n.Cluster
	if cl.Listen == "" {
		if cl.Name != "" || len(cl.Routes) > 0 {
			bad("nats.cluster.listen", "must be set when nats.cluster.name or nats.cluster.routes is (host:port for routes from the other servers)")
		}
		if n.StreamReplicas > 1 {
			bad("nats.stream_replicas", "%d: the embedded server alone keeps 1 copy; set nats.cluster.* to join a cluster of at least %d servers, or nats.url", n.StreamReplicas, n.StreamReplicas)
		}
		return errs
	}
	if _, _, err := net.SplitHostPort(cl.Listen); err != nil {
		bad("nats.cluster.listen", "%q: want host:port", cl.Listen)
	}
	if cl.Name == "" {
		bad("nats.cluster.name", "must be set with nats.cluster.listen (the same name on every server)")
	} else if strings.ContainsAny(cl.Name, " \t\n.*>") {
		bad("nats.cluster.name", "%q: no spaces, dots or wildcards", cl.Name)
	}
	if len(cl.Routes) == 0 {
		bad("nats.cluster.routes", "must list the cluster addresses of the servers (host:port; this one may be listed too)")
	}
	for i, r := range cl.Routes {
		hp := r
		if _, after, ok := strings.Cut(r, "://"); ok {
			hp = after
			if i := strings.LastIndex(hp, "@"); i >= 0 { // user:password@
				hp = hp[i+1:]
			}
		}
		if _, _, err := net.SplitHostPort(hp); err != nil {
			bad(fmt.Sprintf("nats.cluster.routes[%d]", i), "%q: want host:port or nats-route://host:port", r)
		}
	}
	if strings.ContainsAny(n.ServerName, " \t\n") {
		bad("nats.server_name", "%q: no spaces", n.ServerName)
	}
	return errs
}

// Default returns the embedded defaults that `make run` uses.
func Default() Config {
	sipCfg := sip.Config{ListenUDP: "127.0.0.1:5060", MediaBind: "127.0.0.1", AllowFrom: []string{"127.0.0.1/32"}}
	sipCfg.Defaults()
	sipCfg.OverflowRedirect = true
	host, _ := os.Hostname()
	if host == "" {
		host = "faxd"
	}
	return Config{
		Node:     Node{ID: host, Role: "active"},
		Log:      Log{Format: "text", Level: "info"},
		HTTP:     defaultHTTP(),
		Database: Database{EmbeddedDir: "var/pg", MaxConns: 20},
		NATS:     NATS{EmbeddedDir: "var/nats", EmbeddedListen: "127.0.0.1:4222", StreamReplicas: 1},
		Queue: Queue{
			HeartbeatInterval: Duration(2 * time.Second),
			LeaseTTL:          Duration(10 * time.Second),
			PollInterval:      Duration(time.Second),
			ProbeInterval:     Duration(250 * time.Millisecond),
			LivenessSession:   true,
			PurgeAfter:        Duration(30 * Day),
			MaxAttempts:       5,
			Retry: Retry{
				Busy:     Duration(2 * time.Minute),
				NoAnswer: Duration(5 * time.Minute),
				Gateway:  Duration(30 * time.Second),
				Protocol: Duration(time.Minute),
				MaxDelay: Duration(time.Hour),
			},
		},
		Archive:  Archive{PurgeAfter: Duration(3650 * Day)},
		Channels: Channels{Count: 8},
		SIP:      sipCfg,
		Channel:  channel.Default(),
		API:      api.Defaults(),
		Notify:   notify.DefaultConfig(),
		Standby:  cluster.DefaultStandbyConfig(),
		Users:    users.DefaultConfig(),

		SMTPIntake: mailin.DefaultConfig(),
	}
}

// Load reads the file at path (none when path is empty), applies the
// environment and validates. The error lists every problem found.
func Load(path string, environ []string) (Config, error) {
	cfg := Default()
	var errs []error
	if path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return cfg, fmt.Errorf("config: %w", err)
		}
		var doc yaml.Node
		if err := yaml.Unmarshal(data, &doc); err != nil {
			return cfg, fmt.Errorf("config: %s: %w", path, err)
		}
		if len(doc.Content) > 0 { // an empty file means all defaults
			decodeValue(doc.Content[0], reflect.ValueOf(&cfg).Elem(), "", &errs)
		}
	}
	errs = append(errs, applyEnv(&cfg, environ)...)
	errs = append(errs, cfg.Validate()...)
	if len(errs) > 0 {
		return cfg, &Error{Problems: errs}
	}
	return cfg, nil
}

// Error carries every problem found in a configuration.
type Error struct{ Problems []error }

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "config: %d problem(s):", len(e.Problems))
	for _, p := range e.Problems {
		b.WriteString("\n  ")
		b.WriteString(p.Error())
	}
	return b.String()
}

func (e *Error) Unwrap() []error { return e.Problems }

// Validate checks every value and names the key of each bad one.
func (c *Config) Validate() []error {
	var errs []error
	bad := func(key, format string, a ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", key, fmt.Sprintf(format, a...)))
	}
	if c.Node.ID == "" {
		bad("node.id", "must not be empty")
	} else if len(c.Node.ID) > 64 || strings.ContainsAny(c.Node.ID, " \t\n/") {
		bad("node.id", "%q: at most 64 characters, no spaces or slashes", c.Node.ID)
	}
	if c.Node.Role != "active" && c.Node.Role != "standby" {
		bad("node.role", "%q: must be active or standby", c.Node.Role)
	}
	if c.Log.Format != "text" && c.Log.Format != "json" {
		bad("log.format", "%q: must be text or json", c.Log.Format)
	}
	if _, err := c.Log.SlogLevel(); err != nil {
		bad("log.level", "%q: must be debug, info, warn or error", c.Log.Level)
	}
	if _, _, err := net.SplitHostPort(c.HTTP.Listen); err != nil {
		bad("http.listen", "%q: want host:port", c.HTTP.Listen)
	}
	errs = append(errs, c.HTTP.validate()...)
	if c.Database.QueueDSN == "" && c.Database.EmbeddedDir == "" {
		bad("database.embedded_dir", "must be set when database.queue_dsn is empty")
	}
	if c.Database.MaxConns < 2 || c.Database.MaxConns > 1000 {
		bad("database.max_conns", "%d: must be between 2 and 1000", c.Database.MaxConns)
	}
	if c.NATS.URL == "" {
		if c.NATS.EmbeddedDir == "" {
			bad("nats.embedded_dir", "must be set when nats.url is empty")
		}
		if _, _, err := net.SplitHostPort(c.NATS.EmbeddedListen); err != nil {
			bad("nats.embedded_listen", "%q: want host:port", c.NATS.EmbeddedListen)
		}
		errs = append(errs, c.NATS.validateCluster()...)
	}
	if c.NATS.StreamReplicas < 1 || c.NATS.StreamReplicas > 5 {
		bad("nats.stream_replicas", "%d: must be between 1 and 5", c.NATS.StreamReplicas)
	}
	q := c.Queue
	if q.HeartbeatInterval <= 0 {
		bad("queue.heartbeat_interval", "must be positive")
	}
	if q.LeaseTTL < 3*q.HeartbeatInterval {
		bad("queue.lease_ttl", "%v: must be at least 3 × queue.heartbeat_interval (%v) so one lost heartbeat does not lose the lease", q.LeaseTTL, q.HeartbeatInterval)
	}
	if q.PollInterval <= 0 {
		bad("queue.poll_interval", "must be positive")
	}
	if q.ProbeInterval <= 0 || q.ProbeInterval >= q.LeaseTTL {
		bad("queue.probe_interval", "%v: must be positive and shorter than queue.lease_ttl (%v)", q.ProbeInterval, q.LeaseTTL)
	}
	if q.PurgeAfter < Duration(time.Hour) {
		bad("queue.purge_after", "%v: must be at least 1h", q.PurgeAfter)
	}
	if q.MaxAttempts < 1 || q.MaxAttempts > 100 {
		bad("queue.max_attempts", "%d: must be between 1 and 100", q.MaxAttempts)
	}
	for key, d := range map[string]Duration{
		"queue.retry.busy": q.Retry.Busy, "queue.retry.no_answer": q.Retry.NoAnswer,
		"queue.retry.gateway": q.Retry.Gateway, "queue.retry.protocol": q.Retry.Protocol,
	} {
		if d <= 0 || d > q.Retry.MaxDelay {
			bad(key, "%v: must be positive and at most queue.retry.max_delay (%v)", d, q.Retry.MaxDelay)
		}
	}
	if c.Archive.PurgeAfter < q.PurgeAfter {
		bad("archive.purge_after", "%v: must not be shorter than queue.purge_after (%v)", c.Archive.PurgeAfter, q.PurgeAfter)
	}
	if c.Channels.Count < 0 || c.Channels.Count > 10000 {
		bad("channels.count", "%d: must be between 0 and 10000", c.Channels.Count)
	}
	errs = append(errs, c.API.Validate()...)
	errs = append(errs, c.Channel.Validate()...)
	errs = append(errs, c.Inbound.Validate()...)
	errs = append(errs, c.Standby.Validate(c.Node.ID)...)
	if c.Standby.Sync.PrimaryDSN != "" && c.Standby.Sync.PrimaryDSN == c.Database.QueueDSN {
		bad("standby.sync.primary_dsn", "names this node's own queue database (leave it empty when the two share one)")
	}
	if err := c.Notify.Validate(); err != nil { // errors.Join of one per key
		errs = append(errs, err.(interface{ Unwrap() []error }).Unwrap()...)
	}
	errs = append(errs, c.validateSecrets()...)
	errs = append(errs, c.Users.Validate()...)
	if err := c.SMTPIntake.Validate(); err != nil { // errors.Join of one per key
		errs = append(errs, err.(interface{ Unwrap() []error }).Unwrap()...)
	}
	if err := c.SIP.Validate(); err != nil {
		if j, ok := err.(interface{ Unwrap() []error }); ok {
			errs = append(errs, j.Unwrap()...)
		} else {
			errs = append(errs, err)
		}
	}
	sort.Slice(errs, func(i, j int) bool { return errs[i].Error() < errs[j].Error() })
	return errs
}

// Keys lists every configuration key with its environment variable, in file
// order; docs and `faxd config keys` print it.
func Keys() []Key {
	var keys []Key
	walk(reflect.ValueOf(Default()), "", func(path string, v reflect.Value, f reflect.StructField) {
		keys = append(keys, Key{Path: path, Env: envName(path), Secret: f.Tag.Get("secret") == "true"})
	})
	return keys
}

// Key names one configuration leaf.
type Key struct {
	Path   string
	Env    string
	Secret bool
}

func envName(path string) string {
	return EnvPrefix + strings.ToUpper(strings.ReplaceAll(path, ".", "_"))
}

// walk calls fn for every leaf field with its dotted key path.
func walk(v reflect.Value, prefix string, fn func(path string, v reflect.Value, f reflect.StructField)) {
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name := strings.Split(f.Tag.Get("yaml"), ",")[0]
		path := name
		if prefix != "" {
			path = prefix + "." + name
		}
		fv := v.Field(i)
		if f.Type.Kind() == reflect.Struct {
			walk(fv, path, fn)
			continue
		}
		fn(path, fv, f)
	}
}

// applyEnv sets each key whose FAXD_ variable is present, parsing the value
// as a YAML scalar so file and environment accept the same spellings. An
// FAXD_ variable that names no key is an error: it is almost always a typo.
func applyEnv(cfg *Config, environ []string) []error {
	vars := map[string]string{}
	for _, kv := range environ {
		k, v, ok := strings.Cut(kv, "=")
		if ok && strings.HasPrefix(k, EnvPrefix) {
			vars[k] = v
		}
	}
	var errs []error
	walk(reflect.ValueOf(cfg).Elem(), "", func(path string, v reflect.Value, f reflect.StructField) {
		name := envName(path)
		val, ok := vars[name]
		if !ok {
			return
		}
		delete(vars, name)
		if v.Kind() == reflect.String {
			v.SetString(val) // verbatim: a DSN is not YAML
			return
		}
		// The value is YAML, checked like the file's: a list of gateways
		// in FAXD_CHANNEL_GATEWAYS has its keys checked item by item.
		var doc yaml.Node
		if err := yaml.Unmarshal([]byte(val), &doc); err != nil {
			errs = append(errs, &problem{Key: path, Source: name, Msg: fmt.Sprintf("%q is not valid YAML: %v", val, err)})
			return
		}
		n := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null"}
		if len(doc.Content) > 0 {
			n = doc.Content[0]
		}
		var found []error
		decodeValue(n, v, path, &found)
		for _, e := range found {
			if p, ok := e.(*problem); ok {
				p.Source, p.Line = name, 0 // the line of a one-line value says nothing
			}
			errs = append(errs, e)
		}
	})
	if len(vars) == 0 {
		return errs
	}
	known := make([]string, 0, 128)
	for _, k := range Keys() {
		known = append(known, k.Env)
	}
	names := make([]string, 0, len(vars))
	for name := range vars {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		// The variable secrets.key_env names holds keys, not configuration,
		// and may well be spelt FAXD_SOMETHING.
		if notKeys[name] || name == cfg.Secrets.KeyEnv {
			continue
		}
		msg := "no such configuration key (`faxd keys` lists them)"
		if best, ok := closest(name, known); ok {
			msg = "no such configuration key (did you mean " + best + "?)"
		}
		errs = append(errs, &problem{Key: name, Msg: msg})
	}
	return errs
}

// Day is the unit that purge periods are usually written in.
const Day = 24 * time.Hour

// Duration is a time.Duration that also accepts whole days ("90d").
type Duration time.Duration

// ParseDuration accepts Go durations and a trailing "d" for days.
func ParseDuration(s string) (Duration, error) {
	s = strings.TrimSpace(s)
	if n, ok := strings.CutSuffix(s, "d"); ok {
		days, err := strconv.ParseFloat(n, 64)
		if err != nil || days < 0 {
			return 0, fmt.Errorf("invalid duration %q", s)
		}
		return Duration(days * float64(Day)), nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("invalid duration %q (for example 30s, 5m, 2h, 30d)", s)
	}
	return Duration(d), nil
}

// UnmarshalYAML implements yaml.Unmarshaler.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := ParseDuration(n.Value)
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// MarshalYAML writes the duration back in the same form.
func (d Duration) MarshalYAML() (any, error) { return d.String(), nil }

// D returns the standard library value.
func (d Duration) D() time.Duration { return time.Duration(d) }

func (d Duration) String() string {
	if d > 0 && time.Duration(d)%Day == 0 {
		return strconv.FormatInt(int64(time.Duration(d)/Day), 10) + "d"
	}
	return time.Duration(d).String()
}

// EmbeddedKeyFile is where the embedded set-up keeps the secrets key it
// generates on first start: next to the embedded database directory, not
// inside it, so a copy of the database files alone does not carry it.
func (c Config) EmbeddedKeyFile() string {
	return filepath.Join(filepath.Dir(filepath.Clean(c.Database.EmbeddedDir)), "secrets.key")
}

// validateSecrets loads the configured keys (so a bad key file fails
// check, not the first write) and refuses secrets in this file that could
// not be stored: webhook secrets in the delivery log need a key when the
// server has no embedded key file to make one in.
func (c *Config) validateSecrets() []error {
	if _, err := c.Secrets.Load(os.Getenv); err != nil {
		return []error{err}
	}
	if c.Secrets.Configured() || c.Database.QueueDSN == "" {
		return nil
	}
	var errs []error
	if c.Notify.CallbackSecret != "" {
		errs = append(errs, fmt.Errorf("secrets.key_file: notify.callback_secret is set, and the deliveries that carry it are stored encrypted: set secrets.key_file or secrets.key_env"))
	}
	for i, w := range c.Notify.AdminWebhooks {
		if w.Secret != "" {
			errs = append(errs, fmt.Errorf("secrets.key_file: notify.admin_webhooks[%d].secret is set, and the deliveries that carry it are stored encrypted: set secrets.key_file or secrets.key_env", i))
			break
		}
	}
	return errs
}
