package server

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/faxd/faxd/internal/config"
	"github.com/faxd/faxd/internal/pgtest"
	"github.com/faxd/faxd/internal/secretbox"
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
