package console_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/faxd/faxd/internal/pgtest"
	"github.com/faxd/faxd/internal/users"
)

// An administrator keeps the configuration in the browser: a gateway, a
// route, an inbound rule matching the sender's station id, a user with a
// mailbox grant and a token; each form refuses a bad value beside its
// field, and each entry is edited and deleted. An operator and a user get
// the 403 page for every configuration page.
func TestConsoleConfiguration(t *testing.T) {
	t.Parallel()
	dsn := pgtest.NewDSN(t)
	a := startNode(t, dsn, selfConfig)
	mkUser(t, a, "ops", users.Admin)
	mkUser(t, a, "olga", users.Operator)
	mkUser(t, a, "alice", users.RoleUser)
	r := newRun(t)
	base := "http://" + a.HTTPAddr()
	r.login(base, "ops")

	// Gateways: the one of the configuration file shows its live health;
	// a stored one is added, edited and (at the end) deleted.
	r.do("gateways", 20*time.Second,
		chromedp.Navigate(base+"/console/config/gateways"),
		waitText("#file-gateways", "self"),
		waitSel(`nav.subnav a[aria-current="page"][href="/console/config/gateways"]`),
		chromedp.SendKeys("#name", "carrier1", chromedp.ByID),
		chromedp.SendKeys("#address", "127.0.0.1:5099", chromedp.ByID),
		chromedp.Submit("#name", chromedp.ByID),
		waitText(".notice", "carrier1 created"),
		waitText("#gateways", "127.0.0.1:5099"))
	r.page("config-gateways")
	r.do("gateway edit error", 20*time.Second,
		chromedp.Click(`#gateways a[href="/console/config/gateways/carrier1"]`, chromedp.ByQuery),
		waitSel("#address"),
		chromedp.SetValue("#sites", "lon, bad site!", chromedp.ByID),
		chromedp.Submit("#address", chromedp.ByID),
		waitText("#sites-err", "site!"),
		waitJS(`document.getElementById("sites").getAttribute("aria-invalid") === "true"`))
	r.page("config-gateway-edit")
	r.do("gateway edit", 20*time.Second,
		chromedp.SetValue("#sites", "lon, par", chromedp.ByID),
		chromedp.SetValue("#max_channels", "4", chromedp.ByID),
		chromedp.SetValue("#media", "auto", chromedp.ByID),
		chromedp.Submit("#address", chromedp.ByID),
		waitText(".notice", "carrier1 saved"),
		waitText("#gateways", "4"))
	// The media choice is stored: the form shows it when opened again.
	var media string
	r.do("gateway media kept", 20*time.Second,
		chromedp.Click(`#gateways a[href="/console/config/gateways/carrier1"]`, chromedp.ByQuery),
		waitSel("#media"),
		chromedp.Value("#media", &media, chromedp.ByID),
		chromedp.Navigate(base+"/console/config/gateways"),
		waitSel("#gateways"))
	if media != "auto" {
		t.Errorf("gateway media after saving auto: %q", media)
	}

	// Routes: a bad prefix is refused beside its field; the corrected
	// route is created, edited and deleted.
	r.do("route error", 20*time.Second,
		chromedp.Navigate(base+"/console/config/routes"),
		waitSel("#prefix"),
		chromedp.SendKeys("#prefix", "49x", chromedp.ByID),
		chromedp.SendKeys("#gateway", "carrier1", chromedp.ByID),
		chromedp.SendKeys("#cost", "2", chromedp.ByID),
		chromedp.SendKeys("#windows", "mon,tue 08:00-18:00 3", chromedp.ByID),
		chromedp.Submit("#prefix", chromedp.ByID),
		waitText("#prefix-err", "49x"),
		waitJS(`document.getElementById("prefix").getAttribute("aria-describedby").includes("prefix-err")`))
	var gw string
	r.do("route form kept", 5*time.Second, chromedp.Value("#gateway", &gw, chromedp.ByID))
	if gw != "carrier1" {
		t.Errorf("after an error the route form lost the gateway: %q", gw)
	}
	r.page("config-route-error")
	r.do("route create", 20*time.Second,
		chromedp.SetValue("#prefix", "+49", chromedp.ByID),
		chromedp.SetValue("#site_costs", "lon=1.5", chromedp.ByID),
		chromedp.Submit("#prefix", chromedp.ByID),
		waitText(".notice", "created"),
		waitText("#routes", "+49"), waitText("#routes", "carrier1"), waitText("#routes", "08:00"), waitText("#routes", "lon: +1.5"))
	r.page("config-routes")
	r.do("route edit", 20*time.Second,
		chromedp.Click(`#routes a[href^="/console/config/routes/"]:not([href$="/delete"])`, chromedp.ByQuery),
		waitText("#route-form-h", "Edit route"),
		chromedp.SetValue("#prefix", "+4930", chromedp.ByID),
		chromedp.Submit("#prefix", chromedp.ByID),
		waitText(".notice", "saved"),
		waitText("#routes", "+4930"))
	r.do("route delete", 20*time.Second,
		chromedp.Click(`#routes a[href$="/delete"]`, chromedp.ByQuery),
		waitText("#what", "+4930"))
	r.page("config-confirm")
	r.do("route deleted", 20*time.Second,
		chromedp.Click("#confirm", chromedp.ByID),
		waitText(".notice", "deleted"),
		waitText("#routes", "No route"))

	// Inbound rules: a TSI match without a station id is refused beside
	// the field; the rule is created, edited and deleted.
	r.do("rule error", 20*time.Second,
		chromedp.Navigate(base+"/console/config/inbound-rules"),
		waitSel("#number-value"),
		chromedp.SetValue("#number-kind", "prefix", chromedp.ByID),
		chromedp.SendKeys("#number-value", "+1555", chromedp.ByID),
		chromedp.SetValue("#tsi-kind", "contains", chromedp.ByID),
		chromedp.SendKeys("#destination-mailbox", "billing", chromedp.ByID),
		chromedp.Submit("#number-value", chromedp.ByID),
		waitSel("#tsi-value-err"),
		waitJS(`document.getElementById("tsi-value").getAttribute("aria-invalid") === "true"`))
	r.page("config-rule-error")
	r.do("rule create", 20*time.Second,
		chromedp.SendKeys("#tsi-value", "ACME", chromedp.ByID),
		chromedp.SendKeys("#description", "ACME invoices", chromedp.ByID),
		chromedp.Submit("#number-value", chromedp.ByID),
		waitText(".notice", "created"),
		waitText("#rules", "contains ACME"), waitText("#rules", "mailbox: billing"))
	r.page("config-rules")
	r.do("rule edit", 20*time.Second,
		chromedp.Click(`#rules a[href^="/console/config/inbound-rules/"]:not([href$="/delete"])`, chromedp.ByQuery),
		waitText("#rule-form-h", "Edit inbound rule"),
		waitJS(`document.getElementById("tsi-kind").value === "contains" && document.getElementById("tsi-value").value === "ACME"`),
		chromedp.SetValue("#description", "ACME and partners", chromedp.ByID),
		chromedp.Submit("#description", chromedp.ByID),
		waitText(".notice", "saved"),
		waitText("#rules", "ACME and partners"))
	r.do("rule delete", 20*time.Second,
		chromedp.Click(`#rules a[href$="/delete"]`, chromedp.ByQuery),
		waitSel("#confirm"),
		chromedp.Click("#confirm", chromedp.ByID),
		waitText(".notice", "deleted"),
		waitText("#rules", "No inbound rule"))

	// Users: a short password is refused beside its field; the user is
	// created, changes role, is granted a mailbox, gets a token (its secret
	// shown once), which is revoked, and is disabled and deleted.
	r.do("user error", 20*time.Second,
		chromedp.Navigate(base+"/console/config/users"),
		waitSel("#user-form"),
		chromedp.SendKeys("#name", "bob", chromedp.ByID),
		chromedp.SendKeys("#password", "short", chromedp.ByID),
		chromedp.Submit("#name", chromedp.ByID),
		waitText("#password-err", "at least 12"))
	r.page("config-user-error")
	r.do("user create", 20*time.Second,
		chromedp.SendKeys("#password", testPassword, chromedp.ByID),
		chromedp.Submit("#name", chromedp.ByID),
		waitText(".notice", "bob created"),
		waitText("#users", "bob"))
	r.do("user role", 20*time.Second,
		chromedp.ActionFunc(func(ctx context.Context) error {
			return chromedp.Run(ctx, chromedp.Evaluate(`(() => {
				const row = [...document.querySelectorAll("#users tbody tr")].find(tr => tr.cells[0].textContent === "bob");
				row.querySelector("select").value = "operator";
				row.querySelector("form").requestSubmit();
				return true; })()`, nil))
		}),
		waitText(".notice", "bob: role changed to operator"))
	// The last administrator cannot demote herself: the refusal names her.
	r.do("last admin", 20*time.Second,
		chromedp.Evaluate(`(() => {
			const row = [...document.querySelectorAll("#users tbody tr")].find(tr => tr.cells[0].textContent === "ops");
			row.querySelector("select").value = "user";
			row.querySelector("form").requestSubmit();
			return true; })()`, nil),
		waitText("ul.error", "User ops:"), waitText("ul.error", "only one"))
	r.do("set password", 20*time.Second,
		chromedp.Evaluate(`(() => {
			const row = [...document.querySelectorAll("#users tbody tr")].find(tr => tr.cells[0].textContent === "bob");
			row.querySelector("details").open = true;
			row.querySelector("input[type=password]").value = "another long password";
			row.querySelector("details form").requestSubmit();
			return true; })()`, nil),
		waitText(".notice", "bob: password set"))
	r.page("config-users")
	// At phone width the page still fits: tables scroll inside their box
	// and the forms and menus wrap.
	var fits bool
	r.do("phone width", 20*time.Second,
		chromedp.EmulateViewport(390, 844),
		chromedp.Reload(),
		waitSel("#user-form"),
		chromedp.Evaluate(`document.documentElement.scrollWidth <= window.innerWidth`, &fits))
	if !fits {
		t.Error("the users page is wider than a phone's screen")
	}
	r.page("config-users-phone")
	r.do("desktop width", 10*time.Second, chromedp.EmulateViewport(1280, 900))
	r.do("grant", 20*time.Second,
		chromedp.Navigate(base+"/console/config/mailboxes"),
		waitSel("#grant-form"),
		chromedp.Submit("#mailbox", chromedp.ByID), // no user chosen: refused
		waitSel("#user-err"),
		chooseOption("#user", "bob"),
		chromedp.SendKeys("#mailbox", "billing", chromedp.ByID),
		chromedp.Submit("#mailbox", chromedp.ByID),
		waitText(".notice", "billing granted"),
		waitText("#grants", "billing"))
	r.page("config-mailboxes")
	r.do("token", 20*time.Second,
		chromedp.Navigate(base+"/console/config/tokens"),
		waitSel("#token-form"),
		chromedp.SendKeys("#name", "bob-scanner", chromedp.ByID),
		chooseOption("#user_id", "bob"),
		chromedp.SendKeys("#expires_in", "soon", chromedp.ByID),
		chromedp.Submit("#name", chromedp.ByID),
		waitSel("#expires_in-err"),
		chromedp.SetValue("#expires_in", "90d", chromedp.ByID),
		chromedp.Submit("#name", chromedp.ByID),
		waitSel("#secret"))
	var secret string
	r.do("token secret", 5*time.Second, chromedp.Value("#secret", &secret, chromedp.ByID))
	if !strings.HasPrefix(secret, "faxd_") {
		t.Errorf("the new token's secret is %q", secret)
	}
	r.page("config-tokens")
	var body string
	r.do("token secret once", 20*time.Second,
		chromedp.Navigate(base+"/console/config/tokens"),
		waitText("#tokens", "bob-scanner"),
		text("main", &body))
	if strings.Contains(body, secret) {
		t.Error("the token's secret is shown again after creation")
	}
	r.do("token revoke", 20*time.Second,
		chromedp.Click(`#tokens a[href$="/revoke"]`, chromedp.ByQuery),
		waitText("#what", "revoked at once"),
		chromedp.Click("#confirm", chromedp.ByID),
		waitText(".notice", "bob-scanner revoked"),
		waitText("#tokens", "revoked"))
	r.do("revoke grant", 20*time.Second,
		chromedp.Navigate(base+"/console/config/mailboxes"),
		waitText("#grants", "billing"),
		chromedp.Click(`#grants button`, chromedp.ByQuery),
		waitText(".notice", "billing revoked"))
	r.do("user disable and delete", 30*time.Second,
		chromedp.Navigate(base+"/console/config/users"),
		waitText("#users", "bob"),
		chromedp.Evaluate(`[...document.querySelectorAll("#users tbody tr")].find(tr => tr.cells[0].textContent === "bob").querySelector("button.danger").click()`, nil),
		waitText(".notice", "bob: disabled"),
		waitText("#users", "disabled"),
		chromedp.Evaluate(`[...document.querySelectorAll("#users tbody tr")].find(tr => tr.cells[0].textContent === "bob").querySelector("a[href$='/delete']").click()`, nil),
		waitText("#what", "bob is deleted"),
		chromedp.Click("#confirm", chromedp.ByID),
		waitText(".notice", "User deleted"))
	if strings.Contains(textOf(r, "#users"), "bob") {
		t.Error("the deleted user is still listed")
	}
	r.do("gateway delete", 20*time.Second,
		chromedp.Navigate(base+"/console/config/gateways"),
		chromedp.Click(`#gateways a[href="/console/config/gateways/carrier1/delete"]`, chromedp.ByQuery),
		waitText("#what", "carrier1"),
		chromedp.Click("#confirm", chromedp.ByID),
		waitText(".notice", "carrier1 deleted"))

	// An operator and a user: the 403 page for every configuration page.
	pages := []string{"gateways", "gateways/self/delete", "routes", "inbound-rules", "mailboxes", "users", "tokens", "tokens/1/revoke"}
	for _, who := range []string{"olga", "alice"} {
		r.do("log out", 20*time.Second,
			chromedp.Navigate(base+"/console/"),
			chromedp.Click(`form.logout button`, chromedp.ByQuery),
			waitSel("#name"))
		r.login(base, who)
		for _, p := range pages {
			var title string
			r.do(who+" "+p, 20*time.Second,
				chromedp.Navigate(base+"/console/config/"+p),
				waitSel("h1"), text("h1", &title))
			if title != "Forbidden" {
				t.Errorf("%s opening /console/config/%s sees %q", who, p, title)
			}
		}
	}
}

// chooseOption selects the option of the select sel whose text starts
// with label.
func chooseOption(sel, label string) chromedp.Action {
	return waitJS(fmt.Sprintf(`(() => { const s = document.querySelector(%q); if (!s) return false;
		const o = [...s.options].find(o => o.textContent.startsWith(%q)); if (!o) return false;
		s.value = o.value; return true; })()`, sel, label))
}

func textOf(r *run, sel string) string {
	var s string
	r.do("read "+sel, 10*time.Second, text(sel, &s))
	return s
}
