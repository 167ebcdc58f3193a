package server

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/faxd/faxd/archive"
	"github.com/faxd/faxd/internal/config"
	"github.com/faxd/faxd/internal/docstore"
	"github.com/faxd/faxd/internal/pgtest"
	"github.com/faxd/faxd/queue"
	"github.com/faxd/faxd/t38/tiff"
)

// These tests run real faxd binaries (cmd/faxd built once into a temporary
// directory) as two active nodes on one pgtest queue database. Both send
// through one gateway, a receiving faxd server in the test process with a
// database of its own, so that the killed or stopped node's calls and the
// survivor's end at the same far end.

var faxdBin struct {
	once sync.Once
	path string
	err  error
}

// faxdBinary builds cmd/faxd once per test binary (static, as shipped).
func faxdBinary(t *testing.T) string {
	t.Helper()
	faxdBin.once.Do(func() {
		dir, err := os.MkdirTemp("", "faxd-bin-")
		if err != nil {
			faxdBin.err = err
			return
		}
		faxdBin.path = filepath.Join(dir, "faxd")
		cmd := exec.Command("go", "build", "-o", faxdBin.path, "../../cmd/faxd")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			faxdBin.err = fmt.Errorf("go build ./cmd/faxd: %v\n%s", err, out)
		}
	})
	if faxdBin.err != nil {
		t.Fatal(faxdBin.err)
	}
	return faxdBin.path
}

// removeFaxdBinary removes the binary faxdBinary built, if any.
func removeFaxdBinary() {
	if faxdBin.path != "" {
		_ = os.RemoveAll(filepath.Dir(faxdBin.path))
	}
}

// faxdProc is a running faxd process.
type faxdProc struct {
	id  string
	cmd *exec.Cmd
	log *bytes.Buffer
	mu  *sync.Mutex
}

type lockedBuffer struct {
	mu *sync.Mutex
	b  *bytes.Buffer
}

func (w lockedBuffer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func (p *faxdProc) logs() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.log.String()
}

// startFaxd runs faxd as node id on the queue database dsn, sending every
// fax to gateway (host:port), with a lease of ttl.
func startFaxd(t *testing.T, dsn, id, gateway string, ttl time.Duration) *faxdProc {
	t.Helper()
	return startFaxdWith(t, dsn, id, gateway, ttl, procOptions{channels: 1})
}

// procOptions size a faxd process: its outbound channels and the
// gateway's max_channels (0: unlimited).
type procOptions struct {
	channels, maxChannels int
}

func startFaxdWith(t *testing.T, dsn, id, gateway string, ttl time.Duration, o procOptions) *faxdProc {
	t.Helper()
	dir := t.TempDir()
	cfg := fmt.Sprintf(`node: {id: %s}
log: {level: info}
http: {listen: "127.0.0.1:0"}
database: {queue_dsn: %q}
nats: {embedded_dir: %q, embedded_listen: "127.0.0.1:0"}
secrets: {key_file: %q}
queue: {heartbeat_interval: %s, lease_ttl: %s, probe_interval: 250ms}
channels: {count: %d}
sip: {listen_udp: "127.0.0.1:0", media_bind: 127.0.0.1, allow_from: [127.0.0.1/32]}
channel:
  inbound_count: 1
  station_id: "+1 555 0100"
  header_template: ""
  gateways: [{name: far, address: %q, max_channels: %d}]
  routes: [{prefix: "", gateway: far}]
`, id, dsn, filepath.Join(dir, "nats"), testKeyFile(t), ttl/10, ttl, o.channels, gateway, o.maxChannels)
	path := filepath.Join(dir, "faxd.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	p := &faxdProc{id: id, log: &bytes.Buffer{}, mu: &sync.Mutex{}}
	p.cmd = exec.Command(faxdBinary(t), "-config", path)
	p.cmd.Stdout = lockedBuffer{p.mu, p.log}
	p.cmd.Stderr = lockedBuffer{p.mu, p.log}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = p.cmd.Process.Signal(syscall.SIGCONT)
		_ = p.cmd.Process.Kill()
		_ = p.cmd.Wait()
		if t.Failed() {
			t.Logf("--- log of %s:\n%s", id, p.logs())
		}
	})
	return p
}

