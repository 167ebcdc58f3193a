package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

func writeFile(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "faxd.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoadDefaultsAndFile(t *testing.T) {
	p := writeFile(t, `
node:
  id: fax-a
  role: standby
queue:
  lease_ttl: 30s
  purge_after: 90d
channels:
  count: 24
`)
	cfg, err := Load(p, nil)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Node.ID != "fax-a" || cfg.Node.Role != "standby" {
		t.Errorf("node = %+v", cfg.Node)
	}
	if cfg.Queue.LeaseTTL.D() != 30*time.Second {
		t.Errorf("lease_ttl = %v", cfg.Queue.LeaseTTL)
	}
	if cfg.Queue.PurgeAfter.D() != 90*Day {
		t.Errorf("purge_after = %v", cfg.Queue.PurgeAfter)
	}
	if cfg.Channels.Count != 24 {
		t.Errorf("channels.count = %d", cfg.Channels.Count)
	}
	// Untouched keys keep their defaults.
	if cfg.Queue.HeartbeatInterval != Default().Queue.HeartbeatInterval {
		t.Errorf("heartbeat_interval = %v", cfg.Queue.HeartbeatInterval)
	}
}

func TestEmptyFileIsDefaults(t *testing.T) {
	cfg, err := Load(writeFile(t, ""), nil)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.HTTP.Listen != Default().HTTP.Listen {
		t.Errorf("listen = %q", cfg.HTTP.Listen)
	}
}

func TestEveryProblemReportedByName(t *testing.T) {
	p := writeFile(t, `
node:
  role: primary
  colour: blue
log:
  level: loud
queue:
  lease_ttl: 1s
  poll_interval: soon
channels:
  count: -3
`)
	_, err := Load(p, []string{"FAXD_HTTP_LISTEN=nocolon", "FAXD_QUEUE_MAX_ATTEMPTS=many", "FAXD_NO_SUCH_KEY=1"})
	var ce *Error
	if !errors.As(err, &ce) {
		t.Fatalf("want *Error, got %v", err)
	}
	msg := err.Error()
	for _, want := range []string{
		"node.colour: line 4",         // unknown key in the file
		"queue.poll_interval: line 9", // bad duration in the file
		"node.role",                   // bad value
		"log.level",                   // bad value
		"queue.lease_ttl",             // cross-field rule
		"channels.count",              // range
		"http.listen",                 // from the environment
		"queue.max_attempts",          // env value of the wrong type
		"FAXD_NO_SUCH_KEY",            // unknown env variable
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("error does not name %q:\n%s", want, msg)
		}
	}
}

func TestEnvOverridesFile(t *testing.T) {
	p := writeFile(t, "database:\n  queue_dsn: postgres://file/db\n")
	cfg, err := Load(p, []string{
		"FAXD_DATABASE_QUEUE_DSN=postgres://env/db?sslmode=disable",
		"FAXD_QUEUE_LEASE_TTL=1m",
		"FAXD_CHANNELS_COUNT=4",
		"FAXD_SIP_RING_TIMEOUT=45s", // a time.Duration field of an embedded section
		"FAXD_CONFIG=/ignored",
		"PATH=/usr/bin",
	})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Database.QueueDSN != "postgres://env/db?sslmode=disable" {
		t.Errorf("queue_dsn = %q", cfg.Database.QueueDSN)
	}
	if cfg.SIP.RingTimeout != 45*time.Second {
		t.Errorf("sip.ring_timeout = %v", cfg.SIP.RingTimeout)
	}
	if cfg.Queue.LeaseTTL.D() != time.Minute || cfg.Channels.Count != 4 {
		t.Errorf("queue = %+v channels = %+v", cfg.Queue, cfg.Channels)
	}
}

func TestKeysCoverEveryLeafWithEnvNames(t *testing.T) {
	keys := Keys()
	seen := map[string]Key{}
	for _, k := range keys {
		seen[k.Path] = k
	}
	for path, env := range map[string]string{
		"queue.retry.no_answer": "FAXD_QUEUE_RETRY_NO_ANSWER",
		"database.archive_dsn":  "FAXD_DATABASE_ARCHIVE_DSN",
		"node.id":               "FAXD_NODE_ID",
	} {
		if seen[path].Env != env {
			t.Errorf("%s: env %q, want %q", path, seen[path].Env, env)
		}
	}
	if !seen["database.queue_dsn"].Secret || seen["node.id"].Secret {
		t.Error("secret flags wrong")
	}
}

func TestDuration(t *testing.T) {
	for in, want := range map[string]time.Duration{"90d": 90 * Day, "1.5d": 36 * time.Hour, "250ms": 250 * time.Millisecond} {
		d, err := ParseDuration(in)
		if err != nil || d.D() != want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", in, d, err, want)
		}
	}
	for _, in := range []string{"", "d", "-1d", "ten"} {
		if _, err := ParseDuration(in); err == nil {
			t.Errorf("ParseDuration(%q) accepted", in)
		}
	}
	if s := Duration(30 * Day).String(); s != "30d" {
		t.Errorf("String = %q", s)
	}
}

// The example under deploy/ is the key-by-key documentation: it must load
// cleanly and mention every key, so a new key cannot go undocumented.
func TestExampleDocumentsEveryKey(t *testing.T) {
	const example = "../../deploy/faxd.example.yaml"
	if _, err := Load(example, nil); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(example)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	for _, k := range Keys() {
		var node any = doc
		for _, part := range strings.Split(k.Path, ".") {
			m, ok := node.(map[string]any)
			if !ok {
				node = nil
				break
			}
			node, ok = m[part]
			if !ok {
				t.Errorf("%s is not in %s", k.Path, example)
				break
			}
		}
	}
}

// The HTTP limits and TLS files are checked key by key.
func TestHTTPLimitsValidated(t *testing.T) {
	p := writeFile(t, `
http:
  tls_cert: /nonexistent/cert.pem
  tls_client_ca: /nonexistent/ca.pem
  read_timeout: 1s
  read_header_timeout: 5s
  idle_timeout: 0s
  max_header_bytes: 100
  max_connections: 0
`)
	_, err := Load(p, nil)
	if err == nil {
		t.Fatal("bad http section accepted")
	}
	for _, want := range []string{"http.tls_key:", "http.tls_cert: stat /nonexistent/cert.pem", "http.tls_client_ca: stat",
		"http.read_timeout: 1s: must not be shorter than http.read_header_timeout", "http.idle_timeout: 0s: must be positive",
		"http.max_header_bytes: 100", "http.max_connections: 0"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("no %q in:\n%v", want, err)
		}
	}
}
