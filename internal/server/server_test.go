package server

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/faxd/faxd/archive"
	"github.com/faxd/faxd/internal/config"
	"github.com/faxd/faxd/internal/pgcluster"
	"github.com/faxd/faxd/internal/pgtest"
	"github.com/faxd/faxd/queue"
)

func TestMain(m *testing.M) {
	code := m.Run()
	removeFaxdBinary() // process_test.go
	pgtest.Shutdown()
	os.Exit(code)
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// A server with the queue and the archive in two databases migrates both,
// reports ready while both and NATS answer, and not ready, naming NATS,
// once NATS is gone.
func TestServerTwoDatabasesReadiness(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cfg := config.Default()
	cfg.Node.ID = "test-node"
	cfg.HTTP.Listen = "127.0.0.1:0"
	cfg.Database.QueueDSN = pgtest.NewEmptyDSN(t)
	cfg.Database.ArchiveDSN = pgtest.NewEmptyDSN(t)
	cfg.NATS.EmbeddedDir = t.TempDir()
	cfg.NATS.EmbeddedListen = "127.0.0.1:0"
	cfg.SIP.ListenUDP = "127.0.0.1:0" // never the fixed 5060: tests run side by side
	if errs := cfg.Validate(); len(errs) > 0 {
		t.Fatal(errs)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	s, err := New(ctx, cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(context.Background())
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- s.Run(runCtx) }()

	// Each set went into its own database.
	var q, a int
	if err := s.DB.Queue.QueryRow(ctx, "SELECT count(*) FROM information_schema.tables WHERE table_name = 'schema_migrations_queue'").Scan(&q); err != nil {
		t.Fatal(err)
	}
	if err := s.DB.Archive.QueryRow(ctx, "SELECT count(*) FROM information_schema.tables WHERE table_name = 'schema_migrations_queue'").Scan(&a); err != nil {
		t.Fatal(err)
	}
	if q != 1 || a != 0 {
		t.Errorf("queue set in queue db: %d, in archive db: %d", q, a)
	}

	base := "http://" + s.HTTPAddr()
	if code, body := get(t, base+"/healthz"); code != 200 || strings.TrimSpace(body) != "ok" {
		t.Errorf("healthz %d %q", code, body)
	}
	// The stream is created in the background once NATS answers.
	for {
		code, body := get(t, base+"/readyz")
		if code == 200 && strings.Contains(body, "nats ok") {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("never ready: readyz %d %q", code, body)
		}
		time.Sleep(20 * time.Millisecond)
	}
	code, body := get(t, base+"/metrics")
	if code != 200 || !strings.Contains(body, `faxd_build_info{node="test-node"`) || !strings.Contains(body, `faxd_component_up{component="queue_db"} 1`) {
		t.Errorf("metrics %d:\n%s", code, body)
	}

	s.Bus.Close()
	if code, body := get(t, base+"/readyz"); code != 503 || !strings.Contains(body, "nats down") {
		t.Errorf("readyz with NATS gone: %d %q", code, body)
	}
	if _, body := get(t, base+"/metrics"); !strings.Contains(body, `faxd_component_up{component="nats"} 0`) {
		t.Error("nats not reported down in metrics")
	}
	stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// A DSN with a password that cannot be parsed is reported without echoing it.
func TestBadDSNNotLogged(t *testing.T) {
	_, err := OpenDatabases(context.Background(), config.Database{QueueDSN: "postgres://u:s3cret@host:notaport/db", MaxConns: 2}, slog.Default())
	if err == nil {
		t.Fatal("bad DSN accepted")
	}
	if strings.Contains(err.Error(), "s3cret") {
		t.Fatalf("password in error: %v", err)
	}
}

// startServer runs a server on fresh databases until the test ends.
func startServer(t *testing.T, mutate func(*config.Config)) *Server {
	t.Helper()
	cfg := config.Default()
	cfg.Node.ID = "srv-" + strings.ToLower(strings.ReplaceAll(t.Name(), "/", "-"))
	cfg.HTTP.Listen = "127.0.0.1:0"
	cfg.Database.QueueDSN = pgtest.NewDSN(t)
	cfg.NATS.EmbeddedDir = t.TempDir()
	cfg.NATS.EmbeddedListen = "127.0.0.1:0"
	cfg.SIP.ListenUDP = "127.0.0.1:0" // never the fixed 5060: tests run side by side
	// A lease of 3 s renewed every 200 ms: short enough for tests that
	// wait on leases, long enough that a loaded machine does not fence
	// the node between two renewals.
	cfg.Queue.HeartbeatInterval = config.Duration(200 * time.Millisecond)
	cfg.Queue.LeaseTTL = config.Duration(3 * time.Second)
	cfg.Secrets.KeyFile = testKeyFile(t)
	if mutate != nil {
		mutate(&cfg)
	}
	if errs := cfg.Validate(); len(errs) > 0 {
		t.Fatal(errs)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s, err := New(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
		s.Close(context.Background())
	})
	return s
}

// The server's node takes over the job of a node whose lease ran out,
// keeping its confirmed pages, and says so in the job's history.
func TestServerTakesOverDeadNodesJobs(t *testing.T) {
	s := startServer(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	job, _, err := s.Queue.Enqueue(ctx, queue.Request{Destination: "+15550100", Document: "doc:1", PagesTotal: 3})
	if err != nil {
		t.Fatal(err)
	}
	// A second node claims the job, confirms a page, and then dies (it
	// never renews its one-second lease).
	dead, err := s.Queue.Register(ctx, queue.NodeInfo{ID: "dying"}, queue.NodeConfig{TTL: time.Second, Interval: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	var claimed []queue.Job
	for len(claimed) == 0 {
		if claimed, err = s.Queue.Claim(ctx, dead.Lease(), 1); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Queue.Progress(ctx, job.ID, claimed[0].Token, 1); err != nil {
		t.Fatal(err)
	}
	for {
		j, err := s.Queue.Get(ctx, job.ID)
		if err != nil {
			t.Fatal(err)
		}
		if j.State == queue.Pending {
			if j.PagesConfirmed != 1 {
				t.Fatalf("pages confirmed %d after takeover, want 1", j.PagesConfirmed)
			}
			break
		}
		if ctx.Err() != nil {
			t.Fatal("job never taken over")
		}
		time.Sleep(100 * time.Millisecond)
	}
	hist, err := s.Queue.History(ctx, job.ID)
	if err != nil {
		t.Fatal(err)
	}
	last := hist[len(hist)-1]
	if last.NodeID != s.cfg.Node.ID {
		t.Errorf("takeover recorded by %q, want %q (%+v)", last.NodeID, s.cfg.Node.ID, last)
	}
	if _, err := s.Queue.Progress(ctx, job.ID, claimed[0].Token, 2); err == nil {
		t.Error("the dead node's token still records progress")
	}
}

// The node row shows this server with its role and capacity, its lease is
// reported held, and a standby does not take over.
func TestServerNodeRowAndLeaseMetric(t *testing.T) {
	s := startServer(t, func(c *config.Config) { c.Node.Role = "standby"; c.Channels.Count = 12 })
	ctx := context.Background()
	nodes, err := s.Queue.Nodes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(nodes) != 1 || nodes[0].Role != "standby" || nodes[0].Capacity != 12 || nodes[0].FreeChannels != 0 || !nodes[0].Live {
		t.Fatalf("nodes = %+v", nodes)
	}
	if _, body := get(t, "http://"+s.HTTPAddr()+"/metrics"); !strings.Contains(body, "faxd_node_lease_held 1") {
		t.Error("lease not reported held")
	}
}

// Purge deletes finished jobs older than queue.purge_after, on one node.
func TestServerPurge(t *testing.T) {
	s := startServer(t, nil)
	ctx := context.Background()
	job, _, err := s.Queue.Enqueue(ctx, queue.Request{Destination: "+15550100", Document: "doc:1"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Queue.Cancel(ctx, job.ID, "test"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.DB.Queue.Exec(ctx, "UPDATE jobs SET finished_at = now() - interval '400 days' WHERE id = $1", job.ID); err != nil {
		t.Fatal(err)
	}
	// Another session holding the lock makes this node skip the round.
	conn, err := s.DB.Queue.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", int64(purgeLockKey)); err != nil {
		t.Fatal(err)
	}
	if n, err := s.tasks[0].once(ctx); err != nil || n != 0 {
		t.Fatalf("purge while locked elsewhere: %d, %v", n, err)
	}
	conn.Exec(ctx, "SELECT pg_advisory_unlock($1)", int64(purgeLockKey))
	conn.Release()
	if n, err := s.tasks[0].once(ctx); err != nil || n != 1 {
		t.Fatalf("purge: %d, %v", n, err)
	}
	if _, err := s.Queue.Get(ctx, job.ID); err == nil {
		t.Fatal("purged job still there")
	}
}

// A job finished on a running server reaches the archive database through
// the outbox, NATS and the archiver, and /metrics shows the outbox drained.
func TestServerArchivesFinishedJob(t *testing.T) {
	s := startServer(t, func(c *config.Config) { c.Database.ArchiveDSN = pgtest.NewDSN(t) })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	job, _, err := s.Queue.Enqueue(ctx, queue.Request{Destination: "+15550123", Document: "doc:9", PagesTotal: 1, Submitter: "billing"})
	if err != nil {
		t.Fatal(err)
	}
	var claimed []queue.Job
	for len(claimed) == 0 {
		if claimed, err = s.Queue.Claim(ctx, s.Node.Lease(), 1); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Queue.Complete(ctx, job.ID, claimed[0].Token, queue.Result{Pages: 1}); err != nil {
		t.Fatal(err)
	}
	for {
		recs, _, err := s.Archive.Search(ctx, archive.Filter{Submitter: "billing"})
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) == 1 {
			if recs[0].JobID != job.ID || recs[0].Result != "sent" || recs[0].RemoteNumber != "+15550123" {
				t.Fatalf("archived %+v", recs[0])
			}
			break
		}
		if ctx.Err() != nil {
			t.Fatal("job never archived")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if _, body := get(t, "http://"+s.HTTPAddr()+"/metrics"); !strings.Contains(body, "faxd_archive_outbox_pending 0") {
		t.Error("outbox not drained in metrics")
	}
}

// A second process on the same embedded directory (faxd token create while
// make run is up) shares the running postmaster instead of starting one.
func TestEmbeddedClusterShared(t *testing.T) {
	if _, err := pgcluster.FindBinDir(); err != nil {
		t.Skip("PostgreSQL server binaries missing:", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cfg := config.Database{EmbeddedDir: t.TempDir() + "/pg", MaxConns: 4}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	first, err := OpenDatabases(ctx, cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close(context.Background())
	if first.cluster == nil {
		t.Fatal("first open did not start the cluster")
	}
	second, err := OpenDatabases(ctx, cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	if second.cluster != nil {
		t.Fatal("second open started another postmaster")
	}
	if _, err := second.Queue.Exec(ctx, "CREATE TABLE shared_probe (x int)"); err != nil {
		t.Fatal(err)
	}
	second.Close(context.Background())
	var n int
	if err := first.Queue.QueryRow(ctx, "SELECT count(*) FROM information_schema.tables WHERE table_name = 'shared_probe'").Scan(&n); err != nil || n != 1 {
		t.Fatalf("not the same server: %d %v", n, err)
	}
	// Closing the second left the first's server running.
	if err := first.Queue.Ping(ctx); err != nil {
		t.Fatal(err)
	}
}
