package twosite

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// proc is one process the drill started. Each runs in its own process
// group so that a site is killed as a whole (children included).
type proc struct {
	name, site string
	cmd        *exec.Cmd
	logPath    string
	logFile    *os.File
	pgData     string // Patroni: the data directory whose postmaster.pid names its PostgreSQL
	done       chan struct{}
}

// procs starts, kills and reaps the drill's processes.
type procs struct {
	dir  string
	cred *syscall.Credential // the postgres user when we are root (Patroni and PostgreSQL refuse root)

	mu   sync.Mutex
	list []*proc
}

func newProcs(dir string) (*procs, error) {
	p := &procs{dir: dir}
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			return nil, fmt.Errorf("running as root needs a postgres user for Patroni: %w", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		p.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), NoSetGroups: true}
	}
	return p, nil
}

// own hands path to the user Patroni runs as.
func (p *procs) own(path string) error {
	if p.cred == nil {
		return nil
	}
	return os.Chown(path, int(p.cred.Uid), int(p.cred.Gid))
}

// start runs bin with args; asPG runs it as the postgres user.
func (p *procs) start(name, site string, asPG bool, cwd string, env []string, bin string, args ...string) (*proc, error) {
	logPath := filepath.Join(p.dir, "logs", name+".log")
	if err := os.MkdirAll(filepath.Dir(logPath), 0o755); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(f, "=== %s start %s %s\n", time.Now().Format(time.RFC3339Nano), bin, strings.Join(args, " "))
	cmd := exec.Command(bin, args...)
	cmd.Dir = cwd
	cmd.Stdout, cmd.Stderr = f, f
	cmd.Env = append(os.Environ(), env...)
	// Pdeathsig: if the drill itself dies, its children die with it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if asPG && p.cred != nil {
		cmd.SysProcAttr.Credential = p.cred
		cmd.Env = append(cmd.Env, "HOME="+cwd)
	}
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	pr := &proc{name: name, site: site, cmd: cmd, logPath: logPath, logFile: f, done: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		fmt.Fprintf(f, "=== %s exited: %v\n", time.Now().Format(time.RFC3339Nano), cmd.ProcessState)
		f.Close()
		close(pr.done)
	}()
	p.mu.Lock()
	p.list = append(p.list, pr)
	p.mu.Unlock()
	return pr, nil
}

// kill sends SIGKILL to the process group of every live process of site
// ("" for all) and to the PostgreSQL of each Patroni among them: Patroni
// starts the postmaster in a session of its own, so it survives a kill of
// Patroni's group, as it would not survive the loss of its machine.
func (p *procs) kill(site string) []string {
	p.mu.Lock()
	var sel []*proc
	for _, pr := range p.list {
		if site == "" || pr.site == site {
			sel = append(sel, pr)
		}
	}
	p.mu.Unlock()
	var killed []string
	for _, pr := range sel {
		select {
		case <-pr.done:
			continue
		default:
		}
		if pr.pgData != "" {
			if pid := postmasterPID(pr.pgData); pid > 0 {
				_ = syscall.Kill(-pid, syscall.SIGKILL)
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
		_ = syscall.Kill(-pr.cmd.Process.Pid, syscall.SIGKILL)
		killed = append(killed, pr.name)
	}
	for _, pr := range sel {
		select {
		case <-pr.done:
		case <-time.After(10 * time.Second):
		}
		if pr.pgData != "" {
			// The postmaster's backends leave once they see it gone.
			if pid := postmasterPID(pr.pgData); pid > 0 {
				_ = syscall.Kill(-pid, syscall.SIGKILL)
			}
		}
	}
	return killed
}

// stop asks one process to end (SIGTERM), then kills it.
func (p *procs) stop(pr *proc, wait time.Duration) {
	_ = syscall.Kill(-pr.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-pr.done:
	case <-time.After(wait):
		_ = syscall.Kill(-pr.cmd.Process.Pid, syscall.SIGKILL)
		<-pr.done
	}
}

func postmasterPID(dataDir string) int {
	b, err := os.ReadFile(filepath.Join(dataDir, "postmaster.pid"))
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	pid, _ := strconv.Atoi(strings.TrimSpace(line))
	if pid <= 1 {
		return 0
	}
	// A stale file names a pid that may belong to someone else by now:
	// only a postgres process is ours to kill.
	comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
	if err != nil || !strings.HasPrefix(strings.TrimSpace(string(comm)), "postgres") {
		return 0
	}
	return pid
}

// tails returns the last lines of every process's log.
func (p *procs) tails(n int) string {
	p.mu.Lock()
	names := map[string]string{}
	for _, pr := range p.list {
		names[pr.name] = pr.logPath
	}
	p.mu.Unlock()
	keys := make([]string, 0, len(names))
	for k := range names {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		data, _ := os.ReadFile(names[k])
		lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
		if len(lines) > n {
			lines = lines[len(lines)-n:]
		}
		fmt.Fprintf(&b, "----- %s (%s)\n%s\n", k, names[k], strings.Join(lines, "\n"))
	}
	return b.String()
}

var (
	portsMu sync.Mutex
	given   = map[int]bool{}
)

// Every port of a drill lies below the kernel's ephemeral range (32768 and
// up on Linux), so while a process is down (fail-back restarts faxd,
// PostgreSQL, etcd and NATS on their fixed ports) no outgoing or :0 socket
// of another process can take its port; ports are drawn at random so that
// drills running side by side rarely look at the same ones.
const lowPorts, lowBase = 16000, 14000

// freeTCP returns a loopback TCP port nobody listens on now and that this
// process has not handed out before.
func freeTCP() (int, error) { return freePorts(1, true, false) }

// freeBoth returns a port free for TCP and UDP (SIP listens on UDP).
func freeBoth() (int, error) { return freePorts(1, true, true) }

// freeRange finds n consecutive free UDP ports.
func freeRange(n int) (int, error) { return freePorts(n, false, true) }

// freePorts finds n consecutive loopback ports below the ephemeral range,
// free now for TCP and/or UDP and not handed out by this process before (a
// drill asks for some thirty before any is bound).
func freePorts(n int, tcp, udp bool) (int, error) {
	portsMu.Lock()
	defer portsMu.Unlock()
	free := func(port int) bool {
		if given[port] {
			return false
		}
		addr := fmt.Sprintf("127.0.0.1:%d", port)
		if tcp {
			l, err := net.Listen("tcp", addr)
			if err != nil {
				return false
			}
			l.Close()
		}
		if udp {
			u, err := net.ListenPacket("udp", addr)
			if err != nil {
				return false
			}
			u.Close()
		}
		return true
	}
	for try := 0; try < 500; try++ {
		base := lowBase + rand.IntN(lowPorts-n)
		ok := true
		for port := base; port < base+n && ok; port++ {
			ok = free(port)
		}
		if ok {
			for port := base; port < base+n; port++ {
				given[port] = true
			}
			return base, nil
		}
	}
	return 0, errors.New("no free loopback port below the ephemeral range")
}

// waitFor polls check until it returns nil, the timeout passes or ctx ends.
func waitFor(ctx context.Context, what string, timeout, every time.Duration, check func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var last error
	for {
		cctx, ccancel := context.WithTimeout(ctx, 3*time.Second)
		last = check(cctx)
		ccancel()
		if last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s: %w (last: %v)", what, ctx.Err(), last)
		case <-time.After(every):
		}
	}
}

// httpGet returns the status and body of a GET.
func httpGet(ctx context.Context, url string) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, b, nil
}

func httpPost(ctx context.Context, url, body string) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewBufferString(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, b, nil
}
