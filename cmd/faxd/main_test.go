package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestVersionAndKeys(t *testing.T) {
	var out, errb bytes.Buffer
	if rc := run([]string{"version"}, &out, &errb); rc != 0 || !strings.HasPrefix(out.String(), "faxd ") {
		t.Fatalf("version: rc=%d out=%q err=%q", rc, out.String(), errb.String())
	}
	out.Reset()
	if rc := run([]string{"keys"}, &out, &errb); rc != 0 || !strings.Contains(out.String(), "FAXD_QUEUE_LEASE_TTL") {
		t.Fatalf("keys: rc=%d out=%q", rc, out.String())
	}
}

// A bad configuration stops faxd before it touches anything, naming every
// bad key, with a non-zero exit.
func TestBadConfigExitsNonZero(t *testing.T) {
	p := filepath.Join(t.TempDir(), "bad.yaml")
	os.WriteFile(p, []byte("node:\n  role: boss\nchannels:\n  count: lots\nqueue:\n  leese_ttl: 5s\n"), 0o600)
	var out, errb bytes.Buffer
	rc := run([]string{"-config", p, "check"}, &out, &errb)
	if rc != 1 {
		t.Fatalf("rc=%d, want 1", rc)
	}
	for _, want := range []string{"node.role", "channels.count", "queue.leese_ttl"} {
		if !strings.Contains(errb.String(), want) {
			t.Errorf("stderr does not name %s:\n%s", want, errb.String())
		}
	}
	if rc := run([]string{"-config", filepath.Join(t.TempDir(), "missing.yaml")}, &out, &errb); rc != 1 {
		t.Errorf("missing file: rc=%d", rc)
	}
	if rc := run([]string{"frobnicate"}, &out, &errb); rc != 2 {
		t.Errorf("unknown command: rc=%d", rc)
	}
}

func TestExampleConfigChecks(t *testing.T) {
	var out, errb bytes.Buffer
	for _, f := range []string{"../../deploy/faxd.example.yaml", "../../deploy/faxd.dev.yaml"} {
		if rc := run([]string{"-config", f, "check"}, &out, &errb); rc != 0 {
			t.Errorf("%s: rc=%d %s", f, rc, errb.String())
		}
	}
}
