package archive

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/faxd/faxd/internal/natsbus"
	"github.com/faxd/faxd/internal/pgcluster"
	"github.com/faxd/faxd/internal/pgtest"
	"github.com/faxd/faxd/queue"
	"github.com/faxd/faxd/schemas"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// natsServer is a real nats-server on a fixed loopback port and directory,
// so the test can stop it and start it again as an outage would.
type natsServer struct {
	t    *testing.T
	port int
	dir  string
	srv  *server.Server
}

func startNATS(t *testing.T) *natsServer {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	n := &natsServer{t: t, port: port, dir: t.TempDir()}
	n.start()
	t.Cleanup(n.stop)
	return n
}

func (n *natsServer) start() {
	srv, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: n.port, JetStream: true, StoreDir: n.dir, NoSigs: true, NoLog: true})
	if err != nil {
		n.t.Fatal(err)
	}
	go srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		n.t.Fatal("nats-server not ready")
	}
	n.srv = srv
}

func (n *natsServer) stop() {
	if n.srv != nil {
		n.srv.Shutdown()
		n.srv.WaitForShutdown()
		n.srv = nil
	}
}

func (n *natsServer) url() string { return "nats://127.0.0.1:" + strconv.Itoa(n.port) }

// connect opens a client as faxd does: reconnecting for ever.
func (n *natsServer) connect(ctx context.Context) jetstream.JetStream {
	b, err := natsbus.Open(ctx, natsbus.Options{URL: n.url(), Name: "test", Logger: quiet})
	if err != nil {
		n.t.Fatal(err)
	}
	n.t.Cleanup(b.Close)
	return b.JetStream
}

// docs is a DocumentSource over an in-memory set of documents.
type docs map[string][]byte

func (d docs) Document(_ context.Context, ref string) (string, string, []byte, error) {
	data, ok := d[ref]
	if !ok {
		return "", "", nil, fmt.Errorf("no document %q", ref)
	}
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:]), "image/tiff", data, nil
}

