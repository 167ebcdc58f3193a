// Command faxctl is faxd's command-line client.
//
//	faxctl [-server URL] health     readiness of a server, component by component
//	faxctl version
//
// The server address comes from -server or $FAXD_SERVER.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/faxd/faxd/internal/buildinfo"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("faxctl", flag.ContinueOnError)
	fs.SetOutput(stderr)
	def := os.Getenv("FAXD_SERVER")
	if def == "" {
		def = "http://127.0.0.1:8080"
	}
	server := fs.String("server", def, "faxd base `URL`")
	timeout := fs.Duration("timeout", 10*time.Second, "request timeout")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: faxctl [-server URL] health | version")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	switch fs.Arg(0) {
	case "version":
		fmt.Fprintln(stdout, "faxctl", buildinfo.String())
		return 0
	case "health":
		ctx, cancel := context.WithTimeout(context.Background(), *timeout)
		defer cancel()
		return health(ctx, strings.TrimRight(*server, "/"), stdout, stderr)
	default:
		fs.Usage()
		return 2
	}
}

// health prints the server's readiness report and exits 0 only when ready.
func health(ctx context.Context, base string, stdout, stderr io.Writer) int {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/readyz", nil)
	if err != nil {
		fmt.Fprintln(stderr, "faxctl:", err)
		return 2
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		fmt.Fprintln(stderr, "faxctl: server unreachable:", err)
		return 1
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	fmt.Fprint(stdout, string(body))
	if resp.StatusCode != http.StatusOK {
		fmt.Fprintf(stderr, "faxctl: %s is not ready (%s)\n", base, resp.Status)
		return 1
	}
	return 0
}
