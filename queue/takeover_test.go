package queue_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/faxd/faxd/internal/pgtest"
	"github.com/faxd/faxd/queue"
)

const helperEnv = "FAXD_QUEUE_HELPER_DSN"

// TestHelperNodeProcess is not a test: it is the node process of
// TestOrphanTakeoverAfterSIGKILL. It registers, heartbeats, claims the job,
// confirms two pages, reports, and waits to be killed. TestMain runs it
// only there.
func TestHelperNodeProcess(t *testing.T) {
	dsn := os.Getenv(helperEnv)
	ctx := context.Background()
	q, err := queue.New(pgtest.Pool(t, dsn), queue.Config{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	n, err := q.Register(ctx, queue.NodeInfo{ID: "victim", Capacity: 1},
		queue.NodeConfig{TTL: 3 * time.Second, Interval: 300 * time.Millisecond, Margin: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	go n.Run(ctx)
	jobs, err := q.Claim(ctx, n.Lease(), 1)
	if err != nil || len(jobs) != 1 {
		t.Fatalf("claim: %v %v", jobs, err)
	}
	if _, err := q.Progress(ctx, jobs[0].ID, jobs[0].Token, 2); err != nil {
		t.Fatal(err)
	}
	fmt.Printf("CLAIMED %d %d\n", jobs[0].ID, jobs[0].Token)
	time.Sleep(time.Hour)
}

func TestOrphanTakeoverAfterSIGKILL(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dsn := pgtest.NewDSN(t)
	q := newQueue(t, dsn)
	r := req("0123456")
	r.PagesTotal = 5
	job := enqueue(t, q, r)

	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperNodeProcess$", "-test.v")
	cmd.Env = append(os.Environ(), helperEnv+"="+dsn)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	var id, oldToken int64
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), "CLAIMED ") {
			fmt.Sscanf(sc.Text(), "CLAIMED %d %d", &id, &oldToken)
			break
		}
	}
	if id != job.ID || oldToken == 0 {
		t.Fatalf("child claimed job %d token %d, want job %d", id, oldToken, job.ID)
	}
	held, err := q.Get(ctx, id)
	if err != nil || held.State != queue.Sending || held.NodeID != "victim" || held.PagesConfirmed != 2 {
		t.Fatalf("held by child: %+v %v", held, err)
	}

	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()

	survivor := register(t, q, "survivor", queue.NodeConfig{})
	// The dead node's lease still runs: nothing may be taken yet.
	early, err := q.TakeOver(ctx, "survivor")
	if err != nil {
		t.Fatal(err)
	}
	var expired bool
	if err := q.Pool().QueryRow(ctx, "SELECT lease_expires_at <= now() FROM nodes WHERE node_id = 'victim'").Scan(&expired); err != nil {
		t.Fatal(err)
	}
	if len(early) != 0 && !expired {
		t.Fatal("job taken over while the holder's lease was live")
	}
	var taken []queue.Job
	deadline := time.Now().Add(30 * time.Second)
	for len(taken) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("orphan never taken over")
		}
		time.Sleep(100 * time.Millisecond)
		if taken, err = q.TakeOver(ctx, "survivor"); err != nil {
			t.Fatal(err)
		}
	}
	if len(taken) != 1 || taken[0].ID != id || taken[0].State != queue.Pending || taken[0].PagesConfirmed != 2 ||
		taken[0].Attempts != 0 || taken[0].Takeovers != 1 || taken[0].Token != 0 {
		t.Fatalf("taken over: %+v", taken)
	}
	h := lastTransition(t, q, id)
	if h.From != queue.Sending || h.To != queue.Pending || h.NodeID != "survivor" || h.Token != oldToken ||
		!strings.Contains(h.Reason, "victim") || !strings.Contains(h.Reason, "lease expired") {
		t.Fatalf("takeover history %+v", h)
	}

	again := claimOne(t, q, survivor)
	if again.ID != id || again.Token <= oldToken || again.PagesConfirmed != 2 || again.Attempts != 1 {
		t.Fatalf("reclaimed %+v (old token %d)", again, oldToken)
	}
	_, err = q.Progress(ctx, id, oldToken, 3)
	wantErr(t, "dead node's progress", err, queue.ErrStaleToken)
	_, err = q.Complete(ctx, id, oldToken, queue.Result{Pages: 5})
	wantErr(t, "dead node's complete", err, queue.ErrStaleToken)
	if _, err := q.Complete(ctx, id, again.Token, queue.Result{Pages: 5}); err != nil {
		t.Fatal(err)
	}
}
