package console

// The administrator's configuration pages besides the gateway list:
// gateway edit and delete, routes, inbound rules, mailboxes and grants,
// users and tokens. Like every page they only call the API, which checks
// each value; its problem+json errors are shown beside the field they name.

import (
	"cmp"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"github.com/faxd/faxd/client"
)

func init() {
	funcs["cfgError"] = cfgError
	funcs["fid"] = func(name string) string { return strings.NewReplacer(".", "-", "[", "-", "]", "").Replace(name) }
	funcs["isConfig"] = func(active string) bool { return active == "gateways" || strings.HasPrefix(active, "config_") }
	funcs["join"] = strings.Join
	funcs["split"] = strings.Split
	funcs["gatewayNames"] = func(gs []client.Gateway) string {
		if len(gs) == 0 {
			return "none (only those of the configuration file)"
		}
		var n []string
		for _, g := range gs {
			n = append(n, g.Name)
		}
		return strings.Join(n, ", ")
	}
	funcs["cfgOther"] = func(errs []string, fields ...string) []string {
		var out []string
		for _, e := range errs {
			mine := false
			for _, f := range fields {
				mine = mine || cfgError([]string{e}, f) != ""
			}
			if !mine {
				out = append(out, e)
			}
		}
		return out
	}
	funcs["invalid"] = func(errs []string, field string) bool { return cfgError(errs, field) != "" }
}

// configRoutes registers the configuration pages (called from pageRoutes).
func (c *Console) configRoutes(mux *http.ServeMux) {
	mux.Handle("GET /console/config/gateways/{name}", c.auth(c.gatewayEdit))
	mux.Handle("POST /console/config/gateways/{name}", c.auth(c.gatewayUpdate))
	mux.Handle("GET /console/config/gateways/{name}/delete", c.auth(c.gatewayDeleteConfirm))
	mux.Handle("POST /console/config/gateways/{name}/delete", c.auth(c.gatewayDelete))

	mux.Handle("GET /console/config/routes", c.auth(c.routes))
	mux.Handle("POST /console/config/routes", c.auth(c.routeSave))
	mux.Handle("GET /console/config/routes/{id}", c.auth(c.routeEdit))
	mux.Handle("POST /console/config/routes/{id}", c.auth(c.routeSave))
	mux.Handle("GET /console/config/routes/{id}/delete", c.auth(c.routeDeleteConfirm))
	mux.Handle("POST /console/config/routes/{id}/delete", c.auth(c.routeDelete))

	mux.Handle("GET /console/config/inbound-rules", c.auth(c.rules))
	mux.Handle("POST /console/config/inbound-rules", c.auth(c.ruleSave))
	mux.Handle("GET /console/config/inbound-rules/{id}", c.auth(c.ruleEdit))
	mux.Handle("POST /console/config/inbound-rules/{id}", c.auth(c.ruleSave))
	mux.Handle("GET /console/config/inbound-rules/{id}/delete", c.auth(c.ruleDeleteConfirm))
	mux.Handle("POST /console/config/inbound-rules/{id}/delete", c.auth(c.ruleDelete))

	mux.Handle("GET /console/config/mailboxes", c.auth(c.mailboxes))
	mux.Handle("POST /console/config/grants", c.auth(c.grant))
	mux.Handle("POST /console/config/users/{id}/revoke", c.auth(c.revokeGrant))

	mux.Handle("GET /console/config/users", c.auth(c.usersPage))
	mux.Handle("POST /console/config/users", c.auth(c.userCreate))
	mux.Handle("POST /console/config/users/{id}", c.auth(c.userUpdate))
	mux.Handle("GET /console/config/users/{id}/delete", c.auth(c.userDeleteConfirm))
	mux.Handle("POST /console/config/users/{id}/delete", c.auth(c.userDelete))

	mux.Handle("GET /console/config/tokens", c.auth(c.tokensPage))
	mux.Handle("POST /console/config/tokens", c.auth(c.tokenCreate))
	mux.Handle("GET /console/config/tokens/{id}/revoke", c.auth(c.tokenRevokeConfirm))
	mux.Handle("POST /console/config/tokens/{id}/revoke", c.auth(c.tokenRevoke))
}

