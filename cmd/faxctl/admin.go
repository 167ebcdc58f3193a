package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/faxd/faxd/client"
)

// ---- gateways

func (a *app) gatewaysList(ctx context.Context, path string, args []string) (int, error) {
	fs := a.flags(path, "[-json]", "List every gateway, by name.")
	if _, code, ok := a.parse(fs, args, 0, 0); !ok {
		return code, nil
	}
	gws, err := a.c.ListGateways(ctx)
	if err != nil {
		return exitFailed, err
	}
	if a.json {
		a.printJSON(map[string]any{"gateways": gws})
		return exitOK, nil
	}
	tw := a.table()
	fmt.Fprintln(tw, "NAME\tADDRESS\tCHANNELS\tUSERNAME\tPASSWORD\tENABLED\tUPDATED")
	for _, g := range gws {
		a.gatewayRow(tw, g)
	}
	tw.Flush()
	return exitOK, nil
}

func (a *app) gatewayRow(tw interface{ Write([]byte) (int, error) }, g client.Gateway) {
	ch := "unlimited"
	if g.MaxChannels > 0 {
		ch = strconv.Itoa(g.MaxChannels)
	}
	pw := "-"
	if g.HasPassword {
		pw = "set"
	}
	fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%v\t%s\n", g.Name, g.Address, ch, dash(g.Username), pw, g.Enabled, when(&g.UpdatedAt))
}

func (a *app) printGateway(g *client.Gateway) {
	if a.json {
		a.printJSON(g)
		return
	}
	tw := a.table()
	fmt.Fprintln(tw, "NAME\tADDRESS\tCHANNELS\tUSERNAME\tPASSWORD\tENABLED\tUPDATED")
	a.gatewayRow(tw, *g)
	tw.Flush()
	if p, _ := json.Marshal(g.Profile); string(p) != "{}" {
		fmt.Fprintf(a.stdout, "profile: %s\n", p)
	}
}

func (a *app) gatewayShow(ctx context.Context, path string, args []string) (int, error) {
	fs := a.flags(path, "NAME", "Show one gateway.")
	pos, code, ok := a.parse(fs, args, 1, 1)
	if !ok {
		return code, nil
	}
	g, err := a.c.GetGateway(ctx, pos[0])
	if err != nil {
		return exitFailed, err
	}
	a.printGateway(g)
	return exitOK, nil
}

// gatewayFlags are create's and update's flags.
type gatewayFlags struct {
	address, username, password *string
	maxChannels                 *int
	enabled                     *bool
	profile                     *string
}

func newGatewayFlags(fs *flagSet) gatewayFlags {
	return gatewayFlags{
		address:     fs.String("address", "", "`host` or host:port of the gateway"),
		maxChannels: fs.Int("max-channels", 0, "concurrent calls through it (0: unlimited)"),
		username:    fs.String("username", "", "SIP digest `user`"),
		password:    fs.String("password", "", "SIP digest `password` (update: leave out to keep the stored one)"),
		enabled:     fs.Bool("enabled", true, "in use for routing (-enabled=false to park it)"),
		profile: fs.String("profile", "", "media profile and probing as `JSON`, e.g. '{\"ecm\":false,\"max_bit_rate\":9600,\"t38_version\":3}'"+
			" (update: the keys given change, the others stay)"),
	}
}

// apply copies the flags given on the command line onto in.
func (f gatewayFlags) apply(fs *flagSet, in *client.GatewayInput) {
	set := setFlags(fs)
	if set["address"] {
		in.Address = *f.address
	}
	if set["max-channels"] {
		in.MaxChannels = *f.maxChannels
	}
	if set["username"] {
		in.Username = *f.username
	}
	if set["password"] {
		in.Password = f.password
	}
	if set["enabled"] {
		in.Enabled = f.enabled
	}
}

