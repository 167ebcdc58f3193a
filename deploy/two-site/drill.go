package twosite

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/faxd/faxd/client"
)

// ErrMissing names a system program the drill needs and did not find.
var ErrMissing = errors.New("missing")

// Options shape one drill run.
type Options struct {
	Faxd     string        // the faxd binary (built from this tree)
	NATS     string        // the nats-server binary (BuildNATSServer: the version go.mod pins)
	Dir      string        // scratch directory; empty: a new temporary one, removed unless Keep
	Keep     bool          // keep Dir (logs, data) after the run
	Faxes    int           // faxes submitted in the steady stream
	Pages    int           // pages per fax
	Interval time.Duration // between submissions
	FailBack bool          // bring A back as a replica and switch over to it
	Standby  bool          // fax-b1 is fax-a1's standby (active/standby across the sites), not active
	Log      io.Writer     // progress lines
	Timing   Timing
}

// Short is the CI form: few faxes, one kill, then the fail-back.
func Short() Options {
	return Options{Faxes: 6, Pages: 2, Interval: 2 * time.Second, FailBack: true, Timing: DefaultTiming}
}

// StandbyShort is the short form of the active/standby variant: faxd on
// B waits as fax-a1's standby, promotes itself when site A is lost and
// steps down when A is back.
func StandbyShort() Options {
	o := Short()
	o.Standby = true
	return o
}

// Full is the documented form: a longer stream around the kill.
func Full() Options {
	return Options{Faxes: 30, Pages: 3, Interval: time.Second, FailBack: true, Timing: DefaultTiming}
}

// Report holds what the drill measured.
type Report struct {
	Submitted, Sent           int
	Lost, Duplicated          int
	PagesTotal, PagesReceived int
	PagesResent               int
	ArchiveMissing            int
	KilledMidFax              int64 // the fax that was on the wire at site A at the kill
	KilledAtPage              int
	KilledProcs               []string
	DBWritable                time.Duration // kill to a committed write on B
	FirstCallFromB            time.Duration // kill to the carrier answering B's first new call
	FirstSentFromB            time.Duration // kill to the first fax completed by B
	Rejoin                    time.Duration // A restarted to A streaming as a replica
	Switchover                time.Duration // switchover asked to a write on A
	FailBackSent              bool
	// The standby variant only.
	Standby           bool
	StandbyCallsEarly int           // faxes B's standby worked on before the kill (must be 0)
	Promoted          time.Duration // kill to B's standby promoted
	SteppedDown       time.Duration // A's faxd restarted to B back in standby
	Problems          []string
}

// OK reports whether nothing was lost, duplicated or missing.
func (r *Report) OK() bool { return len(r.Problems) == 0 }

// Table is the drill's result as a Markdown table.
func (r *Report) Table() string {
	var b strings.Builder
	row := func(k, v string) { fmt.Fprintf(&b, "| %s | %s |\n", k, v) }
	sec := func(d time.Duration) string {
		if d == 0 {
			return "not measured"
		}
		return fmt.Sprintf("%.1f s", d.Seconds())
	}
	b.WriteString("| measure | value |\n|---|---|\n")
	row("faxes submitted / sent", fmt.Sprintf("%d / %d", r.Submitted, r.Sent))
	row("killed at site A (SIGKILL)", strings.Join(r.KilledProcs, ", "))
	row("fax on the wire at A at the kill", fmt.Sprintf("%d (after page %d)", r.KilledMidFax, r.KilledAtPage))
	if r.Standby {
		row("faxes B's standby worked on before the kill", fmt.Sprint(r.StandbyCallsEarly))
	}
	row("kill to database writable on B", sec(r.DBWritable))
	if r.Standby {
		row("kill to B's standby promoted", sec(r.Promoted))
	}
	row("kill to B's first call answered (RTO)", sec(r.FirstCallFromB))
	row("kill to B's first fax completed", sec(r.FirstSentFromB))
	row("faxes lost (RPO)", fmt.Sprint(r.Lost))
	row("faxes received twice", fmt.Sprint(r.Duplicated))
	row("pages sent / received at the far end", fmt.Sprintf("%d / %d", r.PagesTotal, r.PagesReceived))
	row("pages re-sent", fmt.Sprint(r.PagesResent))
	row("sent faxes missing from the archive on B", fmt.Sprint(r.ArchiveMissing))
	row("A back as a replica (restart to streaming)", sec(r.Rejoin))
	row("switchover back to A (asked to writable)", sec(r.Switchover))
	if r.Standby {
		row("A's faxd restarted to B back in standby", sec(r.SteppedDown))
	}
	row("fax sent after the fail-back", fmt.Sprint(r.FailBackSent))
	return b.String()
}

// drill is one run's state.
type drill struct {
	o     Options
	dir   string
	p     *procs
	topo  *Topology
	files map[string]File // by site/process/name
	start time.Time
	logf  func(format string, args ...any)

	carrier, sender *client.Client // the carrier's API; faxd's API on every node
	onB             *client.Client // faxd's API on site B only
	pgBin           string
	run             string // unique per run: idempotency keys
}

