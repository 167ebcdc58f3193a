// Package repotest holds tests of the repository as a whole: the
// layering of its packages and its user documentation.
package repotest

import (
	"bufio"
	"bytes"
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/faxd/faxd/"

var lower = []string{"./t38/...", "./queue/...", "./archive/...", "./routing/...", "./client/..."}

// The lower layers (t38/..., queue, archive, routing) know nothing of
// faxd's application packages under internal/: they are libraries the
// server is built from, and an import upwards would make them unusable on
// their own and invite import cycles. The public Go client (client/) is
// held to the same rule: its users cannot import internal/ packages.
func TestLowerLayersImportNoInternalPackage(t *testing.T) {
	// -deps lists every package the lower layers are built from (their
	// tests' imports are not included: a test may use internal/pgtest).
	args := append([]string{"list", "-deps", "-f", "{{.ImportPath}} {{join .Imports \" \"}}"}, lower...)
	cmd := exec.Command("go", args...)
	cmd.Dir = "../.."
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.String())
	}
	seen := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) == 0 {
			continue
		}
		pkg := fields[0]
		seen[pkg] = true
		if !strings.HasPrefix(pkg, module) {
			continue
		}
		if strings.HasPrefix(pkg, module+"internal/") {
			t.Errorf("%s is a dependency of a lower layer", pkg)
			continue
		}
		for _, imp := range fields[1:] {
			if strings.HasPrefix(imp, module+"internal/") {
				t.Errorf("%s imports %s", pkg, imp)
			}
		}
	}
	// The listing must really have covered the layers it checks.
	for _, p := range []string{"archive", "queue", "routing", "t38/t30", "t38/tiff", "t38/faxpdf", "client"} {
		if !seen[module+p] {
			t.Errorf("go list did not list %s%s", module, p)
		}
	}
}
