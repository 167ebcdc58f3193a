// Package pgcluster runs a private PostgreSQL cluster from the system's
// binaries: the embedded default database of faxd and the throwaway cluster
// of the test harness.
//
// The postmaster is started directly (not through pg_ctl) so that this
// process owns it: it runs in its own process group, and on Linux it gets a
// parent-death signal, so it goes away even when faxd or a test binary is
// killed with SIGKILL.
package pgcluster

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// Options configure Start.
type Options struct {
	// Dir is the cluster's data directory. It is created and initialised
	// when missing or empty; an existing cluster is reused as is.
	Dir string
	// Port is the TCP port on 127.0.0.1; 0 picks a free one.
	Port int
	// Logger receives the server's own log lines; nil discards them.
	Logger *slog.Logger
	// Fast turns off fsync, synchronous_commit and full_page_writes. A crash
	// can then lose or corrupt data: for tests only, never for the server.
	Fast bool
	// BinDir overrides the directory holding initdb and postgres; empty
	// picks the newest /usr/lib/postgresql/*/bin.
	BinDir string
	// MaxConnections defaults to 200.
	MaxConnections int
	// StartTimeout bounds the wait for the server to accept connections;
	// default 60s.
	StartTimeout time.Duration
}

// Cluster is a running PostgreSQL server.
type Cluster struct {
	dir      string
	port     int
	password string
	socket   string // Unix socket directory, "" when the path is too long
	log      *slog.Logger
	fast     bool

	cmd      *exec.Cmd
	exited   chan struct{} // closed once the postmaster has been reaped
	waitErr  error
	stopOnce sync.Once
	stopErr  error
	tail     *tailBuffer
}

// ErrNoBinaries means no PostgreSQL server binaries were found.
var ErrNoBinaries = errors.New("pgcluster: PostgreSQL server binaries (initdb, postgres) not found")

const (
	superuser    = "postgres"
	passwordFile = "faxd-superuser.password"
)

// FindBinDir returns the newest /usr/lib/postgresql/<version>/bin holding
// both initdb and postgres, or the directory of initdb on PATH.
func FindBinDir() (string, error) {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	type cand struct {
		dir string
		ver float64
	}
	var cands []cand
	for _, d := range dirs {
		v, err := strconv.ParseFloat(filepath.Base(filepath.Dir(d)), 64)
		if err != nil {
			continue
		}
		if isExec(filepath.Join(d, "initdb")) && isExec(filepath.Join(d, "postgres")) {
			cands = append(cands, cand{d, v})
		}
	}
	if len(cands) > 0 {
		sort.Slice(cands, func(i, j int) bool { return cands[i].ver > cands[j].ver })
		return cands[0].dir, nil
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		d := filepath.Dir(p)
		if isExec(filepath.Join(d, "postgres")) {
			return d, nil
		}
	}
	return "", ErrNoBinaries
}

func isExec(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir() && st.Mode()&0o111 != 0
}

