// Package pgtest gives tests a real PostgreSQL: one throwaway cluster per
// test binary (started on first use, in Fast mode), a template database
// migrated with every schema set, and a fresh database per test cloned from
// the template.
//
// Use it with
//
//	func TestMain(m *testing.M) { pgtest.Main(m) }
//
// Nothing outlives the test binary: Main stops the cluster and removes its
// directory; if the binary is killed or crashes instead, the postmaster gets
// its parent-death signal, and the next test binary sweeps the directories
// of dead owners.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/faxd/faxd/internal/pgcluster"
	"github.com/faxd/faxd/schemas"
)

const templateDB = "faxd_template"

var (
	mu      sync.Mutex
	started bool
	cluster *pgcluster.Cluster
	baseDir string
	initErr error
	counter atomic.Int64
)

// Main runs the tests and then stops the cluster and removes its files.
func Main(m *testing.M) {
	code := m.Run()
	Shutdown()
	os.Exit(code)
}

// Shutdown stops the cluster, if one was started, and removes its files.
func Shutdown() {
	mu.Lock()
	defer mu.Unlock()
	if cluster != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		_ = cluster.Stop(ctx)
		cancel()
		cluster = nil
	}
	if baseDir != "" {
		_ = os.RemoveAll(baseDir)
		baseDir = ""
	}
}

// Root is where the clusters of test binaries live: one subdirectory per
// binary, named <pid>-<random>.
func Root() string {
	return filepath.Join(os.TempDir(), "faxd-pgtest-"+strconv.Itoa(os.Geteuid()))
}

// Cluster returns the test binary's cluster, starting it on first use. It
// skips the test when the PostgreSQL binaries are missing.
func Cluster(t testing.TB) *pgcluster.Cluster {
	t.Helper()
	mu.Lock()
	defer mu.Unlock()
	if !started {
		started = true
		initErr = start()
	}
	if errors.Is(initErr, pgcluster.ErrNoBinaries) {
		t.Skip("PostgreSQL server binaries (initdb, postgres under /usr/lib/postgresql/*/bin) missing: install postgresql")
	}
	if initErr != nil {
		t.Fatalf("pgtest: %v", initErr)
	}
	return cluster
}

func start() error {
	if _, err := pgcluster.FindBinDir(); err != nil {
		return err
	}
	root := Root()
	if err := os.MkdirAll(root, 0o755); err != nil {
		return err
	}
	_ = os.Chmod(root, 0o755)
	sweep(root)
	var b [6]byte
	_, _ = rand.Read(b[:])
	baseDir = filepath.Join(root, fmt.Sprintf("%d-%s", os.Getpid(), hex.EncodeToString(b[:])))
	if err := os.Mkdir(baseDir, 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(baseDir, "owner"), []byte(ownerID(os.Getpid())), 0o644); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c, err := pgcluster.Start(ctx, pgcluster.Options{Dir: filepath.Join(baseDir, "data"), Fast: true, MaxConnections: 300})
	if err != nil {
		_ = os.RemoveAll(baseDir)
		baseDir = ""
		return err
	}
	cluster = c
	if err := makeTemplate(ctx, c); err != nil {
		return err
	}
	return nil
}

func makeTemplate(ctx context.Context, c *pgcluster.Cluster) error {
	conn, err := pgx.Connect(ctx, c.DSN("postgres"))
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+templateDB); err != nil {
		return err
	}
	pool, err := pgxpool.New(ctx, c.DSN(templateDB))
	if err != nil {
		return err
	}
	defer pool.Close()
	for _, set := range []schemas.Set{schemas.Queue, schemas.Archive} {
		if err := schemas.Migrate(ctx, pool, set); err != nil {
			return err
		}
	}
	pool.Close()
	_, err = conn.Exec(ctx, "ALTER DATABASE "+templateDB+" WITH IS_TEMPLATE true ALLOW_CONNECTIONS false")
	return err
}

// NewDSN creates a database migrated with every schema set and returns its
// connection string; it is dropped when the test ends.
func NewDSN(t testing.TB) string {
	t.Helper()
	return newDB(t, templateDB)
}