// processCluster is the far end, the shared queue database and its first node.
type processCluster struct {
	far  *Server
	dsn  string
	q    *queue.Queue
	docs *docstore.Store
	gw   string
}

func newProcessCluster(t *testing.T) *processCluster {
	t.Helper()
	far, _ := startNode(t, pgtest.NewDSN(t), func(c *config.Config) {
		c.Node.ID = "far-end"
		c.SIP.MediaBind = "127.0.0.1"
		c.SIP.AllowFrom = []string{"127.0.0.1/32"}
		c.Channels.Count = 1
		c.Channel.InboundCount = 4
		c.Queue.HeartbeatInterval = config.Duration(500 * time.Millisecond)
		c.Queue.LeaseTTL = config.Duration(5 * time.Second)
	})
	ap, _ := far.channels.UA.Addr("udp")
	dsn := pgtest.NewDSN(t)
	pool := pgtest.Pool(t, dsn)
	q, err := queue.New(pool, queue.Config{})
	if err != nil {
		t.Fatal(err)
	}
	return &processCluster{far: far, dsn: dsn, q: q, docs: docstore.New(pool, docstore.Config{}), gw: ap.String()}
}

// enqueue queues a fax of n full pages.
func (c *processCluster) enqueue(t *testing.T, n int) queue.Job {
	t.Helper()
	return c.enqueueTo(t, n, "+15550199")
}

// enqueueTo queues a fax of n full pages to number.
func (c *processCluster) enqueueTo(t *testing.T, n int, number string) queue.Job {
	t.Helper()
	ctx := context.Background()
	pages := testPages(n, 150)
	var b bytes.Buffer
	if err := tiff.EncodeFax(&b, pages, tiff.FaxOptions{}); err != nil {
		t.Fatal(err)
	}
	ref, err := c.docs.Put(ctx, docstore.NewSet{Recipe: t.Name(), Pages: b.Bytes(), PageCount: n,
		Sources: []docstore.Source{{Filename: "pages.tif", ContentType: "image/tiff", Data: b.Bytes()}}})
	if err != nil {
		t.Fatal(err)
	}
	job, _, err := c.q.Enqueue(ctx, queue.Request{Destination: number, Document: ref, PagesTotal: n, CallerID: "15550100"})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.docs.Release(ctx, ref); err != nil {
		t.Fatal(err)
	}
	return job
}

