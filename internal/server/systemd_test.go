package server

import (
	"context"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The watchdog is fed only while the node's lease holds: with its row
// locked the lease cannot be renewed and runs out; from the moment faxd
// says so until the lease is back, no WATCHDOG=1 is sent, so systemd
// would restart a node that stayed fenced. Afterwards the pings resume.
func TestSystemdWatchdogFollowsLease(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "notify")
	l, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	// Not parallel: the environment is the process's.
	t.Setenv("NOTIFY_SOCKET", sock)
	t.Setenv("WATCHDOG_USEC", "400000")
	t.Setenv("WATCHDOG_PID", "")
	s := startServer(t, nil)

	var got []string
	// Only a bound on a hang, never a speed assertion; one for the whole
	// test, as pings keep coming while a step is waited for.
	hang := time.Now().Add(90 * time.Second)
	next := func() string {
		t.Helper()
		l.SetReadDeadline(hang)
		buf := make([]byte, 4096)
		n, err := l.Read(buf)
		if err != nil {
			t.Fatalf("%v; notifications so far: %q", err, got)
		}
		got = append(got, string(buf[:n]))
		return got[len(got)-1]
	}
	for !strings.Contains(next(), "READY=1") {
	}
	for pings := 0; pings < 2; {
		if next() == "WATCHDOG=1\n" {
			pings++
		}
	}

	ctx := context.Background()
	tx, err := s.DB.Queue.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, "SELECT 1 FROM nodes WHERE node_id = $1 FOR UPDATE", s.cfg.Node.ID); err != nil {
		t.Fatal(err)
	}
	for !strings.Contains(next(), "STATUS=node lease not held") {
	}
	if err := s.Node.Lease().Err(); err == nil {
		t.Fatal("faxd said the lease was lost while it is held")
	}
	// Three more watchdog checks go by unfed while the row stays locked.
	for from := s.systemd.checks.Load(); s.systemd.checks.Load() < from+3; {
		time.Sleep(50 * time.Millisecond)
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	for {
		m := next()
		if strings.Contains(m, "STATUS=serving again") {
			if !strings.Contains(m, "WATCHDOG=1") {
				t.Errorf("recovery without a ping: %q", m)
			}
			break
		}
		if strings.Contains(m, "WATCHDOG=1") {
			t.Fatalf("WATCHDOG=1 sent while the lease was lost: %q", got)
		}
	}
	if s.Node.Lease().Err() != nil {
		t.Error("faxd said serving again without a lease")
	}
	for next() != "WATCHDOG=1\n" {
	}
}