// Requirements returns the system programs the drill needs, or an error
// wrapping ErrMissing that names the first one missing.
func Requirements() (map[string]string, error) {
	out := map[string]string{}
	for _, name := range []string{"etcd", "patroni"} {
		p, err := exec.LookPath(name)
		if err != nil {
			for _, alt := range []string{"/usr/bin/" + name, "/usr/sbin/" + name} {
				if _, e := os.Stat(alt); e == nil {
					p, err = alt, nil
				}
			}
		}
		if err != nil {
			pkg := map[string]string{"etcd": "etcd-server", "patroni": "patroni"}[name]
			return nil, fmt.Errorf("%w: %s (Debian package %s)", ErrMissing, name, pkg)
		}
		out[name] = p
	}
	bins, _ := filepath.Glob("/usr/lib/postgresql/*/bin/postgres")
	if len(bins) == 0 {
		return nil, fmt.Errorf("%w: PostgreSQL server binaries under /usr/lib/postgresql/*/bin (Debian package postgresql)", ErrMissing)
	}
	sort.Strings(bins)
	out["pgbin"] = filepath.Dir(bins[len(bins)-1])
	return out, nil
}

// BuildNATSServer builds nats-server from the module go.mod pins (the
// same code faxd embeds) into dir and returns its path. The drill uses it
// rather than a distribution's package: Debian 12's nats-server 2.9.10 at
// times elected no new leader for a stream whose leader was on the lost
// site, although two of three servers were up. It runs `go build` in the
// caller's working directory, which must lie inside this module.
func BuildNATSServer(ctx context.Context, dir string) (string, error) {
	out := filepath.Join(dir, "nats-server")
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-o", out, "github.com/nats-io/nats-server/v2")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("building nats-server: %w\n%s", err, b)
	}
	return out, nil
}

