package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/faxd/faxd/internal/pgcluster"
	"github.com/faxd/faxd/internal/pgtest"
	"github.com/faxd/faxd/internal/secretbox"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func keyLine(id string, b byte) string {
	k := bytes.Repeat([]byte{b}, secretbox.KeySize)
	return id + " " + base64.StdEncoding.EncodeToString(k) + "\n"
}

// Rotation round trip through the command line: plaintext rows left by
// an older version are encrypted, an old key's values move to a new key,
// after which the old key can be dropped and everything still opens; a
// missing key is reported by name with a non-zero exit, never a crash.
func TestSecretsRotateRoundTrip(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	dsn := pgtest.NewDSN(t)
	pool := pgtest.Pool(t, dsn)
	keyFile := filepath.Join(dir, "keys")
	cfgFile := filepath.Join(dir, "faxd.yaml")
	writeCfg := func(keys, active string) {
		t.Helper()
		if err := os.WriteFile(keyFile, []byte(keys), 0o600); err != nil {
			t.Fatal(err)
		}
		cfg := "database:\n  queue_dsn: " + dsn + "\nsecrets:\n  key_file: " + keyFile + "\n  active_key: \"" + active + "\"\n"
		if err := os.WriteFile(cfgFile, []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	faxd := func(args ...string) (int, string, string) {
		var out, errb bytes.Buffer
		rc := run(append([]string{"-config", cfgFile}, args...), &out, &errb)
		return rc, out.String(), errb.String()
	}
	writeCfg(keyLine("old", 1), "old")
	if rc, _, errs := faxd("migrate"); rc != 0 {
		t.Fatalf("migrate: %s", errs)
	}
	// Rows as a version without encryption wrote them.
	if _, err := pool.Exec(ctx, `INSERT INTO gateways (name, address, username, password) VALUES ('gw', '10.0.0.1', 'u', 'legacy-pass');
		INSERT INTO inbound_rules (match_kind, match, dest_kind, destination, secret)
		VALUES ('prefix', '49', 'webhook', 'https://x.example/h', 'legacy-webhook-secret')`); err != nil {
		t.Fatal(err)
	}
	rc, out, _ := faxd("secrets", "status")
	if rc != 0 || !strings.Contains(out, "plaintext") {
		t.Fatalf("status before: rc=%d %s", rc, out)
	}
	raw := func() (string, string) {
		var p, s string
		if err := pool.QueryRow(ctx, `SELECT (SELECT password FROM gateways), (SELECT secret FROM inbound_rules)`).Scan(&p, &s); err != nil {
			t.Fatal(err)
		}
		return p, s
	}
	if rc, out, errs := faxd("secrets", "rotate"); rc != 0 || !strings.Contains(out, "2 plaintexts encrypted") {
		t.Fatalf("rotate plaintext: rc=%d %s %s", rc, out, errs)
	}
	p, s := raw()
	if secretbox.KeyID(p) != "old" || secretbox.KeyID(s) != "old" || strings.Contains(p+s, "legacy") {
		t.Fatalf("after first rotate: %q %q", p, s)
	}
	// What a backup shows: pg_dump of the whole database.
	bin, err := pgcluster.FindBinDir()
	if err != nil {
		t.Fatal(err)
	}
	dumped, err := exec.Command(filepath.Join(bin, "pg_dump"), "--data-only", "--dbname", dsn).Output()
	if err != nil {
		t.Fatalf("pg_dump: %v", err)
	}
	if bytes.Contains(dumped, []byte("legacy-")) || bytes.Count(dumped, []byte(secretbox.Prefix+"old:")) < 2 {
		t.Fatalf("pg_dump shows plaintext or no ciphertext:\n%s", dumped)
	}

	// New key active, old one kept for reading.
	writeCfg(keyLine("old", 1)+keyLine("new", 2), "new")
	if rc, out, errs := faxd("secrets", "rotate"); rc != 0 || !strings.Contains(out, "2 values moved from older keys") {
		t.Fatalf("rotate to new: rc=%d %s %s", rc, out, errs)
	}
	// Old key removed: everything opens with the new one alone.
	writeCfg(keyLine("new", 2), "")
	if rc, out, _ := faxd("secrets", "status"); rc != 0 || strings.Contains(out, "old") {
		t.Fatalf("status after removing old key: rc=%d %s", rc, out)
	}
	only, err := secretbox.Config{KeyFile: keyFile}.Load(os.Getenv)
	if err != nil {
		t.Fatal(err)
	}
	p, s = raw()
	if pp, err := only.Open(p); err != nil || pp != "legacy-pass" {
		t.Fatalf("gateway password with the new key: %q %v", pp, err)
	}
	if ss, err := only.Open(s); err != nil || ss != "legacy-webhook-secret" {
		t.Fatalf("webhook secret with the new key: %q %v", ss, err)
	}

	// The wrong key: named, non-zero, values untouched.
	writeCfg(keyLine("other", 3), "")
	rc, out, _ = faxd("secrets", "status")
	if rc != 1 || !strings.Contains(out, "KEY NOT CONFIGURED") || !strings.Contains(out, "new") {
		t.Fatalf("status with a missing key: rc=%d %s", rc, out)
	}
	rc, _, errs := faxd("secrets", "rotate")
	if rc != 1 || !strings.Contains(errs, `key "new"`) || strings.Contains(errs, "legacy") {
		t.Fatalf("rotate with a missing key: rc=%d %s", rc, errs)
	}
	if p2, s2 := raw(); p2 != p || s2 != s {
		t.Fatal("a failed rotate changed values")
	}
	// The same key id with other bytes is told apart from a missing one.
	writeCfg(keyLine("new", 9), "")
	if rc, _, errs := faxd("secrets", "rotate"); rc != 1 || !strings.Contains(errs, "not the key that sealed it") {
		t.Fatalf("rotate with a wrong key: rc=%d %s", rc, errs)
	}
	// The rotations are in the audit log.
	var n int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM audit_log WHERE object_type = 'secrets' AND action = 'rotate' AND actor = 'faxd-cli'`).Scan(&n); err != nil || n != 4 {
		t.Fatalf("rotate audit entries: %d %v", n, err)
	}
	if rc, out, _ := faxd("secrets", "new-key", "k9"); rc != 0 || !strings.HasPrefix(out, "k9 ") {
		t.Fatalf("new-key: rc=%d %q", rc, out)
	}
	if rc, _, _ := faxd("secrets", "frob"); rc != 2 {
		t.Fatalf("unknown verb: rc=%d", rc)
	}
}