// applyProfile merges -profile's keys over in.Profile.
func (f gatewayFlags) applyProfile(fs *flagSet, in *client.GatewayInput) error {
	if !setFlags(fs)["profile"] {
		return nil
	}
	if in.Profile == nil {
		in.Profile = &client.GatewayProfile{}
	}
	dec := json.NewDecoder(strings.NewReader(*f.profile))
	dec.DisallowUnknownFields()
	if err := dec.Decode(in.Profile); err != nil {
		return fmt.Errorf("-profile: %v", err)
	}
	return nil
}

func (a *app) gatewayCreate(ctx context.Context, path string, args []string) (int, error) {
	fs := a.flags(path, "NAME -address HOST[:PORT] [flags]", "Create a gateway.")
	gf := newGatewayFlags(fs)
	pos, code, ok := a.parse(fs, args, 1, 1)
	if !ok {
		return code, nil
	}
	if *gf.address == "" {
		return a.usageErr(fs, "-address is required"), nil
	}
	in := client.GatewayInput{Name: pos[0]}
	gf.apply(fs, &in)
	if err := gf.applyProfile(fs, &in); err != nil {
		return a.usageErr(fs, err.Error()), nil
	}
	g, err := a.c.CreateGateway(ctx, in)
	if err != nil {
		return exitFailed, err
	}
	a.printGateway(g)
	return exitOK, nil
}

func (a *app) gatewayUpdate(ctx context.Context, path string, args []string) (int, error) {
	fs := a.flags(path, "NAME [flags]", "Change a gateway; flags not given keep their current value.")
	gf := newGatewayFlags(fs)
	pos, code, ok := a.parse(fs, args, 1, 1)
	if !ok {
		return code, nil
	}
	cur, err := a.c.GetGateway(ctx, pos[0])
	if err != nil {
		return exitFailed, err
	}
	en := cur.Enabled
	prof := cur.Profile
	in := client.GatewayInput{Name: cur.Name, Address: cur.Address, MaxChannels: cur.MaxChannels, Username: cur.Username, Enabled: &en, Profile: &prof}
	gf.apply(fs, &in)
	if err := gf.applyProfile(fs, &in); err != nil {
		return a.usageErr(fs, err.Error()), nil
	}
	g, err := a.c.UpdateGateway(ctx, pos[0], in)
	if err != nil {
		return exitFailed, err
	}
	a.printGateway(g)
	return exitOK, nil
}

func (a *app) gatewayDelete(ctx context.Context, path string, args []string) (int, error) {
	fs := a.flags(path, "NAME", "Delete a gateway no route uses.")
	pos, code, ok := a.parse(fs, args, 1, 1)
	if !ok {
		return code, nil
	}
	if err := a.c.DeleteGateway(ctx, pos[0]); err != nil {
		return exitFailed, err
	}
	fmt.Fprintf(a.stdout, "gateway %s deleted\n", pos[0])
	return exitOK, nil
}

