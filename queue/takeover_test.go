package queue_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/faxd/faxd/internal/pgtest"
	"github.com/faxd/faxd/queue"
)

// The helper node process is configured through the environment.
const (
	helperEnv      = "FAXD_QUEUE_HELPER_DSN"
	helperNode     = "FAXD_QUEUE_HELPER_NODE"       // node id; default "victim"
	helperTTL      = "FAXD_QUEUE_HELPER_TTL"        // lease TTL; default 3s
	helperLease    = "FAXD_QUEUE_HELPER_LEASE_ONLY" // "1": no liveness session
	helperPages    = "FAXD_QUEUE_HELPER_PAGES"      // "1": send pages until killed
	helperFarEnd   = "far_end"                      // the table the simulated receiver writes
	helperFarEndDB = `CREATE TABLE IF NOT EXISTS far_end (job bigint NOT NULL, page int NOT NULL)`
)

// TestHelperNodeProcess is not a test: it is the node process that the
// takeover tests and BenchmarkFailover kill. It registers, heartbeats,
// claims one job and reports it:
//
//	CLAIMED <id> <token> <pages confirmed at claim>
//
// By default it then confirms two pages and waits, obeying "COMPLETE" on
// stdin (it tries to complete the job with its token and prints
// "COMPLETE ok" or "COMPLETE <error>"). With helperPages it sends the
// job's pages one by one as a channel does: the far end receives page k
// (a row in far_end, committed), the sender prints "PAGE k" and then
// records the page with Progress, until killed. TestMain runs it only
// under helperEnv.
func TestHelperNodeProcess(t *testing.T) {
	dsn := os.Getenv(helperEnv)
	ctx := context.Background()
	q, err := queue.New(pgtest.Pool(t, dsn), queue.Config{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	id := os.Getenv(helperNode)
	if id == "" {
		id = "victim"
	}
	ttl := 3 * time.Second
	if s := os.Getenv(helperTTL); s != "" {
		if ttl, err = time.ParseDuration(s); err != nil {
			t.Fatal(err)
		}
	}
	n, err := q.Register(ctx, queue.NodeInfo{ID: id, Capacity: 1}, queue.NodeConfig{
		TTL: ttl, Interval: ttl / 10, Margin: ttl / 3, LeaseOnly: os.Getenv(helperLease) == "1"})
	if err != nil {
		t.Fatal(err)
	}
	go n.Run(ctx)
	jobs, err := q.Claim(ctx, n.Lease(), 1)
	if err != nil || len(jobs) != 1 {
		t.Fatalf("claim: %v %v", jobs, err)
	}
	j := jobs[0]
	if os.Getenv(helperPages) == "1" {
		fmt.Printf("CLAIMED %d %d %d\n", j.ID, j.Token, j.PagesConfirmed)
		for p := j.PagesConfirmed + 1; p <= j.PagesTotal; p++ {
			if _, err := q.Pool().Exec(ctx, "INSERT INTO "+helperFarEnd+" (job, page) VALUES ($1, $2)", j.ID, p); err != nil {
				t.Fatal(err)
			}
			fmt.Printf("PAGE %d\n", p)
			if _, err := q.Progress(ctx, j.ID, j.Token, p); err != nil {
				t.Fatal(err)
			}
		}
		time.Sleep(time.Hour)
	}
	if _, err := q.Progress(ctx, j.ID, j.Token, 2); err != nil {
		t.Fatal(err)
	}
	fmt.Printf("CLAIMED %d %d %d\n", j.ID, j.Token, j.PagesConfirmed)
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
		if sc.Text() == "COMPLETE" {
			_, err := q.Complete(ctx, j.ID, j.Token, queue.Result{Pages: j.PagesTotal})
			if err == nil {
				fmt.Println("COMPLETE ok")
			} else {
				fmt.Println("COMPLETE " + err.Error())
			}
		}
	}
	time.Sleep(time.Hour)
}

// victim is a running helper node process.
type victim struct {
	cmd   *exec.Cmd
	in    io.WriteCloser
	lines *bufio.Scanner
	job   int64
	token int64
	pages int // confirmed when claimed
}

// startVictim runs the helper node process with extra environment and
// waits until it holds a job.
func startVictim(tb testing.TB, dsn string, env ...string) *victim {
	tb.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperNodeProcess$", "-test.v")
	cmd.Env = append(append(os.Environ(), helperEnv+"="+dsn), env...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	in, err := cmd.StdinPipe()
	if err != nil {
		tb.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	v := &victim{cmd: cmd, in: in, lines: bufio.NewScanner(out)}
	if !v.await("CLAIMED ") {
		tb.Fatal("helper node process ended without claiming")
	}
	fmt.Sscanf(v.lines.Text(), "CLAIMED %d %d %d", &v.job, &v.token, &v.pages)
	if v.job == 0 || v.token == 0 {
		tb.Fatalf("helper reported %q", v.lines.Text())
	}
	return v
}

// await reads the helper's output up to a line starting with prefix.
func (v *victim) await(prefix string) bool {
	for v.lines.Scan() {
		if strings.HasPrefix(v.lines.Text(), prefix) {
			return true
		}
	}
	return false
}

func (v *victim) kill(tb testing.TB) {
	tb.Helper()
	if err := v.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		tb.Fatal(err)
	}
	_ = v.cmd.Wait()
}

// takeOverUntil runs TakeOver, as a survivor's probe does, until a job is
// taken over. The deadline only stops a broken test; nothing here is timed.
func takeOverUntil(t *testing.T, q *queue.Queue, by string, probe func()) []queue.Job {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		if probe != nil {
			probe()
		}
		taken, err := q.TakeOver(context.Background(), by)
		if err != nil {
			t.Fatal(err)
		}
		if len(taken) > 0 {
			return taken
		}
		if time.Now().After(deadline) {
			t.Fatal("orphan never taken over")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func nodeStatus(t *testing.T, q *queue.Queue, id string) queue.NodeStatus {
	t.Helper()
	list, err := q.Nodes(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range list {
		if n.ID == id {
			return n
		}
	}
	t.Fatalf("node %s not in the nodes table", id)
	return queue.NodeStatus{}
}

// TestFastTakeoverAfterSIGKILL: the holder's process is killed while its
// lease has a minute to run. Its liveness session ends with it, and the
// job is taken over at once: before the lease expired, which with a 60 s
// lease only the liveness path can do. The dead node's token is fenced.
func TestFastTakeoverAfterSIGKILL(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dsn := pgtest.NewDSN(t)
	q := newQueue(t, dsn)
	r := req("0123456")
	r.PagesTotal = 5
	job := enqueue(t, q, r)

	v := startVictim(t, dsn, helperTTL+"=60s")
	if v.job != job.ID {
		t.Fatalf("helper claimed job %d, want %d", v.job, job.ID)
	}
	if st := nodeStatus(t, q, "victim"); !st.Live || !st.Liveness || st.ProcessGone {
		t.Fatalf("victim before the kill: %+v", st)
	}
	// While the process lives, its job is not taken over.
	if taken, err := q.TakeOver(ctx, "survivor"); err != nil || len(taken) != 0 {
		t.Fatalf("taken over from a live node: %+v %v", taken, err)
	}
	v.kill(t)

	survivor := register(t, q, "survivor", queue.NodeConfig{})
	taken := takeOverUntil(t, q, "survivor", nil)
	if len(taken) != 1 || taken[0].ID != job.ID || taken[0].State != queue.Pending || taken[0].PagesConfirmed != 2 ||
		taken[0].Attempts != 0 || taken[0].Takeovers != 1 {
		t.Fatalf("taken over: %+v", taken)
	}
	st := nodeStatus(t, q, "victim")
	if !st.Live || !st.ProcessGone {
		t.Fatalf("victim after the takeover: %+v; want its lease still live and its process gone", st)
	}
	h := lastTransition(t, q, job.ID)
	if h.NodeID != "survivor" || h.Token != v.token || !strings.Contains(h.Reason, "node process gone") {
		t.Fatalf("takeover history %+v", h)
	}
	again := claimOne(t, q, survivor)
	if again.ID != job.ID || again.Token <= v.token || again.PagesConfirmed != 2 {
		t.Fatalf("reclaimed %+v (old token %d)", again, v.token)
	}
	_, err := q.Complete(ctx, job.ID, v.token, queue.Result{Pages: 5})
	wantErr(t, "dead node's complete", err, queue.ErrStaleToken)
	if _, err := q.Complete(ctx, job.ID, again.Token, queue.Result{Pages: 5}); err != nil {
		t.Fatal(err)
	}
}

// TestLeaseOnlyTakeoverAfterSIGKILL: a node without a liveness session is
// only taken over once its lease expired, as before.
func TestLeaseOnlyTakeoverAfterSIGKILL(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dsn := pgtest.NewDSN(t)
	q := newQueue(t, dsn)
	r := req("0123456")
	r.PagesTotal = 5
	job := enqueue(t, q, r)
	v := startVictim(t, dsn, helperLease+"=1")
	if v.job != job.ID {
		t.Fatalf("helper claimed job %d, want %d", v.job, job.ID)
	}
	v.kill(t)

	survivor := register(t, q, "survivor", queue.NodeConfig{})
	var early int // probes made while the lease was surely live
	taken := takeOverUntil(t, q, "survivor", func() {
		if nodeStatus(t, q, "victim").Live {
			early++
		}
	})
	if len(taken) != 1 || taken[0].ID != job.ID || taken[0].State != queue.Pending || taken[0].PagesConfirmed != 2 ||
		taken[0].Attempts != 0 || taken[0].Takeovers != 1 || taken[0].Token != 0 {
		t.Fatalf("taken over: %+v", taken)
	}
	h := lastTransition(t, q, job.ID)
	if h.From != queue.Sending || h.To != queue.Pending || h.NodeID != "survivor" || h.Token != v.token ||
		!strings.Contains(h.Reason, "victim") || !strings.Contains(h.Reason, "lease expired") {
		t.Fatalf("takeover history %+v", h)
	}
	if early == 0 {
		t.Fatal("no takeover was tried while the dead node's lease ran; the test proved nothing")
	}
	again := claimOne(t, q, survivor)
	if again.ID != job.ID || again.Token <= v.token || again.PagesConfirmed != 2 || again.Attempts != 1 {
		t.Fatalf("reclaimed %+v (old token %d)", again, v.token)
	}
	_, err := q.Progress(ctx, job.ID, v.token, 3)
	wantErr(t, "dead node's progress", err, queue.ErrStaleToken)
	_, err = q.Complete(ctx, job.ID, v.token, queue.Result{Pages: 5})
	wantErr(t, "dead node's complete", err, queue.ErrStaleToken)
	if _, err := q.Complete(ctx, job.ID, again.Token, queue.Result{Pages: 5}); err != nil {
		t.Fatal(err)
	}
}

// TestSIGSTOPTakenOverOnlyAfterLease: a stopped process keeps its
// database session, so the liveness path must not fire; its job is taken
// over only when its (short) lease expired, and once it runs again it
// cannot complete the job.
func TestSIGSTOPTakenOverOnlyAfterLease(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dsn := pgtest.NewDSN(t)
	q := newQueue(t, dsn)
	job := enqueue(t, q, req("0123456"))
	v := startVictim(t, dsn, helperTTL+"=3s")
	if v.job != job.ID {
		t.Fatalf("helper claimed job %d, want %d", v.job, job.ID)
	}
	if err := v.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	stopped := true
	defer func() {
		if stopped {
			_ = v.cmd.Process.Signal(syscall.SIGCONT)
		}
	}()

	survivor := register(t, q, "survivor", queue.NodeConfig{})
	var early int
	taken := takeOverUntil(t, q, "survivor", func() {
		st := nodeStatus(t, q, "victim")
		if st.ProcessGone {
			t.Fatalf("a stopped process looks gone: %+v", st)
		}
		if st.Live {
			early++
		}
	})
	if early == 0 {
		t.Fatal("no takeover was tried while the stopped node's lease ran; the test proved nothing")
	}
	if len(taken) != 1 || taken[0].ID != job.ID || taken[0].State != queue.Pending {
		t.Fatalf("taken over: %+v", taken)
	}
	if h := lastTransition(t, q, job.ID); !strings.Contains(h.Reason, "node lease expired") {
		t.Fatalf("takeover of a stopped node: %+v, want the lease path", h)
	}
	again := claimOne(t, q, survivor)

	// The stopped node wakes up and tries to finish its job: fenced.
	if err := v.cmd.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	stopped = false
	if _, err := io.WriteString(v.in, "COMPLETE\n"); err != nil {
		t.Fatal(err)
	}
	if !v.await("COMPLETE ") {
		t.Fatal("helper ended without answering")
	}
	if got := v.lines.Text(); !strings.Contains(got, "stale fencing token") {
		t.Fatalf("the resumed node's completion: %q, want a stale token", got)
	}
	cur, err := q.Get(ctx, job.ID)
	if err != nil || cur.State != queue.Sending || cur.Token != again.Token || cur.NodeID != "survivor" {
		t.Fatalf("after the resumed node's attempt: %+v %v", cur, err)
	}
}

// TestTakeoverPrecedence: a half-sent fax taken over goes before the 20
// jobs pending behind it, even before those whose run_at is older than
// its own, so its resumption does not wait for the backlog.
func TestTakeoverPrecedence(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dsn := pgtest.NewDSN(t)
	q := newQueue(t, dsn)
	job := enqueue(t, q, req("0123456"))
	v := startVictim(t, dsn, helperTTL+"=60s")
	if v.job != job.ID {
		t.Fatalf("helper claimed job %d, want %d", v.job, job.ID)
	}
	var backlog []int64
	for i := range 20 {
		r := req(fmt.Sprint("99", i))
		if i%2 == 0 { // due for an hour: older than the half-sent job
			r.SendAfter = time.Now().Add(-time.Hour)
		}
		backlog = append(backlog, enqueue(t, q, r).ID)
	}
	v.kill(t)
	survivor := register(t, q, "survivor", queue.NodeConfig{TTL: time.Minute})
	takeOverUntil(t, q, "survivor", nil)

	first := claimOne(t, q, survivor)
	if first.ID != job.ID || first.PagesConfirmed != 2 {
		t.Fatalf("first claim after the takeover: job %d, want the taken-over job %d", first.ID, job.ID)
	}
	rest, err := q.Claim(ctx, survivor.Lease(), 30)
	if err != nil || len(rest) != len(backlog) {
		t.Fatalf("backlog: %d jobs, %v", len(rest), err)
	}
}

// TestPageRedeliveryBound: a node that dies while sending loses at most
// one page: the far end may have received a page that the node had not
// recorded yet, and that page is sent again after the takeover, never
// more. The sender records each page before the next one.
func TestPageRedeliveryBound(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dsn := pgtest.NewDSN(t)
	q, err := queue.New(pgtest.Pool(t, dsn), queue.Config{Logger: quiet, MaxTakeovers: 100})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := q.Pool().Exec(ctx, helperFarEndDB); err != nil {
		t.Fatal(err)
	}
	r := req("0123456")
	r.PagesTotal = 10000
	job := enqueue(t, q, r)
	const rounds = 6
	var resend, last int // pages to send again, summed and at the last takeover
	for round := range rounds {
		before, err := q.Get(ctx, job.ID)
		if err != nil {
			t.Fatal(err)
		}
		v := startVictim(t, dsn, helperTTL+"=60s", helperPages+"=1", helperNode+"=sender-"+fmt.Sprint(round))
		if v.job != job.ID || v.pages != before.PagesConfirmed {
			t.Fatalf("round %d: resumed job %d at page %d, want job %d after page %d", round, v.job, v.pages+1, job.ID, before.PagesConfirmed)
		}
		// Kill it after a random number of pages, at whatever point of
		// the page it has reached.
		for range 1 + rand.IntN(20) {
			if !v.await("PAGE ") {
				t.Fatalf("round %d: sender ended", round)
			}
		}
		v.kill(t)
		taken := takeOverUntil(t, q, "survivor", nil)
		if len(taken) != 1 || taken[0].ID != job.ID {
			t.Fatalf("round %d: taken over %+v", round, taken)
		}
		var received int
		if err := q.Pool().QueryRow(ctx, "SELECT coalesce(max(page), 0) FROM "+helperFarEnd+" WHERE job = $1", job.ID).Scan(&received); err != nil {
			t.Fatal(err)
		}
		unrecorded := received - taken[0].PagesConfirmed
		if unrecorded < 0 || unrecorded > 1 {
			t.Fatalf("round %d: far end has %d pages, the queue recorded %d: %d would be sent again, the bound is 1",
				round, received, taken[0].PagesConfirmed, unrecorded)
		}
		resend, last = resend+unrecorded, unrecorded
	}
	// The pages the far end got twice are exactly the unrecorded ones of
	// every takeover but the last (nobody resumed after it).
	var dup int
	if err := q.Pool().QueryRow(ctx, "SELECT count(*) - count(DISTINCT page) FROM "+helperFarEnd+" WHERE job = $1", job.ID).Scan(&dup); err != nil {
		t.Fatal(err)
	}
	if dup != resend-last {
		t.Fatalf("%d pages received twice, want %d (one per takeover at most)", dup, resend-last)
	}
	t.Logf("%d takeovers: %d pages received twice", rounds, dup)
}