// Start initialises Dir when needed and starts the server. The returned
// cluster accepts connections.
func Start(ctx context.Context, opts Options) (*Cluster, error) {
	if opts.Dir == "" {
		return nil, errors.New("pgcluster: Options.Dir is required")
	}
	dir, err := filepath.Abs(opts.Dir)
	if err != nil {
		return nil, fmt.Errorf("pgcluster: %w", err)
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	bin := opts.BinDir
	if bin == "" {
		if bin, err = FindBinDir(); err != nil {
			return nil, err
		}
	}
	cred, err := runAs()
	if err != nil {
		return nil, err
	}
	if err := prepareDir(dir, cred, log); err != nil {
		return nil, err
	}
	if _, err := os.Stat(filepath.Join(dir, "PG_VERSION")); errors.Is(err, os.ErrNotExist) {
		if err := initdb(ctx, bin, dir, cred, log); err != nil {
			return nil, err
		}
	} else if err != nil {
		return nil, fmt.Errorf("pgcluster: %w", err)
	}
	pw, err := os.ReadFile(filepath.Join(dir, passwordFile))
	if err != nil {
		return nil, fmt.Errorf("pgcluster: %s has no %s (not created by faxd?): %w", dir, passwordFile, err)
	}
	c := &Cluster{
		dir:      dir,
		password: strings.TrimSpace(string(pw)),
		log:      log,
		fast:     opts.Fast,
	}
	// A Unix socket path is limited to 107 bytes.
	if len(filepath.Join(dir, ".s.PGSQL.65535")) < 100 {
		c.socket = dir
	}
	timeout := opts.StartTimeout
	if timeout <= 0 {
		timeout = 60 * time.Second
	}
	// A picked port may be taken between the probe and the bind: try again.
	for attempt := 0; ; attempt++ {
		port := opts.Port
		if port == 0 {
			if port, err = freePort(); err != nil {
				return nil, err
			}
		}
		c.port = port
		err = c.start(ctx, bin, cred, opts, timeout)
		if err == nil {
			log.Info("postgresql started", "dir", dir, "port", port, "fast", opts.Fast)
			return c, nil
		}
		if opts.Port != 0 || attempt >= 3 || !strings.Contains(err.Error(), "could not bind") {
			return nil, err
		}
	}
}

// DSN returns a connection string for dbname over loopback TCP.
func (c *Cluster) DSN(dbname string) string {
	return fmt.Sprintf("postgres://%s:%s@127.0.0.1:%d/%s?sslmode=disable", superuser, c.password, c.port, dbname)
}

// Port is the TCP port on 127.0.0.1.
func (c *Cluster) Port() int { return c.port }

// Dir is the data directory.
func (c *Cluster) Dir() string { return c.dir }

// SocketDir is the directory of the Unix socket, "" when there is none.
func (c *Cluster) SocketDir() string { return c.socket }

// PID is the postmaster's process id.
func (c *Cluster) PID() int { return c.cmd.Process.Pid }

// Exited is closed when the postmaster has exited, for whatever reason.
func (c *Cluster) Exited() <-chan struct{} { return c.exited }

func (c *Cluster) start(ctx context.Context, bin string, cred *syscall.Credential, opts Options, timeout time.Duration) error {
	maxConn := opts.MaxConnections
	if maxConn <= 0 {
		maxConn = 200
	}
	args := []string{
		"-D", c.dir,
		"-p", strconv.Itoa(c.port),
		"-c", "listen_addresses=127.0.0.1",
		"-c", "unix_socket_directories=" + c.socket,
		"-c", "max_connections=" + strconv.Itoa(maxConn),
		"-c", "logging_collector=off",
		"-c", "log_destination=stderr",
	}
	if opts.Fast {
		args = append(args, "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off")
	} else {
		args = append(args, "-c", "fsync=on", "-c", "synchronous_commit=on", "-c", "full_page_writes=on")
	}
	cmd := exec.Command(filepath.Join(bin, "postgres"), args...)
	cmd.Dir = c.dir
	cmd.Env = []string{"LC_ALL=C", "PATH=" + bin + ":/usr/bin:/bin"}
	// Pdeathsig: the kernel tells the postmaster when we die, even by
	// SIGKILL. Fast (test) clusters get SIGQUIT (immediate shutdown), the
	// server's gets SIGINT (fast shutdown, a clean checkpoint).
	sig := syscall.SIGINT
	if opts.Fast {
		sig = syscall.SIGQUIT
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: sig, Credential: cred}
	c.tail = newTailBuffer(50)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return fmt.Errorf("pgcluster: %w", err)
	}
	cmd.Stdout = nil
	c.cmd = cmd
	c.exited = make(chan struct{})

	// The parent-death signal fires when the *thread* that forked exits, so
	// fork from a thread locked for the postmaster's whole life: it exits
	// only after the postmaster has been reaped.
	started := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		// Never unlocked: the thread ends with this goroutine.
		if err := cmd.Start(); err != nil {
			started <- err
			close(c.exited)
			return
		}
		started <- nil
		c.waitErr = cmd.Wait()
		close(c.exited)
	}()
	if err := <-started; err != nil {
		return fmt.Errorf("pgcluster: start postgres: %w", err)
	}
	go c.pump(stderr)

	deadline := time.Now().Add(timeout)
	for {
		select {
		case <-c.exited:
			return fmt.Errorf("pgcluster: postgres exited during start-up (%v): %s", c.waitErr, c.tail.String())
		case <-ctx.Done():
			_ = c.Stop(context.Background())
			return ctx.Err()
		default:
		}
		if time.Now().After(deadline) {
			_ = c.Stop(context.Background())
			return fmt.Errorf("pgcluster: postgres not ready after %s: %s", timeout, c.tail.String())
		}
		cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		conn, err := pgx.Connect(cctx, c.DSN("postgres"))
		cancel()
		if err == nil {
			_ = conn.Close(context.Background())
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// pump forwards the server's log lines to the logger and keeps the last few
// for error messages.
func (c *Cluster) pump(r io.Reader) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		line := sc.Text()
		c.tail.add(line)
		lvl := slog.LevelDebug
		switch {
		case strings.Contains(line, "FATAL:"), strings.Contains(line, "PANIC:"), strings.Contains(line, "ERROR:"):
			lvl = slog.LevelWarn
		case strings.Contains(line, "LOG:"):
			lvl = slog.LevelInfo
		}
		c.log.Log(context.Background(), lvl, "postgres", "line", line)
	}
}