func (a *app) gatewaysHealth(ctx context.Context, path string, args []string) (int, error) {
	fs := a.flags(path, "[-json]", "Every gateway the answering server routes through: up or down, since when and why.")
	if _, code, ok := a.parse(fs, args, 0, 0); !ok {
		return code, nil
	}
	h, err := a.c.GetGatewayHealth(ctx)
	if err != nil {
		return exitFailed, err
	}
	if a.json {
		a.printJSON(h)
		return exitOK, nil
	}
	if h.Node != "" {
		fmt.Fprintf(a.stdout, "as seen by %s\n", h.Node)
	}
	tw := a.table()
	fmt.Fprintln(tw, "GATEWAY\tSTATE\tSINCE\tCALLS\tPROBE\tLAST PROBE\tREASON")
	for _, g := range h.Gateways {
		state := "up"
		if !g.Up {
			state = "DOWN"
		}
		calls := fmt.Sprint(g.InUse)
		if g.MaxChannels > 0 {
			calls += fmt.Sprintf("/%d", g.MaxChannels)
		}
		probe := g.Probe
		if g.IgnoresProbes {
			probe += " (ignored: calls decide)"
		}
		last := "-"
		if g.LastProbe != nil {
			last = stamp(*g.LastProbe)
			if g.LastProbeError != "" {
				last += " " + g.LastProbeError
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", g.Name, state, stamp(g.Since), calls, probe, last, dash(g.Reason))
	}
	tw.Flush()
	return exitOK, nil
}

// ---- routes

func (a *app) routesList(ctx context.Context, path string, args []string) (int, error) {
	fs := a.flags(path, "[-json]", "List every least-cost route, by prefix.")
	if _, code, ok := a.parse(fs, args, 0, 0); !ok {
		return code, nil
	}
	rs, err := a.c.ListRoutes(ctx)
	if err != nil {
		return exitFailed, err
	}
	if a.json {
		a.printJSON(map[string]any{"routes": rs})
		return exitOK, nil
	}
	a.printRoutes(rs...)
	return exitOK, nil
}

func (a *app) printRoutes(rs ...client.Route) {
	tw := a.table()
	fmt.Fprintln(tw, "ID\tPREFIX\tGATEWAY\tCOST\tWEIGHT\tUPDATED")
	for _, r := range rs {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%g\t%d\t%s\n", r.ID, dash(r.Prefix), r.Gateway, r.Cost, r.Weight, when(&r.UpdatedAt))
	}
	tw.Flush()
}

func (a *app) printRoute(r *client.Route) {
	if a.json {
		a.printJSON(r)
		return
	}
	a.printRoutes(*r)
}

func (a *app) routeShow(ctx context.Context, path string, args []string) (int, error) {
	fs := a.flags(path, "ID", "Show one route.")
	id, code, ok := a.parseID(fs, args, "route")
	if !ok {
		return code, nil
	}
	r, err := a.c.GetRoute(ctx, id)
	if err != nil {
		return exitFailed, err
	}
	a.printRoute(r)
	return exitOK, nil
}

type routeFlags struct {
	prefix, gateway *string
	cost            *float64
	weight          *int
}

func newRouteFlags(fs *flagSet) routeFlags {
	return routeFlags{
		prefix:  fs.String("prefix", "", "number `prefix` (digits, optionally after +; empty: every number)"),
		gateway: fs.String("gateway", "", "gateway `name`"),
		cost:    fs.Float64("cost", 0, "cost; the cheapest matching route wins"),
		weight:  fs.Int("weight", 1, "share among routes of equal cost"),
	}
}

func (f routeFlags) apply(fs *flagSet, in *client.RouteInput) {
	set := setFlags(fs)
	if set["prefix"] {
		in.Prefix = *f.prefix
	}
	if set["gateway"] {
		in.Gateway = *f.gateway
	}
	if set["cost"] {
		in.Cost = *f.cost
	}
	if set["weight"] {
		in.Weight = f.weight
	}
}

func (a *app) routeCreate(ctx context.Context, path string, args []string) (int, error) {
	fs := a.flags(path, "-gateway NAME [-prefix P] [-cost C] [-weight W]", "Create a route.")
	rf := newRouteFlags(fs)
	if _, code, ok := a.parse(fs, args, 0, 0); !ok {
		return code, nil
	}
	if *rf.gateway == "" {
		return a.usageErr(fs, "-gateway is required"), nil
	}
	var in client.RouteInput
	rf.apply(fs, &in)
	r, err := a.c.CreateRoute(ctx, in)
	if err != nil {
		return exitFailed, err
	}
	a.printRoute(r)
	return exitOK, nil
}

func (a *app) routeUpdate(ctx context.Context, path string, args []string) (int, error) {
	fs := a.flags(path, "ID [flags]", "Change a route; flags not given keep their current value.")
	rf := newRouteFlags(fs)
	id, code, ok := a.parseID(fs, args, "route")
	if !ok {
		return code, nil
	}
	cur, err := a.c.GetRoute(ctx, id)
	if err != nil {
		return exitFailed, err
	}
	w := cur.Weight
	in := client.RouteInput{Prefix: cur.Prefix, Gateway: cur.Gateway, Cost: cur.Cost, Weight: &w}
	rf.apply(fs, &in)
	r, err := a.c.UpdateRoute(ctx, id, in)
	if err != nil {
		return exitFailed, err
	}
	a.printRoute(r)
	return exitOK, nil
}

func (a *app) routeDelete(ctx context.Context, path string, args []string) (int, error) {
	return a.deleteByID(ctx, path, args, "route", "Delete a route.", a.c.DeleteRoute)
}

// deleteByID is the delete command of objects named by a numeric id.
func (a *app) deleteByID(ctx context.Context, path string, args []string, what, summary string, del func(context.Context, int64) error) (int, error) {
	fs := a.flags(path, "ID", summary)
	id, code, ok := a.parseID(fs, args, what)
	if !ok {
		return code, nil
	}
	if err := del(ctx, id); err != nil {
		return exitFailed, err
	}
	fmt.Fprintf(a.stdout, "%s %d deleted\n", what, id)
	return exitOK, nil
}

// ---- inbound rules

func matchString(m client.Match) string {
	if m.Kind == "" {
		return "any"
	}
	return m.Kind + ":" + m.Value
}

// parseMatch reads KIND:VALUE (exact, prefix, pattern); a bare value is exact.
func parseMatch(s string) (client.Match, error) {
	if s == "" || s == "any" {
		return client.Match{}, nil
	}
	if k, v, ok := strings.Cut(s, ":"); ok {
		switch k {
		case "exact", "prefix", "pattern":
			return client.Match{Kind: k, Value: v}, nil
		}
		return client.Match{}, fmt.Errorf("%q: want exact:N, prefix:P or pattern:X (or a bare number)", s)
	}
	return client.Match{Kind: "exact", Value: s}, nil
}

// parseTSIMatch reads KIND:VALUE for the station id (exact, prefix,
// contains); a bare value is exact, empty or any is every sender. A
// lower-case word before a colon that is no kind (pattern:...) is refused
// rather than taken as an id, since it is almost surely a mistake.
func parseTSIMatch(s string) (client.Match, error) {
	if s == "" || s == "any" {
		return client.Match{}, nil
	}
	if k, v, ok := strings.Cut(s, ":"); ok {
		switch k {
		case "exact", "prefix", "contains":
			return client.Match{Kind: k, Value: v}, nil
		}
		if k != "" && strings.Trim(k, "abcdefghijklmnopqrstuvwxyz") == "" {
			return client.Match{}, fmt.Errorf("%q: want exact:ID, prefix:P or contains:S (write exact:%s for an id with a colon)", s, s)
		}
	}
	return client.Match{Kind: "exact", Value: s}, nil
}

func destString(d client.Destination) string {
	switch d.Kind {
	case "mailbox":
		return "mailbox:" + d.Mailbox
	case "email":
		return "email:" + strings.Join(d.Emails, ",")
	case "webhook":
		return "webhook:" + d.URL
	}
	return d.Kind
}

func (a *app) rulesList(ctx context.Context, path string, args []string) (int, error) {
	fs := a.flags(path, "[-json]", "List the inbound rules in the order they run.")
	if _, code, ok := a.parse(fs, args, 0, 0); !ok {
		return code, nil
	}
	rs, err := a.c.ListInboundRules(ctx)
	if err != nil {
		return exitFailed, err
	}
	if a.json {
		a.printJSON(map[string]any{"inbound_rules": rs})
		return exitOK, nil
	}
	a.printRules(rs...)
	return exitOK, nil
}

func (a *app) printRules(rs ...client.InboundRule) {
	tw := a.table()
	fmt.Fprintln(tw, "ID\tPRIORITY\tNUMBER\tCALLER\tTSI\tPAGES\tDESTINATION\tENABLED\tDESCRIPTION")
	for _, r := range rs {
		fmt.Fprintf(tw, "%d\t%d\t%s\t%s\t%s\t%s\t%s\t%v\t%s\n", r.ID, r.Priority, matchString(r.Number), matchString(r.Caller),
			matchString(r.TSI), r.Pages, destString(r.Destination), r.Enabled, r.Description)
	}
	tw.Flush()
}

func (a *app) printRule(r *client.InboundRule) {
	if a.json {
		a.printJSON(r)
		return
	}
	a.printRules(*r)
}

func (a *app) ruleShow(ctx context.Context, path string, args []string) (int, error) {
	fs := a.flags(path, "ID", "Show one inbound rule.")
	id, code, ok := a.parseID(fs, args, "rule")
	if !ok {
		return code, nil
	}
	r, err := a.c.GetInboundRule(ctx, id)
	if err != nil {
		return exitFailed, err
	}
	a.printRule(r)
	return exitOK, nil
}

type ruleFlags struct {
	number, caller, tsi, pages, mailbox, email, webhook, secret, desc *string
	priority                                                          *int
	enabled                                                           *bool
}

func newRuleFlags(fs *flagSet) ruleFlags {
	return ruleFlags{
		number:   fs.String("number", "", "dialled number: `exact:N`, prefix:P, pattern:X (Asterisk style) or a bare number (exact)"),
		caller:   fs.String("caller", "", "calling number, as -number; empty or any: every caller"),
		tsi:      fs.String("tsi", "", "sender's station id, ignoring case: `exact:ID`, prefix:P, contains:S or a bare id (exact); empty or any: every sender"),
		pages:    fs.String("pages", "", "which calls: some (at least one page; the default), none (no page arrived) or any"),
		mailbox:  fs.String("mailbox", "", "deliver to this mailbox `name`"),
		email:    fs.String("email", "", "deliver by email to these `addresses`, comma-separated"),
		webhook:  fs.String("webhook", "", "deliver to this webhook `URL`"),
		secret:   fs.String("secret", "", "the webhook's HMAC `key` (update: leave out to keep the stored one)"),
		desc:     fs.String("description", "", "what the rule is for"),
		priority: fs.Int("priority", 100, "lower runs first"),
		enabled:  fs.Bool("enabled", true, "in use (-enabled=false to park it)"),
	}
}

// apply copies the flags given onto in; a usage problem is returned as a message.
func (f ruleFlags) apply(fs *flagSet, in *client.InboundRuleInput) string {
	set := setFlags(fs)
	var err error
	if set["number"] {
		if in.Number, err = parseMatch(*f.number); err != nil {
			return "-number " + err.Error()
		}
	}
	if set["caller"] {
		if in.Caller, err = parseMatch(*f.caller); err != nil {
			return "-caller " + err.Error()
		}
	}
	if set["tsi"] {
		if in.TSI, err = parseTSIMatch(*f.tsi); err != nil {
			return "-tsi " + err.Error()
		}
	}
	if set["pages"] {
		switch *f.pages {
		case "some", "none", "any":
			in.Pages = *f.pages
		default:
			return fmt.Sprintf("-pages %q: want some, none or any", *f.pages)
		}
	}
	dests := 0
	for _, k := range []string{"mailbox", "email", "webhook"} {
		if set[k] {
			dests++
		}
	}
	if dests > 1 {
		return "give at most one of -mailbox, -email, -webhook"
	}
	switch {
	case set["mailbox"]:
		in.Destination = client.DestinationInput{Kind: "mailbox", Mailbox: *f.mailbox}
	case set["email"]:
		in.Destination = client.DestinationInput{Kind: "email", Emails: splitList(*f.email)}
	case set["webhook"]:
		in.Destination = client.DestinationInput{Kind: "webhook", URL: *f.webhook}
	}
	if set["secret"] {
		if in.Destination.Kind != "webhook" {
			return "-secret is for a webhook destination"
		}
		in.Destination.Secret = *f.secret
	}
	if set["description"] {
		in.Description = *f.desc
	}
	if set["priority"] {
		in.Priority = f.priority
	}
	if set["enabled"] {
		in.Enabled = f.enabled
	}
	return ""
}

func (a *app) ruleCreate(ctx context.Context, path string, args []string) (int, error) {
	fs := a.flags(path, "-number MATCH (-mailbox NAME | -email ADDRS | -webhook URL [-secret S]) [flags]", "Create an inbound rule.")
	rf := newRuleFlags(fs)
	if _, code, ok := a.parse(fs, args, 0, 0); !ok {
		return code, nil
	}
	set := setFlags(fs)
	if !set["number"] {
		return a.usageErr(fs, "-number is required"), nil
	}
	if !set["mailbox"] && !set["email"] && !set["webhook"] {
		return a.usageErr(fs, "a destination is required: -mailbox, -email or -webhook"), nil
	}
	var in client.InboundRuleInput
	if msg := rf.apply(fs, &in); msg != "" {
		return a.usageErr(fs, msg), nil
	}
	r, err := a.c.CreateInboundRule(ctx, in)
	if err != nil {
		return exitFailed, err
	}
	a.printRule(r)
	return exitOK, nil
}

func (a *app) ruleUpdate(ctx context.Context, path string, args []string) (int, error) {
	fs := a.flags(path, "ID [flags]", "Change an inbound rule; flags not given keep their current value (a webhook keeps its secret).")
	rf := newRuleFlags(fs)
	id, code, ok := a.parseID(fs, args, "rule")
	if !ok {
		return code, nil
	}
	cur, err := a.c.GetInboundRule(ctx, id)
	if err != nil {
		return exitFailed, err
	}
	pr, en := cur.Priority, cur.Enabled
	d := cur.Destination
	in := client.InboundRuleInput{Priority: &pr, Number: cur.Number, Caller: cur.Caller, TSI: cur.TSI, Pages: cur.Pages,
		Enabled: &en, Description: cur.Description,
		Destination: client.DestinationInput{Kind: d.Kind, Mailbox: d.Mailbox, Emails: d.Emails, URL: d.URL}}
	if msg := rf.apply(fs, &in); msg != "" {
		return a.usageErr(fs, msg), nil
	}
	r, err := a.c.UpdateInboundRule(ctx, id, in)
	if err != nil {
		return exitFailed, err
	}
	a.printRule(r)
	return exitOK, nil
}

func (a *app) ruleDelete(ctx context.Context, path string, args []string) (int, error) {
	return a.deleteByID(ctx, path, args, "inbound rule", "Delete an inbound rule.", a.c.DeleteInboundRule)
}

// ---- tokens

func (a *app) tokenCreate(ctx context.Context, path string, args []string) (int, error) {
	fs := a.flags(path, "-name NAME [-role submitter|admin] [-expires 90d] [-user ID]", "Create an API token. The secret is printed once, on standard output.")
	name := fs.String("name", "", "token `name` (required)")
	role := fs.String("role", "submitter", "submitter or admin")
	expires := fs.String("expires", "", "`lifetime` such as 90d or 12h after which the token is refused; empty: never")
	user := fs.Int64("user", 0, "user account `id` the token belongs to: it acts with that user's role and name")
	if _, code, ok := a.parse(fs, args, 0, 0); !ok {
		return code, nil
	}
	if *name == "" {
		return a.usageErr(fs, "-name is required"), nil
	}
	ct, err := a.c.CreateToken(ctx, client.TokenInput{Name: *name, Role: *role, ExpiresIn: *expires, UserID: *user})
	if err != nil {
		return exitFailed, err
	}
	if a.json {
		a.printJSON(ct)
		return exitOK, nil
	}
	fmt.Fprintln(a.stdout, ct.Secret)
	fmt.Fprintf(a.stderr, "token %d (%s, %s) created; the line above is shown only once: store it now\n", ct.ID, ct.Name, ct.Role)
	return exitOK, nil
}

func (a *app) tokenList(ctx context.Context, path string, args []string) (int, error) {
	fs := a.flags(path, "[-json]", "List every API token, revoked ones included (never their secrets).")
	if _, code, ok := a.parse(fs, args, 0, 0); !ok {
		return code, nil
	}
	ts, err := a.c.ListTokens(ctx)
	if err != nil {
		return exitFailed, err
	}
	if a.json {
		a.printJSON(map[string]any{"tokens": ts})
		return exitOK, nil
	}
	tw := a.table()
	fmt.Fprintln(tw, "ID\tNAME\tROLE\tCREATED\tLAST USED\tEXPIRES\tREVOKED")
	for _, t := range ts {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\n", t.ID, t.Name, t.Role, when(&t.CreatedAt), when(t.LastUsedAt), when(t.ExpiresAt), when(t.RevokedAt))
	}
	tw.Flush()
	return exitOK, nil
}

func (a *app) tokenRevoke(ctx context.Context, path string, args []string) (int, error) {
	fs := a.flags(path, "ID", "Revoke a token at once (see 'faxctl token list' for ids).")
	id, code, ok := a.parseID(fs, args, "token")
	if !ok {
		return code, nil
	}
	t, err := a.c.RevokeToken(ctx, id)
	if err != nil {
		return exitFailed, err
	}
	if a.json {
		a.printJSON(t)
		return exitOK, nil
	}
	fmt.Fprintf(a.stdout, "token %d revoked\n", id)
	return exitOK, nil
}

// ---- audit

func (a *app) audit(ctx context.Context, path string, args []string) (int, error) {
	fs := a.flags(path, "[flags]", "List configuration changes, newest first.")
	since := fs.String("since", "", "RFC 3339 `time`: entries at or after it")
	until := fs.String("until", "", "RFC 3339 `time`: entries before it")
	actor := fs.String("actor", "", "token `name` (faxd-cli for the faxd command line)")
	objType := fs.String("type", "", "object `type`: gateway, route, inbound_rule, token, standby, received_fax, fax, user, secrets")
	objID := fs.String("id", "", "object `id` (gateway name, route or rule id, ...)")
	action := fs.String("action", "", "create, update, delete, revoke, reroute, promote, ...")
	limit := fs.Int("limit", 50, "entries per page")
	cursor := fs.String("cursor", "", "continue from a previous page")
	if _, code, ok := a.parse(fs, args, 0, 0); !ok {
		return code, nil
	}
	p := client.ListAuditParams{Actor: *actor, ObjectType: *objType, ObjectID: *objID, Action: *action, Limit: *limit, Cursor: *cursor}
	var ok bool
	if p.Since, ok = a.timeFlag(fs, "since", *since); !ok {
		return exitUsage, nil
	}
	if p.Until, ok = a.timeFlag(fs, "until", *until); !ok {
		return exitUsage, nil
	}
	l, err := a.c.ListAuditEntries(ctx, p)
	if err != nil {
		return exitFailed, err
	}
	if a.json {
		a.printJSON(l)
		return exitOK, nil
	}
	tw := a.table()
	fmt.Fprintln(tw, "ID\tAT\tACTOR\tFROM\tACTION\tOBJECT\tDETAIL")
	for _, e := range l.Entries {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s %s\t%s\n", e.ID, when(&e.At), e.Actor, e.RemoteAddr, e.Action, e.ObjectType, e.ObjectID, e.Detail)
	}
	tw.Flush()
	if l.NextCursor != "" {
		fmt.Fprintf(a.stdout, "more: faxctl audit -cursor %s\n", l.NextCursor)
	}
	return exitOK, nil
}
