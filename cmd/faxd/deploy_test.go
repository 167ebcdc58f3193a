package main

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/faxd/faxd/internal/config"
)

const unitFile = "../../deploy/systemd/faxd.service"

// unitValues reads a systemd unit's Key=Value lines (comments and
// sections ignored); repeated keys keep every value.
func unitValues(t *testing.T, path string) map[string][]string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	v := map[string][]string{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' || line[0] == ';' || line[0] == '[' {
			continue
		}
		k, val, ok := strings.Cut(line, "=")
		if !ok {
			t.Fatalf("%s: not Key=Value: %q", path, line)
		}
		v[k] = append(v[k], val)
	}
	return v
}

// systemd-analyze verify accepts the unit: every directive known, every
// value well-formed. The ExecStart binary must exist for it, so the test
// points it at an executable that does.
func TestSystemdUnitVerifies(t *testing.T) {
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze (Debian package systemd) is not installed")
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(unitFile)
	if err != nil {
		t.Fatal(err)
	}
	unit := filepath.Join(t.TempDir(), "faxd.service")
	os.WriteFile(unit, bytes.ReplaceAll(data, []byte("/usr/bin/faxd"), []byte(self)), 0o644)
	out, err := exec.Command(analyze, "verify", unit).CombinedOutput()
	if err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
	}
	// The verification is real: a bad value is reported (systemd only
	// warns about it, so any output counts as a failure above).
	bad := filepath.Join(t.TempDir(), "faxd.service")
	os.WriteFile(bad, bytes.Replace(bytes.ReplaceAll(data, []byte("/usr/bin/faxd"), []byte(self)),
		[]byte("ProtectHome=yes"), []byte("ProtectHome=maybe"), 1), 0o644)
	if out, err := exec.Command(analyze, "verify", bad).CombinedOutput(); err == nil && len(bytes.TrimSpace(out)) == 0 {
		t.Fatalf("a bad ProtectHome value passed verify: %s", out)
	}
}

// The unit and the configuration it ships with agree: systemd waits for
// READY=1 from the main process, the stop timeout outlasts the call drain,
// the watchdog outlasts a lease renewal, secrets come from the env file,
// and the hardening the deployment guide promises is there.
func TestSystemdUnitMatchesConfig(t *testing.T) {
	u := unitValues(t, unitFile)
	one := func(k string) string {
		t.Helper()
		if len(u[k]) != 1 {
			t.Fatalf("%s: %d values %q, want one", k, len(u[k]), u[k])
		}
		return u[k][0]
	}
	for k, want := range map[string]string{
		"Type": "notify", "NotifyAccess": "main", "Restart": "on-failure",
		"ExecStart":       "/usr/bin/faxd -config /etc/faxd/faxd.yaml",
		"EnvironmentFile": "-/etc/faxd/faxd.env",
		"ProtectSystem":   "strict", "ProtectHome": "yes", "PrivateTmp": "yes", "NoNewPrivileges": "yes",
		"CapabilityBoundingSet": "", "RestrictAddressFamilies": "AF_INET AF_INET6 AF_UNIX",
		"User": "faxd", "StateDirectory": "faxd",
	} {
		if got := one(k); got != want {
			t.Errorf("%s=%q, want %q", k, got, want)
		}
	}
	if f := u["SystemCallFilter"]; len(f) == 0 || f[0] != "@system-service" {
		t.Errorf("SystemCallFilter=%q, want @system-service first", f)
	}
	dur := func(k string) time.Duration {
		t.Helper()
		s := strings.NewReplacer("min", "m").Replace(one(k))
		d, err := time.ParseDuration(s)
		if err != nil {
			t.Fatalf("%s: %v", k, err)
		}
		return d
	}
	cfg, err := config.Load("../../deploy/systemd/faxd.yaml", nil)
	if err != nil {
		t.Fatal(err)
	}
	if stop, drain := dur("TimeoutStopSec"), cfg.Channel.DrainTimeout; stop < drain+30*time.Second {
		t.Errorf("TimeoutStopSec %v does not outlast channel.drain_timeout %v", stop, drain)
	}
	if wd, ttl := dur("WatchdogSec"), cfg.Queue.LeaseTTL.D(); wd < 2*ttl {
		t.Errorf("WatchdogSec %v is not well above queue.lease_ttl %v", wd, ttl)
	}
	// The embedded state lives in the unit's state directory, the only
	// place ProtectSystem=strict lets it write.
	for _, dir := range []string{cfg.Database.EmbeddedDir, cfg.NATS.EmbeddedDir, cfg.EmbeddedKeyFile()} {
		if !strings.HasPrefix(dir, "/var/lib/faxd/") {
			t.Errorf("%s is outside /var/lib/faxd (StateDirectory)", dir)
		}
	}
}

func TestSystemdConfigChecks(t *testing.T) {
	var out, errb bytes.Buffer
	if rc := run([]string{"-config", "../../deploy/systemd/faxd.yaml", "check"}, &out, &errb); rc != 0 {
		t.Fatalf("rc=%d %s", rc, errb.String())
	}
}