// cfgError is fieldError for the configuration forms: an error about
// "sites[2]" or "site_costs.lon" belongs beside the field "sites" or
// "site_costs"; one about "number.value" beside "number.value".
func cfgError(errs []string, field string) string {
	var out []string
	for _, e := range errs {
		name, _, _ := strings.Cut(e, " ")
		name = strings.TrimSuffix(name, ":")
		name, _, _ = strings.Cut(name, "[")
		if name == field || strings.HasPrefix(name, field+".") {
			out = append(out, e)
		}
	}
	return strings.Join(out, "; ")
}

// formErrors turns an API refusal of a form into the errors to show
// beside its fields; ok is false when the refusal is not about the form
// (forbidden, server error), which then gets the error page.
func formErrors(err error) (errs []string, ok bool) {
	var ae *client.Error
	if !errors.As(err, &ae) || ae.Status == http.StatusForbidden || ae.Status == http.StatusUnauthorized || ae.Status >= 500 || ae.Status == http.StatusNotFound {
		return nil, false
	}
	if len(ae.Errors) > 0 {
		return ae.Errors, true
	}
	return []string{ae.Detail}, true
}

// submit makes a form's API call unless the form already has errors, and
// puts the API's refusal of the form in *errs. It returns false when the
// refusal was not about the form: the error page has then been shown.
func (c *Console) submit(w http.ResponseWriter, r *http.Request, s *session, errs *[]string, call func() error) bool {
	if len(*errs) > 0 {
		return true
	}
	err := call()
	if err == nil {
		return true
	}
	fe, ok := formErrors(err)
	if !ok {
		c.fail(w, r, s, err)
		return false
	}
	*errs = fe
	return true
}

// createOrUpdate calls create for a new object (id 0), else update.
func createOrUpdate(id int64, create func() error, update func() error) func() error {
	if id == 0 {
		return create
	}
	return update
}

// confirmPage asks before a destructive action; the form posts to Action.
type confirmPage struct {
	Title, What, Action, Button, Back string
}

func (c *Console) confirm(w http.ResponseWriter, r *http.Request, s *session, p confirmPage) {
	c.render(w, r, s, http.StatusOK, "config_confirm", p)
}

func done(w http.ResponseWriter, r *http.Request, to, notice string) {
	http.Redirect(w, r, to+"?notice="+url.QueryEscape(notice), http.StatusSeeOther)
}

// ---- form value parsing shared by the pages

// splitList is a comma- or space-separated list; nil when empty.
func splitList(v string) []string {
	f := strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' || r == '\n' || r == '\r' || r == '\t' })
	if len(f) == 0 {
		return nil
	}
	return f
}

// siteCosts reads "site=cost" pairs; errors name the field site_costs.
func siteCosts(v string) (map[string]float64, []string) {
	var errs []string
	var m map[string]float64
	for _, p := range splitList(v) {
		site, cost, ok := strings.Cut(p, "=")
		n, err := strconv.ParseFloat(cost, 64)
		if !ok || site == "" || err != nil {
			errs = append(errs, fmt.Sprintf("site_costs %q: write site=cost, for example lon=2.5", p))
			continue
		}
		if m == nil {
			m = map[string]float64{}
		}
		m[site] = n
	}
	return m, errs
}

func formatSiteCosts(m map[string]float64) string {
	var out []string
	for k, v := range m {
		out = append(out, k+"="+strconv.FormatFloat(v, 'g', -1, 64))
	}
	sort.Strings(out)
	return strings.Join(out, ", ")
}

