package console_test

// These tests drive Debian's chromium (headless, through chromedp) against
// real faxd nodes with real PostgreSQL: the console is judged the way a
// person meets it.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/faxd/faxd/archive"
	"github.com/faxd/faxd/client"
	"github.com/faxd/faxd/internal/api/tokens"
	"github.com/faxd/faxd/internal/channel"
	"github.com/faxd/faxd/internal/config"
	"github.com/faxd/faxd/internal/pgtest"
	"github.com/faxd/faxd/internal/server"
	"github.com/faxd/faxd/internal/users"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

const testKeyLine = "test AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n"

// startNode runs a whole faxd node on dsn.
func startNode(t testing.TB, dsn string, mutate func(*config.Config)) *server.Server {
	t.Helper()
	cfg := config.Default()
	cfg.HTTP.Listen = "127.0.0.1:0"
	cfg.Database.QueueDSN = dsn
	cfg.NATS.EmbeddedDir = t.TempDir()
	cfg.NATS.EmbeddedListen = "127.0.0.1:0"
	cfg.SIP.ListenUDP = "127.0.0.1:0"
	cfg.Queue.HeartbeatInterval = config.Duration(500 * time.Millisecond)
	cfg.Queue.LeaseTTL = config.Duration(5 * time.Second)
	key := filepath.Join(t.TempDir(), "secrets.key")
	if err := os.WriteFile(key, []byte(testKeyLine), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg.Secrets.KeyFile = key
	mutate(&cfg)
	if errs := cfg.Validate(); len(errs) > 0 {
		t.Fatal(errs)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s, err := server.New(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
		s.Close(context.Background())
	})
	return s
}

// selfConfig: the node faxes itself through its own SIP listener.
func selfConfig(c *config.Config) {
	c.Node.ID = "fax-a"
	c.SIP.MediaBind = "127.0.0.1"
	c.SIP.AllowFrom = []string{"127.0.0.1/32"}
	c.Channels.Count = 1
	c.Channel.InboundCount = 1
	c.Channel.StationID = "+1 555 0100"
	c.Channel.Gateways = []channel.Gateway{{Name: "self", Address: channel.SelfAddress}}
	c.Channel.Routes = []channel.Route{{Prefix: "", Gateway: "self"}}
	c.Channel.DrainTimeout = 5 * time.Second
}

// browser starts one headless chromium for the test and returns a tab.
func browser(t testing.TB) context.Context {
	t.Helper()
	path := ""
	for _, p := range []string{"chromium", "chromium-browser"} {
		if lp, err := exec.LookPath(p); err == nil {
			path = lp
			break
		}
	}
	if path == "" {
		t.Skip("chromium is not installed (Debian package chromium)")
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck, chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.WindowSize(1280, 900),
	}
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelB := chromedp.NewContext(actx)
	t.Cleanup(func() { cancelB(); cancelA() })
	if err := chromedp.Run(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return ctx
}

// shots is where screenshots go: FAXD_CONSOLE_SCREENSHOTS or a temp dir.
func shots(t *testing.T) string {
	if d := os.Getenv("FAXD_CONSOLE_SCREENSHOTS"); d != "" {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		return d
	}
	return t.TempDir()
}

func newRun(t *testing.T) *run {
	axe, err := os.ReadFile("testdata/axe/axe.min.js")
	if err != nil {
		t.Fatal(err)
	}
	return &run{t: t, ctx: browser(t), dir: shots(t), axe: string(axe)}
}

type run struct {
	t    testing.TB
	ctx  context.Context
	dir  string
	axe  string
	seen map[string]bool
}

// do runs actions with a bound, failing the test with what was tried.
func (r *run) do(what string, d time.Duration, actions ...chromedp.Action) {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(r.ctx, d)
	defer cancel()
	if err := chromedp.Run(ctx, actions...); err != nil {
		var loc, body string
		_ = chromedp.Run(r.ctx, chromedp.Location(&loc), chromedp.Text("main", &body, chromedp.ByQuery))
		r.t.Fatalf("%s: %v (at %s: %.500s)", what, err, loc, body)
	}
}

// page checks an open page: a screenshot and no serious or critical
// accessibility violation found by axe-core.
func (r *run) page(name string) {
	r.t.Helper()
	var png []byte
	r.do("screenshot "+name, 30*time.Second, waitJS(`document.readyState === "complete"`),
		chromedp.ActionFunc(func(ctx context.Context) error {
			// Chromium sometimes reports a zero-sized page while it lays
			// out images; ask again until it has a size.
			for {
				err := chromedp.FullScreenshot(&png, 100).Do(ctx)
				if err == nil || ctx.Err() != nil {
					return err
				}
				select {
				case <-ctx.Done():
					return err
				case <-time.After(200 * time.Millisecond):
				}
			}
		}))
	if err := os.WriteFile(filepath.Join(r.dir, name+".png"), png, 0o644); err != nil {
		r.t.Fatal(err)
	}
	var out string
	r.do("axe "+name, 60*time.Second,
		chromedp.Evaluate(r.axe, nil),
		chromedp.Evaluate(`axe.run(document, {resultTypes: ["violations"]}).then(r => JSON.stringify(
			r.violations.filter(v => v.impact === "serious" || v.impact === "critical").map(v => v.id + " (" + v.impact + "): " + v.nodes.map(n => n.target.join(" ")).join(", "))))`,
			&out, func(p *runtimeEvaluate) *runtimeEvaluate { return p.WithAwaitPromise(true) }))
	var bad []string
	if err := json.Unmarshal([]byte(out), &bad); err != nil {
		r.t.Fatalf("axe on %s: %v (%s)", name, err, out)
	}
	if len(bad) > 0 {
		r.t.Errorf("accessibility violations on %s:\n  %s", name, strings.Join(bad, "\n  "))
	}
}

// testPassword is every test user's password.
const testPassword = "a long enough password"

// mkUser creates a console user on the node's users store, with grants
// to the given mailboxes.
func mkUser(t testing.TB, s *server.Server, name string, role users.Role, mailboxes ...string) {
	t.Helper()
	ctx := context.Background()
	u, err := s.Users.Create(ctx, name, testPassword, role)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range mailboxes {
		if err := s.Users.Grant(ctx, u.ID, m); err != nil {
			t.Fatal(err)
		}
	}
}

func (r *run) login(base, name string) {
	r.t.Helper()
	r.do("log in", 20*time.Second,
		chromedp.Navigate(base+"/console/"),
		waitSel("#name"),
		chromedp.SendKeys("#name", name, chromedp.ByID),
		chromedp.SendKeys("#password", testPassword, chromedp.ByID),
		chromedp.Submit("#password", chromedp.ByID),
		chromedp.ActionFunc(func(ctx context.Context) error {
			// Chromium sometimes loses the page that a form submission
			// navigated to; load the dashboard again until it shows the
			// logged-in menu.
			for {
				wctx, cancel := context.WithTimeout(ctx, 4*time.Second)
				err := waitSel(`form.logout`).Do(wctx)
				cancel()
				if err == nil || ctx.Err() != nil {
					return err
				}
				if err := chromedp.Navigate(base + "/console/").Do(ctx); err != nil && ctx.Err() != nil {
					return err
				}
			}
		}),
	)
}

func text(sel string, out *string) chromedp.Action { return chromedp.Text(sel, out, chromedp.ByQuery) }

// waitText waits until the element's text contains want.
func waitText(sel, want string) chromedp.Action {
	return waitJS(fmt.Sprintf(`(() => { const e = document.querySelector(%q); return !!e && e.textContent.includes(%q); })()`, sel, want))
}

// waitJS evaluates cond until it is true, in whatever document is current:
// an evaluation cut off by a navigation is simply tried again. The caller's
// context bounds the wait.
func waitJS(cond string) chromedp.Action {
	return chromedp.ActionFunc(func(ctx context.Context) error {
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			var ok bool
			// One evaluation may hang on a document that is going away.
			ectx, cancel := context.WithTimeout(ctx, 2*time.Second)
			err := chromedp.Evaluate(cond, &ok).Do(ectx)
			cancel()
			if err == nil && ok {
				return nil
			}
			select {
			case <-ctx.Done():
				if err != nil {
					return fmt.Errorf("%w (last: %v)", ctx.Err(), err)
				}
				return ctx.Err()
			case <-tick.C:
			}
		}
	})
}

type runtimeEvaluate = runtime.EvaluateParams

// One run through the console, in the order a day goes: an administrator
// logs in, watches the dashboard update live, sends a fax to the self
// gateway and follows it to sent, opens the received fax and a page of it,
// reroutes it and finds the audit entry, and meets a form error beside its
// field.
func TestConsoleInBrowser(t *testing.T) {
	t.Parallel()
	dsn := pgtest.NewDSN(t)
	a := startNode(t, dsn, selfConfig)
	mkUser(t, a, "ops", users.Admin)
	r := newRun(t)
	base := "http://" + a.HTTPAddr()

	// Anyone not logged in gets the login page; a wrong password is
	// refused.
	var msg string
	r.do("bad login", 20*time.Second,
		chromedp.Navigate(base+"/console/outbound"),
		waitSel("#name"),
		chromedp.SendKeys("#name", "ops", chromedp.ByID),
		chromedp.SendKeys("#password", "not the password", chromedp.ByID),
		chromedp.Submit("#password", chromedp.ByID),
		waitSel("#login-error"),
		text("#login-error", &msg))
	if !strings.Contains(msg, "Wrong name or password") {
		t.Errorf("login error %q", msg)
	}
	r.page("login")

	r.login(base, "ops")
	// The dashboard's live region is replaced by server-sent events.
	r.do("dashboard live update", 30*time.Second,
		waitSel("#live"),
		waitJS(`Number(document.getElementById("live").dataset.updates || 0) >= 2`),
		waitText("#nodes-h", "Nodes"), waitText("main", "fax-a"), waitText("#queue-h", "Queue"))
	r.page("dashboard")

	// Send a fax from the browser; its page follows it to sent.
	doc, _ := filepath.Abs("../../testdata/documents/letter.txt")
	r.do("send form", 20*time.Second,
		chromedp.Navigate(base+"/console/send"),
		waitSel("#document"))
	r.page("send")
	r.do("send", 20*time.Second,
		chromedp.SetUploadFiles("#document", []string{doc}, chromedp.ByID),
		chromedp.SendKeys("#to", "+15550199", chromedp.ByID),
		chromedp.SendKeys("#header", "console test", chromedp.ByID),
		chromedp.Submit("#to", chromedp.ByID),
		waitSel("#fax-state"))
	var faxURL string
	r.do("fax page", 20*time.Second, chromedp.Location(&faxURL))
	// While it is sent, the dashboard's live calls show it with its
	// gateway, then its bit rate once a page is through.
	r.do("dashboard shows the call", 150*time.Second,
		chromedp.Navigate(base+"/console/"),
		waitSel("#live"),
		waitText("#calls .call-gateway", "self"))
	r.page("dashboard-call")
	r.do("fax sent", 150*time.Second, chromedp.Navigate(faxURL), waitText("#fax-state", "sent"))
	r.do("thumbnails of the pages as sent", 30*time.Second,
		chromedp.Navigate(faxURL),
		waitSel("#fax-pages img"),
		waitJS(`[...document.querySelectorAll("#fax-pages img")].every(i => i.complete && i.naturalWidth > 0)`))
	r.page("fax")
	// Resend: the button makes a new fax and opens it.
	var resentURL string
	r.do("resend", 30*time.Second,
		waitSel("#resend"),
		chromedp.Click("#resend", chromedp.ByID),
		waitText(".notice", "resent as this new fax"),
		chromedp.Location(&resentURL))
	if resentURL == faxURL || !strings.Contains(resentURL, "/console/outbound/") {
		t.Errorf("resend opened %q (the old fax is %q)", resentURL, faxURL)
	}
	r.do("outbound list", 20*time.Second,
		chromedp.Navigate(base+"/console/outbound?state=sent"),
		waitSel(`#faxes a[href^="/console/outbound/"]`))
	r.page("outbound")

	// The received fax: list, detail with thumbnails, one page, reroute.
	r.do("received list", 60*time.Second,
		chromedp.ActionFunc(func(ctx context.Context) error {
			// The received fax reaches the archive a little after the
			// sender's "sent": load the list until it is there.
			for {
				var ok bool
				if err := chromedp.Run(ctx, chromedp.Navigate(base+"/console/received"),
					chromedp.Evaluate(`!!document.querySelector("#received a")`, &ok)); err != nil || ok {
					return err
				}
				select {
				case <-ctx.Done():
					return ctx.Err()
				case <-time.After(time.Second):
				}
			}
		}))
	r.page("received")
	var recvURL string
	r.do("received fax", 20*time.Second,
		chromedp.Click(`#received a[href^="/console/received/"]`, chromedp.ByQuery),
		waitSel(`.pages img`),
		chromedp.Location(&recvURL))
	r.page("received-fax")
	r.do("page viewer", 20*time.Second,
		chromedp.Click(`.pages a`, chromedp.ByQuery),
		waitSel("#page-image"),
		waitJS(`document.getElementById("page-image").complete && document.getElementById("page-image").naturalWidth > 0`))
	r.page("page")
	r.do("reroute", 20*time.Second,
		chromedp.Navigate(recvURL),
		waitSel("#mailbox"),
		chromedp.SetValue("#kind", "mailbox", chromedp.ByID),
		chromedp.SendKeys("#mailbox", "billing", chromedp.ByID),
		chromedp.SendKeys("#reason", "invoice for billing", chromedp.ByID),
		chromedp.Submit("#mailbox", chromedp.ByID),
		waitText(".notice", "Rerouted"),
		waitText("#reroutes", "billing"),
		waitText("#reroutes", "invoice for billing"))
	recvID := recvURL[strings.LastIndex(recvURL, "/")+1:]
	r.do("audit entry", 20*time.Second,
		chromedp.Navigate(base+"/console/audit?object_type=received_fax&object_id="+recvID),
		waitText("#audit", "reroute"), waitText("#audit", "ops"), waitText("#audit", "invoice for billing"))
	r.page("audit")
	r.do("archive", 20*time.Second,
		chromedp.Navigate(base+"/console/archive"),
		waitText("#archive", "received"), waitText("#archive", "sent"))
	r.page("archive")

	// A form error is shown beside its field.
	r.do("gateway form error", 20*time.Second,
		chromedp.Navigate(base+"/console/config/gateways"),
		waitSel("#name"),
		chromedp.SendKeys("#name", "bad name!", chromedp.ByID),
		chromedp.SendKeys("#address", "sip:x", chromedp.ByID),
		chromedp.Submit("#name", chromedp.ByID),
		waitSel("#name-err"),
		waitText("#name-err", "bad name!"),
		waitText("#address-err", "port"),
		waitJS(`document.getElementById("name").getAttribute("aria-describedby") === "name-err"`))
	r.page("gateways")

}

// waitSel waits until the selector matches in the current document; it is
// re-evaluated after each navigation, unlike a node query.
func waitSel(sel string) chromedp.Action {
	return waitJS(fmt.Sprintf(`!!document.querySelector(%q)`, sel))
}

func networkDisableCache(ctx context.Context) error {
	if err := network.Enable().Do(ctx); err != nil {
		return err
	}
	return network.SetCacheDisabled(true).Do(ctx)
}

// An administrator promotes and demotes a standby from the cluster page,
// each through a confirmation page; a user is shown the 403 page for an
// admin page and a received fax, and cannot open the administrator's fax.
func TestConsoleClusterAndRoles(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dsn := pgtest.NewDSN(t)
	a := startNode(t, dsn, func(c *config.Config) {
		c.Node.ID = "fax-a"
		c.Channels.Count = 0 // its faxes stay queued
	})
	b := startNode(t, dsn, func(c *config.Config) {
		c.Node.ID, c.Node.Role = "fax-b", "standby"
		c.Channels.Count = 0
		c.Standby.PrimaryID = "fax-a"
		c.Standby.Automatic = false // only the buttons promote it
		c.Standby.HeartbeatInterval = 200 * time.Millisecond
		c.Standby.RecheckInterval = 200 * time.Millisecond
	})
	// Users, sessions and tokens are shared by the nodes of one database.
	mkUser(t, a, "ops", users.Admin)
	mkUser(t, a, "alice", users.RoleUser, "billing")
	admin, _, err := tokens.New(a.DB.Queue).Create(ctx, "ops-api", tokens.Admin)
	if err != nil {
		t.Fatal(err)
	}
	base, standby := "http://"+a.HTTPAddr(), "http://"+b.HTTPAddr()
	cl, err := client.New(client.Options{Servers: []string{base}, Token: admin})
	if err != nil {
		t.Fatal(err)
	}
	fax, _, err := cl.SubmitFax(ctx, client.FaxRequest{To: "+15550199"}, []client.Document{{Name: "a.txt", Body: strings.NewReader("hello")}}, "")
	if err != nil {
		t.Fatal(err)
	}
	faxURL := fmt.Sprintf("%s/console/outbound/%d", base, fax.ID)
	later := time.Now().Add(6 * time.Hour)
	scheduled, _, err := cl.SubmitFax(ctx, client.FaxRequest{To: "+15550198", SendAfter: &later},
		[]client.Document{{Name: "b.txt", Body: strings.NewReader("later")}}, "")
	if err != nil {
		t.Fatal(err)
	}
	// Two received faxes: one filed in alice's mailbox, one in another.
	recvURL := map[string]string{}
	for _, mb := range []string{"billing", "sales"} {
		key := "console-test/" + mb
		if _, err := archive.NewStore(a.DB.Archive).Upsert(ctx, archive.Record{Key: key, Source: "console-test", Version: 1,
			Direction: archive.Inbound, Result: "received", RemoteNumber: "+15550100", FinishedAt: time.Now(),
			Routing: "routed", RoutedTo: mb}); err != nil {
			t.Fatal(err)
		}
		var id int64
		if err := a.DB.Archive.QueryRow(ctx, `SELECT id FROM faxes WHERE record_key = $1`, key).Scan(&id); err != nil {
			t.Fatal(err)
		}
		if _, err := a.DB.Queue.Exec(ctx, `INSERT INTO mailbox_entries (mailbox, fax_ref) VALUES ($1, $2)`, mb, key); err != nil {
			t.Fatal(err)
		}
		recvURL[mb] = fmt.Sprintf("%s/console/received/%d", base, id)
	}
	r := newRun(t)

	// The standby's controls, each behind a confirmation page.
	r.login(standby, "ops")
	r.do("cluster page", 20*time.Second,
		chromedp.Navigate(standby+"/console/cluster"),
		waitText("#standby-state", "disabled")) // automatic failover is off
	r.page("cluster")
	r.do("promote", 30*time.Second,
		chromedp.Click(`a[href="/console/cluster/promote"]`, chromedp.ByQuery),
		waitText("#what", "becomes the primary"))
	r.page("confirm")
	r.do("promoted", 30*time.Second,
		chromedp.Click("#confirm", chromedp.ByID),
		waitText(".notice", "promote"),
		waitText("#standby-state", "promoted"))
	r.do("demote", 30*time.Second,
		chromedp.Click(`a[href="/console/cluster/demote"]`, chromedp.ByQuery),
		waitSel("#confirm"),
		chromedp.Click("#confirm", chromedp.ByID),
		waitText(".notice", "demote"),
		waitJS(`(() => { const e = document.getElementById("standby-state"); return !!e && ["watching", "disabled"].includes(e.textContent.trim()); })()`))

	// A fax scheduled for later is made due now from its page.
	// The live region's events do not replace an unchanged region: the
	// button marked before the first event is still the one on the page.
	r.do("live region kept", 30*time.Second,
		chromedp.Navigate(fmt.Sprintf("%s/console/outbound/%d", base, scheduled.ID)),
		waitSel("#retry-now"),
		chromedp.Evaluate(`document.getElementById("retry-now").faxdMark = "kept"`, nil),
		waitJS(`Number(document.getElementById("live").getAttribute("data-events") || 0) >= 1`))
	var mark string
	r.do("read mark", 10*time.Second, chromedp.Evaluate(`document.getElementById("retry-now").faxdMark || ""`, &mark))
	if mark != "kept" {
		t.Errorf("the fax page's first live event replaced the unchanged region (mark %q)", mark)
	}
	r.do("retry now", 30*time.Second,
		waitSel("#retry-now"),
		chromedp.Click("#retry-now", chromedp.ByID),
		waitText(".notice", "due now"),
		waitJS(`!document.getElementById("retry-now")`))
	if f, err := cl.GetFax(ctx, scheduled.ID); err != nil {
		t.Error(err)
	} else if f.NextAttemptAt == nil || f.NextAttemptAt.After(time.Now()) {
		t.Errorf("after retry now the fax is due at %v", f.NextAttemptAt)
	}

	// A user: no admin page, not the administrator's fax, no received fax.
	r.do("log out", 20*time.Second,
		chromedp.Navigate(standby+"/console/"),
		chromedp.Click(`form.logout button`, chromedp.ByQuery),
		waitSel("#name"))
	r.login(base, "alice")
	var title string
	r.do("admin page refused", 20*time.Second,
		chromedp.Navigate(base+"/console/config/gateways"),
		waitSel("h1"), text("h1", &title))
	if title != "Forbidden" {
		t.Errorf("a user opening the gateways page sees %q", title)
	}
	r.page("forbidden")
	// Her unread fax comes first in the received list; the other
	// mailbox's is not listed.
	r.do("unread first", 20*time.Second,
		chromedp.Navigate(base+"/console/received"),
		waitSel("#unread"),
		waitText("#unread", "billing"))
	var listed string
	r.do("received list", 10*time.Second, text("main", &listed))
	if strings.Contains(listed, "sales") {
		t.Errorf("a user's received list shows another mailbox's fax: %q", listed)
	}
	r.page("received-unread")
	// A received fax in a mailbox granted to her opens; one in another
	// mailbox is not even confirmed to exist.
	r.do("granted received fax", 20*time.Second,
		chromedp.Navigate(recvURL["billing"]),
		waitSel("h1"), text("h1", &title))
	if !strings.HasPrefix(title, "Received fax") {
		t.Errorf("a user opening a fax of her mailbox sees %q", title)
	}
	r.do("received fax refused", 20*time.Second,
		chromedp.Navigate(recvURL["sales"]),
		waitSel("h1"), text("h1", &title))
	if title != "Not Found" {
		t.Errorf("a user opening a received fax of another mailbox sees %q", title)
	}
	// The API does not even confirm that another person's fax exists.
	r.do("other's fax", 20*time.Second,
		chromedp.Navigate(faxURL),
		waitSel("h1"), text("h1", &title))
	if title != "Not Found" {
		t.Errorf("a user opening the administrator's fax sees %q", title)
	}
	var nav string
	r.do("user nav", 10*time.Second, text("header nav", &nav))
	if strings.Contains(nav, "Configuration") || strings.Contains(nav, "Cluster") {
		t.Errorf("a user's menu offers admin pages: %q", nav)
	}
}
