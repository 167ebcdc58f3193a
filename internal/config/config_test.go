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

// Unknown keys are found at every depth, in list items too, each named by
// its full path and line, with the valid key it most likely meant; and
// the good keys around them still load.
func TestUnknownKeysAtEveryDepth(t *testing.T) {
	p := writeFile(t, `
nodes:
  id: x
queue:
  retry:
    bussy: 1m
channel:
  gateways:
    - {name: g, address: 192.0.2.1, bogus_key: 1}
    - name: h
      address: 192.0.2.2
      max_chanels: 4
  routes:
    - {prefix: "+49", gateway: g, wieght: 2}
notify:
  admin_webhooks:
    - url: https://hooks.example/a
      secrett: s
sip:
  inbound_auth:
    username: u
    pasword: p
`)
	cfg, err := Load(p, nil)
	if err == nil {
		t.Fatal("unknown keys accepted")
	}
	msg := err.Error()
	for _, want := range []string{
		"nodes: line 2: no such configuration key (did you mean node?)",
		"queue.retry.bussy: line 6: no such configuration key (did you mean busy?)",
		"channel.gateways[0].bogus_key: line 9: no such configuration key; valid keys here: address, assert_identity, audio_first,",
		"channel.gateways[1].max_chanels: line 12: no such configuration key (did you mean max_channels?)",
		"channel.routes[0].wieght: line 14: no such configuration key (did you mean weight?)",
		"notify.admin_webhooks[0].secrett: line 18: no such configuration key (did you mean secret?)",
		"sip.inbound_auth.pasword: line 22: no such configuration key (did you mean password?)",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("error lacks %q:\n%s", want, msg)
		}
	}
	if n := len(err.(*Error).Problems); n != 7 {
		t.Errorf("%d problems, want 7:\n%s", n, msg)
	}
	// The known keys next to the bad ones were decoded.
	if g := cfg.Channel.Gateways; len(g) != 2 || g[0].Name != "g" || g[1].Address != "192.0.2.2" {
		t.Errorf("gateways = %+v", g)
	}
	if a := cfg.SIP.InboundAuth; a == nil || a.Username != "u" {
		t.Errorf("inbound_auth = %+v", a)
	}
}

// A list item that is not a mapping, a value of the wrong type inside one
// and a key given twice are each named by path.
func TestBadListItems(t *testing.T) {
	p := writeFile(t, `
channel:
  gateways:
    - just-a-name
    - {name: g, address: 192.0.2.1, max_channels: many}
  routes: {prefix: "", gateway: g}
node:
  id: a
  id: b
`)
	_, err := Load(p, nil)
	if err == nil {
		t.Fatal("accepted")
	}
	msg := err.Error()
	for _, want := range []string{
		"channel.gateways[0]: line 4: want a mapping of keys",
		`channel.gateways[1].max_channels: line 5: "many" is not a valid integer`,
		"channel.routes: line 6: want a list",
		"node.id: line 9: given twice (first on line 8)",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("error lacks %q:\n%s", want, msg)
		}
	}
}

// The well-formed lists of the file load as yaml.v3 would load them.
func TestListsLoad(t *testing.T) {
	p := writeFile(t, `
sip:
  allow_from: [10.0.0.0/8, 192.0.2.0/24]
channel:
  gateways:
    - {name: g, address: 192.0.2.1, max_channels: 4, audio_first: true}
  routes:
    - {prefix: "+49", gateway: g, cost: 0.5, weight: 2}
notify:
  admin_webhooks:
    - {url: "https://hooks.example/a", secret: s}
`)
	cfg, err := Load(p, nil)
	if err != nil {
		t.Fatal(err)
	}
	if g := cfg.Channel.Gateways; len(g) != 1 || g[0].MaxChannels != 4 || !g[0].AudioFirst {
		t.Errorf("gateways = %+v", g)
	}
	if r := cfg.Channel.Routes; len(r) != 1 || r[0].Cost != 0.5 || r[0].Weight != 2 || r[0].Prefix != "+49" {
		t.Errorf("routes = %+v", r)
	}
	if w := cfg.Notify.AdminWebhooks; len(w) != 1 || w[0].Secret != "s" {
		t.Errorf("admin_webhooks = %+v", w)
	}
	if a := cfg.SIP.AllowFrom; len(a) != 2 || a[1] != "192.0.2.0/24" {
		t.Errorf("allow_from = %v", a)
	}
}

