package pgcluster

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

	"github.com/jackc/pgx/v5"
)

func needBinaries(t *testing.T) {
	t.Helper()
	if _, err := FindBinDir(); err != nil {
		t.Skip("PostgreSQL server binaries (initdb, postgres) missing: install postgresql")
	}
}

// alive reports whether a process or process group (negative id) exists.
func alive(id int) bool {
	return !errors.Is(syscall.Kill(id, 0), syscall.ESRCH)
}

func TestStartStopReuse(t *testing.T) {
	needBinaries(t)
	t.Parallel()
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "pg")

	c, err := Start(ctx, Options{Dir: dir, Fast: true})
	if err != nil {
		t.Fatal(err)
	}
	pid := c.PID()
	conn, err := pgx.Connect(ctx, c.DSN("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, "CREATE TABLE kept (v int); INSERT INTO kept VALUES (42)"); err != nil {
		t.Fatal(err)
	}
	// A backend is alive while this connection is open: Stop must not
	// leave it behind either.
	if err := c.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if alive(pid) || alive(-pid) {
		t.Fatalf("postmaster %d or its process group still alive after Stop", pid)
	}
	_ = conn.Close(ctx)
	if _, err := os.Stat(filepath.Join(dir, "postmaster.pid")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("postmaster.pid left behind: %v", err)
	}

	// The second start reuses the cluster: the data is still there.
	c2, err := Start(ctx, Options{Dir: dir, Fast: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Stop(ctx)
	conn2, err := pgx.Connect(ctx, c2.DSN("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn2.Close(ctx)
	var v int
	if err := conn2.QueryRow(ctx, "SELECT v FROM kept").Scan(&v); err != nil || v != 42 {
		t.Fatalf("reused cluster lost its data: v=%d err=%v", v, err)
	}
	// Only loopback with a password: a wrong password is refused.
	bad := strings.Replace(c2.DSN("postgres"), c2.password, "wrong", 1)
	if cn, err := pgx.Connect(ctx, bad); err == nil {
		cn.Close(ctx)
		t.Fatal("connection with a wrong password accepted")
	}
	var fsync string
	if err := conn2.QueryRow(ctx, "SHOW fsync").Scan(&fsync); err != nil || fsync != "off" {
		t.Fatalf("Fast cluster: fsync=%q err=%v", fsync, err)
	}
	if err := c2.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if alive(-c2.PID()) {
		t.Fatal("process group alive after second Stop")
	}
}

func TestDurableByDefault(t *testing.T) {
	needBinaries(t)
	t.Parallel()
	ctx := context.Background()
	c, err := Start(ctx, Options{Dir: filepath.Join(t.TempDir(), "pg")})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Stop(ctx)
	conn, err := pgx.Connect(ctx, c.DSN("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	for _, name := range []string{"fsync", "synchronous_commit", "full_page_writes"} {
		var v string
		if err := conn.QueryRow(ctx, "SHOW "+name).Scan(&v); err != nil || v != "on" {
			t.Fatalf("%s=%q (%v), want on", name, v, err)
		}
	}
	var listen string
	if err := conn.QueryRow(ctx, "SHOW listen_addresses").Scan(&listen); err != nil || listen != "127.0.0.1" {
		t.Fatalf("listen_addresses=%q (%v)", listen, err)
	}
}

// TestMain leaves the helper entry point below out of ordinary runs: it
// is not a test, and excluding it is not a skip.
func TestMain(m *testing.M) {
	if os.Getenv("PGCLUSTER_HELPER_DIR") == "" {
		flag.Set("test.skip", "^TestHelper")
	}
	os.Exit(m.Run())
}

// TestHelperHoldCluster is not a test: it is the child process of
// TestPostmasterDiesWithParent (TestMain runs it only there).
func TestHelperHoldCluster(t *testing.T) {
	dir := os.Getenv("PGCLUSTER_HELPER_DIR")
	c, err := Start(context.Background(), Options{Dir: dir, Fast: os.Getenv("PGCLUSTER_HELPER_FAST") == "1"})
	if err != nil {
		fmt.Println("ERR", err)
		os.Exit(1)
	}
	// Keep a backend busy too.
	conn, err := pgx.Connect(context.Background(), c.DSN("postgres"))
	if err != nil {
		fmt.Println("ERR", err)
		os.Exit(1)
	}
	defer conn.Close(context.Background())
	fmt.Printf("PID %d\n", c.PID())
	time.Sleep(time.Hour)
}

// The postmaster must die when its parent is killed with SIGKILL, with no
// chance to clean up: that is the parent-death signal's job.
func TestPostmasterDiesWithParent(t *testing.T) {
	needBinaries(t)
	t.Parallel()
	for _, fast := range []string{"1", "0"} {
		t.Run("fast="+fast, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "pg")
			cmd := exec.Command(os.Args[0], "-test.run=^TestHelperHoldCluster$", "-test.v")
			cmd.Env = append(os.Environ(), "PGCLUSTER_HELPER_DIR="+dir, "PGCLUSTER_HELPER_FAST="+fast)
			out, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			pid := 0
			sc := bufio.NewScanner(out)
			for sc.Scan() {
				line := sc.Text()
				if strings.HasPrefix(line, "ERR") {
					t.Fatal(line)
				}
				if strings.HasPrefix(line, "PID ") {
					pid, _ = strconv.Atoi(strings.TrimPrefix(line, "PID "))
					break
				}
			}
			if pid == 0 {
				_ = cmd.Process.Kill()
				t.Fatal("helper did not report a postmaster pid")
			}
			if !alive(pid) {
				t.Fatal("postmaster not running before the kill")
			}
			if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			_ = cmd.Wait()
			deadline := time.Now().Add(30 * time.Second)
			for alive(-pid) {
				if time.Now().After(deadline) {
					_ = syscall.Kill(-pid, syscall.SIGKILL)
					t.Fatalf("postmaster %d (or a child) survived its parent's SIGKILL", pid)
				}
				time.Sleep(20 * time.Millisecond)
			}
		})
	}
}
