// Package sdnotify tells systemd about the service's state through the
// datagram socket named in $NOTIFY_SOCKET (the sd_notify protocol: one
// datagram of newline-separated VAR=value assignments). Pure Go, no cgo.
// Without $NOTIFY_SOCKET every call is a no-op, so a process run by hand,
// by a test or in a container behaves as before.
package sdnotify

import (
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"
)

// The states faxd sends.
const (
	Ready    = "READY=1"
	Stopping = "STOPPING=1"
	Watchdog = "WATCHDOG=1"
)

// Status is a free-form line systemctl status shows.
func Status(s string) string {
	// A newline would start a new assignment.
	return "STATUS=" + strings.ReplaceAll(s, "\n", " ")
}

// Notifier sends to one notify socket. The zero value and nil are no-ops.
type Notifier struct {
	addr *net.UnixAddr
}

// New reads NOTIFY_SOCKET from getenv (os.Getenv in production). A value
// starting with @ names a socket in the abstract namespace. An unset or
// empty variable gives a Notifier whose Send does nothing; a value that is
// neither an absolute path nor abstract is an error naming the variable.
func New(getenv func(string) string) (*Notifier, error) {
	name := getenv("NOTIFY_SOCKET")
	if name == "" {
		return &Notifier{}, nil
	}
	if name[0] != '/' && name[0] != '@' {
		// systemd also knows vsock:; faxd is not run inside a VM by systemd.
		return nil, fmt.Errorf("NOTIFY_SOCKET=%q: want an absolute path or an abstract @name", name)
	}
	// A leading @ stays: the net package turns it into the NUL byte that
	// names the abstract namespace.
	return &Notifier{addr: &net.UnixAddr{Name: name, Net: "unixgram"}}, nil
}

// Enabled reports whether there is a socket to send to.
func (n *Notifier) Enabled() bool { return n != nil && n.addr != nil }

// Send sends the states in one datagram, so systemd sees them together
// (READY=1 with its STATUS=, say). Each call dials anew: the socket may be
// recreated while faxd runs (systemctl daemon-reexec), and a datagram is
// cheap.
func (n *Notifier) Send(states ...string) error {
	if !n.Enabled() || len(states) == 0 {
		return nil
	}
	for _, s := range states {
		if !strings.Contains(s, "=") || strings.Contains(s, "\n") {
			return fmt.Errorf("sdnotify: %q is not one VAR=value assignment", s)
		}
	}
	conn, err := net.DialUnix("unixgram", nil, n.addr)
	if err != nil {
		return fmt.Errorf("sdnotify: %w", err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte(strings.Join(states, "\n") + "\n")); err != nil {
		return fmt.Errorf("sdnotify: %w", err)
	}
	return nil
}

// WatchdogInterval is how often to send WATCHDOG=1: half of
// $WATCHDOG_USEC, as sd_watchdog_enabled(3) advises, so one late ping does
// not get the service killed. It is 0 when the watchdog is off, or when
// $WATCHDOG_PID names another process (the variable was inherited). pid is
// this process's id (os.Getpid()).
func WatchdogInterval(getenv func(string) string, pid int) (time.Duration, error) {
	v := getenv("WATCHDOG_USEC")
	if v == "" {
		return 0, nil
	}
	usec, err := strconv.ParseUint(v, 10, 63)
	if err != nil || usec == 0 {
		return 0, fmt.Errorf("WATCHDOG_USEC=%q: want a positive number of microseconds", v)
	}
	if p := getenv("WATCHDOG_PID"); p != "" {
		wp, err := strconv.Atoi(p)
		if err != nil {
			return 0, fmt.Errorf("WATCHDOG_PID=%q: %w", p, err)
		}
		if wp != pid {
			return 0, nil
		}
	}
	return time.Duration(usec) * time.Microsecond / 2, nil
}