// FAXD_ variables are checked like the file: a misspelt name gets the
// closest variable, and a list given in one has its items' keys checked.
// faxctl's own variables are not configuration and pass.
func TestEnvUnknownKeys(t *testing.T) {
	_, err := Load("", []string{
		"FAXD_QUEUE_LEASE_TLL=30s",
		"FAXD_CHANNEL_GATEWAYS=[{name: g, address: 192.0.2.1, max_chanels: 2}]",
		"FAXD_ZZZ=1",
		"FAXD_TOKEN=secret", "FAXD_SERVERS=http://a", "FAXD_DR_SERVERS=http://b", "FAXD_SERVER=http://a",
	})
	if err == nil {
		t.Fatal("accepted")
	}
	msg := err.Error()
	for _, want := range []string{
		"FAXD_QUEUE_LEASE_TLL: no such configuration key (did you mean FAXD_QUEUE_LEASE_TTL?)",
		"channel.gateways[0].max_chanels (from FAXD_CHANNEL_GATEWAYS): no such configuration key (did you mean max_channels?)",
		"FAXD_ZZZ: no such configuration key (`faxd keys` lists them)",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("error lacks %q:\n%s", want, msg)
		}
	}
	if n := len(err.(*Error).Problems); n != 3 {
		t.Errorf("%d problems, want 3:\n%s", n, msg)
	}
	cfg, err := Load("", []string{"FAXD_CHANNEL_GATEWAYS=[{name: g, address: 192.0.2.1, max_channels: 2}]", "FAXD_CHANNEL_ROUTES=[{prefix: '', gateway: g}]"})
	if err != nil {
		t.Fatal(err)
	}
	if g := cfg.Channel.Gateways; len(g) != 1 || g[0].MaxChannels != 2 {
		t.Errorf("gateways from env = %+v", g)
	}
	// The variable secrets.key_env names holds keys: FAXD_ spelling or not,
	// it is no configuration key (the systemd environment file names one so).
	keys := "k1 " + strings.Repeat("A", 43) + "="
	t.Setenv("FAXD_SECRETS_KEYS", keys) // the keyring reads the process environment
	cfg, err = Load("", []string{"FAXD_SECRETS_KEY_ENV=FAXD_SECRETS_KEYS", "FAXD_SECRETS_KEYS=" + keys})
	if err != nil || cfg.Secrets.KeyEnv != "FAXD_SECRETS_KEYS" {
		t.Errorf("keys in a FAXD_ variable named by secrets.key_env: %v", err)
	}
}

func TestClosestKey(t *testing.T) {
	valid := []string{"name", "address", "max_channels", "listen_udp", "id", "username", "password"}
	for in, want := range map[string]string{
		"max_chanels":  "max_channels", // a letter missing
		"listen_upd":   "listen_udp",   // two letters swapped
		"Max_Channels": "max_channels", // case
		"adress":       "address",
		"passwort":     "password",
		"idd":          "id",
	} {
		if got, ok := closest(in, valid); !ok || got != want {
			t.Errorf("closest(%q) = %q, %v; want %q", in, got, ok, want)
		}
	}
	for _, in := range []string{"bogus_key", "xy", "colour", "transport_layer"} {
		if got, ok := closest(in, valid); ok {
			t.Errorf("closest(%q) = %q, want no suggestion", in, got)
		}
	}
	for a, b := range map[string]int{"": 0, "abc": 3, "kitten|sitting": 3, "ab|ba": 1, "abcd|acbd": 1} {
		x, y, _ := strings.Cut(a, "|")
		if y == "" && a != "" {
			x, y = a, ""
		}
		if d := editDistance(x, y); d != b {
			t.Errorf("editDistance(%q, %q) = %d, want %d", x, y, d, b)
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

// The embedded server's cluster keys: a three-node example loads (routes
// also from the environment), and each mistake is named by its key.
func TestNATSClusterKeys(t *testing.T) {
	p := writeFile(t, `
node: {id: a1}
nats:
  stream_replicas: 3
  server_name: a1
  cluster:
    name: faxd
    listen: 10.0.0.1:6222
`)
	cfg, err := Load(p, []string{"FAXD_NATS_CLUSTER_ROUTES=[10.0.0.1:6222, 'nats-route://u:p@10.0.0.2:6222', 10.0.0.3:6222]"})
	if err != nil {
		t.Fatal(err)
	}
	if c := cfg.NATS.Cluster; c.Name != "faxd" || c.Listen != "10.0.0.1:6222" || len(c.Routes) != 3 || c.Routes[1] != "nats-route://u:p@10.0.0.2:6222" {
		t.Fatalf("cluster = %+v", c)
	}

	for body, want := range map[string]string{
		"nats: {stream_replicas: 3}":                                     "nats.stream_replicas: 3: the embedded server alone",
		"nats: {cluster: {name: c}}":                                     "nats.cluster.listen: must be set",
		"nats: {cluster: {listen: 'x:1', routes: ['x:1']}}":              "nats.cluster.name: must be set",
		"nats: {cluster: {name: c, listen: nocolon, routes: ['x:1']}}":   "nats.cluster.listen: \"nocolon\"",
		"nats: {cluster: {name: c, listen: 'x:1'}}":                      "nats.cluster.routes: must list",
		"nats: {cluster: {name: c, listen: 'x:1', routes: ['x:1', y]}}":  "nats.cluster.routes[1]: \"y\"",
		"nats: {cluster: {name: 'a b', listen: 'x:1', routes: ['x:1']}}": "nats.cluster.name: \"a b\"",
	} {
		_, err := Load(writeFile(t, body), nil)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: want %q, got %v", body, want, err)
		}
	}
	// With an external NATS the embedded cluster keys are not used, and
	// stream_replicas is up to that cluster.
	if _, err := Load(writeFile(t, "nats: {url: 'nats://n1:4222', stream_replicas: 3}"), nil); err != nil {
		t.Fatalf("external NATS with 3 replicas: %v", err)
	}
}

// A gateway's media key loads, and a value other than t38, audio or auto
// is refused naming the gateway and the key.
func TestGatewayMedia(t *testing.T) {
	file := func(media string) string {
		return writeFile(t, `
channel:
  gateways:
    - {name: g, address: 192.0.2.1, media: `+media+`}
  routes:
    - {prefix: "", gateway: g}
`)
	}
	cfg, err := Load(file("auto"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if g := cfg.Channel.Gateways; len(g) != 1 || g[0].Media != "auto" {
		t.Fatalf("gateways = %+v", g)
	}
	_, err = Load(file("fax"), nil)
	if err == nil || !strings.Contains(err.Error(), `channel.gateways[0]: media "fax": must be t38, audio or auto`) {
		t.Fatalf("media fax: %v", err)
	}
}
