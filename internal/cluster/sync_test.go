package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/faxd/faxd/internal/api/tokens"
	"github.com/faxd/faxd/internal/notify"
	"github.com/faxd/faxd/internal/notify/notifytest"
	"github.com/faxd/faxd/internal/pgtest"
)

// dump is the configuration as text, in a canonical order, without what
// is not configuration (route ids, token use times).
func dump(t *testing.T, pool *pgxpool.Pool) string {
	t.Helper()
	var b strings.Builder
	for _, q := range []string{
		`SELECT name, address, username, password, max_channels, enabled, created_at, updated_at FROM gateways ORDER BY name`,
		`SELECT prefix, gateway, cost, weight, created_at, updated_at FROM routes ORDER BY prefix, gateway`,
		`SELECT id, priority, match_kind, match, caller_kind, caller_match, dest_kind, destination, secret, description, enabled, created_at, updated_at, tsi_kind, tsi_match, pages FROM inbound_rules ORDER BY id`,
		`SELECT id, name, role, encode(hash, 'hex'), created_at, revoked_at, expires_at FROM api_tokens ORDER BY id`,
	} {
		rows, err := pool.Query(context.Background(), q)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			vals, err := rows.Values()
			if err != nil {
				t.Fatal(err)
			}
			fmt.Fprintln(&b, vals...)
		}
		rows.Close()
		b.WriteString("--\n")
	}
	return b.String()
}

