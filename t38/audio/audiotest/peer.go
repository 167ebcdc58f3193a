// Package audiotest holds what the tests of the audio fax terminal and of
// its transports share: spandsp's audio fax terminal as an independent
// peer. Tests only; nothing in the server imports it.
package audiotest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
)

var (
	peerOnce sync.Once
	peerBin  string
	peerErr  error
)

// SpandspFax builds testdata/spandsp_fax.c (spandsp's audio fax terminal driven
// block by block over pipes) against the installed libspandsp once per
// test binary and returns the program's path. The test skips when
// libspandsp-dev or gcc is missing.
func SpandspFax(tb testing.TB) string {
	tb.Helper()
	if _, err := os.Stat("/usr/include/spandsp/fax.h"); err != nil {
		tb.Skip("libspandsp-dev not installed (/usr/include/spandsp/fax.h missing)")
	}
	gcc, err := exec.LookPath("gcc")
	if err != nil {
		tb.Skip("gcc not installed")
	}
	peerOnce.Do(func() {
		_, file, _, _ := runtime.Caller(0)
		src := filepath.Join(filepath.Dir(file), "testdata", "spandsp_fax.c")
		dir, err := os.MkdirTemp("", "spandsp-fax-")
		if err != nil {
			peerErr = err
			return
		}
		peerBin = filepath.Join(dir, "spandsp_fax")
		if out, err := exec.Command(gcc, "-O2", "-o", peerBin, src, "-lspandsp").CombinedOutput(); err != nil {
			peerErr = fmt.Errorf("building spandsp peer: %v\n%s", err, out)
		}
	})
	if peerErr != nil {
		tb.Fatal(peerErr)
	}
	return peerBin
}