// Run brings the reference up, kills site A, measures and fails back. The
// report is returned with an error when the drill could not be carried
// out; a completed drill that lost or duplicated a fax returns a report
// whose Problems say so.
func Run(ctx context.Context, o Options) (rep *Report, err error) {
	bins, err := Requirements()
	if err != nil {
		return nil, err
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
	if o.Faxd, err = filepath.Abs(o.Faxd); err != nil {
		return nil, err
	}
	if o.NATS == "" {
		return nil, errors.New("no nats-server binary given (Options.NATS; BuildNATSServer builds it)")
	}
	if o.NATS, err = filepath.Abs(o.NATS); err != nil {
		return nil, err
	}
	bins["nats-server"] = o.NATS
	if o.Timing == (Timing{}) {
		o.Timing = DefaultTiming
	}
	d := &drill{o: o, start: time.Now(), pgBin: bins["pgbin"], run: fmt.Sprintf("%d", time.Now().UnixNano())}
	d.logf = func(format string, args ...any) {
		fmt.Fprintf(o.Log, "[drill %6.1fs] %s\n", time.Since(d.start).Seconds(), fmt.Sprintf(format, args...))
	}
	d.dir = o.Dir
	if d.dir == "" {
		sweep()
		if d.dir, err = os.MkdirTemp("", "faxd-drill-"); err != nil {
			return nil, err
		}
	}
	if err := os.WriteFile(filepath.Join(d.dir, "owner"), []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
		return nil, err
	}
	// The postgres user must reach its directories below it.
	if err := os.Chmod(d.dir, 0o755); err != nil {
		return nil, err
	}
	if d.p, err = newProcs(d.dir); err != nil {
		return nil, err
	}
	defer func() {
		d.p.kill("")
		if err != nil || (rep != nil && !rep.OK()) {
			fmt.Fprintf(o.Log, "drill failed; logs in %s; their tails:\n%s", d.dir, d.p.tails(25))
		}
		if o.Dir == "" && !o.Keep && err == nil && rep != nil && rep.OK() {
			_ = os.RemoveAll(d.dir)
		}
	}()
	rep = &Report{Standby: o.Standby}
	if err := d.up(ctx, bins); err != nil {
		return rep, err
	}
	if err := d.exercise(ctx, rep); err != nil {
		return rep, err
	}
	return rep, nil
}

// sweep stops the PostgreSQL servers of earlier drills whose process died
// without cleaning up (killed by a test timeout): Patroni starts
// PostgreSQL in a session of its own, so it outlives Patroni, and the
// drill's own cleanup never ran. pid reuse is harmless: postmasterPID
// only names a live postgres process.
func sweep() {
	owners, _ := filepath.Glob(filepath.Join(os.TempDir(), "faxd-drill-*", "owner"))
	for _, o := range owners {
		b, err := os.ReadFile(o)
		if err != nil {
			continue
		}
		pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
		if pid <= 0 || syscall.Kill(pid, 0) == nil {
			continue // alive: another drill running now
		}
		dir := filepath.Dir(o)
		for _, site := range []string{"A", "B"} {
			if pm := postmasterPID(filepath.Join(dir, "data", site, "pg", "data")); pm > 0 {
				_ = syscall.Kill(pm, syscall.SIGKILL)
			}
		}
		// The directory stays: its logs tell what went wrong.
	}
}

func (d *drill) up(ctx context.Context, bins map[string]string) error {
	t := &Topology{Timing: d.o.Timing, SyncMode: true, Data: filepath.Join(d.dir, "data"), PGBinDir: d.pgBin,
		HBA:       []string{"host all all 127.0.0.1/32 trust", "host replication replicator 127.0.0.1/32 trust"},
		SuperPass: "drill", ReplPass: "drill", Drill: true}
	for _, site := range []string{"A", "B", "W"} {
		h := Host{Site: site, Addr: "127.0.0.1"}
		for _, p := range []*int{&h.EtcdClient, &h.EtcdPeer, &h.NATSClient, &h.NATSCluster, &h.NATSMonitor} {
			port, err := freeTCP()
			if err != nil {
				return err
			}
			*p = port
		}
		if site != "W" {
			var err error
			if h.PGPort, err = freeTCP(); err != nil {
				return err
			}
			if h.PatroniREST, err = freeTCP(); err != nil {
				return err
			}
		}
		t.Hosts = append(t.Hosts, h)
	}
	nodes := []Node{
		{Name: "carrier", Site: "C", Channels: 12, Inbound: 12, StationID: "+49 30 555000", EmbeddedDir: filepath.Join(d.dir, "carrier")},
		{Name: "fax-a1", Site: "A", Channels: 3, StationID: "+49 40 999001"},
		{Name: "fax-a2", Site: "A", Channels: 3, StationID: "+49 40 999002"},
		{Name: "fax-b1", Site: "B", Channels: 3, StationID: "+49 40 999003"},
	}
	for i := range nodes {
		n := &nodes[i]
		n.Addr, n.Role, n.AllowFrom = "127.0.0.1", "active", "127.0.0.1/32"
		var err error
		if n.HTTP, err = freeTCP(); err != nil {
			return err
		}
		if n.SIP, err = freeBoth(); err != nil {
			return err
		}
		if n.MediaMin, err = freeRange(64); err != nil {
			return err
		}
		n.MediaMax = n.MediaMin + 63
		if n.EmbeddedDir != "" {
			if n.NATSPort, err = freeTCP(); err != nil {
				return err
			}
		}
	}
	for i := 1; i < len(nodes); i++ {
		nodes[i].Gateway = fmt.Sprintf("127.0.0.1:%d", nodes[0].SIP)
	}
	if d.o.Standby {
		nodes[3].Role, nodes[3].StandbyOf = "standby", "fax-a1"
	}
	t.Faxd = nodes
	d.topo = t
	files, err := t.Write(filepath.Join(d.dir, "conf"))
	if err != nil {
		return err
	}
	d.files = map[string]File{}
	for _, f := range files {
		d.files[f.Path] = f
	}
	for _, s := range []string{"A", "B", "W"} {
		for _, sub := range []string{"", "etcd", "nats", "pg"} {
			p := t.siteDir(s, sub)
			if err := os.MkdirAll(p, 0o755); err != nil {
				return err
			}
		}
		if err := os.Chmod(t.siteDir(s, "etcd"), 0o700); err != nil {
			return err
		}
		if err := d.p.own(t.siteDir(s, "pg")); err != nil {
			return err
		}
	}
	if err := os.Chmod(filepath.Join(d.dir, "data"), 0o755); err != nil {
		return err
	}

	// The carrier (its own embedded PostgreSQL and NATS) starts first: it
	// is ready by the time the two sites are.
	if err := d.spawnFaxd(nodes[0]); err != nil {
		return err
	}
	d.logf("starting etcd (A, B, W) and NATS (A, B, W)")
	for _, s := range []string{"A", "B", "W"} {
		if err := d.startEtcd(s, bins["etcd"]); err != nil {
			return err
		}
		if err := d.startNATS(s, bins["nats-server"]); err != nil {
			return err
		}
	}
	for _, h := range t.Hosts {
		h := h
		if err := waitFor(ctx, "etcd "+h.Site, time.Minute, 200*time.Millisecond, func(ctx context.Context) error {
			code, body, err := httpGet(ctx, fmt.Sprintf("http://%s:%d/health", h.Addr, h.EtcdClient))
			if err != nil || code != 200 || !strings.Contains(string(body), "true") {
				return fmt.Errorf("health %d %s %v", code, body, err)
			}
			return nil
		}); err != nil {
			return err
		}
	}
	d.logf("etcd cluster healthy; starting Patroni on A (bootstrap)")
	if err := d.startPatroni("A", bins["patroni"]); err != nil {
		return err
	}
	if err := d.waitRole(ctx, "A", "primary", 2*time.Minute); err != nil {
		return err
	}
	d.logf("A is primary; starting Patroni on B (clones A)")
	if err := d.startPatroni("B", bins["patroni"]); err != nil {
		return err
	}
	if err := d.waitMember(ctx, "pg-b", 2*time.Minute, "sync_standby"); err != nil {
		return err
	}
	d.logf("B is the synchronous standby; creating the faxd databases")
	if err := d.createDatabases(ctx); err != nil {
		return err
	}
	for _, h := range t.Hosts {
		h := h
		if err := waitFor(ctx, "NATS "+h.Site+" JetStream", time.Minute, 250*time.Millisecond, func(ctx context.Context) error {
			code, body, err := httpGet(ctx, fmt.Sprintf("http://%s:%d/healthz", h.Addr, h.NATSMonitor))
			if err != nil || code != 200 {
				return fmt.Errorf("healthz %d %s %v", code, body, err)
			}
			return nil
		}); err != nil {
			return err
		}
	}

	d.logf("migrating and starting the carrier and faxd a1, a2, b1")
	a1 := d.confPath("A", "fax-a1")
	if out, err := d.faxdCmd(ctx, a1, "migrate"); err != nil {
		return fmt.Errorf("faxd migrate: %w: %s", err, out)
	}
	tok, err := d.faxdCmd(ctx, a1, "token", "create", "--role", "admin", "--name", "drill")
	if err != nil {
		return fmt.Errorf("faxd token create: %w: %s", err, tok)
	}
	for _, n := range nodes[1:] {
		if err := d.spawnFaxd(n); err != nil {
			return err
		}
	}
	if err := d.allReady(ctx, nodes); err != nil {
		return err
	}
	ctok, err := d.faxdCmd(ctx, d.confPath("C", "carrier"), "token", "create", "--role", "admin", "--name", "drill")
	if err != nil {
		return fmt.Errorf("carrier token create: %w: %s", err, ctok)
	}
	url := func(n Node) string { return fmt.Sprintf("http://%s:%d", n.Addr, n.HTTP) }
	if d.carrier, err = client.New(client.Options{Servers: []string{url(nodes[0])}, Token: lastLine(ctok)}); err != nil {
		return err
	}
	// Submissions go to a1 first, then a2, then b1, as a business
	// application with all three servers configured would.
	if d.sender, err = client.New(client.Options{Servers: []string{url(nodes[1]), url(nodes[2]), url(nodes[3])},
		Token: lastLine(tok), Timeout: 10 * time.Second, RetryDelay: 250 * time.Millisecond}); err != nil {
		return err
	}
	if d.onB, err = client.New(client.Options{Servers: []string{url(nodes[3])}, Token: lastLine(tok), Timeout: 10 * time.Second}); err != nil {
		return err
	}
	d.logf("all up")
	return nil
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}

func (d *drill) confPath(site, node string) string {
	return filepath.Join(d.dir, "conf", strings.ToLower(site), "faxd-"+node+".yaml")
}

func (d *drill) startEtcd(site, bin string) error {
	s := strings.ToLower(site)
	_, err := d.p.start("etcd-"+s, site, false, d.dir, nil, bin, "--config-file", filepath.Join(d.dir, "conf", s, "etcd.yaml"))
	return err
}

func (d *drill) startNATS(site, bin string) error {
	s := strings.ToLower(site)
	_, err := d.p.start("nats-"+s, site, false, d.dir, nil, bin, "-c", filepath.Join(d.dir, "conf", s, "nats.conf"))
	return err
}

func (d *drill) startPatroni(site, bin string) error {
	s := strings.ToLower(site)
	pr, err := d.p.start("patroni-"+s, site, true, d.topo.siteDir(site, "pg"), nil, bin, filepath.Join(d.dir, "conf", s, "patroni.yml"))
	if err != nil {
		return err
	}
	pr.pgData = d.topo.siteDir(site, "pg/data")
	return nil
}

func (d *drill) startFaxd(ctx context.Context, n Node) error {
	if err := d.spawnFaxd(n); err != nil {
		return err
	}
	return d.faxdReady(ctx, n)
}

func (d *drill) spawnFaxd(n Node) error {
	cwd := filepath.Join(d.dir, "run", n.Name)
	if err := os.MkdirAll(cwd, 0o755); err != nil {
		return err
	}
	_, err := d.p.start("faxd-"+n.Name, n.Site, false, cwd, nil, d.o.Faxd, "-config", d.confPath(n.Site, n.Name))
	return err
}

func (d *drill) faxdReady(ctx context.Context, n Node) error {
	return waitFor(ctx, "faxd "+n.Name+" ready", 2*time.Minute, 250*time.Millisecond, func(ctx context.Context) error {
		code, body, err := httpGet(ctx, fmt.Sprintf("http://%s:%d/readyz", n.Addr, n.HTTP))
		if err != nil || code != 200 {
			return fmt.Errorf("readyz %d %s %v", code, body, err)
		}
		return nil
	})
}

// allReady waits for every node at once (each one's JetStream set-up
// takes seconds; in turn they would add up).
func (d *drill) allReady(ctx context.Context, nodes []Node) error {
	errs := make(chan error, len(nodes))
	for _, n := range nodes {
		go func(n Node) { errs <- d.faxdReady(ctx, n) }(n)
	}
	var first error
	for range nodes {
		if err := <-errs; err != nil && first == nil {
			first = err
		}
	}
	return first
}

func (d *drill) faxdCmd(ctx context.Context, conf string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, d.o.Faxd, append([]string{"-config", conf}, args...)...)
	cmd.Dir = filepath.Dir(conf)
	if strings.Contains(conf, "carrier") {
		cmd.Dir = filepath.Join(d.dir, "run", "carrier")
	}
	out, err := cmd.Output()
	if ee := (*exec.ExitError)(nil); errors.As(err, &ee) {
		return string(out) + string(ee.Stderr), err
	}
	return string(out), err
}