// NewEmptyDSN creates an empty database (no migrations) for tests of the
// migrations themselves; it is dropped when the test ends.
func NewEmptyDSN(t testing.TB) string {
	t.Helper()
	return newDB(t, "template0")
}

// NewDB is NewDSN with a pool; the pool is closed when the test ends.
func NewDB(t testing.TB) *pgxpool.Pool {
	t.Helper()
	return Pool(t, NewDSN(t))
}

// Pool opens a pool on dsn, closed when the test ends.
func Pool(t testing.TB, dsn string) *pgxpool.Pool {
	t.Helper()
	pool, err := pgxpool.New(context.Background(), dsn)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	t.Cleanup(pool.Close)
	return pool
}

func newDB(t testing.TB, template string) string {
	t.Helper()
	c := Cluster(t)
	name := fmt.Sprintf("t%d_%d", os.Getpid(), counter.Add(1))
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, c.DSN("postgres"))
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	defer conn.Close(ctx)
	// CREATE DATABASE from a template fails while another CREATE uses the
	// same template; parallel tests retry.
	for i := 0; ; i++ {
		_, err = conn.Exec(ctx, "CREATE DATABASE "+name+" TEMPLATE "+template)
		if err == nil {
			break
		}
		if i > 100 || !strings.Contains(err.Error(), "being accessed by other users") {
			t.Fatalf("pgtest: create database: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Cleanup(func() {
		mu.Lock()
		live := cluster != nil
		mu.Unlock()
		if !live {
			return
		}
		conn, err := pgx.Connect(ctx, c.DSN("postgres"))
		if err != nil {
			t.Errorf("pgtest: drop %s: %v", name, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("pgtest: drop %s: %v", name, err)
		}
	})
	return c.DSN(name)
}

// ownerID identifies a process by pid and start time, so that a reused pid
// is not mistaken for the original owner.
func ownerID(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return strconv.Itoa(pid)
	}
	// Field 22 (starttime) follows the parenthesised command name.
	s := string(b)
	if i := strings.LastIndexByte(s, ')'); i >= 0 {
		f := strings.Fields(s[i+1:])
		if len(f) > 19 {
			return strconv.Itoa(pid) + " " + f[19]
		}
	}
	return strconv.Itoa(pid)
}

// sweep removes the cluster directories of test binaries that are gone,
// stopping any postmaster of theirs still running.
func sweep(root string) {
	entries, err := os.ReadDir(root)
	if err != nil {
		return
	}
	for _, e := range entries {
		dir := filepath.Join(root, e.Name())
		owner, err := os.ReadFile(filepath.Join(dir, "owner"))
		if err != nil {
			// Being created right now, or foreign: leave young ones alone.
			if st, err := os.Stat(dir); err == nil && time.Since(st.ModTime()) > time.Hour {
				_ = os.RemoveAll(dir)
			}
			continue
		}
		f := strings.Fields(string(owner))
		if len(f) == 0 {
			continue
		}
		pid, _ := strconv.Atoi(f[0])
		if pid > 0 && ownerID(pid) == string(owner) {
			continue // owner alive
		}
		killPostmaster(filepath.Join(dir, "data"))
		_ = os.RemoveAll(dir)
	}
}

// killPostmaster stops the postmaster recorded in data/postmaster.pid if it
// still runs on that directory.
func killPostmaster(data string) {
	b, err := os.ReadFile(filepath.Join(data, "postmaster.pid"))
	if err != nil {
		return
	}
	lines := strings.Split(string(b), "\n")
	pid, _ := strconv.Atoi(strings.TrimSpace(lines[0]))
	if pid <= 0 {
		return
	}
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil || !strings.Contains(string(cmdline), data) {
		return
	}
	_ = syscall.Kill(pid, syscall.SIGQUIT)
	for i := 0; i < 200; i++ {
		if errors.Is(syscall.Kill(pid, 0), syscall.ESRCH) {
			return
		}
		time.Sleep(25 * time.Millisecond)
	}
	_ = syscall.Kill(-pid, syscall.SIGKILL)
}