// Stop shuts the server down: fast shutdown, then immediate shutdown if ctx
// ends first, and finally SIGKILL to the whole process group. It returns
// once neither the postmaster nor any of its children is left.
func (c *Cluster) Stop(ctx context.Context) error {
	c.stopOnce.Do(func() { c.stopErr = c.stop(ctx) })
	return c.stopErr
}

func (c *Cluster) stop(ctx context.Context) error {
	pgid := c.cmd.Process.Pid
	select {
	case <-c.exited:
	default:
		_ = c.cmd.Process.Signal(syscall.SIGINT)
		select {
		case <-c.exited:
		case <-ctx.Done():
			_ = c.cmd.Process.Signal(syscall.SIGQUIT)
			select {
			case <-c.exited:
			case <-time.After(5 * time.Second):
				_ = syscall.Kill(-pgid, syscall.SIGKILL)
				<-c.exited
			}
		}
	}
	// Backends notice the postmaster's death on their own; make sure.
	for i := 0; ; i++ {
		if err := syscall.Kill(-pgid, 0); errors.Is(err, syscall.ESRCH) {
			break
		}
		if i == 100 {
			_ = syscall.Kill(-pgid, syscall.SIGKILL)
		}
		if i > 400 {
			return fmt.Errorf("pgcluster: processes of group %d still alive", pgid)
		}
		time.Sleep(10 * time.Millisecond)
	}
	c.log.Info("postgresql stopped", "dir", c.dir)
	return nil
}

// runAs returns the credentials to run initdb and postgres with: those of
// the postgres user when we are root (both refuse to run as root), nil
// otherwise.
func runAs() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup(superuser)
	if err != nil {
		return nil, fmt.Errorf("pgcluster: running as root needs a %q user: %w", superuser, err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), NoSetGroups: true}, nil
}

// prepareDir creates dir (mode 0700), hands it to the postgres user when we
// are root, and makes every ancestor traversable (execute bit only) for
// that user.
func prepareDir(dir string, cred *syscall.Credential, log *slog.Logger) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("pgcluster: %w", err)
	}
	if cred == nil {
		return os.Chmod(dir, 0o700)
	}
	st, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("pgcluster: %w", err)
	}
	if sys, ok := st.Sys().(*syscall.Stat_t); ok && sys.Uid != cred.Uid {
		// A fresh (empty) directory may be handed over; someone else's
		// cluster is not ours to take.
		if _, err := os.Stat(filepath.Join(dir, "PG_VERSION")); err == nil {
			return fmt.Errorf("pgcluster: %s holds a cluster owned by uid %d, not %s", dir, sys.Uid, superuser)
		}
		if err := os.Chown(dir, int(cred.Uid), int(cred.Gid)); err != nil {
			return fmt.Errorf("pgcluster: %w", err)
		}
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return fmt.Errorf("pgcluster: %w", err)
	}
	for p := filepath.Dir(dir); ; p = filepath.Dir(p) {
		st, err := os.Stat(p)
		if err != nil {
			return fmt.Errorf("pgcluster: %w", err)
		}
		if st.Mode().Perm()&0o001 == 0 {
			sys, _ := st.Sys().(*syscall.Stat_t)
			if sys == nil || sys.Uid != cred.Uid {
				log.Warn("making directory traversable for the postgres user", "dir", p)
				if err := os.Chmod(p, st.Mode().Perm()|0o001); err != nil {
					return fmt.Errorf("pgcluster: %s is not traversable by %s: %w", p, superuser, err)
				}
			}
		}
		if p == filepath.Dir(p) {
			return nil
		}
	}
}