// windows reads one cost window a line: "[days] HH:MM-HH:MM cost", days
// a comma-separated list such as mon,tue (none: every day).
func windows(v string) ([]client.RouteWindow, []string) {
	var out []client.RouteWindow
	var errs []string
	for i, line := range strings.Split(v, "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		bad := func() {
			errs = append(errs, fmt.Sprintf("windows line %d %q: write [days] HH:MM-HH:MM cost, for example mon,tue,wed 08:00-18:00 3", i+1, strings.TrimSpace(line)))
		}
		if len(f) < 2 || len(f) > 3 {
			bad()
			continue
		}
		var w client.RouteWindow
		if len(f) == 3 {
			w.Days = strings.Split(f[0], ",")
			f = f[1:]
		}
		var ok bool
		if w.From, w.To, ok = strings.Cut(f[0], "-"); !ok {
			bad()
			continue
		}
		var err error
		if w.Cost, err = strconv.ParseFloat(f[1], 64); err != nil {
			bad()
			continue
		}
		out = append(out, w)
	}
	return out, errs
}

func formatWindows(ws []client.RouteWindow) string {
	var lines []string
	for _, w := range ws {
		l := w.From + "-" + w.To + " " + strconv.FormatFloat(w.Cost, 'g', -1, 64)
		if len(w.Days) > 0 {
			l = strings.Join(w.Days, ",") + " " + l
		}
		lines = append(lines, l)
	}
	return strings.Join(lines, "\n")
}

// number reads an optional number field into *dst.
func intField(r *http.Request, name string, errs *[]string) *int {
	v := strings.TrimSpace(r.FormValue(name))
	if v == "" {
		return nil
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		*errs = append(*errs, name+" "+strconv.Quote(v)+": must be a whole number")
		return nil
	}
	return &n
}

func floatField(r *http.Request, name string, errs *[]string) float64 {
	v := strings.TrimSpace(r.FormValue(name))
	if v == "" {
		return 0
	}
	n, err := strconv.ParseFloat(v, 64)
	if err != nil {
		*errs = append(*errs, name+" "+strconv.Quote(v)+": must be a number")
	}
	return n
}

// ---- gateways: edit and delete (list and create are in pages.go)

type gatewayEditData struct {
	Name   string
	Form   url.Values
	Errors []string
}

func (c *Console) gatewayEdit(w http.ResponseWriter, r *http.Request, s *session) {
	g, err := s.api.GetGateway(r.Context(), r.PathValue("name"))
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	f := url.Values{}
	f.Set("address", g.Address)
	f.Set("max_channels", strconv.Itoa(g.MaxChannels))
	f.Set("username", g.Username)
	f.Set("sites", strings.Join(g.Sites, ", "))
	f.Set("site_costs", formatSiteCosts(g.SiteCosts))
	f.Set("media", cmp.Or(g.Profile.Media, "t38"))
	if g.Enabled {
		f.Set("enabled", "1")
	}
	c.render(w, r, s, http.StatusOK, "config_gateway", gatewayEditData{Name: g.Name, Form: f})
}

func (c *Console) gatewayUpdate(w http.ResponseWriter, r *http.Request, s *session) {
	name := r.PathValue("name")
	old, err := s.api.GetGateway(r.Context(), name)
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	var errs []string
	prof := old.Profile
	switch m := r.FormValue("media"); m {
	case "t38", "audio", "auto":
		prof.Media = m
	default:
		errs = append(errs, fmt.Sprintf("media %q: choose t38, auto or audio", m))
	}
	in := client.GatewayInput{Address: r.FormValue("address"), Username: r.FormValue("username"), Profile: &prof,
		Sites: splitList(r.FormValue("sites"))}
	if n := intField(r, "max_channels", &errs); n != nil {
		in.MaxChannels = *n
	}
	var costErrs []string
	in.SiteCosts, costErrs = siteCosts(r.FormValue("site_costs"))
	errs = append(errs, costErrs...)
	if p := r.FormValue("password"); p != "" {
		in.Password = &p
	}
	enabled := r.FormValue("enabled") != ""
	in.Enabled = &enabled
	if !c.submit(w, r, s, &errs, func() error { _, err := s.api.UpdateGateway(r.Context(), name, in); return err }) {
		return
	}
	if len(errs) > 0 {
		c.render(w, r, s, http.StatusBadRequest, "config_gateway", gatewayEditData{Name: name, Form: r.PostForm, Errors: errs})
		return
	}
	done(w, r, "/console/config/gateways", "Gateway "+name+" saved.")
}

