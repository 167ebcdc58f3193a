// Command faxctl is faxd's command-line client, built on the public Go
// client (github.com/faxd/faxd/client). `faxctl -h` lists the commands;
// every command answers -h with its usage without contacting a server.
//
// Servers and token come from flags, else the environment (FAXD_SERVERS or
// FAXD_SERVER, FAXD_DR_SERVERS, FAXD_TOKEN), else ~/.config/faxctl.yaml
// (servers, dr_servers, token, attempts, cycles). Every request goes
// through the client failover policy: each production server in turn,
// then the DR servers, never sticking to one that is down.
//
// Exit codes: 0 done, 1 failed (refused, unreachable, or for wait: the fax
// failed or was cancelled), 2 usage error.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/faxd/faxd/client"
	"github.com/faxd/faxd/internal/buildinfo"
	"github.com/faxd/faxd/routing/failover"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

// Exit codes.
const (
	exitOK     = 0
	exitFailed = 1
	exitUsage  = 2
)

const exitCodesHelp = "exit codes: 0 done, 1 failed (refused by the server, no server answered; wait: the fax failed or was cancelled), 2 usage error"

type app struct {
	c      *client.Client
	cErr   error // why no client could be made (bad server URL); reported only when one is needed
	token  string
	json   bool
	stdout io.Writer
	stderr io.Writer
}

// command is a leaf (run) or a group of subcommands (sub).
type command struct {
	name    string
	summary string
	sub     []*command
	run     func(a *app, ctx context.Context, path string, args []string) (int, error)
}

var commands []*command

