package server

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/faxd/faxd/internal/api/routingcfg"
	"github.com/faxd/faxd/internal/cluster"
	"github.com/faxd/faxd/internal/config"
	"github.com/faxd/faxd/internal/pgtest"
	"github.com/faxd/faxd/internal/secretbox"
	"github.com/faxd/faxd/internal/sip"
	"github.com/faxd/faxd/queue"
)

// testKeyLine is the key every test server uses, so nodes sharing or
// syncing a database can open each other's values, as real ones sharing
// a key file do.
const testKeyLine = "test AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n"

func testKeyFile(t testing.TB) string {
	p := filepath.Join(t.TempDir(), "secrets.key")
	if err := os.WriteFile(p, []byte(testKeyLine), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// The embedded set-up makes its key file once and keeps it; a server on
// an external database without a key gets none (and refuses secrets).
func TestOpenSecretsDefaults(t *testing.T) {
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	cfg := config.Default()
	cfg.Database.EmbeddedDir = filepath.Join(t.TempDir(), "var", "pg")
	k1, err := OpenSecrets(cfg, quiet)
	if err != nil || k1 == nil {
		t.Fatalf("embedded: %v %v", k1, err)
	}
	if _, err := os.Stat(cfg.EmbeddedKeyFile()); err != nil {
		t.Fatalf("key file not made: %v", err)
	}
	sealed, _ := k1.Seal("x")
	k2, err := OpenSecrets(cfg, quiet)
	if err != nil {
		t.Fatal(err)
	}
	if pt, err := k2.Open(sealed); err != nil || pt != "x" {
		t.Fatalf("second start has another key: %v", err)
	}
	cfg.Database.QueueDSN = "postgres://db.example/faxd"
	if k, err := OpenSecrets(cfg, quiet); k != nil || err != nil {
		t.Fatalf("external database without key: %v %v", k, err)
	}
	cfg.Secrets.KeyFile = filepath.Join(t.TempDir(), "absent")
	if _, err := OpenSecrets(cfg, quiet); err == nil || !strings.Contains(err.Error(), "secrets.key_file") {
		t.Fatalf("missing key file: %v", err)
	}
}

// At start, plaintext secrets an older version stored are encrypted in
// place, and values under a key the server lacks are reported, not lost.
func TestPrepareSecretsSealsPlaintext(t *testing.T) {
	ctx := context.Background()
	pool := pgtest.NewDB(t)
	k, err := secretbox.Config{KeyFile: testKeyFile(t)}.Load(os.Getenv)
	if err != nil {
		t.Fatal(err)
	}
	other, _ := secretbox.NewRandom("gone")
	foreign, _ := other.Seal("sealed-elsewhere")
	for _, q := range []string{
		`INSERT INTO gateways (name, address, username, password) VALUES ('gw', '10.0.0.1', 'u', 'plain-pass'), ('gw2', '10.0.0.2', 'u', '` + foreign + `')`,
		`INSERT INTO inbound_rules (match_kind, match, dest_kind, destination, secret) VALUES ('prefix', '49', 'webhook', 'https://x.example/h', 'plain-hook-secret')`,
		`INSERT INTO deliveries (kind, event, target, secret, idempotency_key, max_attempts) VALUES ('webhook', 'test', 'https://x.example/h', 'plain-delivery-secret', 'k', 3)`,
	} {
		if _, err := pool.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	var logs strings.Builder
	s := &Server{DB: &Databases{Queue: pool}, secrets: k, log: slog.New(slog.NewTextHandler(&logs, nil))}
	if err := s.prepareSecrets(ctx); err != nil {
		t.Fatal(err)
	}
	var dump string
	if err := pool.QueryRow(ctx, `SELECT concat_ws(' ', (SELECT string_agg(password, ' ') FROM gateways),
		(SELECT string_agg(secret, ' ') FROM inbound_rules), (SELECT string_agg(secret, ' ') FROM deliveries))`).Scan(&dump); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(dump, "plain-") {
		t.Fatalf("plaintext left after start: %s", dump)
	}
	census, err := SecretsCensus(ctx, pool)
	if err != nil {
		t.Fatal(err)
	}
	if census["gateways.password"]["test"] != 1 || census["gateways.password"]["gone"] != 1 ||
		census["inbound_rules.secret"]["test"] != 1 || census["deliveries.secret"]["test"] != 1 {
		t.Fatalf("census %v", census)
	}
	if !strings.Contains(logs.String(), "key_id=gone") || strings.Contains(logs.String(), "sealed-elsewhere") {
		t.Fatalf("missing key not reported by id: %s", logs.String())
	}
}

// A gateway password that does not decrypt is logged when the failure
// starts or changes and when it ends, not at every routing refresh.
func TestNotePasswordLogsOnChange(t *testing.T) {
	var logs strings.Builder
	s := &Server{log: slog.New(slog.NewTextHandler(&logs, nil))}
	c := &channels{}
	k, _ := secretbox.NewRandom("k1")
	sealed, _ := k.Seal("pw")
	_, errMissing := (*secretbox.Keyring)(nil).Open(sealed)
	other, _ := secretbox.NewRandom("k1")
	_, errWrong := other.Open(sealed)
	for _, err := range []error{errMissing, errMissing, errMissing, errWrong, nil, nil} {
		s.notePassword(c, "carrier", err)
	}
	out := logs.String()
	if n := strings.Count(out, "cannot be decrypted"); n != 2 {
		t.Fatalf("%d error lines, want 2 (one per distinct error):\n%s", n, out)
	}
	if n := strings.Count(out, "decrypts again"); n != 1 {
		t.Fatalf("%d recovery lines, want 1:\n%s", n, out)
	}
	if strings.Contains(out, "pw\"") {
		t.Fatal("the password reached the log")
	}
}

// A standby-style set-up end to end: a gateway with a SIP digest password
// is created on another ("primary") database with the shared key, the
// configuration sync copies it here as ciphertext, and this server's
// outbound call through it authenticates against a listener that
// challenges with that password: the decrypted password is what goes on
// the wire, the stored one never is plaintext.
func TestSyncedSealedGatewayAuthenticates(t *testing.T) {
	t.Parallel()
	const user, pass = "faxgw", "digest-pass-7f3a"
	s := startServer(t, func(c *config.Config) {
		selfConfig(c)
		c.Channel.Gateways, c.Channel.Routes = nil, nil
		c.SIP.InboundAuth = &sip.Credentials{Username: user, Password: pass}
	})
	ctx := context.Background()
	primaryDSN := pgtest.NewDSN(t)
	prim := pgtest.Pool(t, primaryDSN)
	store := routingcfg.New(prim).WithSecrets(s.secrets)
	if _, err := store.CreateGateway(ctx, routingcfg.Gateway{Name: "db-self", Address: s.channels.self, Username: user, Password: pass, Enabled: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := store.CreateRoute(ctx, routingcfg.Route{Prefix: "+1555", Gateway: "db-self", Cost: 1}); err != nil {
		t.Fatal(err)
	}
	syncer, err := cluster.NewSyncer(s.cfg.Node.ID, "primary", cluster.SyncConfig{PrimaryDSN: primaryDSN, StartTime: "00:00", Every: cluster.Every(time.Hour)},
		s.DB.Queue, nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := syncer.SyncNow(ctx); err != nil {
		t.Fatal(err)
	}
	var raw string
	if err := s.DB.Queue.QueryRow(ctx, `SELECT password FROM gateways WHERE name = 'db-self'`).Scan(&raw); err != nil {
		t.Fatal(err)
	}
	if !secretbox.IsSealed(raw) || strings.Contains(raw, pass) {
		t.Fatalf("synced password column %q: want ciphertext", raw)
	}
	job := enqueueFax(t, s, testPages(1, 120), queue.Request{})
	j := waitJob(t, s, job.ID, 90*time.Second, "sent", func(j queue.Job) bool { return j.State == queue.Sent || j.State == queue.Failed })
	if j.State != queue.Sent {
		t.Fatalf("fax through the synced gateway: %+v", j)
	}
	if gw, _ := j.Metadata["result"].(map[string]any)["gateway"].(string); gw != "db-self" {
		t.Errorf("sent through %q, want db-self", gw)
	}
}