func (c *Console) gatewayDeleteConfirm(w http.ResponseWriter, r *http.Request, s *session) {
	name := r.PathValue("name")
	if _, err := s.api.GetGateway(r.Context(), name); err != nil {
		c.fail(w, r, s, err)
		return
	}
	c.confirm(w, r, s, confirmPage{Title: "Delete gateway " + name,
		What:   "The gateway " + name + " is deleted. Faxes are no longer sent through it; routes that name it stop matching until it is added again.",
		Action: "/console/config/gateways/" + url.PathEscape(name) + "/delete", Button: "Yes, delete gateway " + name, Back: "/console/config/gateways"})
}

func (c *Console) gatewayDelete(w http.ResponseWriter, r *http.Request, s *session) {
	name := r.PathValue("name")
	if err := s.api.DeleteGateway(r.Context(), name); err != nil {
		c.fail(w, r, s, err)
		return
	}
	done(w, r, "/console/config/gateways", "Gateway "+name+" deleted.")
}

// ---- routes

type routesData struct {
	Routes   []client.Route
	Gateways []client.Gateway
	EditID   int64 // 0: the form creates a route
	Form     url.Values
	Errors   []string
	Notice   string
}

func (c *Console) routesRender(w http.ResponseWriter, r *http.Request, s *session, status int, d routesData) {
	var err error
	if d.Routes, err = s.api.ListRoutes(r.Context()); err != nil {
		c.fail(w, r, s, err)
		return
	}
	d.Gateways, _ = s.api.ListGateways(r.Context()) // only a convenience list
	if d.Form == nil {
		d.Form = url.Values{"weight": {"1"}}
	}
	c.render(w, r, s, status, "config_routes", d)
}

func (c *Console) routes(w http.ResponseWriter, r *http.Request, s *session) {
	c.routesRender(w, r, s, http.StatusOK, routesData{Notice: r.URL.Query().Get("notice")})
}

func (c *Console) routeEdit(w http.ResponseWriter, r *http.Request, s *session) {
	id, ok := pathID(r)
	if !ok {
		c.render(w, r, s, http.StatusNotFound, "error", errorPage{Title: "Not found", Message: "There is no such route."})
		return
	}
	rt, err := s.api.GetRoute(r.Context(), id)
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	f := url.Values{}
	f.Set("prefix", rt.Prefix)
	f.Set("gateway", rt.Gateway)
	f.Set("cost", strconv.FormatFloat(rt.Cost, 'g', -1, 64))
	f.Set("weight", strconv.Itoa(rt.Weight))
	f.Set("sites", strings.Join(rt.Sites, ", "))
	f.Set("site_costs", formatSiteCosts(rt.SiteCosts))
	f.Set("windows", formatWindows(rt.Windows))
	c.routesRender(w, r, s, http.StatusOK, routesData{EditID: id, Form: f})
}

func (c *Console) routeSave(w http.ResponseWriter, r *http.Request, s *session) {
	var id int64
	if r.PathValue("id") != "" {
		var ok bool
		if id, ok = pathID(r); !ok {
			c.render(w, r, s, http.StatusNotFound, "error", errorPage{Title: "Not found", Message: "There is no such route."})
			return
		}
	}
	var errs, more []string
	in := client.RouteInput{Prefix: strings.TrimSpace(r.FormValue("prefix")), Gateway: strings.TrimSpace(r.FormValue("gateway")),
		Cost: floatField(r, "cost", &errs), Weight: intField(r, "weight", &errs), Sites: splitList(r.FormValue("sites"))}
	in.SiteCosts, more = siteCosts(r.FormValue("site_costs"))
	errs = append(errs, more...)
	in.Windows, more = windows(r.FormValue("windows"))
	errs = append(errs, more...)
	if !c.submit(w, r, s, &errs, createOrUpdate(id,
		func() error { _, err := s.api.CreateRoute(r.Context(), in); return err },
		func() error { _, err := s.api.UpdateRoute(r.Context(), id, in); return err })) {
		return
	}
	if len(errs) > 0 {
		c.routesRender(w, r, s, http.StatusBadRequest, routesData{EditID: id, Form: r.PostForm, Errors: errs})
		return
	}
	what := "created"
	if id != 0 {
		what = "saved"
	}
	done(w, r, "/console/config/routes", fmt.Sprintf("Route %q via %s %s.", in.Prefix, in.Gateway, what))
}

