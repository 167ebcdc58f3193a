package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// faxctl users: create (password from stdin or a file), list, show,
// update, grant, revoke, delete against the real API; a token of the user
// then acts as the user (faxctl me); refusals exit 1 with the server's
// sentence.
func TestUsersCommands(t *testing.T) {
	f := newFixture(t)
	adm := []string{"-server", f.url, "-token", f.admin}
	old := passwordInput
	t.Cleanup(func() { passwordInput = old })
	passwordInput = strings.NewReader("a long enough password\n")
	rc, out, errs := faxctl(t, append(adm, "users", "create", "-name", "nina", "-role", "operator", "-password-file", "-")...)
	if rc != 0 || !strings.Contains(out, "(nina, operator) created") {
		t.Fatalf("create: rc=%d %q %q", rc, out, errs)
	}
	passwordInput = strings.NewReader("short\n")
	rc, _, errs = faxctl(t, append(adm, "users", "create", "-name", "oscar", "-password-file", "-")...)
	if rc != 1 || !strings.Contains(errs, "at least 12 characters") {
		t.Fatalf("short password: rc=%d %q", rc, errs)
	}
	rc, _, errs = faxctl(t, append(adm, "users", "create", "-name", "oscar")...)
	if rc != 2 || !strings.Contains(errs, "-password-file are required") {
		t.Fatalf("no password: rc=%d %q", rc, errs)
	}
	if rc, out, errs = faxctl(t, append(adm, "users", "grant", "1", "sales")...); rc != 0 || !strings.Contains(out, "sales") {
		t.Fatalf("grant: rc=%d %q %q", rc, out, errs)
	}
	pw := filepath.Join(t.TempDir(), "pw")
	os.WriteFile(pw, []byte("another long password\n"), 0o600)
	rc, out, errs = faxctl(t, append(adm, "users", "update", "1", "-role", "user", "-password-file", pw)...)
	if rc != 0 || !strings.Contains(out, "role      user") || !strings.Contains(out, "sales") {
		t.Fatalf("update: rc=%d %q %q", rc, out, errs)
	}
	rc, out, _ = faxctl(t, append(adm, "users", "list")...)
	if rc != 0 || !strings.Contains(out, "nina") || strings.Contains(out, "argon2") {
		t.Fatalf("list: rc=%d %q", rc, out)
	}
	// A token of nina's acts as nina.
	rc, out, errs = faxctl(t, append(adm, "token", "create", "-name", "nina-cli", "-user", "1")...)
	secret := strings.TrimSpace(out)
	if rc != 0 || secret == "" {
		t.Fatalf("owned token: rc=%d %q %q", rc, out, errs)
	}
	rc, out, errs = faxctl(t, "-server", f.url, "-token", secret, "me")
	if rc != 0 || !strings.Contains(out, "nina") || !strings.Contains(out, "role      user") || !strings.Contains(out, "sales") {
		t.Fatalf("me: rc=%d %q %q", rc, out, errs)
	}
	rc, _, errs = faxctl(t, "-server", f.url, "-token", secret, "users", "list")
	if rc != 1 || !strings.Contains(errs, "admin") {
		t.Fatalf("user lists users: rc=%d %q", rc, errs)
	}
	if rc, out, _ = faxctl(t, append(adm, "users", "revoke", "1", "sales")...); rc != 0 || strings.Contains(out, "sales") {
		t.Fatalf("revoke: rc=%d %q", rc, out)
	}
	if rc, out, _ = faxctl(t, append(adm, "users", "delete", "1")...); rc != 0 {
		t.Fatalf("delete: rc=%d %q", rc, out)
	}
	if rc, _, errs = faxctl(t, append(adm, "users", "show", "1")...); rc != 1 || !strings.Contains(errs, "no user") {
		t.Fatalf("show deleted: rc=%d %q", rc, errs)
	}
	// The user's token went with the user.
	if rc, _, _ = faxctl(t, "-server", f.url, "-token", secret, "me"); rc != 1 {
		t.Fatalf("token of a deleted user: rc=%d", rc)
	}
}