// patroniURL is the address of path on site's Patroni REST API.
func (d *drill) patroniURL(site, path string) (string, error) {
	h, err := d.topo.host(site)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("http://%s:%d%s", h.Addr, h.PatroniREST, path), nil
}

// waitRole waits until site's Patroni answers 200 on /primary or /replica.
func (d *drill) waitRole(ctx context.Context, site, role string, timeout time.Duration) error {
	return waitFor(ctx, "Patroni "+site+" "+role, timeout, 200*time.Millisecond, func(ctx context.Context) error {
		u, err := d.patroniURL(site, "/"+role)
		if err != nil {
			return err
		}
		code, body, err := httpGet(ctx, u)
		if err != nil || code != 200 {
			return fmt.Errorf("/%s: %d %.200s %v", role, code, body, err)
		}
		return nil
	})
}

type member struct {
	Name  string `json:"name"`
	Role  string `json:"role"`
	State string `json:"state"`
}

// waitMember waits until the cluster view lists name in one of roles,
// running or streaming.
func (d *drill) waitMember(ctx context.Context, name string, timeout time.Duration, roles ...string) error {
	return waitFor(ctx, "member "+name+" as "+strings.Join(roles, "/"), timeout, 250*time.Millisecond, func(ctx context.Context) error {
		var last error
		for _, site := range []string{"B", "A"} {
			u, err := d.patroniURL(site, "/cluster")
			if err != nil {
				return err
			}
			code, body, err := httpGet(ctx, u)
			if err != nil || code != 200 {
				last = fmt.Errorf("/cluster on %s: %d %v", site, code, err)
				continue
			}
			var c struct{ Members []member }
			if err := json.Unmarshal(body, &c); err != nil {
				last = err
				continue
			}
			for _, m := range c.Members {
				if m.Name != name {
					continue
				}
				for _, r := range roles {
					if m.Role == r && (m.State == "running" || m.State == "streaming") {
						return nil
					}
				}
				last = fmt.Errorf("%s is %s/%s", name, m.Role, m.State)
			}
			if last == nil {
				last = fmt.Errorf("%s not in %s", name, body)
			}
		}
		return last
	})
}

