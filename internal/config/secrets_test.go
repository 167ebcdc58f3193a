package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/faxd/faxd/internal/notify"
)

// The secrets keys are checked at load: a missing key file is named, and
// webhook secrets in the file of a server on an external database need a
// key (the deliveries carrying them are stored encrypted).
func TestSecretsValidation(t *testing.T) {
	joined := func(errs []error) string {
		var s []string
		for _, e := range errs {
			s = append(s, e.Error())
		}
		return strings.Join(s, "\n")
	}
	c := Default()
	if errs := c.validateSecrets(); len(errs) != 0 {
		t.Fatalf("embedded defaults: %v", errs)
	}
	if got := c.EmbeddedKeyFile(); got != filepath.Join("var", "secrets.key") {
		t.Fatalf("embedded key file %q", got)
	}
	c.Database.QueueDSN = "postgres://db/faxd"
	c.Notify.CallbackSecret = "s"
	c.Notify.AdminWebhooks = []notify.Webhook{{URL: "https://x.example", Secret: "t"}}
	if got := joined(c.validateSecrets()); !strings.Contains(got, "notify.callback_secret") || !strings.Contains(got, "notify.admin_webhooks[0].secret") {
		t.Fatalf("external database without key: %s", got)
	}
	c.Secrets.KeyFile = filepath.Join(t.TempDir(), "absent")
	if got := joined(c.validateSecrets()); !strings.Contains(got, "secrets.key_file") {
		t.Fatalf("missing key file: %s", got)
	}
	line := "k1 AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n"
	if err := os.WriteFile(c.Secrets.KeyFile, []byte(line), 0o600); err != nil {
		t.Fatal(err)
	}
	if errs := c.validateSecrets(); len(errs) != 0 {
		t.Fatalf("with a key: %v", errs)
	}
	c.Secrets.ActiveKey = "k2"
	if got := joined(c.validateSecrets()); !strings.Contains(got, "secrets.active_key") || strings.Contains(got, "AAECAwQF") {
		t.Fatalf("unknown active key: %s", got)
	}
}
