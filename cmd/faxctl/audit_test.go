package main

import (
	"strings"
	"testing"
)

// faxctl audit shows the changes made through faxctl, filters them, and
// passes the server's complaint about a bad filter on.
func TestAuditCommand(t *testing.T) {
	f := newFixture(t)
	rc, _, errs := faxctl(t, "-server", f.url, "-token", f.admin, "token", "create", "-name", "ci", "-expires", "30d")
	if rc != 0 {
		t.Fatalf("token create: rc=%d %s", rc, errs)
	}
	rc, out, _ := faxctl(t, "-server", f.url, "-token", f.admin, "token", "list")
	if rc != 0 || !strings.Contains(out, "EXPIRES") {
		t.Fatalf("token list: %q", out)
	}
	rc, out, errs = faxctl(t, "-server", f.url, "-token", f.admin, "audit", "-type", "token")
	if rc != 0 || !strings.Contains(out, "ACTOR") || !strings.Contains(out, "create") || !strings.Contains(out, "token ") || !strings.Contains(out, "127.0.0.1") {
		t.Fatalf("audit: rc=%d %q %q", rc, out, errs)
	}
	rc, out, _ = faxctl(t, "-server", f.url, "-token", f.admin, "-json", "audit", "-action", "delete")
	if rc != 0 || !strings.Contains(out, `"entries": []`) {
		t.Fatalf("audit -json filtered: rc=%d %q", rc, out)
	}
	rc, _, errs = faxctl(t, "-server", f.url, "-token", f.admin, "audit", "-since", "yesterday")
	if rc != 2 || !strings.Contains(errs, "since") {
		t.Fatalf("bad -since: rc=%d %q", rc, errs)
	}
}