func (d *drill) superDSN(site, db string) (string, error) {
	h, err := d.topo.host(site)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("postgres://postgres@%s:%d/%s?sslmode=disable&connect_timeout=2", h.Addr, h.PGPort, db), nil
}

func (d *drill) createDatabases(ctx context.Context) error {
	dsn, err := d.superDSN("A", "postgres")
	if err != nil {
		return err
	}
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	for _, q := range []string{
		"CREATE ROLE faxd LOGIN",
		"CREATE DATABASE faxd_queue OWNER faxd",
		"CREATE DATABASE faxd_archive OWNER faxd",
		"CREATE TABLE drill_probe (at timestamptz NOT NULL)",
	} {
		if _, err := conn.Exec(ctx, q); err != nil {
			return fmt.Errorf("%s: %w", q, err)
		}
	}
	return nil
}

// writable reports whether a write commits through the two-host DSN (the
// same way faxd connects).
func (d *drill) writable(ctx context.Context) error {
	hosts, err := d.topo.dbHosts()
	if err != nil {
		return err
	}
	dsn := fmt.Sprintf("postgres://postgres@%s/postgres?target_session_attrs=read-write&connect_timeout=1&sslmode=disable", hosts)
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	_, err = conn.Exec(ctx, "INSERT INTO drill_probe VALUES (now())")
	return err
}

// submitted is one fax of the stream.
type submitted struct {
	n     int
	id    int64
	to    string
	pages int
}

var digits = regexp.MustCompile(`[^0-9]`)

func (d *drill) document(n int) []byte {
	var b strings.Builder
	for p := 1; p <= d.o.Pages; p++ {
		if p > 1 {
			b.WriteString("\f")
		}
		fmt.Fprintf(&b, "faxd two-site drill %s\nfax %04d page %d of %d\n\n", d.run, n, p, d.o.Pages)
		for i := 0; i < 6; i++ {
			fmt.Fprintf(&b, "fax %04d page %d line %d: the quick brown fox jumps over the lazy dog\n", n, p, i)
		}
	}
	return []byte(b.String())
}

// submitOne submits fax n until the cluster accepts it; the idempotency
// key makes a retry after a lost answer return the same fax.
func (d *drill) submitOne(ctx context.Context, n int) (submitted, error) {
	to := fmt.Sprintf("4930555%04d", n)
	ctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	for {
		f, _, err := d.sender.SubmitFax(ctx, client.FaxRequest{To: to, Resolution: "standard", MaxAttempts: 10},
			[]client.Document{{Name: fmt.Sprintf("fax-%04d.txt", n), Body: strings.NewReader(string(d.document(n)))}},
			fmt.Sprintf("drill-%s-%d", d.run, n))
		if err == nil {
			return submitted{n: n, id: f.ID, to: to}, nil
		}
		if ctx.Err() != nil {
			return submitted{}, fmt.Errorf("submitting fax %d: %w", n, err)
		}
		d.logf("submitting fax %d: %v (retrying)", n, err)
		time.Sleep(500 * time.Millisecond)
	}
}