func initdb(ctx context.Context, bin, dir string, cred *syscall.Credential, log *slog.Logger) error {
	var b [18]byte
	if _, err := rand.Read(b[:]); err != nil {
		return err
	}
	pw := hex.EncodeToString(b[:])
	// The password file lives inside the cluster directory (mode 0700).
	pwPath := filepath.Join(dir, passwordFile)
	// initdb wants an empty directory: write the file elsewhere first.
	tmp, err := os.CreateTemp("", "faxd-pw-*")
	if err != nil {
		return fmt.Errorf("pgcluster: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.WriteString(pw + "\n"); err != nil {
		return err
	}
	tmp.Close()
	if cred != nil {
		if err := os.Chown(tmp.Name(), int(cred.Uid), int(cred.Gid)); err != nil {
			return fmt.Errorf("pgcluster: %w", err)
		}
	}
	cmd := exec.CommandContext(ctx, filepath.Join(bin, "initdb"),
		"-D", dir, "-U", superuser, "-E", "UTF8", "--locale=C",
		"--auth-local=trust", "--auth-host=scram-sha-256", "--pwfile="+tmp.Name())
	cmd.Env = []string{"LC_ALL=C", "PATH=" + bin + ":/usr/bin:/bin"}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL, Credential: cred}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	log.Info("initialising postgresql cluster", "dir", dir)
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("pgcluster: initdb %s: %w: %s", dir, err, out.String())
	}
	if err := os.WriteFile(pwPath, []byte(pw+"\n"), 0o600); err != nil {
		return fmt.Errorf("pgcluster: %w", err)
	}
	if cred != nil {
		if err := os.Chown(pwPath, int(cred.Uid), int(cred.Gid)); err != nil {
			return fmt.Errorf("pgcluster: %w", err)
		}
	}
	return nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("pgcluster: pick a port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// tailBuffer keeps the last n lines.
type tailBuffer struct {
	mu    sync.Mutex
	n     int
	lines []string
}

func newTailBuffer(n int) *tailBuffer { return &tailBuffer{n: n} }

func (t *tailBuffer) add(s string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.lines = append(t.lines, s)
	if len(t.lines) > t.n {
		t.lines = t.lines[len(t.lines)-t.n:]
	}
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return strings.Join(t.lines, "\n")
}

// Attach finds a cluster that another process is running in dir (a faxd
// server started by `make run`, say), so a command run beside it, such as
// `faxd token create`, shares that server instead of starting a second
// postmaster on the same files. It returns the DSN of dbname on it, and
// ok=false when no live postmaster owns dir.
func Attach(dir, dbname string) (dsn string, ok bool, err error) {
	pidFile, err := os.ReadFile(filepath.Join(dir, "postmaster.pid"))
	if errors.Is(err, os.ErrNotExist) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("pgcluster: %w", err)
	}
	// Lines: pid, data directory, start time, port, socket directory, ...
	lines := strings.Split(string(pidFile), "\n")
	if len(lines) < 4 {
		return "", false, nil // being written: treat as not running yet
	}
	pid, err1 := strconv.Atoi(strings.TrimSpace(lines[0]))
	port, err2 := strconv.Atoi(strings.TrimSpace(lines[3]))
	if err1 != nil || err2 != nil || pid <= 0 {
		return "", false, nil
	}
	if err := syscall.Kill(pid, 0); err != nil && !errors.Is(err, syscall.EPERM) {
		return "", false, nil // a stale file from a crash: Start handles it
	}
	pw, err := os.ReadFile(filepath.Join(dir, passwordFile))
	if err != nil {
		return "", false, fmt.Errorf("pgcluster: %s is running but has no %s: %w", dir, passwordFile, err)
	}
	c := &Cluster{port: port, password: strings.TrimSpace(string(pw))}
	return c.DSN(dbname), true, nil
}
