package queue_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/faxd/faxd/internal/pgtest"
	"github.com/faxd/faxd/queue"
)

func countState(t *testing.T, q *queue.Queue, state queue.State) int {
	t.Helper()
	var n int
	if err := q.Pool().QueryRow(context.Background(), "SELECT count(*) FROM jobs WHERE state = $1", string(state)).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestCompleteAndClaim: the finished job is sent (history, outbox) and the
// next one is claimed with a fresh token, in one call.
func TestCompleteAndClaim(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	q := newQueue(t, pgtest.NewDSN(t))
	n := register(t, q, "n1", queue.NodeConfig{})
	first := enqueue(t, q, req("1"))
	hr := req("2")
	hr.Priority = 5
	high := enqueue(t, q, hr)
	low := enqueue(t, q, req("3"))

	cur := claimOne(t, q, n)
	if cur.ID != high.ID {
		t.Fatalf("claimed %d, want the high-priority job %d", cur.ID, high.ID)
	}
	done, next, err := q.CompleteAndClaim(ctx, cur.ID, cur.Token, queue.Result{Pages: 3, Reason: "OK"}, n.Lease(), 1)
	if err != nil {
		t.Fatal(err)
	}
	if done.ID != high.ID || done.State != queue.Sent || done.PagesConfirmed != 3 || done.LastReason != "OK" || done.FinishedAt.IsZero() {
		t.Fatalf("done %+v", done)
	}
	if len(next) != 1 || next[0].ID != first.ID || next[0].State != queue.Sending || next[0].Token <= cur.Token || next[0].NodeID != "n1" || next[0].Attempts != 1 {
		t.Fatalf("next %+v, want job %d claimed after token %d", next, first.ID, cur.Token)
	}
	if h := lastTransition(t, q, high.ID); h.From != queue.Sending || h.To != queue.Sent || h.Token != cur.Token || h.Pages != 3 {
		t.Fatalf("complete history %+v", h)
	}
	if h := lastTransition(t, q, first.ID); h.From != queue.Pending || h.To != queue.Sending || h.Token != next[0].Token || h.NodeID != "n1" {
		t.Fatalf("claim history %+v", h)
	}
	if outboxCount(t, q.Pool(), high.ID) != 1 {
		t.Fatal("no outbox record for the completed job")
	}

	// More wanted than there is: the rest, then nothing (not an error).
	_, next, err = q.CompleteAndClaim(ctx, next[0].ID, next[0].Token, queue.Result{Pages: 3}, n.Lease(), 5)
	if err != nil || len(next) != 1 || next[0].ID != low.ID {
		t.Fatalf("next %+v, %v; want job %d", next, err, low.ID)
	}
	done, next, err = q.CompleteAndClaim(ctx, next[0].ID, next[0].Token, queue.Result{Pages: 3}, n.Lease(), 1)
	if err != nil || done.ID != low.ID || len(next) != 0 {
		t.Fatalf("last: done %+v next %+v err %v", done, next, err)
	}
	// n = 0 is a plain Complete.
	if _, _, err := q.CompleteAndClaim(ctx, 424242, 1, queue.Result{}, n.Lease(), 0); !errors.Is(err, queue.ErrNotFound) {
		t.Fatalf("unknown job: %v, want ErrNotFound", err)
	}
	// No lease: the job is completed, the claim refused.
	enqueue(t, q, req("4"))
	cur = claimOne(t, q, n)
	done, next, err = q.CompleteAndClaim(ctx, cur.ID, cur.Token, queue.Result{Pages: 1}, nil, 1)
	wantErr(t, "claim without a lease", err, queue.ErrInvalidRequest)
	if done.ID != cur.ID || done.State != queue.Sent || len(next) != 0 {
		t.Fatalf("without a lease: done %+v next %+v", done, next)
	}
	if got := countState(t, q, queue.Sent); got != 4 {
		t.Fatalf("%d sent, want 4", got)
	}
}

// TestCompleteAndClaimStaleToken: a stale token neither completes nor
// claims; the current holder's job and the pending jobs are untouched.
func TestCompleteAndClaimStaleToken(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	q := newQueue(t, pgtest.NewDSN(t))
	a := register(t, q, "a", queue.NodeConfig{})
	j := enqueue(t, q, req("1"))
	old := claimOne(t, q, a)
	if old.ID != j.ID {
		t.Fatalf("claimed %d, want %d", old.ID, j.ID)
	}
	expire(t, q, "a")
	if _, err := q.TakeOver(ctx, "b"); err != nil {
		t.Fatal(err)
	}
	b := register(t, q, "b", queue.NodeConfig{})
	cur := claimOne(t, q, b)
	if cur.ID != j.ID {
		t.Fatalf("reclaimed %d, want %d", cur.ID, j.ID)
	}
	for i := range 3 {
		enqueue(t, q, req(fmt.Sprint(10+i)))
	}
	histBefore, _ := q.History(ctx, j.ID)

	// The stale holder, even with a live lease of its own.
	a2 := register(t, q, "a", queue.NodeConfig{})
	done, next, err := q.CompleteAndClaim(ctx, j.ID, old.Token, queue.Result{Pages: 3}, a2.Lease(), 2)
	wantErr(t, "complete and claim with a stale token", err, queue.ErrStaleToken)
	if done.ID != 0 || len(next) != 0 {
		t.Fatalf("stale call returned done %+v next %+v", done, next)
	}
	if got := countState(t, q, queue.Pending); got != 3 {
		t.Fatalf("%d pending after a stale call, want 3: it claimed", got)
	}
	got, _ := q.Get(ctx, j.ID)
	if got.State != queue.Sending || got.Token != cur.Token {
		t.Fatalf("stale call changed the job: %+v", got)
	}
	if h, _ := q.History(ctx, j.ID); len(h) != len(histBefore) {
		t.Fatalf("stale call wrote history: %+v", h[len(histBefore):])
	}
	if outboxCount(t, q.Pool(), j.ID) != 0 {
		t.Fatal("stale call wrote an outbox record")
	}

	// A repeated completion (right token, job already sent) claims nothing
	// either.
	if _, err := q.Complete(ctx, j.ID, cur.Token, queue.Result{Pages: 3}); err != nil {
		t.Fatal(err)
	}
	_, next, err = q.CompleteAndClaim(ctx, j.ID, cur.Token, queue.Result{Pages: 3}, b.Lease(), 1)
	wantErr(t, "complete twice", err, queue.ErrInvalidTransition)
	if len(next) != 0 || countState(t, q, queue.Pending) != 3 {
		t.Fatalf("repeated completion claimed %+v", next)
	}
}

// TestCompleteAndClaimLeaseLost: the job is completed (its token holds),
// but a lease that is gone in the database claims nothing, and the node
// fences itself.
func TestCompleteAndClaimLeaseLost(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	q := newQueue(t, pgtest.NewDSN(t))
	a := register(t, q, "a", queue.NodeConfig{})
	enqueue(t, q, req("1"))
	enqueue(t, q, req("2"))
	cur := claimOne(t, q, a)
	expire(t, q, "a")
	done, next, err := q.CompleteAndClaim(ctx, cur.ID, cur.Token, queue.Result{Pages: 1}, a.Lease(), 1)
	wantErr(t, "claim after the lease expired", err, queue.ErrLeaseLost)
	if done.ID != cur.ID || done.State != queue.Sent || len(next) != 0 {
		t.Fatalf("done %+v next %+v", done, next)
	}
	if countState(t, q, queue.Pending) != 1 {
		t.Fatal("claimed under an expired lease")
	}
	select {
	case <-a.Lease().Done():
	default:
		t.Fatal("lost lease not fenced locally")
	}
	// Fenced locally: the next call does not even ask for a job.
	enqueue(t, q, req("3"))
	_, next, err = q.CompleteAndClaim(ctx, cur.ID, cur.Token, queue.Result{Pages: 1}, a.Lease(), 1)
	wantErr(t, "repeat", err, queue.ErrInvalidTransition)
	if len(next) != 0 {
		t.Fatalf("claimed %+v", next)
	}
}

// TestMergedOpsKeepFencing: many workers completing and claiming at once,
// merged into shared statements, some with stale tokens: every stale call
// is refused and claims nothing, every job is sent exactly once, and no job
// is left sending without a worker that got it.
func TestMergedOpsKeepFencing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	q := newQueue(t, pgtest.NewDSN(t))
	n := register(t, q, "n", queue.NodeConfig{})
	const jobs, workers = 120, 12
	for i := range jobs {
		enqueue(t, q, req(fmt.Sprint(i)))
	}
	var (
		mu      sync.Mutex
		sent    = map[int64]int{}
		staleOK int
		wg      sync.WaitGroup
	)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			jobs, err := q.Claim(ctx, n.Lease(), 1)
			for err == nil && len(jobs) > 0 {
				j := jobs[0]
				if w%3 == 0 {
					// A stale write first: refused, and no job for it.
					_, next, err := q.CompleteAndClaim(ctx, j.ID, j.Token-1000000, queue.Result{}, n.Lease(), 1)
					mu.Lock()
					if !errors.Is(err, queue.ErrStaleToken) || len(next) != 0 {
						t.Errorf("stale call: next %v err %v", next, err)
					} else {
						staleOK++
					}
					mu.Unlock()
				}
				var done queue.Job
				done, jobs, err = q.CompleteAndClaim(ctx, j.ID, j.Token, queue.Result{Pages: 1}, n.Lease(), 1)
				if err == nil {
					mu.Lock()
					sent[done.ID]++
					mu.Unlock()
				}
			}
			if err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if len(sent) != jobs {
		t.Fatalf("%d jobs sent, want %d", len(sent), jobs)
	}
	for id, k := range sent {
		if k != 1 {
			t.Errorf("job %d completed %d times", id, k)
		}
	}
	if staleOK == 0 {
		t.Fatal("no stale call was made")
	}
	if s, p := countState(t, q, queue.Sending), countState(t, q, queue.Pending); s != 0 || p != 0 {
		t.Fatalf("%d sending and %d pending left", s, p)
	}
	var sentHist, claimHist, outbox int
	_ = q.Pool().QueryRow(ctx, `SELECT count(*) FILTER (WHERE to_state = 'sent'), count(*) FILTER (WHERE to_state = 'sending')
		FROM job_history`).Scan(&sentHist, &claimHist)
	if sentHist != jobs || claimHist != jobs {
		t.Fatalf("history: %d sent, %d claimed; want %d each", sentHist, claimHist, jobs)
	}
	_ = q.Pool().QueryRow(ctx, "SELECT count(DISTINCT key) FROM outbox").Scan(&outbox)
	if outbox != jobs {
		t.Fatalf("%d outbox records, want %d", outbox, jobs)
	}
}

