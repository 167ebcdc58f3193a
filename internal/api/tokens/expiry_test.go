package tokens_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/faxd/faxd/internal/api/tokens"
	"github.com/faxd/faxd/internal/audit"
	"github.com/faxd/faxd/internal/pgtest"
)

// A token with an expiry works until the clock reaches it, then is
// refused with ErrExpired (not the generic ErrInvalid); tokens without one
// never expire. The clock is a variable, so no test waits.
func TestExpiry(t *testing.T) {
	ctx := context.Background()
	pool := pgtest.NewDB(t)
	s := tokens.New(pool)
	now := time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)
	s.Now = func() time.Time { return now }

	exp, err := tokens.ParseExpiry("90d", now)
	if err != nil || !exp.Equal(now.Add(90*24*time.Hour)) {
		t.Fatalf("ParseExpiry(90d) = %v %v", exp, err)
	}
	secret, tok, err := s.CreateExpiring(ctx, "temp", tokens.Submitter, exp)
	if err != nil || !tok.ExpiresAt.Equal(exp) {
		t.Fatalf("create: %+v %v", tok, err)
	}
	forever, _, err := s.Create(ctx, "forever", tokens.Submitter)
	if err != nil {
		t.Fatal(err)
	}
	now = exp.Add(-time.Second)
	if _, err := s.Authenticate(ctx, secret); err != nil {
		t.Fatalf("a second before expiry: %v", err)
	}
	now = exp
	_, err = s.Authenticate(ctx, secret)
	if !errors.Is(err, tokens.ErrExpired) || !strings.Contains(err.Error(), "expired at 2030-04-01T12:00:00Z") {
		t.Fatalf("at expiry: %v", err)
	}
	now = exp.Add(100 * 365 * 24 * time.Hour)
	if _, err := s.Authenticate(ctx, forever); err != nil {
		t.Fatalf("token without expiry refused: %v", err)
	}
	got, _ := s.Get(ctx, tok.ID)
	if !got.ExpiresAt.Equal(exp) {
		t.Fatalf("stored expiry %v, want %v", got.ExpiresAt, exp)
	}
	if _, _, err := s.CreateExpiring(ctx, "past", tokens.Admin, now.Add(-time.Minute)); !errors.Is(err, tokens.ErrBadRequest) {
		t.Fatalf("expiry in the past: %v", err)
	}
}

func TestParseExpiry(t *testing.T) {
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	for in, want := range map[string]time.Time{
		"":                     {},
		"12h":                  now.Add(12 * time.Hour),
		"1d12h":                now.Add(36 * time.Hour),
		"2031-02-03":           time.Date(2031, 2, 3, 0, 0, 0, 0, time.UTC),
		"2031-02-03T04:05:06Z": time.Date(2031, 2, 3, 4, 5, 6, 0, time.UTC),
	} {
		got, err := tokens.ParseExpiry(in, now)
		if err != nil || !got.Equal(want) {
			t.Errorf("ParseExpiry(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"soon", "-5d", "0d", "d", "90x", "-1h"} {
		if _, err := tokens.ParseExpiry(bad, now); err == nil {
			t.Errorf("ParseExpiry(%q) accepted", bad)
		}
	}
}

// faxd token create --expires sets the expiry, list shows it, and the
// command line's changes land in the audit log.
func TestCommandExpiresAndAudit(t *testing.T) {
	ctx := context.Background()
	pool := pgtest.NewDB(t)
	var out, errb bytes.Buffer
	if rc := tokens.Command(ctx, pool, []string{"create", "--name", "ci", "--expires", "2999-01-01"}, &out, &errb); rc != 0 {
		t.Fatalf("create: rc=%d %s", rc, errb.String())
	}
	if !strings.Contains(errb.String(), "expires 2999-01-01T00:00:00Z") {
		t.Fatalf("create message: %q", errb.String())
	}
	out.Reset()
	if rc := tokens.Command(ctx, pool, []string{"list"}, &out, &errb); rc != 0 || !strings.Contains(out.String(), "EXPIRES") || !strings.Contains(out.String(), "2999-01-01") {
		t.Fatalf("list: %q", out.String())
	}
	if rc := tokens.Command(ctx, pool, []string{"create", "--name", "x", "--expires", "whenever"}, &out, &errb); rc != 2 {
		t.Fatalf("bad --expires: rc=%d", rc)
	}
	if rc := tokens.Command(ctx, pool, []string{"revoke", "1"}, &out, &errb); rc != 0 {
		t.Fatalf("revoke: rc=%d %s", rc, errb.String())
	}
	es, _, err := audit.List(ctx, pool, audit.Filter{ObjectType: audit.Token})
	if err != nil || len(es) != 2 {
		t.Fatalf("audit: %d entries, %v", len(es), err)
	}
	if es[0].Action != "revoke" || es[1].Action != "create" || es[0].Actor != tokens.CLIActor || es[0].ObjectID != "1" ||
		es[0].Before == nil || es[1].Before != nil || !strings.Contains(string(es[1].After), `"expires_at"`) {
		t.Fatalf("audit entries: %+v", es)
	}
}
