package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/faxd/faxd/internal/natsbus"
	"github.com/faxd/faxd/internal/pgtest"
)

// freePort is a loopback TCP port nothing listens on now.
func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// The real binary under a fake systemd: a unixgram socket as
// $NOTIFY_SOCKET and a watchdog. faxd starts while its NATS is not there
// yet, so /readyz answers 503 and READY=1 must not come; once NATS is up,
// READY=1 comes, and at that moment /readyz answers 200; WATCHDOG=1 pings
// follow (never before READY=1); SIGTERM brings STOPPING=1 and a clean
// exit.
func TestSystemdNotify(t *testing.T) {
	bin := buildFaxd(t)
	dir := t.TempDir()
	sock := filepath.Join(dir, "notify")
	l, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	msgs := make(chan string, 256)
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := l.Read(buf)
			if err != nil {
				close(msgs)
				return
			}
			msgs <- string(buf[:n])
		}
	}()

	natsAddr := freePort(t)
	cfg := filepath.Join(dir, "faxd.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`node:
  id: sd-test
http:
  listen: 127.0.0.1:0
database:
  queue_dsn: %s
nats:
  url: nats://%s
sip:
  listen_udp: 127.0.0.1:0
queue:
  heartbeat_interval: 200ms
  lease_ttl: 3s
`, pgtest.NewDSN(t), natsAddr)), 0o600)

	cmd := exec.Command(bin, "-config", cfg)
	// WATCHDOG_PID is left out: systemd sets it to the main pid, which the
	// test cannot know before the start; without it the pings are for us.
	cmd.Env = append(os.Environ(), "NOTIFY_SOCKET="+sock, "WATCHDOG_USEC=400000")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	httpAddr := make(chan string, 1)
	var logs strings.Builder
	logDone := make(chan struct{})
	go func() {
		defer close(logDone)
		re := regexp.MustCompile(`faxd running.*http=(\S+)`)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			logs.WriteString(sc.Text() + "\n")
			if m := re.FindStringSubmatch(sc.Text()); m != nil {
				httpAddr <- m[1]
			}
		}
		io.Copy(io.Discard, stderr)
	}()
	go func() { <-logDone; exited <- cmd.Wait() }()
	defer func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
		}
	}()
	// Only bounds on a hang, never a speed assertion.
	hang := time.After(2 * time.Minute)
	fail := func(format string, args ...any) {
		t.Helper()
		cmd.Process.Kill()
		<-logDone
		t.Fatalf(format+"\nfaxd log:\n%s", append(args, logs.String())...)
	}
	var addr string
	select {
	case addr = <-httpAddr:
	case err := <-exited:
		fail("faxd exited: %v", err)
	case <-hang:
		fail("faxd did not start")
	}
	readyz := func() int {
		resp, err := http.Get("http://" + addr + "/readyz")
		if err != nil {
			fail("GET /readyz: %v", err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	var got []string
	// next returns the next datagram, failing on a hang.
	next := func() string {
		select {
		case m := <-msgs:
			got = append(got, m)
			return m
		case <-hang:
			fail("notifications so far: %q", got)
		}
		return ""
	}

	// NATS is not there: faxd serves but is not ready, and says what it
	// waits for.
	for {
		m := next()
		if strings.Contains(m, "READY=1") || strings.Contains(m, "WATCHDOG=1") {
			fail("%q sent while NATS is not there", m)
		}
		if strings.Contains(m, "STATUS=waiting for nats") {
			break
		}
	}
	for range 3 {
		if c := readyz(); c != http.StatusServiceUnavailable {
			fail("/readyz without NATS: %d", c)
		}
	}
	for len(msgs) > 0 {
		if m := next(); strings.Contains(m, "READY=1") || strings.Contains(m, "WATCHDOG=1") {
			fail("%q sent while /readyz answers 503", m)
		}
	}

	// NATS (with JetStream) comes up where faxd looks for it.
	bus, err := natsbus.Open(context.Background(), natsbus.Options{Dir: t.TempDir(), Listen: natsAddr, Name: "test-nats"})
	if err != nil {
		t.Fatal(err)
	}
	defer bus.Close()
	t.Log("NATS started")
	for {
		m := next()
		if strings.Contains(m, "WATCHDOG=1") {
			fail("WATCHDOG=1 before READY=1: %q", got)
		}
		if strings.Contains(m, "READY=1") {
			if !strings.Contains(m, "STATUS=serving") {
				fail("READY=1 without its status: %q", m)
			}
			break
		}
	}
	if c := readyz(); c != http.StatusOK {
		fail("READY=1 sent but /readyz answers %d", c)
	}
	t.Log("READY=1")
	pings := 0
	for pings < 3 {
		m := next()
		if strings.Contains(m, "READY=1") {
			fail("READY=1 sent twice: %q", got)
		}
		if m == "WATCHDOG=1\n" {
			pings++
		}
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	for !strings.Contains(next(), "STOPPING=1") {
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("faxd exit after SIGTERM: %v\n%s", err, logs.String())
		}
	case <-hang:
		fail("faxd did not stop after SIGTERM")
	}
}