// TestOutboxRecord: the outbox holds the finished job's record with the
// fields the archive reads, and not the internals.
func TestOutboxRecord(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	q := newQueue(t, pgtest.NewDSN(t))
	n := register(t, q, "n1", queue.NodeConfig{})
	r := req("4930123")
	r.CallerID, r.Header, r.Submitter, r.CallbackURL = "4930999", "ACME", "alice", "https://example.test/cb"
	r.IdempotencyKey = "order-17"
	r.Metadata = map[string]any{"result": map[string]any{"gateway": "gw1"}}
	j := enqueue(t, q, r)
	cur := claimOne(t, q, n)
	done, err := q.Complete(ctx, j.ID, cur.Token, queue.Result{Pages: 3, Reason: "OK"})
	if err != nil {
		t.Fatal(err)
	}
	var topic, key string
	var payload []byte
	if err := q.Pool().QueryRow(ctx, "SELECT topic, key, payload FROM outbox").Scan(&topic, &key, &payload); err != nil {
		t.Fatal(err)
	}
	var rec map[string]any
	if err := json.Unmarshal(payload, &rec); err != nil {
		t.Fatal(err)
	}
	if topic != "queue.job.finished" || key != fmt.Sprint(j.ID) {
		t.Fatalf("topic %q key %q", topic, key)
	}
	want := []string{"id", "idempotency_key", "state", "priority", "destination", "caller_id", "header",
		"document", "callback_url", "submitter", "metadata", "pages_total", "pages_confirmed", "attempts",
		"max_attempts", "takeovers", "node_id", "token", "last_class", "last_reason", "created_at",
		"claimed_at", "finished_at", "updated_at"}
	var keys []string
	for k := range rec {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	slices.Sort(want)
	if !slices.Equal(keys, want) {
		t.Fatalf("record fields %v, want %v", keys, want)
	}
	// The submitter's notice decodes the record as a Job.
	var job queue.Job
	if err := json.Unmarshal(payload, &job); err != nil {
		t.Fatal(err)
	}
	if job.ID != j.ID || job.State != queue.Sent || job.Token != cur.Token || job.PagesConfirmed != 3 ||
		job.LastReason != "OK" || job.Submitter != "alice" || job.CallbackURL != r.CallbackURL ||
		job.IdempotencyKey != "order-17" || job.Destination != r.Destination || job.Attempts != 1 ||
		job.MaxAttempts != 5 || job.Metadata["result"] == nil || !job.CreatedAt.Equal(j.CreatedAt) ||
		!job.ClaimedAt.Equal(cur.ClaimedAt) || !job.FinishedAt.Equal(done.FinishedAt) {
		t.Fatalf("record %s\ndecoded %+v", payload, job)
	}
}

// listen returns a connection listening on channel.
func listen(t *testing.T, dsn, channel string) *pgx.Conn {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	if _, err := conn.Exec(ctx, "LISTEN "+channel); err != nil {
		t.Fatal(err)
	}
	return conn
}

func waitNotification(t *testing.T, conn *pgx.Conn, what string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := conn.WaitForNotification(ctx); err != nil {
		t.Fatalf("%s: no notification: %v", what, err)
	}
}

// TestOutboxWake: the relay's channel is notified after the queue commits
// an outbox record (by the queue, after commit), and after any other
// writer's insert (by the trigger, as before).
func TestOutboxWake(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dsn := pgtest.NewDSN(t)
	q := newQueue(t, dsn)
	n := register(t, q, "n1", queue.NodeConfig{})
	conn := listen(t, dsn, "faxd_outbox")

	j := enqueue(t, q, req("1"))
	cur := claimOne(t, q, n)
	if _, err := q.Complete(ctx, j.ID, cur.Token, queue.Result{Pages: 1}); err != nil {
		t.Fatal(err)
	}
	waitNotification(t, conn, "complete")

	j = enqueue(t, q, req("2"))
	if _, err := q.Cancel(ctx, j.ID, "no"); err != nil {
		t.Fatal(err)
	}
	waitNotification(t, conn, "cancel")

	// Another writer (archive.Emit inserts like this) still wakes the relay.
	if _, err := q.Pool().Exec(ctx, `INSERT INTO outbox (topic, key, payload) VALUES ('archive.record', 'x', '{}')`); err != nil {
		t.Fatal(err)
	}
	waitNotification(t, conn, "plain insert")
}

// TestHotPathPlansStayGeneric: after a few executions PostgreSQL runs the
// claim/complete statement from one cached generic plan instead of
// planning it every time (see sqlOps). One connection, so the cache is
// the one the queue used.
func TestHotPathPlansStayGeneric(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cfg, err := pgxpool.ParseConfig(pgtest.NewDSN(t))
	if err != nil {
		t.Fatal(err)
	}
	cfg.MaxConns = 1
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	q, err := queue.New(pool, queue.Config{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	n := register(t, q, "n1", queue.NodeConfig{})
	// Enough rows that estimates from parameter values would differ from
	// the generic ones.
	if _, err := pool.Exec(ctx, `INSERT INTO jobs (request_hash, max_attempts, destination, document)
		SELECT '\x00', 5, g::text, 'doc' FROM generate_series(1, 5000) g`); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, "ANALYZE jobs"); err != nil {
		t.Fatal(err)
	}
	cur := claimOne(t, q, n)
	for range 10 {
		_, next, err := q.CompleteAndClaim(ctx, cur.ID, cur.Token, queue.Result{Pages: 1}, n.Lease(), 1)
		if err != nil || len(next) != 1 {
			t.Fatalf("next %v err %v", next, err)
		}
		cur = next[0]
	}
	for range 10 { // plain claims have a statement of their own
		if _, err := q.Claim(ctx, n.Lease(), 1); err != nil {
			t.Fatal(err)
		}
	}
	// This query is a prepared statement too and names both patterns: it
	// must not count as the hot one.
	for _, which := range []string{"LIKE", "NOT LIKE"} { // with completions, claims only
		var generic, custom int64
		err := pool.QueryRow(ctx, `SELECT generic_plans, custom_plans FROM pg_prepared_statements
			WHERE statement LIKE '%queue_fencing_seq%' AND statement `+which+` '%outbox%'
			  AND statement NOT LIKE '%pg_prepared_statements%'`).Scan(&generic, &custom)
		if err != nil {
			t.Fatalf("statement %s outbox: %v", which, err)
		}
		if generic < 5 || custom > 5 {
			t.Fatalf("hot statement (%s outbox) planned %d times, generic plan used %d times: it is planned on every call",
				which, custom, generic)
		}
	}
}