func (c *Console) routeDeleteConfirm(w http.ResponseWriter, r *http.Request, s *session) {
	id, _ := pathID(r)
	rt, err := s.api.GetRoute(r.Context(), id)
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	c.confirm(w, r, s, confirmPage{Title: fmt.Sprintf("Delete route %d", id),
		What:   fmt.Sprintf("The route for prefix %q through gateway %s is deleted. Numbers it matched use the remaining routes; a number no route matches cannot be sent.", rt.Prefix, rt.Gateway),
		Action: fmt.Sprintf("/console/config/routes/%d/delete", id), Button: "Yes, delete this route", Back: "/console/config/routes"})
}

func (c *Console) routeDelete(w http.ResponseWriter, r *http.Request, s *session) {
	id, _ := pathID(r)
	if err := s.api.DeleteRoute(r.Context(), id); err != nil {
		c.fail(w, r, s, err)
		return
	}
	done(w, r, "/console/config/routes", fmt.Sprintf("Route %d deleted.", id))
}

// ---- inbound rules

type rulesData struct {
	Rules  []client.InboundRule
	EditID int64
	Form   url.Values
	Errors []string
	Notice string
}

func (c *Console) rulesRender(w http.ResponseWriter, r *http.Request, s *session, status int, d rulesData) {
	var err error
	if d.Rules, err = s.api.ListInboundRules(r.Context()); err != nil {
		c.fail(w, r, s, err)
		return
	}
	if d.Form == nil {
		d.Form = url.Values{"number.kind": {"prefix"}, "destination.kind": {"mailbox"}, "pages": {"some"}, "enabled": {"1"}}
	}
	c.render(w, r, s, status, "config_rules", d)
}

func (c *Console) rules(w http.ResponseWriter, r *http.Request, s *session) {
	c.rulesRender(w, r, s, http.StatusOK, rulesData{Notice: r.URL.Query().Get("notice")})
}

func (c *Console) ruleEdit(w http.ResponseWriter, r *http.Request, s *session) {
	id, ok := pathID(r)
	if !ok {
		c.render(w, r, s, http.StatusNotFound, "error", errorPage{Title: "Not found", Message: "There is no such inbound rule."})
		return
	}
	ru, err := s.api.GetInboundRule(r.Context(), id)
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	f := url.Values{}
	f.Set("priority", strconv.Itoa(ru.Priority))
	f.Set("number.kind", ru.Number.Kind)
	f.Set("number.value", ru.Number.Value)
	f.Set("caller.kind", ru.Caller.Kind)
	f.Set("caller.value", ru.Caller.Value)
	f.Set("tsi.kind", ru.TSI.Kind)
	f.Set("tsi.value", ru.TSI.Value)
	f.Set("pages", ru.Pages)
	f.Set("destination.kind", ru.Destination.Kind)
	f.Set("destination.mailbox", ru.Destination.Mailbox)
	f.Set("destination.emails", strings.Join(ru.Destination.Emails, ", "))
	f.Set("destination.url", ru.Destination.URL)
	f.Set("description", ru.Description)
	if ru.Enabled {
		f.Set("enabled", "1")
	}
	c.rulesRender(w, r, s, http.StatusOK, rulesData{EditID: id, Form: f})
}