func init() {
	commands = []*command{
		{name: "health", summary: "readiness of a server, component by component", run: (*app).health},
		{name: "send", summary: "submit a fax (PDF, PostScript, TIFF, PNG, JPEG, GIF, text)", run: (*app).send},
		{name: "status", summary: "one fax with its history", run: (*app).status},
		{name: "list", summary: "faxes, newest first", run: (*app).list},
		{name: "wait", summary: "wait until a fax is sent, failed or cancelled", run: (*app).wait},
		{name: "cancel", summary: "cancel a fax", run: (*app).cancel},
		{name: "retry", summary: "make a fax waiting for its next attempt due now", run: (*app).retry},
		{name: "resend", summary: "send a finished fax again, as a new fax", run: (*app).resend},
		{name: "delete", summary: "delete a finished fax's documents, leaving a tombstone", run: (*app).deleteFax},
		{name: "download", summary: "a fax's pages (PDF or TIFF) or a submitted document", run: (*app).download},
		{name: "report", summary: "a finished fax's confirmation report (PDF)", run: (*app).faxReport},
		{name: "trace", summary: "an attempt's SIP steps and T.30 frames", run: (*app).trace},
		{name: "whoami", summary: "the token in use", run: (*app).whoami},
		{name: "inbound", summary: "received faxes (admin)", sub: []*command{
			{name: "list", summary: "received faxes, newest first", run: (*app).inboundList},
			{name: "show", summary: "one received fax with its reroutes", run: (*app).inboundShow},
			{name: "download", summary: "a received fax as PDF or TIFF", run: (*app).inboundDownload},
			{name: "reroute", summary: "send a received fax to another destination", run: (*app).inboundReroute},
			{name: "trace", summary: "the call trace of a received fax", run: (*app).inboundTrace},
			{name: "reroutes", summary: "a received fax's reroutes, oldest first", run: (*app).inboundReroutes},
			{name: "thumbnail", summary: "a PNG preview of one page", run: (*app).inboundThumbnail},
			{name: "read", summary: "mark a received fax read for this token", run: inboundRead(true)},
			{name: "unread", summary: "mark a received fax unread again for this token", run: inboundRead(false)},
			{name: "delete", summary: "delete a received fax's pages for good, leaving a tombstone", run: (*app).inboundDelete},
		}},
		{name: "mailboxes", summary: "mailboxes of received faxes (admin)", sub: []*command{
			{name: "list", summary: "mailboxes with their counts", run: (*app).mailboxesList},
			{name: "show", summary: "a mailbox's faxes, newest first", run: (*app).mailboxShow},
		}},
		{name: "archive", summary: "completed outbound and received faxes", sub: []*command{
			{name: "search", summary: "search the archive, newest first", run: (*app).archiveSearch},
		}},
		{name: "gateways", summary: "SIP gateways (admin)", sub: []*command{
			{name: "list", summary: "every gateway", run: (*app).gatewaysList},
			{name: "show", summary: "one gateway", run: (*app).gatewayShow},
			{name: "create", summary: "create a gateway", run: (*app).gatewayCreate},
			{name: "update", summary: "change a gateway (flags not given keep their value)", run: (*app).gatewayUpdate},
			{name: "delete", summary: "delete a gateway no route uses", run: (*app).gatewayDelete},
			{name: "health", summary: "up or down on the answering server, since when and why", run: (*app).gatewaysHealth},
		}},
		{name: "routes", summary: "least-cost routes (admin)", sub: []*command{
			{name: "list", summary: "every route", run: (*app).routesList},
			{name: "show", summary: "one route", run: (*app).routeShow},
			{name: "create", summary: "create a route", run: (*app).routeCreate},
			{name: "update", summary: "change a route (flags not given keep their value)", run: (*app).routeUpdate},
			{name: "delete", summary: "delete a route", run: (*app).routeDelete},
		}},
		{name: "rules", summary: "inbound rules: where received faxes go (admin)", sub: []*command{
			{name: "list", summary: "every rule in the order they run", run: (*app).rulesList},
			{name: "show", summary: "one rule", run: (*app).ruleShow},
			{name: "create", summary: "create a rule", run: (*app).ruleCreate},
			{name: "update", summary: "change a rule (flags not given keep their value)", run: (*app).ruleUpdate},
			{name: "delete", summary: "delete a rule", run: (*app).ruleDelete},
		}},
		{name: "token", summary: "API tokens (admin)", sub: []*command{
			{name: "create", summary: "create a token; its secret is printed once", run: (*app).tokenCreate},
			{name: "list", summary: "every token, revoked ones included", run: (*app).tokenList},
			{name: "revoke", summary: "revoke a token at once", run: (*app).tokenRevoke},
		}},
		{name: "audit", summary: "configuration changes, newest first (admin)", run: (*app).audit},
		{name: "cluster", summary: "servers and standby control (admin)", sub: []*command{
			{name: "status", summary: "servers, roles, leases; the standby's failover state", run: (*app).clusterStatus},
			{name: "promote", summary: "make the answering standby the primary now", run: (*app).standbyControl},
			{name: "demote", summary: "return the answering standby to standby now", run: (*app).standbyControl},
			{name: "enable", summary: "turn automatic failover on", run: (*app).standbyControl},
			{name: "disable", summary: "turn automatic failover off", run: (*app).standbyControl},
			{name: "sync", summary: "copy the primary's configuration now", run: (*app).standbyControl},
		}},
		{name: "me", summary: "who the token in use is: name, role, mailbox grants", run: (*app).me},
		{name: "users", summary: "people's accounts and their mailbox grants (admin)", sub: []*command{
			{name: "list", summary: "every account with its grants", run: (*app).usersList},
			{name: "show", summary: "one account", run: (*app).usersShow},
			{name: "create", summary: "create an account (password from a file or stdin)", run: (*app).usersCreate},
			{name: "update", summary: "change an account's role, disabled state or password", run: (*app).usersUpdate},
			{name: "delete", summary: "delete an account with its sessions, grants and tokens", run: (*app).usersDelete},
			{name: "grant", summary: "let a user see a mailbox's received faxes", run: (*app).usersGrant},
			{name: "revoke", summary: "take a mailbox grant back", run: (*app).usersGrant},
		}},
		{name: "version", summary: "faxctl's version", run: (*app).version},
		{name: "broadcast", summary: "one fax to many numbers, followed as one", sub: []*command{
			{name: "send", summary: "send documents to many numbers, a fax each", run: (*app).broadcastSend},
			{name: "status", summary: "a broadcast's faxes counted by state, and the faxes", run: (*app).broadcastStatus},
			{name: "list", summary: "broadcasts, newest first", run: (*app).broadcastList},
			{name: "cancel", summary: "cancel every unfinished fax of a broadcast", run: (*app).broadcastCancel},
		}},
	}
}

