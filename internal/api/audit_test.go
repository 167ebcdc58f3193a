package api

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/faxd/faxd/internal/audit"
	"github.com/faxd/faxd/internal/secretbox"
)

// Every configuration change through the API leaves one audit entry with
// the token, the client address and the object before and after; secrets
// never appear in the entries, and the stored secret columns hold only
// ciphertext.
func TestAuditAndSealedSecrets(t *testing.T) {
	e := newEnv(t, Config{RateLimit: 1000, RateBurst: 1000})
	ctx := context.Background()
	const gwPass, gwPass2, hook = "gw-password-plain-1", "gw-password-plain-2", "hook-secret-plain-0123456789"
	steps := []struct {
		method, path string
		body         any
		status       int
	}{
		{"POST", "/v1/gateways", map[string]any{"name": "gw1", "address": "10.0.0.1", "username": "u", "password": gwPass}, 201},
		{"PUT", "/v1/gateways/gw1", map[string]any{"address": "10.0.0.2", "username": "u", "password": gwPass2}, 200},
		{"POST", "/v1/routes", map[string]any{"prefix": "+49", "gateway": "gw1", "cost": 1}, 201},
		{"PUT", "/v1/routes/1", map[string]any{"prefix": "+49", "gateway": "gw1", "cost": 2}, 200},
		{"DELETE", "/v1/routes/1", nil, 204},
		{"POST", "/v1/inbound-rules", map[string]any{"number": map[string]any{"kind": "prefix", "value": "49"},
			"destination": map[string]any{"kind": "webhook", "url": "https://x.example/h", "secret": hook}}, 201},
		{"PUT", "/v1/inbound-rules/1", map[string]any{"number": map[string]any{"kind": "prefix", "value": "4930"},
			"destination": map[string]any{"kind": "webhook", "url": "https://x.example/h"}}, 200},
		{"DELETE", "/v1/inbound-rules/1", nil, 204},
		{"POST", "/v1/tokens", map[string]any{"name": "ci", "role": "submitter", "expires_in": "30d"}, 201},
		{"DELETE", "/v1/tokens/3", nil, 200},
		{"DELETE", "/v1/gateways/gw1", nil, 204},
		// Refused changes leave no entry.
		{"POST", "/v1/gateways", map[string]any{"name": "gw9", "address": "10.0.0.9", "username": "u", "password": secretbox.Prefix + "test:AAAA"}, 400},
		{"DELETE", "/v1/gateways/gw1", nil, 404},
		{"POST", "/v1/routes", map[string]any{"prefix": "+1", "gateway": "absent"}, 400},
	}
	var rawPass, rawSecret string
	for i, s := range steps {
		var r *response
		if s.body == nil {
			r = e.do(s.method, s.path, e.admin, nil, "")
		} else {
			r = e.doJSON(s.method, s.path, e.admin, s.body)
		}
		if r.status != s.status {
			t.Fatalf("step %d %s %s: %d %s", i, s.method, s.path, r.status, r.body)
		}
		// Read the raw columns while the objects exist.
		if i == 1 {
			if err := e.pool.QueryRow(ctx, `SELECT password FROM gateways WHERE name = 'gw1'`).Scan(&rawPass); err != nil {
				t.Fatal(err)
			}
		}
		if i == 5 {
			if err := e.pool.QueryRow(ctx, `SELECT secret FROM inbound_rules WHERE id = 1`).Scan(&rawSecret); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, raw := range []string{rawPass, rawSecret} {
		if !secretbox.IsSealed(raw) || strings.Contains(raw, "plain") {
			t.Errorf("stored secret %q: want ciphertext", raw)
		}
	}
	if pt, err := testSecrets.Open(rawPass); err != nil || pt != gwPass2 {
		t.Errorf("gateway password opens to %q, %v", pt, err)
	}

	var al AuditList
	e.do("GET", "/v1/audit?limit=500", e.admin, nil, "").json(t, &al)
	var got []string
	for _, en := range al.Entries {
		got = append([]string{en.Action + " " + en.ObjectType + " " + en.ObjectID}, got...)
		if en.Actor != "ops" || en.ActorID != 1 || en.RemoteAddr != "127.0.0.1" || en.At.IsZero() {
			t.Errorf("entry %+v: want actor ops (token 1) from 127.0.0.1", en)
		}
		if (en.Action == "create") != (en.Before == nil) || (en.Action == "delete") != (en.After == nil) {
			t.Errorf("entry %d %s: before %s after %s", en.ID, en.Action, en.Before, en.After)
		}
	}
	want := "create gateway gw1,update gateway gw1,create route 1,update route 1,delete route 1," +
		"create inbound_rule 1,update inbound_rule 1,delete inbound_rule 1,create token 3,revoke token 3,delete gateway gw1"
	if strings.Join(got, ",") != want {
		t.Fatalf("audit entries\n got %s\nwant %s", strings.Join(got, ","), want)
	}
	// The whole table, as a dump would show it, holds no secret.
	var dump string
	if err := e.pool.QueryRow(ctx, `SELECT string_agg(audit_log::text, E'\n') FROM audit_log`).Scan(&dump); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{gwPass, gwPass2, hook} {
		if strings.Contains(dump, s) {
			t.Fatalf("audit log holds a secret: %s", dump)
		}
	}
	if !strings.Contains(dump, `has_password"": true`) || !strings.Contains(dump, "password changed") || !strings.Contains(dump, `expires_at""`) {
		t.Errorf("audit entries lack the masked facts: %s", dump)
	}
}

// GET /v1/audit filters by actor, object, action and time, and pages by
// keyset; bad parameters are named.
func TestAuditListFilters(t *testing.T) {
	e := newEnv(t, Config{RateLimit: 1000, RateBurst: 1000})
	for i := range 5 {
		if r := e.doJSON("POST", "/v1/gateways", e.admin, map[string]any{"name": fmt.Sprintf("g%d", i), "address": "10.0.0.1"}); r.status != 201 {
			t.Fatalf("gateway %d: %d", i, r.status)
		}
	}
	if r := e.doJSON("POST", "/v1/tokens", e.admin, map[string]any{"name": "other", "role": "admin"}); r.status != 201 {
		t.Fatal(r.status)
	}
	var seen []string
	cursor := ""
	for pages := 0; ; pages++ {
		var al AuditList
		e.do("GET", "/v1/audit?object_type=gateway&limit=2"+cursor, e.admin, nil, "").json(t, &al)
		for _, en := range al.Entries {
			seen = append(seen, en.ObjectID)
		}
		if al.NextCursor == "" {
			break
		}
		if pages > 5 {
			t.Fatal("pagination does not end")
		}
		cursor = "&cursor=" + al.NextCursor
	}
	if strings.Join(seen, ",") != "g4,g3,g2,g1,g0" {
		t.Fatalf("keyset pages: %v", seen)
	}
	var al AuditList
	e.do("GET", "/v1/audit?object_type=gateway&object_id=g2&action=create&actor=ops", e.admin, nil, "").json(t, &al)
	if len(al.Entries) != 1 || al.Entries[0].ObjectID != "g2" {
		t.Fatalf("filtered: %+v", al)
	}
	future := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	e.do("GET", "/v1/audit?since="+future, e.admin, nil, "").json(t, &al)
	if len(al.Entries) != 0 {
		t.Fatalf("since the future: %+v", al)
	}
	e.do("GET", "/v1/audit?until="+future+"&actor=nobody", e.admin, nil, "").json(t, &al)
	if len(al.Entries) != 0 {
		t.Fatalf("actor nobody: %+v", al)
	}
	r := e.do("GET", "/v1/audit?since=yesterday&limit=0&cursor=zz&colour=red", e.admin, nil, "")
	if p := r.problem(t); r.status != 400 || len(p.Errors) != 4 {
		t.Fatalf("bad parameters: %d %+v", r.status, p)
	}
	if r := e.do("GET", "/v1/audit", e.sub, nil, ""); r.status != 403 {
		t.Fatalf("submitter: %d", r.status)
	}
}

// A token created with an expiry works until the API's clock passes it,
// then gets 401 saying it expired.
func TestTokenExpiryAPI(t *testing.T) {
	e := newEnv(t, Config{RateLimit: 1000, RateBurst: 1000})
	var created CreatedToken
	r := e.doJSON("POST", "/v1/tokens", e.admin, map[string]any{"name": "temp", "role": "submitter", "expires_in": "1d"})
	r.json(t, &created)
	if r.status != 201 || created.ExpiresAt.IsZero() {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	if r := e.do("GET", "/v1/whoami", created.Secret, nil, ""); r.status != 200 {
		t.Fatalf("fresh token: %d %s", r.status, r.body)
	}
	e.clock.advance(25 * time.Hour)
	r = e.do("GET", "/v1/whoami", created.Secret, nil, "")
	if p := r.problem(t); r.status != 401 || !strings.Contains(p.Detail, `"temp" expired at`) {
		t.Fatalf("expired token: %d %+v", r.status, p)
	}
	if r := e.do("GET", "/v1/whoami", e.sub, nil, ""); r.status != 200 {
		t.Fatalf("token without expiry: %d", r.status)
	}
	for _, body := range []map[string]any{
		{"name": "x", "expires_in": "soon"},
		{"name": "x", "expires_in": "1d", "expires_at": "2999-01-01T00:00:00Z"},
		{"name": "x", "expires_at": "2001-01-01T00:00:00Z"},
	} {
		if r := e.doJSON("POST", "/v1/tokens", e.admin, body); r.status != 400 {
			t.Errorf("%v: %d %s", body, r.status, r.body)
		}
	}
}

// A server without a key refuses to store a secret with 409 naming the
// configuration keys, stores nothing and records nothing; objects
// without secrets still work.
func TestNoKeyRefusesSecrets(t *testing.T) {
	e := newEnv(t, Config{RateLimit: 1000, RateBurst: 1000})
	keyless, err := New(Config{}, Deps{Pool: e.pool, Queue: e.queue, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(keyless.Handler())
	t.Cleanup(srv.Close)
	e.srv = srv
	r := e.doJSON("POST", "/v1/gateways", e.admin, map[string]any{"name": "gw1", "address": "10.0.0.1", "username": "u", "password": "pw"})
	if p := r.problem(t); r.status != 409 || !strings.Contains(p.Detail, "secrets.key_file") {
		t.Fatalf("password without key: %d %+v", r.status, p)
	}
	r = e.doJSON("POST", "/v1/inbound-rules", e.admin, map[string]any{"number": map[string]any{"kind": "prefix", "value": "49"},
		"destination": map[string]any{"kind": "webhook", "url": "https://x.example/h", "secret": "0123456789abcdefgh"}})
	if r.status != 409 {
		t.Fatalf("webhook secret without key: %d %s", r.status, r.body)
	}
	if r := e.doJSON("POST", "/v1/gateways", e.admin, map[string]any{"name": "gw2", "address": "10.0.0.1"}); r.status != 201 {
		t.Fatalf("gateway without password: %d %s", r.status, r.body)
	}
	es, _, err := audit.List(context.Background(), e.pool, audit.Filter{})
	if err != nil || len(es) != 1 || es[0].ObjectID != "gw2" {
		t.Fatalf("audit after refusals: %+v %v", es, err)
	}
}