func (c *Console) ruleSave(w http.ResponseWriter, r *http.Request, s *session) {
	var id int64
	if r.PathValue("id") != "" {
		var ok bool
		if id, ok = pathID(r); !ok {
			c.render(w, r, s, http.StatusNotFound, "error", errorPage{Title: "Not found", Message: "There is no such inbound rule."})
			return
		}
	}
	var errs []string
	v := func(k string) string { return strings.TrimSpace(r.FormValue(k)) }
	in := client.InboundRuleInput{
		Priority: intField(r, "priority", &errs),
		Number:   client.Match{Kind: v("number.kind"), Value: v("number.value")},
		Caller:   client.Match{Kind: v("caller.kind"), Value: v("caller.value")},
		TSI:      client.Match{Kind: v("tsi.kind"), Value: v("tsi.value")},
		Pages:    v("pages"),
		Destination: client.DestinationInput{Kind: v("destination.kind"), Mailbox: v("destination.mailbox"),
			Emails: splitList(v("destination.emails")), URL: v("destination.url"), Secret: r.FormValue("destination.secret")},
		Description: v("description"),
	}
	enabled := r.FormValue("enabled") != ""
	in.Enabled = &enabled
	if !c.submit(w, r, s, &errs, createOrUpdate(id,
		func() error { _, err := s.api.CreateInboundRule(r.Context(), in); return err },
		func() error { _, err := s.api.UpdateInboundRule(r.Context(), id, in); return err })) {
		return
	}
	if len(errs) > 0 {
		c.rulesRender(w, r, s, http.StatusBadRequest, rulesData{EditID: id, Form: r.PostForm, Errors: errs})
		return
	}
	what := "created"
	if id != 0 {
		what = "saved"
	}
	done(w, r, "/console/config/inbound-rules", "Inbound rule "+what+".")
}

func (c *Console) ruleDeleteConfirm(w http.ResponseWriter, r *http.Request, s *session) {
	id, _ := pathID(r)
	ru, err := s.api.GetInboundRule(r.Context(), id)
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	c.confirm(w, r, s, confirmPage{Title: fmt.Sprintf("Delete inbound rule %d", id),
		What:   fmt.Sprintf("The inbound rule %d (%s %q, to %s) is deleted. Faxes it matched are filed by the remaining rules, or left unrouted.", id, ru.Number.Kind, ru.Number.Value, ru.Destination.Kind),
		Action: fmt.Sprintf("/console/config/inbound-rules/%d/delete", id), Button: "Yes, delete this rule", Back: "/console/config/inbound-rules"})
}

func (c *Console) ruleDelete(w http.ResponseWriter, r *http.Request, s *session) {
	id, _ := pathID(r)
	if err := s.api.DeleteInboundRule(r.Context(), id); err != nil {
		c.fail(w, r, s, err)
		return
	}
	done(w, r, "/console/config/inbound-rules", fmt.Sprintf("Inbound rule %d deleted.", id))
}

// ---- mailboxes and grants

type mailboxesData struct {
	Mailboxes []client.Mailbox
	Users     []client.User
	Form      url.Values
	Errors    []string
	Notice    string
}

func (c *Console) mailboxesRender(w http.ResponseWriter, r *http.Request, s *session, status int, d mailboxesData) {
	var err error
	if d.Users, err = s.api.ListUsers(r.Context()); err != nil { // admin only: the API judges who may
		c.fail(w, r, s, err)
		return
	}
	if d.Mailboxes, err = s.api.ListMailboxes(r.Context()); err != nil {
		c.fail(w, r, s, err)
		return
	}
	if d.Form == nil {
		d.Form = url.Values{}
	}
	c.render(w, r, s, status, "config_mailboxes", d)
}

func (c *Console) mailboxes(w http.ResponseWriter, r *http.Request, s *session) {
	c.mailboxesRender(w, r, s, http.StatusOK, mailboxesData{Notice: r.URL.Query().Get("notice")})
}

func (c *Console) grant(w http.ResponseWriter, r *http.Request, s *session) {
	mb := strings.TrimSpace(r.FormValue("mailbox"))
	var errs []string
	id, err := strconv.ParseInt(r.FormValue("user"), 10, 64)
	if err != nil || id <= 0 {
		errs = append(errs, "user: choose a user")
	}
	if mb == "" {
		errs = append(errs, "mailbox: enter a mailbox name")
	}
	if !c.submit(w, r, s, &errs, func() error { _, err := s.api.GrantMailbox(r.Context(), id, mb); return err }) {
		return
	}
	if len(errs) > 0 {
		c.mailboxesRender(w, r, s, http.StatusBadRequest, mailboxesData{Form: r.PostForm, Errors: errs})
		return
	}
	done(w, r, "/console/config/mailboxes", "Mailbox "+mb+" granted.")
}

