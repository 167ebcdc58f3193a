package pgtest

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/faxd/faxd/schemas"
)

// TestMain leaves the helper entry point out of ordinary runs: it is not a
// test, and excluding it is not a skip.
func TestMain(m *testing.M) {
	if os.Getenv("PGTEST_HELPER") == "" {
		flag.Set("test.skip", "^TestHelper")
	}
	Main(m)
}

func TestFreshMigratedDatabases(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	a, b := NewDB(t), NewDB(t)
	for _, set := range []schemas.Set{schemas.Queue, schemas.Archive} {
		want, err := set.Migrations()
		if err != nil {
			t.Fatal(err)
		}
		got, err := schemas.Applied(ctx, a, set)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(want) || len(got) == 0 {
			t.Fatalf("%s: applied %v, have %d migrations", set.Name, got, len(want))
		}
	}
	if _, err := a.Exec(ctx, "CREATE TABLE only_in_a (v int)"); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := b.QueryRow(ctx, "SELECT count(*) FROM pg_tables WHERE tablename = 'only_in_a'").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Fatal("databases of one test binary are not isolated")
	}
	var dbA, dbB string
	_ = a.QueryRow(ctx, "SELECT current_database()").Scan(&dbA)
	_ = b.QueryRow(ctx, "SELECT current_database()").Scan(&dbB)
	if dbA == dbB || dbA == "" {
		t.Fatalf("same database %q twice", dbA)
	}
}

func TestEmptyDatabase(t *testing.T) {
	t.Parallel()
	pool := Pool(t, NewEmptyDSN(t))
	var n int
	if err := pool.QueryRow(context.Background(),
		"SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Fatalf("empty database has %d tables", n)
	}
}

// TestHelperChild is the child process of the cleanup tests (TestMain
// runs it only there).
func TestHelperChild(t *testing.T) {
	mode := os.Getenv("PGTEST_HELPER")
	_ = NewDB(t)
	fmt.Printf("CLUSTER %d %s\n", cluster.PID(), baseDir)
	switch mode {
	case "fail":
		t.Fatal("failing on purpose")
	case "panic":
		panic("panicking on purpose")
	case "hang":
		time.Sleep(time.Hour)
	}
}

func runChild(t *testing.T, mode string) (pid int, dir string, cmd *exec.Cmd) {
	t.Helper()
	cmd = exec.Command(os.Args[0], "-test.run=^TestHelperChild$", "-test.v")
	cmd.Env = append(os.Environ(), "PGTEST_HELPER="+mode)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if f := strings.Fields(sc.Text()); len(f) == 3 && f[0] == "CLUSTER" {
			pid, _ = strconv.Atoi(f[1])
			dir = f[2]
			break
		}
	}
	if pid == 0 {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		t.Fatal("child reported no cluster")
	}
	go func() {
		for sc.Scan() {
		}
	}()
	return pid, dir, cmd
}

func waitGone(t *testing.T, pid int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !errors.Is(syscall.Kill(-pid, 0), syscall.ESRCH) {
		if time.Now().After(deadline) {
			_ = syscall.Kill(-pid, syscall.SIGKILL)
			t.Fatalf("postmaster %d or a child of it survived", pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestNothingLeftBehind(t *testing.T) {
	t.Parallel()
	Cluster(t)
	own := baseDir
	// Our own cluster survives the children's sweeps.
	t.Cleanup(func() {
		if _, err := os.Stat(own); err != nil {
			t.Errorf("sweep removed a live owner's directory: %v", err)
		}
	})
	for _, mode := range []string{"fail", "panic", "kill"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			child := mode
			if mode == "kill" {
				child = "hang"
			}
			pid, dir, cmd := runChild(t, child)
			if mode == "kill" {
				_ = cmd.Process.Signal(syscall.SIGKILL)
			}
			err := cmd.Wait()
			if err == nil {
				t.Fatal("child succeeded; it was meant to fail")
			}
			waitGone(t, pid)
			if mode == "fail" {
				// Main cleaned up itself.
				if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
					t.Fatalf("cluster directory %s left behind: %v", dir, err)
				}
				return
			}
			// A crashed or killed binary leaves its directory to the next
			// one's sweep.
			if filepath.Dir(dir) != Root() {
				t.Fatalf("cluster dir %s not under %s", dir, Root())
			}
			sweep(Root())
			if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("sweep left %s behind: %v", dir, err)
			}
		})
	}
}