func mustExec(t *testing.T, pool *pgxpool.Pool, sql string, args ...any) {
	t.Helper()
	if _, err := pool.Exec(context.Background(), sql, args...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

func counts(m map[string]int) string {
	return fmt.Sprintf("gw=%d routes=%d rules=%d tokens=%d", m["gateways"], m["routes"], m["inbound_rules"], m["api_tokens"])
}

// The standby's own database becomes a mirror of the primary's
// configuration: copied, idempotent, deletes propagated; a token made on
// the primary works on the standby and the standby's own is gone.
func TestSyncMirrorsConfiguration(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	primaryDSN := pgtest.NewDSN(t)
	prim, stby := pgtest.Pool(t, primaryDSN), pgtest.NewDB(t)

	// The standby had configuration of its own: all of it goes.
	mustExec(t, stby, `INSERT INTO gateways (name, address) VALUES ('local-only', '10.9.9.9')`)
	mustExec(t, stby, `INSERT INTO routes (prefix, gateway) VALUES ('+33', 'local-only')`)
	mustExec(t, stby, `INSERT INTO inbound_rules (match_kind, match, dest_kind, destination) VALUES ('exact', '999', 'mailbox', 'local')`)
	localSecret, _, err := tokens.New(stby).Create(ctx, "standby-local", tokens.Admin)
	if err != nil {
		t.Fatal(err)
	}

	mustExec(t, prim, `INSERT INTO gateways (name, address, username, password, max_channels) VALUES
		('gw1', '192.0.2.1:5060', 'fax', 's3cret-gw', 30), ('gw2', '192.0.2.2', '', '', 0)`)
	mustExec(t, prim, `INSERT INTO routes (prefix, gateway, cost, weight) VALUES ('+1', 'gw1', 0.5, 2), ('', 'gw2', 2, 1), ('+44', 'gw1', 1, 1)`)
	mustExec(t, prim, `INSERT INTO inbound_rules (priority, match_kind, match, dest_kind, destination, secret, tsi_kind, tsi_match, pages) VALUES
		(10, 'prefix', '+1555', 'mailbox', 'sales', '', 'contains', 'ACME', 'any'), (20, 'exact', '100', 'webhook', 'https://example.com/in', 'whsec-0123456789abcdef', '', '', 'some'),
		(30, 'pattern', '2XX', 'email', 'ops@example.com', '', '', '', 'none')`)
	ts := tokens.New(prim)
	secret, _, err := ts.Create(ctx, "billing", tokens.Submitter)
	if err != nil {
		t.Fatal(err)
	}
	_, revoked, err := ts.Create(ctx, "old", tokens.Admin)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ts.Revoke(ctx, revoked.ID); err != nil {
		t.Fatal(err)
	}

	s, err := NewSyncer("fax-b", "fax-a", SyncConfig{PrimaryDSN: primaryDSN, StartTime: "00:00", Every: Every(time.Hour)}, stby, nil, quiet)
	if err != nil {
		t.Fatal(err)
	}
	res, err := s.SyncNow(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := counts(res.Copied), "gw=2 routes=3 rules=3 tokens=2"; got != want {
		t.Errorf("copied %s, want %s", got, want)
	}
	// The standby's rule and token had the ids the primary's first ones
	// have: overwritten rather than deleted.
	if got, want := counts(res.Deleted), "gw=1 routes=1 rules=0 tokens=0"; got != want {
		t.Errorf("deleted %s, want %s", got, want)
	}
	if p, s := dump(t, prim), dump(t, stby); p != s {
		t.Fatalf("standby differs from primary:\n%s\nvs\n%s", p, s)
	}
	st := tokens.New(stby)
	if tok, err := st.Authenticate(ctx, secret); err != nil || tok.Name != "billing" {
		t.Fatalf("primary's token on the standby: %+v %v", tok, err)
	}
	if _, err := st.Authenticate(ctx, localSecret); err == nil {
		t.Error("the standby's own token survived the sync")
	}

	// Again: nothing to do.
	res, err = s.SyncNow(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if counts(res.Copied)+counts(res.Deleted) != "gw=0 routes=0 rules=0 tokens=0gw=0 routes=0 rules=0 tokens=0" {
		t.Errorf("second sync changed rows: copied %v deleted %v", res.Copied, res.Deleted)
	}

	// Changes and deletions on the primary reach the standby.
	mustExec(t, prim, `DELETE FROM routes WHERE gateway = 'gw2'`)
	mustExec(t, prim, `DELETE FROM gateways WHERE name = 'gw2'`)
	mustExec(t, prim, `UPDATE gateways SET address = '192.0.2.10', updated_at = now() WHERE name = 'gw1'`)
	mustExec(t, prim, `DELETE FROM inbound_rules WHERE match = '100'`)
	mustExec(t, prim, `UPDATE api_tokens SET revoked_at = now() WHERE name = 'billing'`)
	res, err = s.SyncNow(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := counts(res.Copied)+" / "+counts(res.Deleted), "gw=1 routes=0 rules=0 tokens=1 / gw=1 routes=1 rules=1 tokens=0"; got != want {
		t.Errorf("third sync: %s, want %s", got, want)
	}
	if p, s := dump(t, prim), dump(t, stby); p != s {
		t.Fatalf("standby differs from primary after changes:\n%s\nvs\n%s", p, s)
	}
	if _, err := st.Authenticate(ctx, secret); err == nil {
		t.Error("a token revoked on the primary still works on the standby")
	}
	// Rows made on the standby later (once promoted) get fresh ids.
	var id int64
	if err := stby.QueryRow(ctx, `INSERT INTO inbound_rules (match_kind, match, dest_kind, destination)
		VALUES ('exact', '1', 'mailbox', 'x') RETURNING id`).Scan(&id); err != nil {
		t.Fatalf("new rule on the standby: %v", err)
	}
	if id <= 3 {
		t.Errorf("new rule id %d collides with copied ids", id)
	}
	if next, last, lastErr := s.Status(); !next.IsZero() || last.IsZero() || lastErr != "" {
		t.Errorf("status next=%v last=%v err=%q", next, last, lastErr)
	}
}

// A DSN that names this node's own database is refused.
func TestSyncRefusesOwnDatabase(t *testing.T) {
	t.Parallel()
	dsn := pgtest.NewDSN(t)
	s, err := NewSyncer("fax-b", "fax-a", SyncConfig{PrimaryDSN: dsn, StartTime: "00:00", Every: Every(time.Hour)}, pgtest.Pool(t, dsn), nil, quiet)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.SyncNow(context.Background()); !errors.Is(err, ErrSameDatabase) {
		t.Fatalf("sync onto itself: %v", err)
	}
}

// A sync that fails (the primary's database is unreachable) sends the
// failure notice to the administrators' webhook, without the DSN's
// password; a sync that succeeds sends the optional completion notice.
func TestSyncNotices(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	stby := pgtest.NewDB(t)
	hook := notifytest.StartWebhook(t, "hook-secret", nil)
	ncfg := notify.DefaultConfig()
	ncfg.AdminWebhooks = []notify.Webhook{{URL: hook.URL, Secret: "hook-secret"}}
	ncfg.OutboundAllow = []string{"127.0.0.1"} // the receiver is a local test server
	ncfg.SyncCompleted = true
	ncfg.PollInterval = 50 * time.Millisecond
	n, err := notify.New(stby, ncfg, notify.Options{Secrets: testSecrets, NodeID: "fax-b", Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	go n.Run(ctx)

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := l.Addr().(*net.TCPAddr)
	l.Close()
	badDSN := fmt.Sprintf("postgres://faxd:pw-never-logged@127.0.0.1:%d/faxd?connect_timeout=2", dead.Port)
	s, err := NewSyncer("fax-b", "fax-a", SyncConfig{PrimaryDSN: badDSN, StartTime: "00:00", Every: Every(time.Hour)}, stby, AdminNotices{N: n}, quiet)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.SyncNow(ctx); err == nil || strings.Contains(err.Error(), "pw-never-logged") {
		t.Fatalf("sync against a dead primary: %v", err)
	}
	reqs := hook.Wait(t, 1, 20*time.Second)
	var body notify.WebhookBody
	if err := json.Unmarshal(reqs[0].Body, &body); err != nil {
		t.Fatal(err)
	}
	var fe notify.FailureEvent
	if err := json.Unmarshal(body.Data, &fe); err != nil {
		t.Fatal(err)
	}
	if reqs[0].VerifyErr != nil || body.Event != notify.EventFailure || fe.Component != "sync" || fe.Node != "fax-b" ||
		!strings.Contains(fe.Message, "fax-a") || strings.Contains(string(reqs[0].Body), "pw-never-logged") {
		t.Fatalf("failure notice: %s (signature: %v)", reqs[0].Body, reqs[0].VerifyErr)
	}
	if _, last, lastErr := s.Status(); last.IsZero() || lastErr == "" {
		t.Errorf("status after a failure: last %v, error %q", last, lastErr)
	}

	// A working primary: the completion notice follows.
	good, err := NewSyncer("fax-b", "fax-a", SyncConfig{PrimaryDSN: pgtest.NewDSN(t), StartTime: "00:00", Every: Every(time.Hour)}, stby, AdminNotices{N: n}, quiet)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := good.SyncNow(ctx); err != nil {
		t.Fatal(err)
	}
	reqs = hook.Wait(t, 2, 20*time.Second)
	if err := json.Unmarshal(reqs[1].Body, &body); err != nil || body.Event != notify.EventSyncCompleted {
		t.Fatalf("completion notice: %s %v", reqs[1].Body, err)
	}
}

func TestSchedule(t *testing.T) {
	start, err := ParseStartTime("02:30")
	if err != nil {
		t.Fatal(err)
	}
	day := Schedule{Start: start, Every: 24 * time.Hour}
	at := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	if got, want := day.Next(at), time.Date(2025, 3, 2, 2, 30, 0, 0, time.UTC); !got.Equal(want) {
		t.Errorf("daily at 02:30 after %v: %v, want %v", at, got, want)
	}
	every15, _ := ParseEvery("15m")
	q := Schedule{Start: start, Every: every15.D()}
	if got, want := q.Next(at), time.Date(2025, 3, 1, 12, 15, 0, 0, time.UTC); !got.Equal(want) {
		t.Errorf("every 15m: %v, want %v (strictly after)", got, want)
	}
	if got, want := q.Next(at.Add(time.Minute)), time.Date(2025, 3, 1, 12, 15, 0, 0, time.UTC); !got.Equal(want) {
		t.Errorf("every 15m from 12:01: %v, want %v", got, want)
	}
	future := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	fs, err := ParseStartTime("2030-01-01T01:00:00+01:00")
	if err != nil || !fs.Equal(future) {
		t.Fatalf("RFC 3339 start %v %v", fs, err)
	}
	if got := (Schedule{Start: fs, Every: time.Hour}).Next(at); !got.Equal(future) {
		t.Errorf("start in the future: %v", got)
	}
	for in, want := range map[string]time.Duration{"15m": 15 * time.Minute, "6h": 6 * time.Hour, "2d": 48 * time.Hour} {
		if got, err := ParseEvery(in); err != nil || got.D() != want {
			t.Errorf("ParseEvery(%q) = %v, %v", in, got, err)
		}
	}
	if Every(48*time.Hour).String() != "2d" {
		t.Errorf("String %q", Every(48*time.Hour).String())
	}
	for _, bad := range []string{"", "x", "1w", "-1d"} {
		if _, err := ParseEvery(bad); err == nil {
			t.Errorf("ParseEvery(%q) accepted", bad)
		}
	}
	for _, bad := range []string{"", "25:00", "noon"} {
		if _, err := ParseStartTime(bad); err == nil {
			t.Errorf("ParseStartTime(%q) accepted", bad)
		}
	}
}

func TestStandbyConfigValidate(t *testing.T) {
	c := DefaultStandbyConfig()
	if errs := c.Validate("b"); len(errs) != 0 {
		t.Fatal(errs)
	}
	c = StandbyConfig{PrimaryID: "b", PrimaryURL: "ftp://x", OnFailure: "panic", Sync: SyncConfig{StartTime: "x"}}
	errs := c.Validate("b")
	var all []string
	for _, e := range errs {
		all = append(all, e.Error())
	}
	joined := strings.Join(all, "\n")
	for _, key := range []string{"primary_id", "primary_url", "heartbeat_interval", "consecutive_failures", "recheck_interval",
		"probe_timeout", "on_failure", "sync.start_time", "sync.every"} {
		if !strings.Contains(joined, "standby."+key+":") {
			t.Errorf("no problem named standby.%s in:\n%s", key, joined)
		}
	}
}