func (c *Console) revokeGrant(w http.ResponseWriter, r *http.Request, s *session) {
	id, _ := pathID(r)
	mb := r.FormValue("mailbox")
	if _, err := s.api.RevokeMailbox(r.Context(), id, mb); err != nil {
		c.fail(w, r, s, err)
		return
	}
	done(w, r, "/console/config/mailboxes", "Mailbox "+mb+" revoked.")
}

// ---- users

type usersData struct {
	Users  []client.User
	Form   url.Values
	Errors []string
	Notice string
}

func (c *Console) usersRender(w http.ResponseWriter, r *http.Request, s *session, status int, d usersData) {
	var err error
	if d.Users, err = s.api.ListUsers(r.Context()); err != nil {
		c.fail(w, r, s, err)
		return
	}
	if d.Form == nil {
		d.Form = url.Values{"role": {"user"}}
	}
	c.render(w, r, s, status, "config_users", d)
}

func (c *Console) usersPage(w http.ResponseWriter, r *http.Request, s *session) {
	c.usersRender(w, r, s, http.StatusOK, usersData{Notice: r.URL.Query().Get("notice")})
}

func (c *Console) userCreate(w http.ResponseWriter, r *http.Request, s *session) {
	in := client.UserInput{Name: strings.TrimSpace(r.FormValue("name")), Password: r.FormValue("password"), Role: r.FormValue("role")}
	var errs []string
	if _, err := s.api.CreateUser(r.Context(), in); err != nil {
		var ok bool
		if errs, ok = formErrors(err); !ok {
			c.fail(w, r, s, err)
			return
		}
		if len(errs) == 1 && cfgError(errs, "name") == "" && cfgError(errs, "password") == "" && cfgError(errs, "role") == "" {
			errs = []string{"name: " + errs[0]} // a conflict: the name is taken
		}
	}
	if len(errs) > 0 {
		f := r.PostForm
		f.Del("password")
		c.usersRender(w, r, s, http.StatusBadRequest, usersData{Form: f, Errors: errs})
		return
	}
	done(w, r, "/console/config/users", "User "+in.Name+" created.")
}

// userUpdate changes a role, or disables or enables an account (the
// button pressed says which).
func (c *Console) userUpdate(w http.ResponseWriter, r *http.Request, s *session) {
	id, ok := pathID(r)
	if !ok {
		c.render(w, r, s, http.StatusNotFound, "error", errorPage{Title: "Not found", Message: "There is no such user."})
		return
	}
	var in client.UserUpdate
	var what string
	switch r.FormValue("op") {
	case "role":
		role := r.FormValue("role")
		in.Role, what = &role, "role changed to "+role
	case "password":
		pw := r.FormValue("password")
		in.Password, what = &pw, "password set"
	case "disable", "enable":
		dis := r.FormValue("op") == "disable"
		in.Disabled, what = &dis, r.FormValue("op")+"d"
	default:
		c.render(w, r, s, http.StatusBadRequest, "error", errorPage{Title: "Bad request", Message: "op: must be role, password, disable or enable."})
		return
	}
	u, err := s.api.UpdateUser(r.Context(), id, in)
	if err != nil {
		if errs, ok := formErrors(err); ok {
			// Shown above the list, naming the user, not beside the
			// new-user form's fields of the same names.
			name := r.FormValue("name")
			for i, e := range errs {
				errs[i] = "User " + name + ": " + e
			}
			c.usersRender(w, r, s, http.StatusBadRequest, usersData{Errors: errs})
			return
		}
		c.fail(w, r, s, err)
		return
	}
	done(w, r, "/console/config/users", "User "+u.Name+": "+what+".")
}

