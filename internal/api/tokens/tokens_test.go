package tokens_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/faxd/faxd/internal/api/tokens"
	"github.com/faxd/faxd/internal/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func TestCreateAuthenticateRevoke(t *testing.T) {
	ctx := context.Background()
	pool := pgtest.NewDB(t)
	s := tokens.New(pool)
	secret, tok, err := s.Create(ctx, "billing", tokens.Submitter)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(secret, tokens.Prefix) || len(secret) < 50 {
		t.Fatalf("secret %q", secret)
	}
	// Only the hash is stored.
	var n int
	if err := pool.QueryRow(ctx, "SELECT count(*) FROM api_tokens WHERE position($1 in encode(hash, 'escape')) > 0 OR name = $1", secret).Scan(&n); err != nil || n != 0 {
		t.Fatalf("secret found in table: %d %v", n, err)
	}
	got, err := s.Authenticate(ctx, secret)
	if err != nil || got.ID != tok.ID || got.Role != tokens.Submitter || got.LastUsedAt.IsZero() {
		t.Fatalf("authenticate: %+v %v", got, err)
	}
	listed, _ := s.Get(ctx, tok.ID)
	if listed.LastUsedAt.IsZero() {
		t.Fatal("last use not recorded")
	}
	for _, bad := range []string{"", "faxd_", secret + "x", secret[:len(secret)-1] + "A", "Bearer " + secret,
		strings.Replace(secret, "faxd_1_", "faxd_2_", 1)} {
		if bad == secret {
			continue
		}
		if _, err := s.Authenticate(ctx, bad); !errors.Is(err, tokens.ErrInvalid) {
			t.Fatalf("authenticate(%q) = %v", bad, err)
		}
	}
	if _, err := s.Revoke(ctx, tok.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Authenticate(ctx, secret); !errors.Is(err, tokens.ErrInvalid) {
		t.Fatalf("revoked token accepted: %v", err)
	}
	if _, err := s.Revoke(ctx, 999); !errors.Is(err, tokens.ErrNotFound) {
		t.Fatalf("revoke unknown: %v", err)
	}
	if _, _, err := s.Create(ctx, "bad name", tokens.Admin); !errors.Is(err, tokens.ErrBadRequest) {
		t.Fatalf("bad name: %v", err)
	}
	if _, _, err := s.Create(ctx, "ok", "root"); !errors.Is(err, tokens.ErrBadRequest) {
		t.Fatalf("bad role: %v", err)
	}
}

func TestCommand(t *testing.T) {
	ctx := context.Background()
	pool := pgtest.NewDB(t)
	var out, errb bytes.Buffer
	if rc := tokens.Command(ctx, pool, []string{"create", "--role", "admin", "--name", "ops"}, &out, &errb); rc != 0 {
		t.Fatalf("create: rc=%d %s", rc, errb.String())
	}
	secret := strings.TrimSpace(out.String())
	tok, err := tokens.New(pool).Authenticate(ctx, secret)
	if err != nil || tok.Role != tokens.Admin || tok.Name != "ops" {
		t.Fatalf("created token: %+v %v", tok, err)
	}
	out.Reset()
	if rc := tokens.Command(ctx, pool, []string{"list"}, &out, &errb); rc != 0 || !strings.Contains(out.String(), "ops") || strings.Contains(out.String(), secret) {
		t.Fatalf("list: rc=%d %q", rc, out.String())
	}
	out.Reset()
	if rc := tokens.Command(ctx, pool, []string{"revoke", "1"}, &out, &errb); rc != 0 || !strings.Contains(out.String(), "revoked") {
		t.Fatalf("revoke: rc=%d %q", rc, out.String())
	}
	if rc := tokens.Command(ctx, pool, []string{"create", "--role", "root", "--name", "x"}, &out, &errb); rc != 1 {
		t.Fatalf("bad role: rc=%d", rc)
	}
	if rc := tokens.Command(ctx, pool, []string{"frobnicate"}, &out, &errb); rc != 2 {
		t.Fatalf("bad verb: rc=%d", rc)
	}
}
