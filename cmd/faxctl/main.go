// Command faxctl is faxd's command-line client.
//
//	faxctl [global flags] health                     readiness of a server, component by component
//	faxctl send FILE... -to NUMBER [flags]           submit a fax (PDF, PostScript, TIFF, PNG, JPEG, GIF, text)
//	faxctl status ID                                 one fax with its history
//	faxctl list [-state S] [-to N] [-limit N]        faxes, newest first
//	faxctl cancel ID
//	faxctl download ID [-format tiff|pdf|original] [-o FILE]
//	faxctl token create -name NAME [-role submitter|admin] [-expires 90d] | token list | token revoke ID   (admin)
//	faxctl inbound list|show|download|reroute ...     received faxes (admin)
//	faxctl cluster status|promote|demote|enable|disable|sync   nodes and standby control (admin)
//	faxctl audit [-since T] [-until T] [-actor NAME] [-type T] [-id ID] [-action A]   configuration changes (admin)
//	faxctl trace ID [-attempt N]                     an attempt's SIP steps and T.30 frames
//	faxctl gateways health                           gateways up or down on the answering server, since when and why (admin)
//	faxctl version
//
// Servers and token come from flags, else the environment (FAXD_SERVERS or
// FAXD_SERVER, FAXD_DR_SERVERS, FAXD_TOKEN), else ~/.config/faxctl.yaml
// (servers, dr_servers, token, attempts, cycles). Every request goes
// through the client failover policy: each production server in turn,
// then the DR servers, never sticking to one that is down. -json prints
// the API's JSON for scripts.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/faxd/faxd/internal/buildinfo"
	"github.com/faxd/faxd/routing/failover"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

type app struct {
	c      *client
	json   bool
	stdout io.Writer
	stderr io.Writer
}

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
	asJSON := fs.Bool("json", false, "print JSON for scripts")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: faxctl [flags] health | send FILE... -to NUMBER | status ID | list | cancel ID |")
		fmt.Fprintln(stderr, "              download ID [-format tiff|pdf|original] [-o FILE] | token create|list|revoke |")
		fmt.Fprintln(stderr, "              inbound list|show|download|reroute | cluster status|promote|demote|enable|disable|sync |")
		fmt.Fprintln(stderr, "              audit | trace ID [-attempt N] | gateways health | version")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.Arg(0) == "version" {
		fmt.Fprintln(stdout, "faxctl", buildinfo.String())
		return 0
	}
	path, explicit := *cfgPath, *cfgPath != ""
	if !explicit {
		path = defaultConfigPath()
	}
	fc, err := loadFileConfig(path, explicit)
	if err != nil {
		fmt.Fprintln(stderr, "faxctl: config:", err)
		return 2
	}
	prod := splitList(*server)
	if len(prod) == 0 {
		prod = splitList(os.Getenv("FAXD_SERVERS"))
	}
	if len(prod) == 0 {
		prod = splitList(os.Getenv("FAXD_SERVER"))
	}
	if len(prod) == 0 {
		prod = fc.Servers
	}
	if len(prod) == 0 {
		prod = []string{"http://127.0.0.1:8080"}
	}
	drs := splitList(*dr)
	if len(drs) == 0 {
		drs = splitList(os.Getenv("FAXD_DR_SERVERS"))
	}
	if len(drs) == 0 {
		drs = fc.DRServers
	}
	tok := firstNonEmpty(*token, os.Getenv("FAXD_TOKEN"), fc.Token)
	if *attempts == 0 {
		*attempts = fc.Attempts
	}
	if *cycles == 0 {
		*cycles = fc.Cycles
	}
	fo, err := failover.New(failover.Policy{Production: prod, DR: drs, AttemptsPerServer: *attempts, Cycles: *cycles})
	if err != nil {
		fmt.Fprintln(stderr, "faxctl:", err)
		return 2
	}
	a := &app{c: &client{fo: fo, token: tok, http: &http.Client{}, timeout: *timeout}, json: *asJSON, stdout: stdout, stderr: stderr}
	ctx := context.Background()
	cmd, rest := fs.Arg(0), fs.Args()
	if len(rest) > 0 {
		rest = rest[1:]
	}
	var code int
	switch cmd {
	case "health":
		return a.health(ctx)
	case "send":
		code, err = a.send(ctx, rest)
	case "status":
		code, err = a.status(ctx, rest)
	case "list":
		code, err = a.list(ctx, rest)
	case "cancel":
		code, err = a.cancel(ctx, rest)
	case "download":
		code, err = a.download(ctx, rest)
	case "token":
		code, err = a.tokenCmd(ctx, rest)
	case "inbound":
		code, err = a.inboundCmd(ctx, rest)
	case "cluster":
		code, err = a.clusterCmd(ctx, rest) // cluster.go
	case "audit":
		code, err = a.auditCmd(ctx, rest) // audit.go
	case "trace":
		code, err = a.trace(ctx, rest) // trace.go
	case "gateways":
		code, err = a.gatewaysCmd(ctx, rest) // gateways.go
	default:
		fs.Usage()
		return 2
	}
	if err != nil {
		fmt.Fprintln(stderr, "faxctl "+cmd+":", err)
		var ae *apiError
		if errors.As(err, &ae) && ae.Status == http.StatusUnauthorized && tok == "" {
			fmt.Fprintln(stderr, "  (no token given: use -token, FAXD_TOKEN or token: in ~/.config/faxctl.yaml)")
		}
		if code == 0 {
			code = 1
		}
	}
	return code
}

func firstNonEmpty(s ...string) string {
	for _, x := range s {
		if x != "" {
			return x
		}
	}
	return ""
}

// parseInterleaved parses flags that may come before or after the
// positional arguments (faxctl send a.pdf -to 123 b.pdf).
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

func subFlags(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("faxctl "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

// health prints the readiness report of the first server that answers and
// exits 0 only when it is ready.
func (a *app) health(ctx context.Context) int {
	var status int
	var body []byte
	var server string
	err := a.c.fo.Do(ctx, func(ctx context.Context, srv string) error {
		ctx, cancel := context.WithTimeout(ctx, a.c.timeout)
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(srv, "/")+"/readyz", nil)
		if err != nil {
			return err
		}
		resp, err := a.c.http.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		body, _ = io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		status, server = resp.StatusCode, srv
		return nil // any answer is the server's own report
	})
	if err != nil {
		fmt.Fprintln(a.stderr, "faxctl: server unreachable:", err)
		return 1
	}
	fmt.Fprint(a.stdout, string(body))
	if status != http.StatusOK {
		fmt.Fprintf(a.stderr, "faxctl: %s is not ready (%d %s)\n", server, status, http.StatusText(status))
		return 1
	}
	return 0
}

// printJSON pretty-prints raw API JSON.
func (a *app) printJSON(b []byte) {
	var v any
	if json.Unmarshal(b, &v) != nil {
		a.stdout.Write(b)
		return
	}
	enc := json.NewEncoder(a.stdout)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

func newKey() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return "faxctl-" + hex.EncodeToString(b[:])
}