func (c *Console) userDeleteConfirm(w http.ResponseWriter, r *http.Request, s *session) {
	id, _ := pathID(r)
	u, err := s.api.GetUser(r.Context(), id)
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	c.confirm(w, r, s, confirmPage{Title: "Delete user " + u.Name,
		What:   "The account " + u.Name + " is deleted with its sessions, mailbox grants and tokens. Programs using its tokens are refused from now on. To keep the account but stop its use, disable it instead.",
		Action: fmt.Sprintf("/console/config/users/%d/delete", id), Button: "Yes, delete user " + u.Name, Back: "/console/config/users"})
}

func (c *Console) userDelete(w http.ResponseWriter, r *http.Request, s *session) {
	id, _ := pathID(r)
	if err := s.api.DeleteUser(r.Context(), id); err != nil {
		if errs, ok := formErrors(err); ok { // the last administrator
			c.usersRender(w, r, s, http.StatusConflict, usersData{Errors: errs})
			return
		}
		c.fail(w, r, s, err)
		return
	}
	done(w, r, "/console/config/users", "User deleted.")
}

// ---- tokens

type tokensData struct {
	Tokens  []client.Token
	Users   map[int64]string
	UserIDs []client.User
	Created *client.CreatedToken // shown once, right after creation
	Form    url.Values
	Errors  []string
	Notice  string
}

func (c *Console) tokensRender(w http.ResponseWriter, r *http.Request, s *session, status int, d tokensData) {
	var err error
	if d.Tokens, err = s.api.ListTokens(r.Context()); err != nil {
		c.fail(w, r, s, err)
		return
	}
	d.Users = map[int64]string{}
	if d.UserIDs, err = s.api.ListUsers(r.Context()); err == nil {
		for _, u := range d.UserIDs {
			d.Users[u.ID] = u.Name
		}
	}
	if d.Form == nil {
		d.Form = url.Values{"role": {"submitter"}}
	}
	c.render(w, r, s, status, "config_tokens", d)
}

func (c *Console) tokensPage(w http.ResponseWriter, r *http.Request, s *session) {
	c.tokensRender(w, r, s, http.StatusOK, tokensData{Notice: r.URL.Query().Get("notice")})
}

func (c *Console) tokenCreate(w http.ResponseWriter, r *http.Request, s *session) {
	in := client.TokenInput{Name: strings.TrimSpace(r.FormValue("name")), Role: r.FormValue("role"), ExpiresIn: strings.TrimSpace(r.FormValue("expires_in"))}
	var errs []string
	if v := r.FormValue("user_id"); v != "" {
		id, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			errs = append(errs, "user_id: choose a user")
		}
		in.UserID = id
		in.Role = "" // the user's role decides
	}
	var created *client.CreatedToken
	if !c.submit(w, r, s, &errs, func() (err error) { created, err = s.api.CreateToken(r.Context(), in); return err }) {
		return
	}
	if len(errs) > 0 {
		c.tokensRender(w, r, s, http.StatusBadRequest, tokensData{Form: r.PostForm, Errors: errs})
		return
	}
	// No redirect: the secret is shown on this response only and never
	// again (the server keeps only its hash).
	c.tokensRender(w, r, s, http.StatusCreated, tokensData{Created: created})
}

func (c *Console) tokenRevokeConfirm(w http.ResponseWriter, r *http.Request, s *session) {
	id, _ := pathID(r)
	if _, err := s.api.ListTokens(r.Context()); err != nil { // the API judges who may
		c.fail(w, r, s, err)
		return
	}
	c.confirm(w, r, s, confirmPage{Title: fmt.Sprintf("Revoke token %d", id),
		What:   fmt.Sprintf("Token %d is revoked at once: every program using it is refused from its next request. This cannot be undone; create a new token instead.", id),
		Action: fmt.Sprintf("/console/config/tokens/%d/revoke", id), Button: "Yes, revoke this token", Back: "/console/config/tokens"})
}

func (c *Console) tokenRevoke(w http.ResponseWriter, r *http.Request, s *session) {
	id, _ := pathID(r)
	t, err := s.api.RevokeToken(r.Context(), id)
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	done(w, r, "/console/config/tokens", "Token "+t.Name+" revoked.")
}
