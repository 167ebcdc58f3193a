package users

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/faxd/faxd/internal/audit"
)

// `faxd user` bootstraps the first admin with the password on stdin,
// changes it from a file, and refuses bad input with a sentence and exit
// status 1 or 2; its changes are audited as the command line's.
func TestCommand(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := newPool(t)
	opts := Options{Params: cheap}
	run := func(stdin string, args ...string) (int, string, string) {
		var out, errb bytes.Buffer
		code := Command(ctx, pool, opts, args, strings.NewReader(stdin), &out, &errb)
		return code, out.String(), errb.String()
	}
	if code, _, e := run(pw+"\n", "create", "-name", "root", "-role", "admin"); code != 0 {
		t.Fatalf("create: %d %s", code, e)
	}
	s := New(pool, opts)
	if _, err := s.Authenticate(ctx, "root", pw, "local"); err != nil {
		t.Fatalf("the created admin cannot log in: %v", err)
	}
	for _, c := range []struct {
		stdin string
		args  []string
		code  int
		want  string
	}{
		{"short\n", []string{"create", "-name", "x"}, 1, "at least 12"},
		{"", []string{"create", "-name", "x"}, 1, "no password given"},
		{pw, []string{"create", "-name", "x", "-role", "root"}, 1, "must be admin, operator or user"},
		{pw, []string{"create", "-name", "root"}, 1, "exists"},
		{pw, []string{"create"}, 2, "-name is required"},
		{"", []string{"frobnicate"}, 2, "usage: faxd user"},
		{"", []string{"role", "-name", "root", "-role", "user"}, 1, "last enabled admin"},
		{"", []string{"grant", "-name", "nobody", "-mailbox", "sales"}, 1, "no such user"},
	} {
		code, _, e := run(c.stdin, c.args...)
		if code != c.code || !strings.Contains(e, c.want) {
			t.Errorf("faxd user %s: %d %q, want %d and %q", strings.Join(c.args, " "), code, e, c.code, c.want)
		}
	}
	f := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(f, []byte("the second password\r\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, _, e := run("", "passwd", "-name", "root", "-password-file", f); code != 0 {
		t.Fatalf("passwd: %d %s", code, e)
	}
	if _, err := s.Authenticate(ctx, "root", "the second password", "local"); err != nil {
		t.Fatalf("after passwd: %v", err)
	}
	if code, _, e := run(pw, "create", "-name", "ursula"); code != 0 {
		t.Fatal(e)
	}
	if code, _, e := run("", "grant", "-name", "ursula", "-mailbox", "sales"); code != 0 {
		t.Fatal(e)
	}
	code, out, _ := run("", "list")
	if code != 0 || !strings.Contains(out, "root") || !strings.Contains(out, "admin") || !strings.Contains(out, "ursula") || !strings.Contains(out, "sales") {
		t.Fatalf("list: %d\n%s", code, out)
	}
	if strings.Contains(out, "argon2") {
		t.Fatal("list shows a password hash")
	}
	es, _, err := audit.List(ctx, pool, audit.Filter{Actor: CLIActor, ObjectType: audit.User})
	if err != nil || len(es) != 4 { // create root, passwd, create ursula, grant
		t.Fatalf("audit entries by %s: %d %v", CLIActor, len(es), err)
	}
}
