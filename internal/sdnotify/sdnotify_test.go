package sdnotify

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

// listen opens a datagram socket like systemd's notify socket.
func listen(t *testing.T, name string) *net.UnixConn {
	t.Helper()
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: name, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func recv(t *testing.T, c *net.UnixConn) string {
	t.Helper()
	// Only a bound on a hang: the datagram was written before recv runs.
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 4096)
	n, err := c.Read(buf)
	if err != nil {
		t.Fatal(err)
	}
	return string(buf[:n])
}

func TestSendPathAndAbstract(t *testing.T) {
	path := filepath.Join(t.TempDir(), "notify")
	abstract := fmt.Sprintf("@faxd-sdnotify-test-%d", os.Getpid())
	for _, name := range []string{path, abstract} {
		l := listen(t, name)
		n, err := New(env(map[string]string{"NOTIFY_SOCKET": name}))
		if err != nil {
			t.Fatal(err)
		}
		if !n.Enabled() {
			t.Fatalf("%s: not enabled", name)
		}
		if err := n.Send(Ready, Status("serving\non :8080")); err != nil {
			t.Fatal(err)
		}
		if got, want := recv(t, l), "READY=1\nSTATUS=serving on :8080\n"; got != want {
			t.Errorf("%s: got %q, want %q", name, got, want)
		}
		if err := n.Send(Watchdog); err != nil {
			t.Fatal(err)
		}
		if got := recv(t, l); got != "WATCHDOG=1\n" {
			t.Errorf("%s: got %q", name, got)
		}
	}
}

// Without NOTIFY_SOCKET nothing is sent and nothing fails; a nil Notifier
// is as quiet.
func TestUnsetIsNoop(t *testing.T) {
	n, err := New(env(nil))
	if err != nil || n.Enabled() {
		t.Fatalf("unset: %v enabled=%v", err, n.Enabled())
	}
	if err := n.Send(Ready); err != nil {
		t.Fatal(err)
	}
	var nilN *Notifier
	if err := nilN.Send(Stopping); err != nil || nilN.Enabled() {
		t.Fatal("nil notifier not a no-op")
	}
}

func TestBadInput(t *testing.T) {
	if _, err := New(env(map[string]string{"NOTIFY_SOCKET": "relative/sock"})); err == nil || !strings.Contains(err.Error(), "NOTIFY_SOCKET") {
		t.Errorf("relative path: %v", err)
	}
	l := filepath.Join(t.TempDir(), "n")
	listen(t, l)
	n, _ := New(env(map[string]string{"NOTIFY_SOCKET": l}))
	for _, bad := range []string{"READY", "STATUS=a\nREADY=1"} {
		if err := n.Send(bad); err == nil {
			t.Errorf("Send(%q) accepted", bad)
		}
	}
	// A socket that is gone is an error the caller can log.
	gone, _ := New(env(map[string]string{"NOTIFY_SOCKET": filepath.Join(t.TempDir(), "gone")}))
	if err := gone.Send(Ready); err == nil {
		t.Error("send to a missing socket succeeded")
	}
}

func TestWatchdogInterval(t *testing.T) {
	for _, tc := range []struct {
		env  map[string]string
		want time.Duration
		err  bool
	}{
		{nil, 0, false},
		{map[string]string{"WATCHDOG_USEC": "30000000"}, 15 * time.Second, false},
		{map[string]string{"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "42"}, 15 * time.Second, false},
		{map[string]string{"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "43"}, 0, false}, // inherited
		{map[string]string{"WATCHDOG_USEC": "soon"}, 0, true},
		{map[string]string{"WATCHDOG_USEC": "0"}, 0, true},
		{map[string]string{"WATCHDOG_USEC": "1000", "WATCHDOG_PID": "x"}, 0, true},
	} {
		got, err := WatchdogInterval(env(tc.env), 42)
		if got != tc.want || (err != nil) != tc.err {
			t.Errorf("%v: got %v, %v; want %v, error %v", tc.env, got, err, tc.want, tc.err)
		}
	}
}