func (d *drill) exercise(ctx context.Context, rep *Report) error {
	var (
		mu   sync.Mutex
		subs []submitted
	)
	subErr := make(chan error, 1)
	go func() {
		for n := 1; n <= d.o.Faxes; n++ {
			s, err := d.submitOne(ctx, n)
			if err != nil {
				subErr <- err
				return
			}
			mu.Lock()
			subs = append(subs, s)
			mu.Unlock()
			time.Sleep(d.o.Interval)
		}
		subErr <- nil
	}()

	// Kill site A once a fax on one of its nodes has had a page confirmed
	// and has more to go: the kill lands mid-transmission.
	var victim *client.Fax
	err := waitFor(ctx, "a fax mid-transmission at site A", 4*time.Minute, 200*time.Millisecond, func(ctx context.Context) error {
		mu.Lock()
		ids := make([]int64, 0, len(subs))
		for _, s := range subs {
			ids = append(ids, s.id)
		}
		mu.Unlock()
		for _, id := range ids {
			f, err := d.onB.GetFax(ctx, id)
			if err != nil {
				return err
			}
			if f.State != client.StateSending || f.PagesConfirmed < 1 || f.PagesConfirmed >= f.PagesTotal || len(f.History) == 0 {
				continue
			}
			if node := f.History[len(f.History)-1].Node; strings.HasPrefix(node, "fax-a") {
				victim = f
				return nil
			}
		}
		return errors.New("none yet")
	})
	if err != nil {
		return err
	}
	if d.o.Standby {
		if st, err := d.standbyState(ctx); err != nil || st.State != "watching" {
			return fmt.Errorf("before the kill, B's standby is %+v (%v), want watching", st, err)
		}
	}
	kill := time.Now()
	rep.KilledProcs = d.p.kill("A")
	rep.KilledMidFax, rep.KilledAtPage = victim.ID, victim.PagesConfirmed
	d.logf("killed site A (%s) while fax %d had %d of %d pages confirmed", strings.Join(rep.KilledProcs, ", "),
		victim.ID, victim.PagesConfirmed, victim.PagesTotal)

	if err := waitFor(ctx, "a write on B", 2*time.Minute, 100*time.Millisecond, d.writable); err != nil {
		return err
	}
	rep.DBWritable = time.Since(kill)
	d.logf("database writable on B after %.1f s", rep.DBWritable.Seconds())
	if d.o.Standby {
		if err := d.waitPromoted(ctx, rep, kill); err != nil {
			return err
		}
	}

	if err := <-subErr; err != nil {
		return err
	}
	mu.Lock()
	all := append([]submitted(nil), subs...)
	mu.Unlock()
	rep.Submitted = len(all)
	d.logf("all %d faxes submitted; waiting for them to finish", len(all))
	final := map[int64]*client.Fax{}
	if err := waitFor(ctx, "every fax final", 6*time.Minute, time.Second, func(ctx context.Context) error {
		for _, s := range all {
			if f, ok := final[s.id]; ok && f.Final() {
				continue
			}
			f, err := d.onB.GetFax(ctx, s.id)
			if err != nil {
				return err
			}
			final[s.id] = f
			if !f.Final() {
				return fmt.Errorf("fax %d is %s (%d of %d pages)", f.ID, f.State, f.PagesConfirmed, f.PagesTotal)
			}
		}
		return nil
	}); err != nil {
		return err
	}
	for _, s := range all {
		f := final[s.id]
		if f.State == client.StateSent {
			rep.Sent++
		}
		early := false
		for _, tr := range f.History {
			if tr.Node == "fax-b1" && tr.To == client.StateSending && tr.At.Before(kill) {
				early = true // a claim: a standby takes none
			}
			if tr.To == client.StateSent && tr.At.After(kill) && tr.Node == "fax-b1" {
				if dt := tr.At.Sub(kill); rep.FirstSentFromB == 0 || dt < rep.FirstSentFromB {
					rep.FirstSentFromB = dt
				}
			}
		}
		if early && d.o.Standby {
			rep.StandbyCallsEarly++
			rep.Problems = append(rep.Problems, fmt.Sprintf("fax %d was claimed by B's standby before the kill", f.ID))
		}
	}

	if err := d.check(ctx, rep, all, final, kill); err != nil {
		return err
	}
	if d.o.FailBack {
		if err := d.failBack(ctx, rep); err != nil {
			return err
		}
	}
	return nil
}