func (c *processCluster) wait(t *testing.T, id int64, what string, cond func(queue.Job) bool) queue.Job {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for {
		j, err := c.q.Get(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if cond(j) {
			return j
		}
		if time.Now().After(deadline) {
			t.Fatalf("job %d never %s: %+v", id, what, j)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (c *processCluster) waitNode(t *testing.T, id string) {
	t.Helper()
	waitFor(t, 60*time.Second, "node "+id+" registered", func() bool {
		nodes, err := c.q.Nodes(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range nodes {
			if n.ID == id && n.Live {
				return true
			}
		}
		return false
	})
}

// history returns the job's transitions; the takeover is the one back to
// pending with its reason.
func (c *processCluster) history(t *testing.T, id int64) []queue.Transition {
	t.Helper()
	h, err := c.q.History(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// startSending starts two nodes, queues a fax and returns once one of
// them (sender) has had at least one page of it confirmed.
func startSending(t *testing.T, c *processCluster, ttl time.Duration) (sender, survivor *faxdProc, job queue.Job) {
	t.Helper()
	a := startFaxd(t, c.dsn, "proc-a", c.gw, ttl)
	b := startFaxd(t, c.dsn, "proc-b", c.gw, ttl)
	c.waitNode(t, "proc-a")
	c.waitNode(t, "proc-b")
	job = c.enqueue(t, processPages)
	job = c.wait(t, job.ID, "a page confirmed", func(j queue.Job) bool { return j.PagesConfirmed >= 1 || j.State.Final() })
	if job.State != queue.Sending {
		t.Fatalf("job no longer being sent when the test wanted to interrupt it: %+v", job)
	}
	sender, survivor = a, b
	if job.NodeID == "proc-b" {
		sender, survivor = b, a
	}
	return sender, survivor, job
}

// processPages is the length of the fax the tests interrupt: long enough
// that the first confirmed page leaves several to send.
const processPages = 4

// kill -9 of the node sending a fax: the survivor takes the job over
// through the liveness path (its lease of 30 s is far from expiring),
// re-dials and finishes the fax from the first unconfirmed page.
func TestProcessKillSenderMidFax(t *testing.T) {
	t.Parallel()
	c := newProcessCluster(t)
	a, b, job := startSending(t, c, 30*time.Second)
	t0 := time.Now()
	if err := a.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	taken := c.wait(t, job.ID, "re-dialled by "+b.id, func(j queue.Job) bool { return j.NodeID == b.id && j.State == queue.Sending })
	rto := time.Since(t0)
	done := c.wait(t, job.ID, "sent", func(j queue.Job) bool { return j.State.Final() })
	if done.State != queue.Sent || done.NodeID != b.id || done.PagesConfirmed != processPages {
		t.Fatalf("job ended %+v, want sent by %s with %d pages", done, b.id, processPages)
	}
	var why string
	for _, h := range c.history(t, job.ID) {
		if h.From == queue.Sending && h.To == queue.Pending {
			why = h.Reason
		}
	}
	if !strings.Contains(why, "node process gone") {
		t.Fatalf("takeover reason %q, want the liveness path (node process gone)", why)
	}
	t.Logf("RTO kill -9 of %s -> %s's claim (observed by polling): %v; resumed from page %d", a.id, b.id, rto, taken.PagesConfirmed+1)
}

// A node that hangs (SIGSTOP) mid-fax keeps its liveness session: it is
// taken over only once its 3 s lease has expired. Continued afterwards
// (SIGCONT), it cannot complete anything: its token is refused, and the
// job is sent exactly once, by the survivor.
func TestProcessStoppedSenderFenced(t *testing.T) {
	t.Parallel()
	c := newProcessCluster(t)
	a, b, job := startSending(t, c, 3*time.Second)
	if err := a.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	c.wait(t, job.ID, "taken over by "+b.id, func(j queue.Job) bool { return j.NodeID == b.id })
	var takeover queue.Transition
	for _, h := range c.history(t, job.ID) {
		if h.From == queue.Sending && h.To == queue.Pending {
			takeover = h
		}
	}
	if !strings.Contains(takeover.Reason, "node lease expired") {
		t.Fatalf("takeover of a stopped node: %q, want it only after the lease (node lease expired)", takeover.Reason)
	}
	if err := a.cmd.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	done := c.wait(t, job.ID, "sent", func(j queue.Job) bool { return j.State.Final() })
	if done.State != queue.Sent || done.NodeID != b.id {
		t.Fatalf("job ended %+v, want sent by %s", done, b.id)
	}
	// Nothing of the stopped node's after the takeover, exactly one completion.
	var sent int
	after := false
	for _, h := range c.history(t, job.ID) {
		if h == takeover {
			after = true
		}
		if after && h.NodeID == a.id {
			t.Errorf("%s wrote the job after the takeover: %+v", a.id, h)
		}
		if h.To == queue.Sent {
			sent++
		}
	}
	if sent != 1 {
		t.Fatalf("%d transitions to sent, want 1", sent)
	}
	// The continued node hung up its call because of its lost lease.
	waitFor(t, 30*time.Second, a.id+"'s hang-up for its lost lease", func() bool {
		return strings.Contains(a.logs(), `reason="node lease can no longer be guaranteed"`)
	})
	recs, _, err := c.far.Archive.Search(context.Background(), archive.Filter{Direction: archive.Inbound, Result: "received"})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("far end received %d complete faxes", len(recs))
}
