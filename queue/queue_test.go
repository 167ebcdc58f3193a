package queue_test

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/faxd/faxd/internal/pgtest"
	"github.com/faxd/faxd/queue"
)

// TestMain leaves the helper entry point of the SIGKILL test out of
// ordinary runs: it is not a test, and excluding it is not a skip.
func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) == "" {
		flag.Set("test.skip", "^TestHelper")
	}
	pgtest.Main(m)
}

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// noJitter makes back-off exact so tests can check it.
func noJitter() queue.RetryPolicy {
	p := queue.DefaultRetryPolicy()
	for c, b := range p {
		b.Jitter = 0
		p[c] = b
	}
	return p
}

func newQueue(t testing.TB, dsn string) *queue.Queue {
	t.Helper()
	q, err := queue.New(pgtest.Pool(t, dsn), queue.Config{Retry: noJitter(), Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	return q
}

func register(t testing.TB, q *queue.Queue, id string, cfg queue.NodeConfig) *queue.Node {
	t.Helper()
	n, err := q.Register(context.Background(), queue.NodeInfo{ID: id, Capacity: 4}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func req(dest string) queue.Request {
	return queue.Request{Destination: dest, Document: "doc/" + dest, PagesTotal: 3}
}

func enqueue(t testing.TB, q *queue.Queue, r queue.Request) queue.Job {
	t.Helper()
	j, created, err := q.Enqueue(context.Background(), r)
	if err != nil {
		t.Fatal(err)
	}
	if !created {
		t.Fatalf("job %d not created", j.ID)
	}
	return j
}

func claimOne(t testing.TB, q *queue.Queue, n *queue.Node) queue.Job {
	t.Helper()
	jobs, err := q.Claim(context.Background(), n.Lease(), 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(jobs) != 1 {
		t.Fatalf("claimed %d jobs, want 1", len(jobs))
	}
	return jobs[0]
}

func wantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("%s: err = %v, want %v", what, err, want)
	}
}

func lastTransition(t *testing.T, q *queue.Queue, id int64) queue.Transition {
	t.Helper()
	h, err := q.History(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if len(h) == 0 {
		t.Fatalf("job %d has no history", id)
	}
	return h[len(h)-1]
}

func outboxCount(t *testing.T, pool *pgxpool.Pool, id int64) int {
	t.Helper()
	var n int
	if err := pool.QueryRow(context.Background(),
		"SELECT count(*) FROM outbox WHERE key = $1 AND payload->>'state' IN ('sent','failed','cancelled')",
		fmt.Sprint(id)).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestStateMachine walks every allowed transition and tries the forbidden
// ones from each state.
func TestStateMachine(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	q := newQueue(t, pgtest.NewDSN(t))
	n := register(t, q, "n1", queue.NodeConfig{})

	// Unknown job.
	_, err := q.Get(ctx, 999999)
	wantErr(t, "get unknown", err, queue.ErrNotFound)
	_, err = q.Cancel(ctx, 999999, "")
	wantErr(t, "cancel unknown", err, queue.ErrNotFound)
	_, err = q.Complete(ctx, 999999, 1, queue.Result{})
	wantErr(t, "complete unknown", err, queue.ErrNotFound)
	_, err = q.History(ctx, 999999)
	wantErr(t, "history unknown", err, queue.ErrNotFound)

	// pending: no holder writes.
	j := enqueue(t, q, req("100"))
	if j.State != queue.Pending || j.Attempts != 0 || j.Token != 0 {
		t.Fatalf("new job %+v", j)
	}
	if h := lastTransition(t, q, j.ID); h.From != "" || h.To != queue.Pending {
		t.Fatalf("creation history %+v", h)
	}
	_, err = q.Complete(ctx, j.ID, 1, queue.Result{})
	wantErr(t, "complete pending", err, queue.ErrStaleToken)
	_, err = q.Fail(ctx, j.ID, 1, queue.Failure{Class: queue.ClassBusy})
	wantErr(t, "fail pending", err, queue.ErrStaleToken)
	_, err = q.Progress(ctx, j.ID, 1, 1)
	wantErr(t, "progress pending", err, queue.ErrStaleToken)
	_, err = q.Release(ctx, j.ID, 1, "")
	wantErr(t, "release pending", err, queue.ErrStaleToken)
	_, err = q.AckCancel(ctx, j.ID, 1, 0)
	wantErr(t, "ack cancel pending", err, queue.ErrStaleToken)

	// pending -> sending -> sent.
	c := claimOne(t, q, n)
	if c.ID != j.ID || c.State != queue.Sending || c.NodeID != "n1" || c.Token == 0 || c.Attempts != 1 {
		t.Fatalf("claimed %+v", c)
	}
	if h := lastTransition(t, q, j.ID); h.From != queue.Pending || h.To != queue.Sending || h.NodeID != "n1" || h.Token != c.Token {
		t.Fatalf("claim history %+v", h)
	}
	_, err = q.AckCancel(ctx, j.ID, c.Token, 0)
	wantErr(t, "ack cancel without request", err, queue.ErrInvalidTransition)
	if cancel, err := q.Progress(ctx, j.ID, c.Token, 2); err != nil || cancel {
		t.Fatalf("progress: cancel=%v err=%v", cancel, err)
	}
	done, err := q.Complete(ctx, j.ID, c.Token, queue.Result{Pages: 3, Reason: "MCF"})
	if err != nil {
		t.Fatal(err)
	}
	if done.State != queue.Sent || done.PagesConfirmed != 3 || done.FinishedAt.IsZero() {
		t.Fatalf("completed %+v", done)
	}
	if h := lastTransition(t, q, j.ID); h.From != queue.Sending || h.To != queue.Sent || h.NodeID != "n1" || h.Reason != "MCF" {
		t.Fatalf("complete history %+v", h)
	}
	if outboxCount(t, q.Pool(), j.ID) != 1 {
		t.Fatal("no outbox record for the sent job")
	}
	// sent is final.
	_, err = q.Complete(ctx, j.ID, c.Token, queue.Result{})
	wantErr(t, "complete sent", err, queue.ErrInvalidTransition)
	_, err = q.Fail(ctx, j.ID, c.Token, queue.Failure{Class: queue.ClassBusy})
	wantErr(t, "fail sent", err, queue.ErrInvalidTransition)
	_, err = q.Progress(ctx, j.ID, c.Token, 3)
	wantErr(t, "progress sent", err, queue.ErrInvalidTransition)
	_, err = q.Release(ctx, j.ID, c.Token, "")
	wantErr(t, "release sent", err, queue.ErrInvalidTransition)
	_, err = q.Cancel(ctx, j.ID, "")
	wantErr(t, "cancel sent", err, queue.ErrInvalidTransition)

	// sending -> pending (retryable failure), -> pending (release),
	// -> failed (permanent).
	j2 := enqueue(t, q, req("200"))
	c2 := claimOne(t, q, n)
	back, err := q.Fail(ctx, j2.ID, c2.Token, queue.Failure{Class: queue.ClassRoute, Reason: "503 from gw1", Pages: 1})
	if err != nil {
		t.Fatal(err)
	}
	if back.State != queue.Pending || back.Token != 0 || back.NodeID != "" || back.PagesConfirmed != 1 || back.LastClass != queue.ClassRoute {
		t.Fatalf("failed once %+v", back)
	}
	if h := lastTransition(t, q, j2.ID); h.To != queue.Pending || h.Class != queue.ClassRoute || h.Reason != "503 from gw1" {
		t.Fatalf("fail history %+v", h)
	}
	// Make it claimable now.
	if _, err := q.Pool().Exec(ctx, "UPDATE jobs SET run_at = now() WHERE id = $1", j2.ID); err != nil {
		t.Fatal(err)
	}
	c2 = claimOne(t, q, n)
	if c2.Attempts != 2 || c2.PagesConfirmed != 1 {
		t.Fatalf("second claim %+v", c2)
	}
	rel, err := q.Release(ctx, j2.ID, c2.Token, "draining")
	if err != nil || rel.State != queue.Pending || rel.Attempts != 1 {
		t.Fatalf("release: %+v %v", rel, err)
	}
	c2 = claimOne(t, q, n)
	f, err := q.Fail(ctx, j2.ID, c2.Token, queue.Failure{Class: queue.ClassPermanent, Reason: "number unobtainable"})
	if err != nil || f.State != queue.Failed || f.LastReason != "number unobtainable" {
		t.Fatalf("permanent failure: %+v %v", f, err)
	}
	if outboxCount(t, q.Pool(), j2.ID) != 1 {
		t.Fatal("no outbox record for the failed job")
	}
	_, err = q.Cancel(ctx, j2.ID, "")
	wantErr(t, "cancel failed", err, queue.ErrInvalidTransition)
	_, err = q.Complete(ctx, j2.ID, c2.Token, queue.Result{})
	wantErr(t, "complete failed", err, queue.ErrInvalidTransition)

	// pending -> cancelled; cancelled is final.
	j3 := enqueue(t, q, req("300"))
	cc, err := q.Cancel(ctx, j3.ID, "user")
	if err != nil || cc.State != queue.Cancelled {
		t.Fatalf("cancel pending: %+v %v", cc, err)
	}
	_, err = q.Cancel(ctx, j3.ID, "")
	wantErr(t, "cancel cancelled", err, queue.ErrInvalidTransition)
	if jobs, err := q.Claim(ctx, n.Lease(), 10); err != nil || len(jobs) != 0 {
		t.Fatalf("claimed finished jobs: %v %v", jobs, err)
	}

	// Bad inputs.
	_, err = q.Fail(ctx, j3.ID, 1, queue.Failure{Class: "weird"})
	wantErr(t, "unknown class", err, queue.ErrInvalidRequest)
	_, _, err = q.Enqueue(ctx, queue.Request{Document: "x"})
	wantErr(t, "no destination", err, queue.ErrInvalidRequest)
	_, _, err = q.Enqueue(ctx, queue.Request{Destination: "1", Document: "x", Retry: queue.RetryPolicy{queue.ClassPermanent: {Initial: 1}}})
	wantErr(t, "retrying permanent", err, queue.ErrInvalidRequest)
}

func TestPriorityAndSchedule(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	q := newQueue(t, pgtest.NewDSN(t))
	n := register(t, q, "n1", queue.NodeConfig{})
	low := enqueue(t, q, req("1"))
	later := req("2")
	later.Priority = 100
	later.SendAfter = time.Now().Add(time.Hour)
	enqueue(t, q, later)
	hr := req("3")
	hr.Priority = 10
	high := enqueue(t, q, hr)
	jobs, err := q.Claim(ctx, n.Lease(), 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(jobs) != 2 || jobs[0].ID != high.ID || jobs[1].ID != low.ID {
		t.Fatalf("claimed %v, want [%d %d] (the scheduled one later)", ids(jobs), high.ID, low.ID)
	}
	if jobs[1].Token <= jobs[0].Token {
		t.Fatal("tokens do not grow")
	}
}

func ids(jobs []queue.Job) []int64 {
	var out []int64
	for _, j := range jobs {
		out = append(out, j.ID)
	}
	return out
}

func TestIdempotency(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	q := newQueue(t, pgtest.NewDSN(t))
	r := req("555")
	r.IdempotencyKey = "order-42"
	r.Metadata = map[string]any{"order": 42.0}
	first, created, err := q.Enqueue(ctx, r)
	if err != nil || !created {
		t.Fatalf("first: %v created=%v", err, created)
	}
	again, created, err := q.Enqueue(ctx, r)
	if err != nil || created || again.ID != first.ID {
		t.Fatalf("repeat: id %d vs %d, created=%v, err=%v", again.ID, first.ID, created, err)
	}
	other := r
	other.Destination = "556"
	_, _, err = q.Enqueue(ctx, other)
	var ce *queue.ConflictError
	if !errors.As(err, &ce) || ce.Existing != first.ID || !errors.Is(err, queue.ErrIdempotencyConflict) {
		t.Fatalf("conflict: %v", err)
	}
	// Racing duplicates: one job.
	r.IdempotencyKey = "race"
	var wg sync.WaitGroup
	got := make([]int64, 8)
	errs := make([]error, 8)
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			j, _, err := q.Enqueue(ctx, r)
			got[i], errs[i] = j.ID, err
		}()
	}
	wg.Wait()
	for i := range got {
		if errs[i] != nil || got[i] != got[0] {
			t.Fatalf("racing enqueue %d: id %d vs %d, err %v", i, got[i], got[0], errs[i])
		}
	}
	var n int
	_ = q.Pool().QueryRow(ctx, "SELECT count(*) FROM jobs WHERE idempotency_key = 'race'").Scan(&n)
	if n != 1 {
		t.Fatalf("%d jobs for one key", n)
	}
}

// TestNoDoubleClaim: 8 claimers, each with its own pool and node as if in
// separate processes, drain 10,000 jobs; every job is claimed exactly once.
func TestNoDoubleClaim(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dsn := pgtest.NewDSN(t)
	q := newQueue(t, dsn)
	const total = 10000
	if _, err := q.Pool().Exec(ctx, `
		INSERT INTO jobs (request_hash, max_attempts, destination, document)
		SELECT '\x00', 3, 'n' || g, 'doc' FROM generate_series(1, $1) g`, total); err != nil {
		t.Fatal(err)
	}
	const claimers = 8
	var mu sync.Mutex
	seen := map[int64]int{}
	tokens := map[int64]bool{}
	var wg sync.WaitGroup
	errc := make(chan error, claimers)
	for i := range claimers {
		cq := newQueue(t, dsn)
		// Nothing renews these leases: an hour outlasts the drain on any
		// loaded machine (a minute did not, and the claims then failed).
		node := register(t, cq, fmt.Sprintf("claimer-%d", i), queue.NodeConfig{TTL: time.Hour})
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				jobs, err := cq.Claim(ctx, node.Lease(), 1+i%4)
				if err != nil {
					errc <- err
					return
				}
				if len(jobs) == 0 {
					return
				}
				for _, j := range jobs {
					mu.Lock()
					seen[j.ID]++
					dup := tokens[j.Token]
					tokens[j.Token] = true
					mu.Unlock()
					if dup {
						errc <- fmt.Errorf("token %d handed out twice", j.Token)
						return
					}
					if _, err := cq.Complete(ctx, j.ID, j.Token, queue.Result{Pages: 1}); err != nil {
						errc <- err
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Fatal(err)
	}
	if len(seen) != total {
		t.Fatalf("%d distinct jobs claimed, want %d", len(seen), total)
	}
	for id, c := range seen {
		if c != 1 {
			t.Fatalf("job %d claimed %d times", id, c)
		}
	}
	var sent int
	_ = q.Pool().QueryRow(ctx, "SELECT count(*) FROM jobs WHERE state = 'sent'").Scan(&sent)
	if sent != total {
		t.Fatalf("%d sent, want %d", sent, total)
	}
}

// expire ends a node's lease in the database, as if its heartbeats had
// stopped long ago.
func expire(t *testing.T, q *queue.Queue, node string) {
	t.Helper()
	if _, err := q.Pool().Exec(context.Background(),
		"UPDATE nodes SET lease_expires_at = now() - interval '1 second' WHERE node_id = $1", node); err != nil {
		t.Fatal(err)
	}
}

func TestStaleToken(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	q := newQueue(t, pgtest.NewDSN(t))
	a := register(t, q, "a", queue.NodeConfig{})
	b := register(t, q, "b", queue.NodeConfig{})
	j := enqueue(t, q, req("1"))
	old := claimOne(t, q, a)
	if _, err := q.Progress(ctx, j.ID, old.Token, 1); err != nil {
		t.Fatal(err)
	}
	expire(t, q, "a")
	taken, err := q.TakeOver(ctx, "b")
	if err != nil || len(taken) != 1 || taken[0].State != queue.Pending || taken[0].PagesConfirmed != 1 {
		t.Fatalf("takeover: %+v %v", taken, err)
	}
	// Stale before anyone claimed again, and after.
	_, err = q.Complete(ctx, j.ID, old.Token, queue.Result{Pages: 3})
	wantErr(t, "complete with stale token (pending)", err, queue.ErrStaleToken)
	cur := claimOne(t, q, b)
	if cur.Token <= old.Token || cur.PagesConfirmed != 1 {
		t.Fatalf("new claim %+v after token %d", cur, old.Token)
	}
	_, err = q.Progress(ctx, j.ID, old.Token, 2)
	wantErr(t, "progress with stale token", err, queue.ErrStaleToken)
	_, err = q.Complete(ctx, j.ID, old.Token, queue.Result{Pages: 3})
	wantErr(t, "complete with stale token", err, queue.ErrStaleToken)
	_, err = q.Fail(ctx, j.ID, old.Token, queue.Failure{Class: queue.ClassBusy})
	wantErr(t, "fail with stale token", err, queue.ErrStaleToken)
	_, err = q.Release(ctx, j.ID, old.Token, "")
	wantErr(t, "release with stale token", err, queue.ErrStaleToken)
	got, _ := q.Get(ctx, j.ID)
	if got.State != queue.Sending || got.Token != cur.Token || got.PagesConfirmed != 1 {
		t.Fatalf("stale writes changed the job: %+v", got)
	}
	if _, err := q.Complete(ctx, j.ID, cur.Token, queue.Result{Pages: 3}); err != nil {
		t.Fatal(err)
	}
	// The dead node's lease cannot be renewed or used to claim.
	wantErr(t, "renew expired", a.Renew(ctx), queue.ErrLeaseLost)
	_, err = q.Claim(ctx, a.Lease(), 1)
	wantErr(t, "claim with lost lease", err, queue.ErrLeaseLost)
	select {
	case <-a.Lease().Done():
	default:
		t.Fatal("lost lease not fenced locally")
	}
}

// TestConcurrentTakeover: several nodes take over the same dead node's
// jobs at once; each job is taken over exactly once.
func TestConcurrentTakeover(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dsn := pgtest.NewDSN(t)
	q := newQueue(t, dsn)
	dead := register(t, q, "dead", queue.NodeConfig{})
	const jobs = 200
	for i := range jobs {
		enqueue(t, q, req(fmt.Sprint(i)))
	}
	claimed, err := q.Claim(ctx, dead.Lease(), jobs)
	if err != nil || len(claimed) != jobs {
		t.Fatalf("claimed %d: %v", len(claimed), err)
	}
	expire(t, q, "dead")
	const takers = 6
	var wg sync.WaitGroup
	counts := make([]int, takers)
	errs := make([]error, takers)
	for i := range takers {
		tq := newQueue(t, dsn)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 3 {
				got, err := tq.TakeOver(ctx, fmt.Sprintf("taker-%d", i))
				counts[i] += len(got)
				if err != nil {
					errs[i] = err
					return
				}
			}
		}()
	}
	wg.Wait()
	sum := 0
	for i := range takers {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		sum += counts[i]
	}
	if sum != jobs {
		t.Fatalf("%d takeovers reported for %d jobs", sum, jobs)
	}
	var dup, pending int
	_ = q.Pool().QueryRow(ctx, `SELECT count(*) FROM (SELECT job_id FROM job_history
		WHERE reason LIKE 'taken over%' GROUP BY job_id HAVING count(*) <> 1) x`).Scan(&dup)
	_ = q.Pool().QueryRow(ctx, "SELECT count(*) FROM jobs WHERE state = 'pending' AND takeovers = 1 AND attempts = 0").Scan(&pending)
	if dup != 0 || pending != jobs {
		t.Fatalf("%d jobs with other than one takeover entry; %d pending after takeover, want %d", dup, pending, jobs)
	}
}

func TestTakeoverLimit(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	q, err := queue.New(pgtest.NewDB(t), queue.Config{MaxTakeovers: 1, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	j := enqueue(t, q, req("1"))
	for round := 0; round < 2; round++ {
		n := register(t, q, fmt.Sprint("crashy-", round), queue.NodeConfig{})
		claimOne(t, q, n)
		expire(t, q, n.ID())
		taken, err := q.TakeOver(ctx, "survivor")
		if err != nil || len(taken) != 1 {
			t.Fatalf("round %d: %v %v", round, taken, err)
		}
		want := queue.Pending
		if round == 1 {
			want = queue.Failed
		}
		if taken[0].State != want {
			t.Fatalf("round %d: %s, want %s", round, taken[0].State, want)
		}
	}
	got, _ := q.Get(ctx, j.ID)
	if !strings.Contains(got.LastReason, "orphaned 2 times") {
		t.Fatalf("reason %q", got.LastReason)
	}
}

// A node restarting under the same id orphans its previous incarnation's
// jobs at once: the new process holds none of them.
func TestReRegisterOrphansOldIncarnation(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	q := newQueue(t, pgtest.NewDSN(t))
	first := register(t, q, "n", queue.NodeConfig{})
	enqueue(t, q, req("1"))
	c := claimOne(t, q, first)
	second := register(t, q, "n", queue.NodeConfig{})
	if second.Lease().Incarnation <= first.Lease().Incarnation {
		t.Fatal("incarnation did not grow")
	}
	wantErr(t, "old incarnation renews", first.Renew(ctx), queue.ErrLeaseLost)
	taken, err := q.TakeOver(ctx, "n")
	if err != nil || len(taken) != 1 || taken[0].ID != c.ID {
		t.Fatalf("takeover: %v %v", taken, err)
	}
	if h := lastTransition(t, q, c.ID); !strings.Contains(h.Reason, "node restarted") {
		t.Fatalf("history %+v", h)
	}
}

// TestSelfFencing: while renewals hang (the node row is locked by another
// transaction), the lease gives itself up before it can expire in the
// database.
func TestSelfFencing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	q := newQueue(t, pgtest.NewDSN(t))
	cfg := queue.NodeConfig{TTL: 3 * time.Second, Interval: 300 * time.Millisecond, Margin: time.Second}
	n := register(t, q, "n", cfg)
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	go n.Run(runCtx)
	l := n.Lease()

	blocker, err := q.Pool().Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer blocker.Rollback(ctx)
	if _, err := blocker.Exec(ctx, "SELECT 1 FROM nodes WHERE node_id = 'n' FOR UPDATE"); err != nil {
		t.Fatal(err)
	}
	select {
	case <-l.Done():
	case <-time.After(30 * time.Second):
		t.Fatal("lease never fenced while renewals hung")
	}
	var stillValid bool
	if err := q.Pool().QueryRow(ctx,
		"SELECT lease_expires_at > clock_timestamp() FROM nodes WHERE node_id = 'n'").Scan(&stillValid); err != nil {
		t.Fatal(err)
	}
	if !stillValid {
		t.Fatal("lease fenced only after it had expired in the database")
	}
	if !errors.Is(l.Err(), queue.ErrLeaseLost) {
		t.Fatalf("Err = %v", l.Err())
	}
	_, err = q.Claim(ctx, l, 1)
	wantErr(t, "claim after fencing", err, queue.ErrLeaseLost)
	// Once the database is reachable again, Run registers a new incarnation.
	_ = blocker.Rollback(ctx)
	deadline := time.Now().Add(30 * time.Second)
	for n.Lease() == l {
		if time.Now().After(deadline) {
			t.Fatal("no new lease after the database came back")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := n.Lease().Err(); err != nil || n.Lease().Incarnation <= l.Incarnation {
		t.Fatalf("new lease: %v, incarnation %d after %d", err, n.Lease().Incarnation, l.Incarnation)
	}
}

func TestBackoffPerClass(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	q := newQueue(t, pgtest.NewDSN(t))
	n := register(t, q, "n", queue.NodeConfig{})
	def := noJitter()
	for _, class := range queue.Classes {
		r := req(string(class))
		r.MaxAttempts = 10
		j := enqueue(t, q, r)
		for attempt := 1; attempt <= 6; attempt++ {
			if _, err := q.Pool().Exec(ctx, "UPDATE jobs SET run_at = now() WHERE id = $1", j.ID); err != nil {
				t.Fatal(err)
			}
			c := claimOne(t, q, n)
			if c.ID != j.ID || c.Attempts != attempt {
				t.Fatalf("%s: claimed %d attempt %d", class, c.ID, c.Attempts)
			}
			f, err := q.Fail(ctx, j.ID, c.Token, queue.Failure{Class: class, Reason: "r"})
			if err != nil {
				t.Fatal(err)
			}
			if class == queue.ClassPermanent {
				if f.State != queue.Failed {
					t.Fatalf("permanent: %s", f.State)
				}
				break
			}
			b := def[class]
			want := time.Duration(b.Initial)
			for range attempt - 1 {
				want = time.Duration(float64(want) * b.Factor)
			}
			want = min(want, time.Duration(b.Max))
			if got := f.RunAt.Sub(f.UpdatedAt); f.State != queue.Pending || absDur(got-want) > time.Millisecond {
				t.Fatalf("%s attempt %d: state %s, back-off %s, want %s", class, attempt, f.State, got, want)
			}
		}
	}
	// A job's own policy overrides the queue's for its classes.
	r := req("own")
	r.Retry = queue.RetryPolicy{queue.ClassBusy: {Initial: queue.Duration(7 * time.Second), Max: queue.Duration(time.Hour), Factor: 3}}
	j := enqueue(t, q, r)
	c := claimOne(t, q, n)
	f, err := q.Fail(ctx, j.ID, c.Token, queue.Failure{Class: queue.ClassBusy})
	if err != nil || absDur(f.RunAt.Sub(f.UpdatedAt)-7*time.Second) > time.Millisecond {
		t.Fatalf("own policy: %v after %v", f.RunAt.Sub(f.UpdatedAt), err)
	}
}

func absDur(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}

func TestDelayJitterAndCap(t *testing.T) {
	p := queue.RetryPolicy{queue.ClassBusy: {Initial: queue.Duration(time.Second), Max: queue.Duration(4 * time.Second), Factor: 2, Jitter: 0.5}}
	for attempt, base := range map[int]time.Duration{1: time.Second, 2: 2 * time.Second, 3: 4 * time.Second, 9: 4 * time.Second} {
		for range 50 {
			d, ok := p.Delay(queue.ClassBusy, attempt)
			if !ok || d < base || d > base+base/2 {
				t.Fatalf("attempt %d: %s, want %s..%s", attempt, d, base, base+base/2)
			}
		}
	}
	if _, ok := p.Delay(queue.ClassPermanent, 1); ok {
		t.Fatal("class without rule retried")
	}
}

func TestAttemptsExhausted(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	q := newQueue(t, pgtest.NewDSN(t))
	n := register(t, q, "n", queue.NodeConfig{})
	r := req("1")
	r.MaxAttempts = 2
	j := enqueue(t, q, r)
	var last queue.Job
	for attempt := 1; attempt <= 2; attempt++ {
		if _, err := q.Pool().Exec(ctx, "UPDATE jobs SET run_at = now() WHERE id = $1", j.ID); err != nil {
			t.Fatal(err)
		}
		c := claimOne(t, q, n)
		var err error
		last, err = q.Fail(ctx, j.ID, c.Token, queue.Failure{Class: queue.ClassNoAnswer, Reason: "no answer after 60s", Pages: attempt})
		if err != nil {
			t.Fatal(err)
		}
	}
	if last.State != queue.Failed || !strings.Contains(last.LastReason, "no answer after 60s") ||
		!strings.Contains(last.LastReason, "attempts exhausted") || last.LastClass != queue.ClassNoAnswer || last.PagesConfirmed != 2 {
		t.Fatalf("after the last attempt: %+v", last)
	}
	if outboxCount(t, q.Pool(), j.ID) != 1 {
		t.Fatal("no outbox record")
	}
}

func TestPurge(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	q := newQueue(t, pgtest.NewDSN(t))
	n := register(t, q, "n", queue.NodeConfig{})
	old := enqueue(t, q, req("old"))
	c := claimOne(t, q, n)
	if _, err := q.Complete(ctx, c.ID, c.Token, queue.Result{Pages: 1}); err != nil {
		t.Fatal(err)
	}
	fresh := enqueue(t, q, req("fresh"))
	if _, err := q.Cancel(ctx, fresh.ID, ""); err != nil {
		t.Fatal(err)
	}
	waiting := enqueue(t, q, req("waiting"))
	if _, err := q.Pool().Exec(ctx, `UPDATE jobs SET finished_at = now() - interval '8 days', created_at = now() - interval '9 days' WHERE id = $1;`, old.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := q.Pool().Exec(ctx, `UPDATE jobs SET created_at = now() - interval '30 days' WHERE id = $1`, waiting.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := q.Pool().Exec(ctx, `UPDATE outbox SET published_at = now() - interval '8 days'`); err != nil {
		t.Fatal(err)
	}
	got, err := q.Purge(ctx, 7*24*time.Hour)
	if err != nil || got != 1 {
		t.Fatalf("purged %d (%v), want 1", got, err)
	}
	_, err = q.Get(ctx, old.ID)
	wantErr(t, "purged job", err, queue.ErrNotFound)
	for _, id := range []int64{fresh.ID, waiting.ID} {
		if _, err := q.Get(ctx, id); err != nil {
			t.Fatalf("job %d purged too early: %v", id, err)
		}
	}
	var hist, outbox int
	_ = q.Pool().QueryRow(ctx, "SELECT count(*) FROM job_history WHERE job_id = $1", old.ID).Scan(&hist)
	_ = q.Pool().QueryRow(ctx, "SELECT count(*) FROM outbox WHERE published_at IS NOT NULL").Scan(&outbox)
	if hist != 0 || outbox != 0 {
		t.Fatalf("left %d history rows and %d published outbox rows", hist, outbox)
	}
	var unpublished int
	_ = q.Pool().QueryRow(ctx, "SELECT count(*) FROM outbox").Scan(&unpublished)
	if unpublished != 0 {
		// Both outbox rows were marked published above; nothing else.
		t.Fatalf("%d outbox rows left", unpublished)
	}
}

func TestCancel(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	q := newQueue(t, pgtest.NewDSN(t))
	n := register(t, q, "n", queue.NodeConfig{})
	w := q.NewWaiter(time.Hour)
	defer w.Close()
	waitListening(t, w)

	// In progress: the holder hears it and acknowledges.
	j := enqueue(t, q, req("1"))
	c := claimOne(t, q, n)
	heard, release := w.CancelRequested(j.ID)
	defer release()
	got, err := q.Cancel(ctx, j.ID, "wrong number")
	if err != nil || got.State != queue.Sending || !got.CancelRequested {
		t.Fatalf("cancel sending: %+v %v", got, err)
	}
	select {
	case <-heard:
	case <-time.After(20 * time.Second):
		t.Fatal("cancel notification never arrived")
	}
	if again, err := q.Cancel(ctx, j.ID, ""); err != nil || !again.CancelRequested {
		t.Fatalf("repeated cancel: %v", err)
	}
	if cancel, err := q.Progress(ctx, j.ID, c.Token, 1); err != nil || !cancel {
		t.Fatalf("progress: cancel=%v err=%v", cancel, err)
	}
	done, err := q.AckCancel(ctx, j.ID, c.Token, 1)
	if err != nil || done.State != queue.Cancelled || done.PagesConfirmed != 1 {
		t.Fatalf("ack: %+v %v", done, err)
	}
	if outboxCount(t, q.Pool(), j.ID) != 1 {
		t.Fatal("no outbox record")
	}

	// A holder that fails after a cancel request ends cancelled, not retried.
	j2 := enqueue(t, q, req("2"))
	c2 := claimOne(t, q, n)
	if _, err := q.Cancel(ctx, j2.ID, ""); err != nil {
		t.Fatal(err)
	}
	f, err := q.Fail(ctx, j2.ID, c2.Token, queue.Failure{Class: queue.ClassBusy, Reason: "hung up"})
	if err != nil || f.State != queue.Cancelled {
		t.Fatalf("fail after cancel: %+v %v", f, err)
	}

	// A dead holder's cancelled job is not requeued.
	j3 := enqueue(t, q, req("3"))
	dead := register(t, q, "dead", queue.NodeConfig{})
	claimOne(t, q, dead)
	if _, err := q.Cancel(ctx, j3.ID, ""); err != nil {
		t.Fatal(err)
	}
	expire(t, q, "dead")
	taken, err := q.TakeOver(ctx, "n")
	if err != nil || len(taken) != 1 || taken[0].State != queue.Cancelled {
		t.Fatalf("takeover of cancelled: %+v %v", taken, err)
	}
}

func waitListening(t *testing.T, w *queue.Waiter) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !w.Listening() {
		if time.Now().After(deadline) {
			t.Fatal("waiter never connected")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestWaiterWakes: with polling effectively off, only a notification can
// end the wait.
func TestWaiterWakes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	q := newQueue(t, pgtest.NewDSN(t))
	w := q.NewWaiter(time.Hour)
	defer w.Close()
	waitListening(t, w)
	for _, how := range []string{"enqueue", "retry now", "takeover"} {
		mark := w.Mark()
		switch how {
		case "enqueue":
			enqueue(t, q, req("1"))
		case "retry now":
			n := register(t, q, "n", queue.NodeConfig{})
			c := claimOne(t, q, n)
			mark = w.Mark()
			if _, err := q.Release(ctx, c.ID, c.Token, ""); err != nil {
				t.Fatal(err)
			}
		case "takeover":
			n := register(t, q, "dying", queue.NodeConfig{})
			claimOne(t, q, n)
			expire(t, q, "dying")
			mark = w.Mark()
			if _, err := q.TakeOver(ctx, "other"); err != nil {
				t.Fatal(err)
			}
		}
		wctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		err := w.WaitSince(wctx, mark)
		cancel()
		if err != nil {
			t.Fatalf("%s: no wake-up: %v", how, err)
		}
	}
	// A job scheduled for later wakes nobody.
	mark := w.Mark()
	later := req("later")
	later.SendAfter = time.Now().Add(time.Hour)
	enqueue(t, q, later)
	wctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
	defer cancel()
	if err := w.WaitSince(wctx, mark); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("scheduled job woke a worker: %v", err)
	}
}

func TestWaiterPollsWithoutNotifications(t *testing.T) {
	t.Parallel()
	q := newQueue(t, pgtest.NewDSN(t))
	w := q.NewWaiter(50 * time.Millisecond)
	defer w.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	// Nothing is announced: Wait still returns by polling.
	if err := w.Wait(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestBatchedCompleteKeepsFencing: completions merged into one statement
// still check each token: among racing completions of the same jobs with
// current and stale tokens, exactly the current ones win, once.
func TestBatchedCompleteKeepsFencing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	q := newQueue(t, pgtest.NewDSN(t))
	a := register(t, q, "a", queue.NodeConfig{})
	const jobs = 40
	for i := range jobs {
		enqueue(t, q, req(fmt.Sprint(i)))
	}
	stale, err := q.Claim(ctx, a.Lease(), jobs)
	if err != nil || len(stale) != jobs {
		t.Fatalf("claim: %d %v", len(stale), err)
	}
	expire(t, q, "a")
	if _, err := q.TakeOver(ctx, "b"); err != nil {
		t.Fatal(err)
	}
	b := register(t, q, "b", queue.NodeConfig{})
	cur, err := q.Claim(ctx, b.Lease(), jobs)
	if err != nil || len(cur) != jobs {
		t.Fatalf("reclaim: %d %v", len(cur), err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins, staleErrs, dupErrs := 0, 0, 0
	try := func(id, token int64) {
		defer wg.Done()
		_, err := q.Complete(ctx, id, token, queue.Result{Pages: 1})
		mu.Lock()
		defer mu.Unlock()
		switch {
		case err == nil:
			wins++
		case errors.Is(err, queue.ErrStaleToken):
			staleErrs++
		case errors.Is(err, queue.ErrInvalidTransition):
			dupErrs++
		default:
			t.Error(err)
		}
	}
	for i := range jobs {
		wg.Add(3)
		go try(stale[i].ID, stale[i].Token)
		go try(cur[i].ID, cur[i].Token)
		go try(cur[i].ID, cur[i].Token)
	}
	wg.Wait()
	if wins != jobs || staleErrs != jobs || dupErrs != jobs {
		t.Fatalf("wins %d, stale %d, duplicates %d; want %d each", wins, staleErrs, dupErrs, jobs)
	}
	var hist int
	_ = q.Pool().QueryRow(ctx, "SELECT count(*) FROM job_history WHERE to_state = 'sent'").Scan(&hist)
	if hist != jobs || outboxCount(t, q.Pool(), cur[0].ID) != 1 {
		t.Fatalf("%d sent history rows, want %d", hist, jobs)
	}
}