// check compares what was submitted with what the carrier received and
// what the archive on B holds.
func (d *drill) check(ctx context.Context, rep *Report, all []submitted, final map[int64]*client.Fax, kill time.Time) error {
	// The sender marks a fax sent when the last page is confirmed; the
	// carrier stores the reception after its hang-up, a moment later. So
	// the receptions are read until every sent fax's pages are there, or
	// for a minute at most (then what is missing is reported as lost).
	var got []client.ReceivedFax
	_ = waitFor(ctx, "the carrier's receptions", time.Minute, time.Second, func(ctx context.Context) error {
		got = got[:0]
		cursor := ""
		for {
			l, err := d.carrier.ListReceived(ctx, client.ListReceivedParams{Limit: 100, Cursor: cursor})
			if err != nil {
				return fmt.Errorf("carrier's received faxes: %w", err)
			}
			got = append(got, l.Received...)
			if l.NextCursor == "" {
				break
			}
			cursor = l.NextCursor
		}
		pages := map[string]int{}
		for _, r := range got {
			pages[digits.ReplaceAllString(r.DID, "")] += r.Pages
		}
		for _, s := range all {
			if f := final[s.id]; f.State == client.StateSent && pages[s.to] < f.PagesTotal {
				return fmt.Errorf("fax %d: %d of %d pages at the carrier", f.ID, pages[s.to], f.PagesTotal)
			}
		}
		return nil
	})
	byDID := map[string][]client.ReceivedFax{}
	for _, r := range got {
		did := digits.ReplaceAllString(r.DID, "")
		byDID[did] = append(byDID[did], r)
		if r.StartedAt != nil && r.StartedAt.After(kill) {
			if dt := r.StartedAt.Sub(kill); rep.FirstCallFromB == 0 || dt < rep.FirstCallFromB {
				rep.FirstCallFromB = dt
			}
		}
	}
	for _, s := range all {
		f := final[s.id]
		rep.PagesTotal += f.PagesTotal
		recv := 0
		complete := 0
		for _, r := range byDID[s.to] {
			recv += r.Pages
			if r.Result == "received" && r.Pages == f.PagesTotal {
				complete++
			}
		}
		rep.PagesReceived += recv
		switch {
		case f.State != client.StateSent:
			rep.Lost++
			rep.Problems = append(rep.Problems, fmt.Sprintf("fax %d (%s) ended %s: %s", f.ID, s.to, f.State, f.LastReason))
		case recv < f.PagesTotal:
			rep.Lost++
			rep.Problems = append(rep.Problems, fmt.Sprintf("fax %d (%s) sent, but the carrier got %d of %d pages", f.ID, s.to, recv, f.PagesTotal))
		}
		if recv > f.PagesTotal {
			rep.PagesResent += recv - f.PagesTotal
		}
		// Received twice: every page arrived more than once.
		if complete > 1 || recv >= 2*f.PagesTotal {
			rep.Duplicated++
			rep.Problems = append(rep.Problems, fmt.Sprintf("fax %d (%s) received twice: %d receptions, %d pages for %d", f.ID, s.to, len(byDID[s.to]), recv, f.PagesTotal))
		}
	}
	if rep.FirstCallFromB == 0 {
		rep.Problems = append(rep.Problems, "no call from site B reached the carrier after the kill")
	}

	// The archive on B: every sent fax once. Results travel through NATS,
	// so give the archiver time to catch up.
	want := map[int64]bool{}
	for _, s := range all {
		if final[s.id].State == client.StateSent {
			want[s.id] = true
		}
	}
	var missing []int64
	err := waitFor(ctx, "the archive on B", 2*time.Minute, time.Second, func(ctx context.Context) error {
		seen := map[int64]int{}
		cursor := ""
		for {
			p, err := d.onB.SearchArchive(ctx, client.ArchiveParams{Direction: "outbound", Limit: 100, Cursor: cursor})
			if err != nil {
				return err
			}
			for _, a := range p.Faxes {
				seen[a.FaxID]++
			}
			if p.NextCursor == "" {
				break
			}
			cursor = p.NextCursor
		}
		missing = missing[:0]
		for id := range want {
			if seen[id] != 1 {
				missing = append(missing, id)
			}
		}
		if len(missing) > 0 {
			return fmt.Errorf("%d sent faxes not archived exactly once: %v", len(missing), missing)
		}
		return nil
	})
	if err != nil {
		rep.ArchiveMissing = len(missing)
		rep.Problems = append(rep.Problems, err.Error())
	}
	return nil
}

