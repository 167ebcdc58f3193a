// Package compose_test validates compose.yaml with the Compose
// specification's own loader (schema validation included). Test-only, so
// compose-go never reaches the faxd binary.
package compose_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"

	"github.com/faxd/faxd/internal/config"
)

func load(t *testing.T, file string, env []string) (*types.Project, error) {
	t.Helper()
	opts, err := cli.NewProjectOptions([]string{file}, cli.WithWorkingDirectory("."), cli.WithEnv(env))
	if err != nil {
		t.Fatal(err)
	}
	return opts.LoadProject(context.Background())
}

// compose.yaml passes the Compose schema and fits faxd: the mounted
// configuration loads with the service's environment, the health check
// runs faxctl against the HTTP listener, the stop grace period outlasts
// the call drain, and faxd starts only after a healthy PostgreSQL.
func TestComposeFileValid(t *testing.T) {
	p, err := load(t, "compose.yaml", []string{"FAXD_DB_PASSWORD=secret"})
	if err != nil {
		t.Fatal(err)
	}
	faxd, err := p.GetService("faxd")
	if err != nil {
		t.Fatal(err)
	}
	if faxd.HealthCheck == nil || !slices.Equal(faxd.HealthCheck.Test, []string{"CMD", "/usr/bin/faxctl", "health"}) {
		t.Fatalf("faxd health check %+v", faxd.HealthCheck)
	}
	if d := faxd.DependsOn["postgres"]; d.Condition != types.ServiceConditionHealthy {
		t.Errorf("faxd depends on postgres %+v, want service_healthy", d)
	}
	var cfgFile string
	for _, v := range faxd.Volumes {
		if v.Target == "/etc/faxd/faxd.yaml" {
			cfgFile = v.Source
		}
	}
	if cfgFile == "" {
		t.Fatal("no /etc/faxd/faxd.yaml mounted")
	}
	if _, err := os.Stat(cfgFile); err != nil {
		t.Fatalf("mounted configuration: %v", err)
	}
	var env []string
	for k, v := range faxd.Environment {
		if v != nil && strings.HasPrefix(k, "FAXD_") {
			env = append(env, k+"="+*v)
		}
	}
	cfg, err := config.Load(cfgFile, env)
	if err != nil {
		t.Fatalf("the mounted faxd.yaml with the service's environment: %v", err)
	}
	if !strings.Contains(cfg.Database.QueueDSN, ":secret@") {
		t.Errorf("queue_dsn %q does not carry FAXD_DB_PASSWORD", cfg.Database.QueueDSN)
	}
	if srv := *faxd.Environment["FAXD_SERVERS"]; !strings.HasSuffix(srv, cfg.HTTP.Listen[strings.LastIndex(cfg.HTTP.Listen, ":"):]) {
		t.Errorf("FAXD_SERVERS %s is not http.listen %s", srv, cfg.HTTP.Listen)
	}
	if faxd.StopGracePeriod == nil || time.Duration(*faxd.StopGracePeriod) < cfg.Channel.DrainTimeout+30*time.Second {
		t.Errorf("stop_grace_period %v does not outlast channel.drain_timeout %v", faxd.StopGracePeriod, cfg.Channel.DrainTimeout)
	}
	if !faxd.ReadOnly || !slices.Contains(faxd.CapDrop, "ALL") {
		t.Error("faxd container not read-only with all capabilities dropped")
	}
	stateDir := filepath.Dir(cfg.NATS.EmbeddedDir)
	if !slices.ContainsFunc(faxd.Volumes, func(v types.ServiceVolumeConfig) bool { return v.Target == stateDir && v.Type == "volume" }) {
		t.Errorf("nats.embedded_dir %s is not on a named volume", cfg.NATS.EmbeddedDir)
	}
}

// The loader really validates: a misspelt key fails the schema, and a
// missing password is refused by the file's own ${...:?} check.
func TestComposeValidationIsReal(t *testing.T) {
	data, err := os.ReadFile("compose.yaml")
	if err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(t.TempDir(), "compose.yaml")
	os.WriteFile(bad, []byte(strings.Replace(string(data), "stop_grace_period:", "stop_grace_periods:", 1)), 0o644)
	if _, err := load(t, bad, []string{"FAXD_DB_PASSWORD=x"}); err == nil || !strings.Contains(err.Error(), "stop_grace_periods") {
		t.Fatalf("misspelt key: %v", err)
	}
	if _, err := load(t, "compose.yaml", nil); err == nil || !strings.Contains(err.Error(), "FAXD_DB_PASSWORD") {
		t.Fatalf("no password: %v", err)
	}
}