// finishJobs enqueues n jobs and finishes them: even numbers sent, odd
// ones failed permanently. Each end writes an outbox row in its transaction.
func finishJobs(t *testing.T, ctx context.Context, q *queue.Queue, lease *queue.Lease, first, n int) {
	t.Helper()
	for i := first; i < first+n; i++ {
		_, _, err := q.Enqueue(ctx, queue.Request{
			Destination: "+1555" + strconv.Itoa(1000000+i), CallerID: "+15550000", Document: "doc-" + strconv.Itoa(i%3),
			PagesTotal: 2, Submitter: "app", IdempotencyKey: "k" + strconv.Itoa(i),
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	done := 0
	for done < n {
		jobs, err := q.Claim(ctx, lease, 50)
		if err != nil {
			t.Fatal(err)
		}
		for _, j := range jobs {
			i, _ := strconv.Atoi(j.Destination[len("+1555"):])
			if i%2 == 0 {
				_, err = q.Complete(ctx, j.ID, j.Token, queue.Result{Pages: 2, Reason: "OK"})
			} else {
				_, err = q.Fail(ctx, j.ID, j.Token, queue.Failure{Class: queue.ClassPermanent, Reason: "404 not found"})
			}
			if err != nil {
				t.Fatal(err)
			}
			done++
		}
	}
}

type rig struct {
	queue    *queue.Queue
	lease    *queue.Lease
	queueDB  *pgxpool.Pool
	archive  *Store
	relay    *Relay
	js       jetstream.JetStream
	nats     *natsServer
	stopRuns context.CancelFunc
	wg       sync.WaitGroup
}

// newRig starts a queue database, an archive database (archivePool, or a
// fresh one), NATS, a relay and two archivers (two nodes).
func newRig(t *testing.T, archivePool *pgxpool.Pool) *rig {
	ctx := context.Background()
	r := &rig{queueDB: pgtest.NewDB(t), nats: startNATS(t)}
	if archivePool == nil {
		archivePool = pgtest.NewDB(t)
	}
	r.archive = NewStore(archivePool)
	q, err := queue.New(r.queueDB, queue.Config{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	r.queue = q
	node, err := q.Register(ctx, queue.NodeInfo{ID: "n1"}, queue.NodeConfig{TTL: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	r.lease = node.Lease()
	r.js = r.nats.connect(ctx)
	r.relay, err = NewRelay(ctx, r.queueDB, r.js, RelayOptions{Logger: quiet, Poll: 50 * time.Millisecond, Batch: 40,
		Docs: docs{"doc-0": []byte("page data 0"), "doc-1": []byte("page data 1"), "doc-2": []byte("page data 2")}})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	r.stopRuns = cancel
	run := func(f func(context.Context) error) {
		r.wg.Add(1)
		go func() { defer r.wg.Done(); f(runCtx) }()
	}
	run(r.relay.Run)
	for i := 0; i < 2; i++ {
		a, err := NewArchiver(ctx, r.archive, r.nats.connect(ctx), quiet, StreamConfig{})
		if err != nil {
			t.Fatal(err)
		}
		a.Retry = 100 * time.Millisecond
		run(a.Run)
	}
	t.Cleanup(func() { cancel(); r.wg.Wait() })
	return r
}

func countFaxes(t *testing.T, ctx context.Context, s *Store) (rows, distinct int) {
	t.Helper()
	if err := s.pool.QueryRow(ctx, "SELECT count(*), count(DISTINCT record_key) FROM faxes").Scan(&rows, &distinct); err != nil {
		return -1, -1
	}
	return rows, distinct
}

func waitArchived(t *testing.T, s *Store, want int, within time.Duration) {
	t.Helper()
	ctx := context.Background()
	deadline := time.Now().Add(within)
	for {
		rows, distinct := countFaxes(t, ctx, s)
		if rows == want && distinct == want {
			return
		}
		if rows > want {
			t.Fatalf("archive has %d rows, more than the %d faxes", rows, want)
		}
		if time.Now().After(deadline) {
			t.Fatalf("archive has %d rows (%d distinct) after %v, want %d", rows, distinct, within, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestEveryFinishedJobIsArchivedOnce(t *testing.T) {
	r := newRig(t, nil)
	ctx := context.Background()
	finishJobs(t, ctx, r.queue, r.lease, 0, 120)
	waitArchived(t, r.archive, 120, 30*time.Second)

	recs, _, err := r.archive.Search(ctx, Filter{Number: "+15551000004"})
	if err != nil || len(recs) != 1 {
		t.Fatalf("search: %v %d", err, len(recs))
	}
	got := recs[0]
	if got.Direction != Outbound || got.Result != "sent" || got.Pages != 2 || got.RemoteNumber != "+15551000004" ||
		got.LocalNumber != "+15550000" || got.Submitter != "app" || got.NodeID != "n1" || got.Attempts != 1 {
		t.Errorf("record %+v", got)
	}
	want := sha256.Sum256([]byte("page data " + strconv.Itoa(4%3)))
	if got.DocumentSHA256 != hex.EncodeToString(want[:]) {
		t.Errorf("document sha %q", got.DocumentSHA256)
	}
	ctype, data, err := r.archive.Document(ctx, got.DocumentSHA256)
	if err != nil || string(data) != "page data 1" || ctype != "image/tiff" {
		t.Errorf("document: %q %q %v", ctype, data, err)
	}
	failed, _, err := r.archive.Search(ctx, Filter{Result: "failed", Limit: 500})
	if err != nil || len(failed) != 60 || failed[0].Reason != "404 not found" || failed[0].Class != "permanent" {
		t.Fatalf("failed records: %d %v", len(failed), err)
	}
	if n, _ := r.relay.Pending(ctx); n != 0 {
		t.Errorf("%d outbox rows unpublished", n)
	}
}

// NATS goes away mid-load: finished jobs pile up in the outbox, and all of
// them reach the archive once NATS is back.
func TestNATSOutageLosesNothing(t *testing.T) {
	r := newRig(t, nil)
	ctx := context.Background()
	finishJobs(t, ctx, r.queue, r.lease, 0, 50)
	r.nats.stop()
	finishJobs(t, ctx, r.queue, r.lease, 50, 50)
	time.Sleep(300 * time.Millisecond)
	if n, err := r.relay.Pending(ctx); err != nil || n == 0 {
		t.Fatalf("outbox pending during the outage: %d, %v", n, err)
	}
	r.nats.start()
	finishJobs(t, ctx, r.queue, r.lease, 100, 20)
	waitArchived(t, r.archive, 120, 60*time.Second)
}

// The archive database goes away mid-load: records wait in the stream, and
// all of them are written once it is back.
func TestArchiveDatabaseOutageLosesNothing(t *testing.T) {
	ctx := context.Background()
	bin, err := pgcluster.FindBinDir()
	if err != nil {
		t.Skip("PostgreSQL server binaries missing:", err)
	}
	dir := t.TempDir()
	cl, err := pgcluster.Start(ctx, pgcluster.Options{Dir: dir, Fast: true, BinDir: bin})
	if err != nil {
		t.Fatal(err)
	}
	port := cl.Port()
	t.Cleanup(func() { cl.Stop(context.Background()) })
	pool := pgtest.Pool(t, cl.DSN("postgres"))
	if err := schemas.Migrate(ctx, pool, schemas.Archive); err != nil {
		t.Fatal(err)
	}
	r := newRig(t, pool)
	finishJobs(t, ctx, r.queue, r.lease, 0, 40)
	waitArchived(t, r.archive, 40, 30*time.Second)

	if err := cl.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	finishJobs(t, ctx, r.queue, r.lease, 40, 60)
	time.Sleep(500 * time.Millisecond) // the archivers fail and retry meanwhile
	cl, err = pgcluster.Start(ctx, pgcluster.Options{Dir: dir, Fast: true, BinDir: bin, Port: port})
	if err != nil {
		t.Fatal(err)
	}
	waitArchived(t, r.archive, 100, 60*time.Second)
}

// A record stored twice, or an older version after a newer, changes nothing.
func TestUpsertIsIdempotentAndVersioned(t *testing.T) {
	ctx := context.Background()
	s := NewStore(pgtest.NewDB(t))
	rec := Record{Key: "src/job/1", Source: "src", Version: 5, Direction: Outbound, Result: "sent", Pages: 3, FinishedAt: time.Now()}
	if ok, err := s.Upsert(ctx, rec); err != nil || !ok {
		t.Fatalf("first upsert: %v %v", ok, err)
	}
	if ok, err := s.Upsert(ctx, rec); err != nil || ok {
		t.Fatalf("same version written again: %v %v", ok, err)
	}
	older := rec
	older.Version, older.Result = 4, "failed"
	if ok, _ := s.Upsert(ctx, older); ok {
		t.Fatal("older version overwrote a newer one")
	}
	newer := rec
	newer.Version, newer.Pages = 6, 4
	if ok, _ := s.Upsert(ctx, newer); !ok {
		t.Fatal("newer version not written")
	}
	got, _, err := s.Search(ctx, Filter{})
	if err != nil || len(got) != 1 || got[0].Pages != 4 || got[0].Result != "sent" {
		t.Fatalf("%+v %v", got, err)
	}
	if _, err := s.Get(ctx, got[0].ID+1000); err == nil {
		t.Fatal("unknown id found")
	}
}

// Re-publishing every outbox row (a relay that crashed before marking its
// batch) leaves the archive as it was.
func TestRepublishedOutboxIsIdempotent(t *testing.T) {
	r := newRig(t, nil)
	ctx := context.Background()
	finishJobs(t, ctx, r.queue, r.lease, 0, 30)
	waitArchived(t, r.archive, 30, 30*time.Second)
	if _, err := r.queueDB.Exec(ctx, "UPDATE outbox SET published_at = NULL"); err != nil {
		t.Fatal(err)
	}
	// Bypass JetStream's duplicate window too: publish each row again under
	// a new message id, as a relay would after the window has passed.
	rows, err := r.queueDB.Query(ctx, "SELECT id, topic, key, payload FROM outbox")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		var topic, key string
		var payload []byte
		if err := rows.Scan(&id, &topic, &key, &payload); err != nil {
			t.Fatal(err)
		}
		if err := r.relay.publishWithID(ctx, id, topic, key, payload, "again-"+strconv.FormatInt(id, 10)); err != nil {
			t.Fatal(err)
		}
	}
	rows.Close()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if n, _ := r.relay.Pending(ctx); n == 0 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(500 * time.Millisecond)
	if rows, distinct := countFaxes(t, ctx, r.archive); rows != 30 || distinct != 30 {
		t.Fatalf("archive rows %d distinct %d after republishing, want 30", rows, distinct)
	}
}

func TestSearchPagesAndPurge(t *testing.T) {
	ctx := context.Background()
	s := NewStore(pgtest.NewDB(t))
	base := time.Now().Add(-time.Hour)
	for i := 0; i < 25; i++ {
		dir, result, routing := Outbound, "sent", ""
		if i%5 == 0 {
			dir, result, routing = Inbound, "received", "unrouted"
		}
		finished := base.Add(time.Duration(i) * time.Minute)
		if i < 3 {
			finished = time.Now().Add(-400 * 24 * time.Hour)
		}
		if _, err := s.Upsert(ctx, Record{Key: "s/" + strconv.Itoa(i), Source: "s", Version: 1, Direction: dir, Result: result,
			Routing: routing, RemoteNumber: "+44" + strconv.Itoa(i), FinishedAt: finished,
			DocumentSHA256: "sha" + strconv.Itoa(i%2)}); err != nil {
			t.Fatal(err)
		}
	}
	s.PutDocument(ctx, "sha0", "image/tiff", []byte("a"))
	s.PutDocument(ctx, "sha1", "image/tiff", []byte("b"))
	s.PutDocument(ctx, "orphan", "image/tiff", []byte("c"))

	var all []Record
	cursor := ""
	for pages := 0; ; pages++ {
		recs, next, err := s.Search(ctx, Filter{Limit: 7, Cursor: cursor})
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, recs...)
		if next == "" {
			break
		}
		cursor = next
		if pages > 10 {
			t.Fatal("cursor does not end")
		}
	}
	if len(all) != 25 {
		t.Fatalf("paged %d records, want 25", len(all))
	}
	for i := 1; i < len(all); i++ {
		if all[i].FinishedAt.After(all[i-1].FinishedAt) {
			t.Fatal("not newest first")
		}
	}
	unrouted, _, _ := s.Search(ctx, Filter{Routing: "unrouted", Direction: Inbound})
	if len(unrouted) != 5 {
		t.Errorf("unrouted %d, want 5", len(unrouted))
	}
	if _, _, err := s.Search(ctx, Filter{Cursor: "garbage"}); err == nil {
		t.Error("bad cursor accepted")
	}
	n, err := s.Purge(ctx, 365*24*time.Hour)
	if err != nil || n != 3 {
		t.Fatalf("purged %d, %v; want 3", n, err)
	}
	if _, _, err := s.Document(ctx, "orphan"); err == nil {
		t.Error("unreferenced document kept")
	}
	if _, _, err := s.Document(ctx, "sha0"); err != nil {
		t.Error("referenced document purged")
	}
}

// A relay that died mid-batch leaves its claimed rows to the others only
// once its lease has passed; then they are published and marked.
func TestRelayLeaseOnOutboxRows(t *testing.T) {
	r := newRig(t, nil)
	r.stopRuns() // this test drives the relay itself
	r.wg.Wait()
	ctx := context.Background()
	finishJobs(t, ctx, r.queue, r.lease, 0, 5)
	// Another relay claims the batch and dies.
	if _, err := r.queueDB.Exec(ctx, sqlOutboxClaim, 100, time.Hour.Microseconds()); err != nil {
		t.Fatal(err)
	}
	if n, err := r.relay.PublishOnce(ctx); n != 0 || err != nil {
		t.Fatalf("published %d rows (%v) leased to another relay", n, err)
	}
	if _, err := r.queueDB.Exec(ctx, "UPDATE outbox SET claimed_until = clock_timestamp()"); err != nil {
		t.Fatal(err)
	}
	if n, err := r.relay.PublishOnce(ctx); n != 5 || err != nil {
		t.Fatalf("after the lease: published %d (%v), want 5", n, err)
	}
	var pending, claimed int
	if err := r.queueDB.QueryRow(ctx, "SELECT count(*) FILTER (WHERE published_at IS NULL), count(claimed_until) FROM outbox").Scan(&pending, &claimed); err != nil {
		t.Fatal(err)
	}
	if pending != 0 || claimed != 0 {
		t.Fatalf("%d rows unpublished, %d still claimed", pending, claimed)
	}
}

// TestRelayKeepsStreamSettings: the relay creates the stream and the
// document bucket with the settings it was given and never resets them
// to defaults. It once passed a zero config, which in a cluster turned
// both into single copies, placed anywhere, so losing one site stalled
// the archive; MaxAge stands in for the replicas a single server cannot
// show.
func TestRelayKeepsStreamSettings(t *testing.T) {
	ctx := context.Background()
	queueDB := pgtest.NewDB(t)
	if _, err := queue.New(queueDB, queue.Config{Logger: quiet}); err != nil {
		t.Fatal(err)
	}
	js := startNATS(t).connect(ctx)
	sc := StreamConfig{Replicas: 1, MaxAge: 48 * time.Hour}
	if _, err := EnsureStream(ctx, js, sc); err != nil {
		t.Fatal(err)
	}
	relay, err := NewRelay(ctx, queueDB, js, RelayOptions{Logger: quiet, Stream: sc})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := relay.PublishOnce(ctx); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{StreamName, "OBJ_" + ObjectBucket} {
		s, err := js.Stream(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		if got := s.CachedInfo().Config.MaxAge; got != sc.MaxAge {
			t.Errorf("stream %s: max age %v after the relay ran, want %v", name, got, sc.MaxAge)
		}
	}
}