// failBack restarts site A: etcd and NATS rejoin, Patroni brings A's
// PostgreSQL back as a replica (pg_rewind: it was the primary), then a
// switchover makes A the primary again and faxd on A serves once more.
func (d *drill) failBack(ctx context.Context, rep *Report) error {
	bins, _ := Requirements()
	bins["nats-server"] = d.o.NATS
	d.logf("fail-back: restarting site A")
	start := time.Now()
	if err := d.startEtcd("A", bins["etcd"]); err != nil {
		return err
	}
	if err := d.startNATS("A", bins["nats-server"]); err != nil {
		return err
	}
	if err := d.startPatroni("A", bins["patroni"]); err != nil {
		return err
	}
	if err := d.waitMember(ctx, "pg-a", 3*time.Minute, "sync_standby"); err != nil {
		return err
	}
	rep.Rejoin = time.Since(start)
	d.logf("A streams as the synchronous standby after %.1f s; switching over", rep.Rejoin.Seconds())
	asked := time.Now()
	// Patroni answers once the switchover is done (a few seconds): one
	// request, with time to spare, not a retry that would find pg-a leader.
	sctx, scancel := context.WithTimeout(ctx, time.Minute)
	u, err := d.patroniURL("B", "/switchover")
	if err != nil {
		scancel()
		return err
	}
	code, body, err := httpPost(sctx, u, `{"leader":"pg-b","candidate":"pg-a"}`)
	scancel()
	if err != nil || code != 200 {
		return fmt.Errorf("switchover to A: %d %s %v", code, body, err)
	}
	if err := d.waitRole(ctx, "A", "primary", time.Minute); err != nil {
		return err
	}
	if err := waitFor(ctx, "a write on A", time.Minute, 100*time.Millisecond, d.writable); err != nil {
		return err
	}
	rep.Switchover = time.Since(asked)
	d.logf("A is the primary again after %.1f s; restarting faxd on A", rep.Switchover.Seconds())
	var onA []Node
	for _, n := range d.topo.Faxd {
		if n.Site == "A" {
			if err := d.spawnFaxd(n); err != nil {
				return err
			}
			onA = append(onA, n)
		}
	}
	if err := d.allReady(ctx, onA); err != nil {
		return err
	}
	if d.o.Standby {
		restarted := time.Now()
		err := waitFor(ctx, "B's standby stepping down", 3*time.Minute, 250*time.Millisecond, func(ctx context.Context) error {
			st, err := d.standbyState(ctx)
			if err != nil {
				return err
			}
			if st.State != "watching" || st.Role != "standby" {
				return fmt.Errorf("B is %s/%s", st.State, st.Role)
			}
			return nil
		})
		if err != nil {
			rep.Problems = append(rep.Problems, err.Error())
		} else {
			rep.SteppedDown = time.Since(restarted)
			d.logf("B's standby stepped down %.1f s after A's faxd restarted", rep.SteppedDown.Seconds())
		}
	}
	s, err := d.submitOne(ctx, 9000)
	if err != nil {
		return err
	}
	var f *client.Fax
	if err := waitFor(ctx, "the fail-back fax", 3*time.Minute, time.Second, func(ctx context.Context) error {
		var err error
		if f, err = d.sender.GetFax(ctx, s.id); err != nil {
			return err
		}
		if !f.Final() {
			return errors.New(f.State)
		}
		return nil
	}); err != nil {
		return err
	}
	rep.FailBackSent = f.State == client.StateSent
	if !rep.FailBackSent {
		rep.Problems = append(rep.Problems, fmt.Sprintf("the fax after the fail-back ended %s: %s", f.State, f.LastReason))
		return nil
	}
	// It reached the carrier, all of it, once.
	var pages int
	err = waitFor(ctx, "the fail-back fax at the carrier", time.Minute, time.Second, func(ctx context.Context) error {
		// Newest first: the fail-back fax's receptions are on the first page.
		l, err := d.carrier.ListReceived(ctx, client.ListReceivedParams{Limit: 100})
		if err != nil {
			return err
		}
		pages = 0
		for _, r := range l.Received {
			if digits.ReplaceAllString(r.DID, "") == s.to {
				pages += r.Pages
			}
		}
		if pages < f.PagesTotal {
			return fmt.Errorf("%d of %d pages", pages, f.PagesTotal)
		}
		return nil
	})
	if err != nil || pages != f.PagesTotal {
		rep.FailBackSent = false
		rep.Problems = append(rep.Problems, fmt.Sprintf("the fax after the fail-back: the carrier got %d pages of %d (%v)", pages, f.PagesTotal, err))
	}
	return nil
}

// standbyState is B's standby state as its API reports it.
func (d *drill) standbyState(ctx context.Context) (*client.Standby, error) {
	c, err := d.onB.GetCluster(ctx)
	if err != nil {
		return nil, err
	}
	if c.Standby == nil {
		return nil, errors.New("B reports no standby state")
	}
	return c.Standby, nil
}

// waitPromoted waits for B's standby to promote itself after the kill and
// records when it did (its own change time when it reports one).
func (d *drill) waitPromoted(ctx context.Context, rep *Report, kill time.Time) error {
	var st *client.Standby
	err := waitFor(ctx, "B's standby promoted", 2*time.Minute, 100*time.Millisecond, func(ctx context.Context) error {
		var err error
		if st, err = d.standbyState(ctx); err != nil {
			return err
		}
		if st.State != "promoted" {
			return fmt.Errorf("B is %s/%s: %s", st.State, st.Role, st.LastError)
		}
		return nil
	})
	if err != nil {
		return err
	}
	rep.Promoted = time.Since(kill)
	if st.ChangedAt != nil && st.ChangedAt.After(kill) && st.ChangedAt.Sub(kill) < rep.Promoted {
		rep.Promoted = st.ChangedAt.Sub(kill)
	}
	d.logf("B's standby promoted %.1f s after the kill (%s)", rep.Promoted.Seconds(), st.Reason)
	return nil
}