func isHelp(s string) bool { return s == "-h" || s == "-help" || s == "--help" || s == "help" }

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("faxctl", flag.ContinueOnError)
	fs.SetOutput(stderr)
	server := fs.String("server", "", "production server `URLs`, comma-separated (env FAXD_SERVERS or FAXD_SERVER)")
	dr := fs.String("dr", "", "disaster-recovery server `URLs`, comma-separated (env FAXD_DR_SERVERS)")
	token := fs.String("token", "", "API `token` (env FAXD_TOKEN)")
	cfgPath := fs.String("config", "", "config `file` (default ~/.config/faxctl.yaml)")
	attempts := fs.Int("attempts", 0, "attempts per server per cycle (default 2)")
	cycles := fs.Int("cycles", 0, "production cycles before the DR servers (default 2)")
	timeout := fs.Duration("timeout", 60*time.Second, "per-request timeout")
	asJSON := fs.Bool("json", false, "print the API's JSON for scripts (also accepted after any command)")
	topUsage := func(w io.Writer) {
		fmt.Fprintln(w, "usage: faxctl [global flags] COMMAND [SUBCOMMAND] [flags] [args]")
		fmt.Fprintln(w, "\ncommands:")
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		for _, c := range commands {
			name := c.name
			if len(c.sub) > 0 {
				var subs []string
				for _, s := range c.sub {
					subs = append(subs, s.name)
				}
				name += " " + strings.Join(subs, "|")
			}
			fmt.Fprintf(tw, "  %s\t%s\n", name, c.summary)
		}
		tw.Flush()
		fmt.Fprintln(w, "\n'faxctl COMMAND -h' shows a command's usage and flags.")
		fmt.Fprintln(w, "\nglobal flags:")
		fs.SetOutput(w)
		fs.PrintDefaults()
		fs.SetOutput(stderr)
		fmt.Fprintln(w, "\n"+exitCodesHelp)
	}
	fs.Usage = func() {}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			topUsage(stdout)
			return exitOK
		}
		fmt.Fprintln(stderr, "run 'faxctl -h' for usage")
		return exitUsage
	}
	rest := fs.Args()
	if len(rest) == 0 {
		topUsage(stderr)
		return exitUsage
	}
	if isHelp(rest[0]) {
		if len(rest) == 1 {
			topUsage(stdout)
			return exitOK
		}
		rest = append(rest[1:], "-h") // faxctl help send == faxctl send -h
	}
	a := &app{json: *asJSON, stdout: stdout, stderr: stderr}
	path, explicit := *cfgPath, *cfgPath != ""
	if !explicit {
		path = defaultConfigPath()
	}
	fc, err := loadFileConfig(path, explicit)
	if err != nil {
		fmt.Fprintln(stderr, "faxctl: config:", err)
		return exitUsage
	}
	prod := firstList(splitList(*server), splitList(os.Getenv("FAXD_SERVERS")), splitList(os.Getenv("FAXD_SERVER")), fc.Servers, []string{"http://127.0.0.1:8080"})
	drs := firstList(splitList(*dr), splitList(os.Getenv("FAXD_DR_SERVERS")), fc.DRServers)
	a.token = firstNonEmpty(*token, os.Getenv("FAXD_TOKEN"), fc.Token)
	if *attempts == 0 {
		*attempts = fc.Attempts
	}
	if *cycles == 0 {
		*cycles = fc.Cycles
	}
	a.c, a.cErr = client.New(client.Options{Servers: prod, DR: drs, Token: a.token,
		AttemptsPerServer: *attempts, Cycles: *cycles, Timeout: *timeout})
	return a.dispatch(context.Background(), "faxctl", commands, rest)
}

