package main

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// untouchable is a server that fails the test if anything reaches it.
func untouchable(t *testing.T) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("the server was contacted: %s %s", r.Method, r.URL)
		w.WriteHeader(500)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// Every command and subcommand answers -h and --help with its usage on
// standard output and exit 0, without contacting a server.
func TestHelpEverywhereWithoutServer(t *testing.T) {
	srv := untouchable(t)
	t.Setenv("FAXD_SERVERS", srv)
	var paths [][]string
	for _, c := range commands {
		paths = append(paths, []string{c.name})
		for _, s := range c.sub {
			paths = append(paths, []string{c.name, s.name})
		}
	}
	if len(paths) < 45 {
		t.Fatalf("only %d commands", len(paths))
	}
	for _, p := range paths {
		for _, h := range []string{"-h", "--help"} {
			args := append([]string{"-server", srv, "-token", "tok"}, append(p, h)...)
			rc, out, errs := faxctl(t, args...)
			want := "usage: faxctl " + strings.Join(p, " ")
			if rc != 0 || !strings.HasPrefix(out, want) || !strings.Contains(out, "exit codes: 0") || errs != "" {
				t.Errorf("faxctl %s %s: rc=%d out=%q err=%q", strings.Join(p, " "), h, rc, out, errs)
			}
		}
	}
	// Flags before -h do not matter; -h after an id is still help.
	for _, args := range [][]string{{"status", "-h"}, {"status", "12", "-h"}, {"send", "a.pdf", "-to", "1", "-h"}, {"health", "-h"}, {"help", "status"}} {
		rc, out, errs := faxctl(t, append([]string{"-server", srv}, args...)...)
		if rc != 0 || !strings.HasPrefix(out, "usage: faxctl "+args[0]) && !strings.HasPrefix(out, "usage: faxctl "+args[1]) || strings.Contains(errs, "not a fax id") {
			t.Errorf("%v: rc=%d out=%q err=%q", args, rc, out, errs)
		}
	}
	for _, args := range [][]string{{"-h"}, {"--help"}, {"help"}} {
		rc, out, _ := faxctl(t, args...)
		if rc != 0 || !strings.HasPrefix(out, "usage: faxctl") || !strings.Contains(out, "gateways list|show|create|update|delete|health") || !strings.Contains(out, "exit codes") {
			t.Errorf("faxctl %v: rc=%d out=%q", args, rc, out)
		}
	}
}

func TestVersion(t *testing.T) {
	rc, out, _ := faxctl(t, "-server", untouchable(t), "version")
	if rc != 0 || !strings.HasPrefix(out, "faxctl ") {
		t.Fatalf("version: rc=%d %q", rc, out)
	}
}

func TestSendUsageListsEveryFlag(t *testing.T) {
	rc, out, _ := faxctl(t, "-server", untouchable(t), "send", "-h")
	if rc != 0 {
		t.Fatalf("rc=%d", rc)
	}
	for _, f := range []string{"-to", "-from", "-header", "-priority", "-send-after", "-max-attempts", "-callback", "-resolution",
		"-key", "-meta", "-cover", "-cover-to", "-cover-from", "-cover-subject", "-cover-comment", "-json"} {
		if !strings.Contains(out, "\n  "+f+" ") && !strings.Contains(out, "\n  "+f+"\n") {
			t.Errorf("send usage lacks %s:\n%s", f, out)
		}
	}
}

// Usage errors exit 2 with a sentence saying what is wrong, before any
// server is asked.
func TestUsageErrors(t *testing.T) {
	srv := untouchable(t)
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"send", "a.pdf"}, "-to is required"},
		{[]string{"send", "-to", "+4930123"}, "at least one FILE is required"},
		{[]string{"status"}, "wrong number of arguments"},
		{[]string{"status", "x1"}, `"x1" is not a fax id`},
		{[]string{"wait", "3", "-timeout", "0s"}, "must be positive"},
		{[]string{"list", "-created-after", "yesterday"}, "RFC 3339"},
		{[]string{"download", "3", "-format", "gif"}, "want pdf, tiff or original"},
		{[]string{"gateways", "create", "gw1"}, "-address is required"},
		{[]string{"routes", "create"}, "-gateway is required"},
		{[]string{"rules", "create", "-mailbox", "a"}, "-number is required"},
		{[]string{"rules", "create", "-number", "+1"}, "a destination is required"},
		{[]string{"token", "create"}, "-name is required"},
		{[]string{"inbound", "reroute", "1"}, "exactly one"},
		{[]string{"list", "-bogus"}, "flag provided but not defined"},
		{[]string{"bogus"}, `unknown command "bogus"`},
		{[]string{"gateways", "bogus"}, `unknown command "bogus"`},
		{[]string{"gateways"}, "usage: faxctl gateways SUBCOMMAND"},
		{nil, "usage: faxctl"},
	}
	for _, c := range cases {
		rc, _, errs := faxctl(t, append([]string{"-server", srv, "-token", "t"}, c.args...)...)
		if rc != 2 || !strings.Contains(errs, c.want) {
			t.Errorf("%v: rc=%d err=%q, want 2 and %q", c.args, rc, errs, c.want)
		}
	}
	rc, _, errs := faxctl(t, "-server", "fax1:8080", "list")
	if rc != 2 || !strings.Contains(errs, "want http://host:port") {
		t.Errorf("bad server URL: rc=%d %q", rc, errs)
	}
}

// The newer commands' usage names their flags, without a server.
func TestNewCommandsUsage(t *testing.T) {
	srv := untouchable(t)
	for _, c := range []struct {
		args  []string
		flags []string
	}{
		{[]string{"inbound", "delete", "-h"}, []string{"-reason", "usage: faxctl inbound delete ID"}},
		{[]string{"delete", "--help"}, []string{"-reason"}},
		{[]string{"broadcast", "send", "-h"}, []string{"-to", "-recipients", "header line", "-cover-to", "-cover-subject", "-kill-after", "-key", "-meta"}},
		{[]string{"wait", "-h"}, []string{"-timeout", "-interval"}},
		{[]string{"inbound", "read", "-h"}, []string{"usage: faxctl inbound read ID"}},
	} {
		rc, out, errs := faxctl(t, append([]string{"-server", srv}, c.args...)...)
		if rc != 0 || errs != "" {
			t.Errorf("%v: rc=%d err=%q", c.args, rc, errs)
		}
		for _, f := range c.flags {
			if !strings.Contains(out, f) {
				t.Errorf("%v: usage lacks %q:\n%s", c.args, f, out)
			}
		}
	}
}
