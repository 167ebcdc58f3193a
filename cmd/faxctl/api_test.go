package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/faxd/faxd/archive"
	"github.com/faxd/faxd/internal/api"
	"github.com/faxd/faxd/internal/api/tokens"
	"github.com/faxd/faxd/internal/inbound"
	"github.com/faxd/faxd/internal/notify"
	"github.com/faxd/faxd/internal/pgtest"
	"github.com/faxd/faxd/queue"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

type fixture struct {
	url, admin, sub string
	archive         *archive.Store
	notify          *notify.Notifier
}

func newFixture(t *testing.T) fixture {
	t.Helper()
	pool := pgtest.NewDB(t)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	q, err := queue.New(pool, queue.Config{Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	// One database holds the queue and the archive, as by default.
	arch := archive.NewStore(pool)
	ncfg := notify.DefaultConfig()
	ncfg.PollInterval = 20 * time.Millisecond
	n, err := notify.New(pool, ncfg, notify.Options{Secrets: testSecrets, NodeID: "faxctl-test", Documents: inbound.Archived{Store: arch}, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	router := inbound.NewRouter(pool, n, inbound.Archived{Store: arch}, inbound.Config{}, log)
	a, err := api.New(api.Config{}, api.Deps{Pool: pool, Queue: q, Archive: arch, Inbound: router, Secrets: testSecrets, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(a.Handler())
	t.Cleanup(srv.Close)
	ts := tokens.New(pool)
	admin, _, err := ts.Create(context.Background(), "ops", tokens.Admin)
	if err != nil {
		t.Fatal(err)
	}
	sub, _, err := ts.Create(context.Background(), "billing", tokens.Submitter)
	if err != nil {
		t.Fatal(err)
	}
	return fixture{url: srv.URL, admin: admin, sub: sub, archive: arch, notify: n}
}

// faxctl runs the command with a fresh environment and no config file.
func faxctl(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	t.Setenv("FAXD_SERVER", "")
	t.Setenv("FAXD_SERVERS", "")
	t.Setenv("FAXD_DR_SERVERS", "")
	t.Setenv("FAXD_TOKEN", "")
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	var out, errb bytes.Buffer
	rc := run(args, &out, &errb)
	return rc, out.String(), errb.String()
}

// deadURL is an address where nothing listens.
func deadURL(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return "http://" + addr
}

func TestSendStatusListCancelDownload(t *testing.T) {
	f := newFixture(t)
	dir := t.TempDir()
	doc := filepath.Join(dir, "letter.txt")
	if err := os.WriteFile(doc, []byte("Dear customer,\nplease pay.\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// The production server is down: failover goes on to the DR server.
	common := []string{"-server", deadURL(t), "-dr", f.url, "-token", f.sub}
	rc, out, errs := faxctl(t, append(common, "send", doc, "-to", "+49 30 123456", "-header", "ACME", "-meta", "invoice=7", "-key", "k1")...)
	if rc != 0 || !strings.Contains(out, "fax 1 queued: 1 page(s) to +4930123456, pending") {
		t.Fatalf("send: rc=%d out=%q err=%q", rc, out, errs)
	}
	rc, out, _ = faxctl(t, append(common, "send", doc, "-to", "+49 30 123456", "-header", "ACME", "-meta", "invoice=7", "-key", "k1")...)
	if rc != 0 || !strings.Contains(out, "fax 1 already submitted") {
		t.Fatalf("resend: rc=%d out=%q", rc, out)
	}
	rc, out, _ = faxctl(t, append(common, "status", "1")...)
	if rc != 0 || !strings.Contains(out, "State:") || !strings.Contains(out, "pending") || !strings.Contains(out, "0 of 1 confirmed") || !strings.Contains(out, "-> pending") {
		t.Fatalf("status: rc=%d out=%q", rc, out)
	}
	rc, out, _ = faxctl(t, append(common, "-json", "list", "-state", "pending")...)
	var l api.FaxList
	if err := json.Unmarshal([]byte(out), &l); rc != 0 || err != nil || len(l.Faxes) != 1 || l.Faxes[0].Metadata["invoice"] != "7" {
		t.Fatalf("list --json: rc=%d %v %q", rc, err, out)
	}
	rc, out, _ = faxctl(t, append(common, "list")...)
	if rc != 0 || !strings.Contains(out, "ID") || !strings.Contains(out, "+4930123456") {
		t.Fatalf("list: rc=%d %q", rc, out)
	}
	pdf := filepath.Join(dir, "out.pdf")
	rc, _, errs = faxctl(t, append(common, "download", "1", "-o", pdf)...)
	if b, err := os.ReadFile(pdf); rc != 0 || err != nil || !bytes.HasPrefix(b, []byte("%PDF-")) {
		t.Fatalf("download pdf: rc=%d %v %q", rc, err, errs)
	}
	rc, out, _ = faxctl(t, append(common, "download", "-format", "original", "1", "-o", "-")...)
	if rc != 0 || out != "Dear customer,\nplease pay.\n" {
		t.Fatalf("download original: rc=%d %q", rc, out)
	}
	rc, _, errs = faxctl(t, append(common, "report", "1", "-o", "-")...)
	if rc != 1 || !strings.Contains(errs, "409") {
		t.Fatalf("report of a pending fax: rc=%d %q", rc, errs)
	}
	rc, out, _ = faxctl(t, append(common, "cancel", "1")...)
	if rc != 0 || !strings.Contains(out, "fax 1 cancelled") {
		t.Fatalf("cancel: rc=%d %q", rc, out)
	}
	rc, out, errs = faxctl(t, append(common, "report", "1", "-o", "-")...)
	if rc != 0 || !strings.HasPrefix(out, "%PDF-") || !strings.Contains(out, "Fax transmission report") {
		t.Fatalf("report: rc=%d %q %q", rc, out[:min(len(out), 40)], errs)
	}
	// A refused request prints the server's explanation and exits 1.
	rc, _, errs = faxctl(t, append(common, "cancel", "1")...)
	if rc != 1 || !strings.Contains(errs, "already cancelled") || !strings.Contains(errs, "HTTP 409") {
		t.Fatalf("second cancel: rc=%d %q", rc, errs)
	}
	rc, _, errs = faxctl(t, append(common, "send", doc, "-to", "CALL-ME")...)
	if rc != 1 || !strings.Contains(errs, "is not a fax number") {
		t.Fatalf("bad number: rc=%d %q", rc, errs)
	}
	rc, _, errs = faxctl(t, "-server", f.url, "status", "1")
	if rc != 1 || !strings.Contains(errs, "HTTP 401") || !strings.Contains(errs, "no token given") {
		t.Fatalf("no token: rc=%d %q", rc, errs)
	}
	rc, _, _ = faxctl(t, append(common, "send", doc)...)
	if rc != 2 {
		t.Fatalf("send without -to: rc=%d", rc)
	}
}

func TestTokenCommandsAndConfigSources(t *testing.T) {
	f := newFixture(t)
	// Server and token from a config file.
	cfg := filepath.Join(t.TempDir(), "faxctl.yaml")
	os.WriteFile(cfg, []byte("servers: ["+deadURL(t)+"]\ndr_servers: ["+f.url+"]\ntoken: "+f.admin+"\nattempts: 1\ncycles: 1\n"), 0o600)
	rc, out, errs := faxctl(t, "-config", cfg, "token", "create", "-name", "crm", "-role", "submitter")
	secret := strings.TrimSpace(out)
	if rc != 0 || !strings.HasPrefix(secret, tokens.Prefix) || !strings.Contains(errs, "shown only once") {
		t.Fatalf("token create: rc=%d %q %q", rc, out, errs)
	}
	rc, out, _ = faxctl(t, "-config", cfg, "token", "list")
	if rc != 0 || !strings.Contains(out, "crm") || strings.Contains(out, secret) {
		t.Fatalf("token list: rc=%d %q", rc, out)
	}
	// Server and token from the environment.
	t.Run("env", func(t *testing.T) {
		var o, e bytes.Buffer
		t.Setenv("XDG_CONFIG_HOME", t.TempDir())
		t.Setenv("FAXD_SERVERS", f.url)
		t.Setenv("FAXD_TOKEN", secret)
		if rc := run([]string{"-json", "list"}, &o, &e); rc != 0 || !strings.Contains(o.String(), `"faxes"`) {
			t.Fatalf("env: rc=%d %q %q", rc, o.String(), e.String())
		}
		// A submitter token cannot manage tokens.
		o.Reset()
		e.Reset()
		if rc := run([]string{"token", "list"}, &o, &e); rc != 1 || !strings.Contains(e.String(), "needs an admin token") {
			t.Fatalf("submitter token list: rc=%d %q", rc, e.String())
		}
	})
	rc, out, _ = faxctl(t, "-config", cfg, "token", "revoke", "3")
	if rc != 0 || !strings.Contains(out, "token 3 revoked") {
		t.Fatalf("revoke: rc=%d %q", rc, out)
	}
	rc, _, errs = faxctl(t, "-server", f.url, "-token", secret, "list")
	if rc != 1 || !strings.Contains(errs, "revoked") {
		t.Fatalf("revoked token: rc=%d %q", rc, errs)
	}
	rc, _, errs = faxctl(t, "-config", filepath.Join(t.TempDir(), "missing.yaml"), "list")
	if rc != 2 || !strings.Contains(errs, "config") {
		t.Fatalf("missing explicit config: rc=%d %q", rc, errs)
	}
	// Every server down: a clear error, not a hang.
	rc, _, errs = faxctl(t, "-server", deadURL(t), "-attempts", "1", "-cycles", "1", "-token", f.admin, "list")
	if rc != 1 || errs == "" {
		t.Fatalf("all down: rc=%d %q", rc, errs)
	}
}

// gateways, routes and rules: create, list, show, update (flags not given
// keep their value), delete, against the real API; refusals exit 1 with
// the server's sentence.
func TestAdminCRUDCommands(t *testing.T) {
	f := newFixture(t)
	adm := []string{"-server", f.url, "-token", f.admin}
	do := func(want int, args ...string) string {
		t.Helper()
		rc, out, errs := faxctl(t, append(adm, args...)...)
		if rc != want {
			t.Fatalf("%v: rc=%d, want %d; out=%q err=%q", args, rc, want, out, errs)
		}
		return out + errs
	}
	out := do(0, "gateways", "create", "gw1", "-address", "192.0.2.10:5060", "-max-channels", "4", "-username", "u", "-password", "pw")
	if !strings.Contains(out, "gw1") || !strings.Contains(out, "192.0.2.10:5060") || !strings.Contains(out, "set") {
		t.Fatalf("gateway create: %q", out)
	}
	do(1, "gateways", "create", "gw1", "-address", "192.0.2.11")
	out = do(0, "gateways", "update", "gw1", "-max-channels", "8")
	if !strings.Contains(out, "192.0.2.10:5060") || !strings.Contains(out, "  8  ") || !strings.Contains(out, "set") {
		t.Fatalf("gateway update kept address and password: %q", out)
	}
	if out = do(0, "gateways", "show", "gw1"); !strings.Contains(out, "192.0.2.10:5060") || !strings.Contains(out, "ADDRESS") {
		t.Fatalf("gateway show: %q", out)
	}
	// The media profile: set with -profile, merged key by key on update,
	// kept by an update that does not mention it, refused when wrong.
	do(0, "gateways", "update", "gw1", "-profile", `{"ecm":false,"max_bit_rate":9600}`)
	do(0, "gateways", "update", "gw1", "-profile", `{"t38_version":3}`)
	out = do(0, "gateways", "update", "gw1", "-max-channels", "8")
	if !strings.Contains(out, `profile: {"t38_version":3,"ecm":false,"max_bit_rate":9600}`) {
		t.Fatalf("profile after two merges and an update without it: %q", out)
	}
	if out = do(1, "gateways", "update", "gw1", "-profile", `{"max_bit_rate":5000}`); !strings.Contains(out, "profile.max_bit_rate 5000") {
		t.Fatalf("bad profile: %q", out)
	}
	if out = do(2, "gateways", "update", "gw1", "-profile", `{"bogus":1}`); !strings.Contains(out, "bogus") {
		t.Fatalf("unknown profile key: %q", out)
	}
	var gws struct{ Gateways []map[string]any }
	if err := json.Unmarshal([]byte(do(0, "gateways", "list", "--json")), &gws); err != nil || len(gws.Gateways) != 1 || gws.Gateways[0]["max_channels"] != 8.0 {
		t.Fatalf("gateways list --json: %v %+v", err, gws)
	}
	out = do(0, "routes", "create", "-prefix", "+49", "-gateway", "gw1", "-cost", "0.5")
	if !strings.Contains(out, "+49") || !strings.Contains(out, "0.5") {
		t.Fatalf("route create: %q", out)
	}
	out = do(0, "routes", "update", "1", "-weight", "3")
	if !strings.Contains(out, "+49") || !strings.Contains(out, "gw1") || !strings.Contains(out, "  3  ") {
		t.Fatalf("route update: %q", out)
	}
	if out = do(0, "routes", "list"); !strings.Contains(out, "PREFIX") || !strings.Contains(out, "gw1") {
		t.Fatalf("routes list: %q", out)
	}
	if out = do(0, "routes", "show", "1", "-json"); !strings.Contains(out, `"weight": 3`) {
		t.Fatalf("routes show -json: %q", out)
	}
	// A gateway a route uses cannot be deleted.
	if out = do(1, "gateways", "delete", "gw1"); !strings.Contains(out, "HTTP 409") {
		t.Fatalf("delete used gateway: %q", out)
	}
	do(0, "routes", "delete", "1")
	do(1, "routes", "show", "1")
	do(0, "gateways", "delete", "gw1")
	if out = do(1, "gateways", "show", "gw1"); !strings.Contains(out, "HTTP 404") {
		t.Fatalf("deleted gateway: %q", out)
	}

	out = do(0, "rules", "create", "-number", "prefix:+4930", "-mailbox", "accounts", "-description", "Berlin")
	if !strings.Contains(out, "prefix:+4930") || !strings.Contains(out, "mailbox:accounts") || !strings.Contains(out, "any") {
		t.Fatalf("rule create: %q", out)
	}
	out = do(0, "rules", "update", "1", "-caller", "+15557777", "-priority", "5")
	if !strings.Contains(out, "exact:+15557777") || !strings.Contains(out, "mailbox:accounts") || !strings.Contains(out, "Berlin") || !strings.Contains(out, "  5  ") {
		t.Fatalf("rule update: %q", out)
	}
	if out = do(0, "rules", "list", "-json"); !strings.Contains(out, `"inbound_rules"`) || !strings.Contains(out, `"priority": 5`) {
		t.Fatalf("rules list -json: %q", out)
	}
	if out = do(1, "rules", "create", "-number", "prefix:+49", "-webhook", "http://example.com/x", "-secret", "short"); !strings.Contains(out, "HTTP 400") {
		t.Fatalf("short secret: %q", out)
	}
	do(0, "rules", "show", "1")
	do(0, "rules", "delete", "1")
	do(1, "rules", "delete", "1")

	// A submitter token is refused with the server's sentence.
	rc, _, errs := faxctl(t, "-server", f.url, "-token", f.sub, "routes", "list")
	if rc != 1 || !strings.Contains(errs, "HTTP 403") {
		t.Fatalf("submitter routes list: rc=%d %q", rc, errs)
	}
	out = do(0, "whoami")
	if !strings.Contains(out, "ops (admin)") {
		t.Fatalf("whoami: %q", out)
	}
}

// mailboxes and archive search over a received fax rerouted into a mailbox.
func TestMailboxesAndArchiveSearch(t *testing.T) {
	f := newFixture(t)
	rec, _ := archiveReceived(t, f)
	id := itoa(rec.ID)
	adm := []string{"-server", f.url, "-token", f.admin}
	if rc, _, errs := faxctl(t, append(adm, "inbound", "reroute", id, "-mailbox", "accounts", "-reason", "misfiled")...); rc != 0 {
		t.Fatalf("reroute: %d %s", rc, errs)
	}
	rc, out, errs := faxctl(t, append(adm, "mailboxes", "list")...)
	if rc != 0 || !strings.Contains(out, "accounts") || !strings.Contains(out, "MAILBOX") {
		t.Fatalf("mailboxes list: rc=%d %q %q", rc, out, errs)
	}
	rc, out, errs = faxctl(t, append(adm, "mailboxes", "show", "accounts")...)
	if rc != 0 || !strings.Contains(out, id) || !strings.Contains(out, "+15557777") {
		t.Fatalf("mailboxes show: rc=%d %q %q", rc, out, errs)
	}
	rc, out, _ = faxctl(t, append(adm, "mailboxes", "show", "accounts", "-json")...)
	var mb struct {
		Mailbox string
		Entries []struct{ Fax struct{ ID int64 } }
	}
	if rc != 0 || json.Unmarshal([]byte(out), &mb) != nil || len(mb.Entries) != 1 || mb.Entries[0].Fax.ID != rec.ID {
		t.Fatalf("mailboxes show -json: rc=%d %q", rc, out)
	}
	rc, out, errs = faxctl(t, append(adm, "archive", "search", "-direction", "inbound", "-number", "+15557777")...)
	if rc != 0 || !strings.Contains(out, "inbound") || !strings.Contains(out, "received") || !strings.Contains(out, "+15550100") {
		t.Fatalf("archive search: rc=%d %q %q", rc, out, errs)
	}
	rc, out, _ = faxctl(t, append(adm, "archive", "search", "-direction", "outbound", "--json")...)
	if rc != 0 || !strings.Contains(out, `"faxes": []`) {
		t.Fatalf("archive search outbound: rc=%d %q", rc, out)
	}
	rc, _, errs = faxctl(t, append(adm, "archive", "search", "-direction", "sideways")...)
	if rc != 1 || !strings.Contains(errs, "direction") {
		t.Fatalf("bad direction: rc=%d %q", rc, errs)
	}
}

// wait on a cancelled fax prints the state and exits 1.
func TestWaitOnRealAPI(t *testing.T) {
	f := newFixture(t)
	doc := filepath.Join(t.TempDir(), "letter.txt")
	os.WriteFile(doc, []byte("hello\n"), 0o644)
	common := []string{"-server", f.url, "-token", f.sub}
	if rc, _, errs := faxctl(t, append(common, "send", doc, "-to", "+4930123456", "-cover-subject", "Invoice")...); rc != 0 {
		t.Fatalf("send: %d %s", rc, errs)
	}
	rc, out, _ := faxctl(t, append(common, "-json", "status", "1")...)
	var fx struct {
		PagesTotal int `json:"pages_total"`
	}
	if rc != 0 || json.Unmarshal([]byte(out), &fx) != nil || fx.PagesTotal != 2 {
		t.Fatalf("a cover page makes two pages: rc=%d %q", rc, out)
	}
	faxctl(t, append(common, "cancel", "1")...)
	rc, out, errs := faxctl(t, append(common, "wait", "1", "-timeout", "1m")...)
	if rc != 1 || !strings.Contains(out, "fax 1 cancelled") {
		t.Fatalf("wait: rc=%d %q %q", rc, out, errs)
	}
}