// dispatch finds the command named by args[0] among cmds and runs it.
func (a *app) dispatch(ctx context.Context, path string, cmds []*command, args []string) int {
	var c *command
	for _, x := range cmds {
		if x.name == args[0] {
			c = x
		}
	}
	if c == nil {
		fmt.Fprintf(a.stderr, "%s: unknown command %q; run '%s -h' for the list\n", path, args[0], path)
		return exitUsage
	}
	path += " " + c.name
	rest := args[1:]
	if len(c.sub) > 0 {
		if len(rest) == 0 {
			a.groupUsage(a.stderr, path, c)
			return exitUsage
		}
		if isHelp(rest[0]) {
			a.groupUsage(a.stdout, path, c)
			return exitOK
		}
		return a.dispatch(ctx, path, c.sub, rest)
	}
	code, err := c.run(a, ctx, path, rest)
	if err != nil {
		a.report(path, err)
		if code == exitOK {
			code = exitFailed
		}
	}
	return code
}

func (a *app) groupUsage(w io.Writer, path string, c *command) {
	fmt.Fprintf(w, "usage: %s SUBCOMMAND [flags] [args]\n\n%s:\n", path, c.summary)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, s := range c.sub {
		fmt.Fprintf(tw, "  %s\t%s\n", s.name, s.summary)
	}
	tw.Flush()
	fmt.Fprintf(w, "\n'%s SUBCOMMAND -h' shows its flags.\n%s\n", path, exitCodesHelp)
}

// report prints a failed command's error with what the user can do.
func (a *app) report(path string, err error) {
	var af *failover.AllFailed
	if errors.As(err, &af) {
		fmt.Fprintf(a.stderr, "%s: no server answered (%d attempts); last: %v\n", path, af.Tried, af.Last)
	} else {
		fmt.Fprintf(a.stderr, "%s: %v\n", path, err)
	}
	var ae *client.Error
	if errors.As(err, &ae) && ae.Status == http.StatusUnauthorized && a.token == "" {
		fmt.Fprintln(a.stderr, "  (no token given: use -token, FAXD_TOKEN or token: in ~/.config/faxctl.yaml)")
	}
}

func (a *app) version(ctx context.Context, path string, args []string) (int, error) {
	fs := a.flags(path, "", "Print faxctl's version.")
	if _, code, ok := a.parseLocal(fs, args); !ok {
		return code, nil
	}
	fmt.Fprintln(a.stdout, "faxctl", buildinfo.String())
	return exitOK, nil
}

// health prints the readiness report of the first server that answers and
// exits 0 only when it is ready.
func (a *app) health(ctx context.Context, path string, args []string) (int, error) {
	fs := a.flags(path, "", "Print the readiness report (/readyz) of the first server that answers; exit 0 only when it is ready.")
	if _, code, ok := a.parse(fs, args, 0, 0); !ok {
		return code, nil
	}
	r, err := a.c.Ready(ctx)
	if err != nil {
		fmt.Fprintf(a.stderr, "%s: server unreachable: %v\n", path, err)
		return exitFailed, nil
	}
	fmt.Fprint(a.stdout, r.Report)
	if !r.Ready {
		fmt.Fprintf(a.stderr, "%s: %s is not ready (%d %s)\n", path, r.Server, r.Status, http.StatusText(r.Status))
		return exitFailed, nil
	}
	return exitOK, nil
}

func firstNonEmpty(s ...string) string {
	for _, x := range s {
		if x != "" {
			return x
		}
	}
	return ""
}

func firstList(ls ...[]string) []string {
	for _, l := range ls {
		if len(l) > 0 {
			return l
		}
	}
	return nil
}
