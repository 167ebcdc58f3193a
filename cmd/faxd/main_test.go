package main

import (
	"bytes"
	"os"
	"os/exec"
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

// buildFaxd builds the faxd binary as `make build` does.
func buildFaxd(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "faxd")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// Every command answers -h, --help or help with its usage on stdout and
// exit status 0, before it loads, opens or starts anything: the
// configuration here points at a database and a NATS that are not there
// (and an embedded directory that cannot be made), so any work would
// fail with status 1 and log lines on stderr.
func TestHelpStartsNothing(t *testing.T) {
	bin := buildFaxd(t)
	cfg := filepath.Join(t.TempDir(), "nowhere.yaml")
	os.WriteFile(cfg, []byte("database:\n  queue_dsn: postgres://faxd@127.0.0.1:1/none?connect_timeout=1\n  embedded_dir: /dev/null/pg\nnats:\n  url: nats://127.0.0.1:1\n"), 0o600)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-h"}, "usage: faxd [-config FILE]"},
		{[]string{"--help"}, "usage: faxd [-config FILE]"},
		{[]string{"help"}, "usage: faxd [-config FILE]"},
		{[]string{"run", "-h"}, "Run the server"},
		{[]string{"migrate", "--help"}, "Apply the schema migrations"},
		{[]string{"check", "-h"}, "Validate the configuration"},
		{[]string{"keys", "-h"}, "FAXD_ environment variable"},
		{[]string{"version", "-help"}, "Print the version"},
		{[]string{"token", "-h"}, "faxd token create --name NAME"},
		{[]string{"token", "create", "-h"}, "faxd token create --name NAME"},
		{[]string{"token", "revoke", "--help"}, "faxd token revoke ID"},
		{[]string{"token", "help"}, "faxd token list"},
		{[]string{"user", "-h"}, "faxd user create -name NAME"},
		{[]string{"user", "create", "-name", "root", "-h"}, "faxd user create -name NAME"},
		{[]string{"user", "passwd", "--help"}, "faxd user passwd -name NAME"},
		{[]string{"user", "help"}, "faxd user list"},
	} {
		args := append([]string{"-config", cfg}, tc.args...)
		cmd := exec.Command(bin, args...)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		if err != nil || stderr.Len() != 0 || !strings.Contains(stdout.String(), tc.want) {
			t.Errorf("faxd %s: %v\nstdout: %s\nstderr: %s", strings.Join(tc.args, " "), err, stdout.String(), stderr.String())
		}
	}
	// Without -h the same configuration does fail: the help above really
	// did no work.
	for _, args := range [][]string{{"token", "list"}, {"token", "create", "--name", "help"}, {"user", "list"}} {
		cmd := exec.Command(bin, append([]string{"-config", cfg}, args...)...)
		if out, err := cmd.CombinedOutput(); err == nil || strings.Contains(string(out), "usage:") {
			t.Errorf("faxd %s against nothing: %v %s", strings.Join(args, " "), err, out)
		}
	}
	// A token command that is not one fails with its usage, also before
	// any database is opened.
	var stderr bytes.Buffer
	cmd := exec.Command(bin, "-config", cfg, "token", "frobnicate")
	cmd.Stderr = &stderr
	if err := cmd.Run(); err == nil || !strings.Contains(stderr.String(), "usage: faxd token") || strings.Contains(stderr.String(), "level=") {
		t.Errorf("token frobnicate: %v %s", err, stderr.String())
	}
	stderr.Reset()
	cmd = exec.Command(bin, "-config", cfg, "user", "frobnicate")
	cmd.Stderr = &stderr
	if err := cmd.Run(); err == nil || !strings.Contains(stderr.String(), "usage: faxd user") || strings.Contains(stderr.String(), "level=") {
		t.Errorf("user frobnicate: %v %s", err, stderr.String())
	}
}
