package queue_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/faxd/faxd/internal/pgtest"
	"github.com/faxd/faxd/queue"
)

func slotsHeld(t testing.TB, q *queue.Queue, gateway string) int {
	t.Helper()
	m, err := q.SlotsInUse(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return m[gateway]
}

// Three nodes on one database, ten workers each, every worker with a
// claimed job asking for the same gateway of max_channels 5 at once:
// exactly five get a slot, whatever node they run on.
func TestSlotsGatewayLimitAcrossNodes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dsn := pgtest.NewDSN(t)
	const nodes, workers, limit = 3, 10, 5
	var qs []*queue.Queue
	var ns []*queue.Node
	for i := range nodes {
		q := newQueue(t, dsn)
		qs = append(qs, q)
		ns = append(ns, register(t, q, fmt.Sprintf("n%d", i), queue.NodeConfig{}))
	}
	for i := range nodes * workers * 3 {
		enqueue(t, qs[0], req(fmt.Sprintf("+49301%04d", i)))
	}

	// Phase 1: all thirty ask at once and hold what they get.
	var got atomic.Int64
	var wg sync.WaitGroup
	held := make([][]queue.Job, nodes)
	var mu sync.Mutex
	for i := range nodes {
		for range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				j := claimOne(t, qs[i], ns[i])
				v, err := qs[i].AcquireSlot(ctx, queue.SlotRequest{JobID: j.ID, Token: j.Token, Gateway: "gw", GatewayLimit: limit, Number: j.Destination, NumberLimit: 1})
				if err != nil {
					t.Error(err)
					return
				}
				switch v {
				case queue.SlotAcquired:
					got.Add(1)
					mu.Lock()
					held[i] = append(held[i], j)
					mu.Unlock()
				case queue.SlotGatewayFull:
					if _, err := qs[i].Release(ctx, j.ID, j.Token, "gateway full"); err != nil {
						t.Error(err)
					}
				default:
					t.Errorf("job %d: verdict %v", j.ID, v)
				}
			}()
		}
	}
	wg.Wait()
	if got.Load() != limit || slotsHeld(t, qs[1], "gw") != limit {
		t.Fatalf("%d slots acquired, %d in the table; want exactly %d", got.Load(), slotsHeld(t, qs[1], "gw"), limit)
	}
	for i, js := range held {
		for _, j := range js {
			if err := qs[i].ReleaseSlot(ctx, j.ID, j.Token); err != nil {
				t.Fatal(err)
			}
			if _, err := qs[i].Complete(ctx, j.ID, j.Token, queue.Result{Pages: 3}); err != nil {
				t.Fatal(err)
			}
		}
	}
	if n := slotsHeld(t, qs[0], "gw"); n != 0 {
		t.Fatalf("%d slots left after release", n)
	}

	// Phase 2: churn until the queue is empty; every holder counts the
	// table while it holds, and the count never exceeds the limit.
	var maxSeen, sent atomic.Int64
	for i := range nodes {
		for range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					jobs, err := qs[i].Claim(ctx, ns[i].Lease(), 1)
					if err != nil {
						t.Error(err)
						return
					}
					if len(jobs) == 0 {
						return
					}
					j := jobs[0]
					v, err := qs[i].AcquireSlot(ctx, queue.SlotRequest{JobID: j.ID, Token: j.Token, Gateway: "gw", GatewayLimit: limit, Number: j.Destination, NumberLimit: 1})
					if err != nil {
						t.Error(err)
						return
					}
					if v != queue.SlotAcquired {
						if _, err := qs[i].Release(ctx, j.ID, j.Token, v.String()); err != nil {
							t.Error(err)
							return
						}
						continue
					}
					n := int64(slotsHeld(t, qs[i], "gw"))
					for m := maxSeen.Load(); n > m && !maxSeen.CompareAndSwap(m, n); m = maxSeen.Load() {
					}
					if err := qs[i].ReleaseSlot(ctx, j.ID, j.Token); err != nil {
						t.Error(err)
					}
					if _, err := qs[i].Complete(ctx, j.ID, j.Token, queue.Result{Pages: 3}); err != nil {
						t.Error(err)
					}
					sent.Add(1)
				}
			}()
		}
	}
	wg.Wait()
	if m := maxSeen.Load(); m > limit || m < 1 {
		t.Fatalf("up to %d slots held at once, limit %d", m, limit)
	}
	if want := int64(nodes*workers*3 - limit); sent.Load() != want {
		t.Fatalf("sent %d in phase 2, want %d", sent.Load(), want)
	}
}

// The per-number limit: one call to a number at a time across nodes,
// whether it is written with + or without; released, the next may go.
func TestSlotsPerNumber(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dsn := pgtest.NewDSN(t)
	qa, qb := newQueue(t, dsn), newQueue(t, dsn)
	na, nb := register(t, qa, "a", queue.NodeConfig{}), register(t, qb, "b", queue.NodeConfig{})
	enqueue(t, qa, req("+4930555"))
	enqueue(t, qa, req("4930555"))
	enqueue(t, qa, req("4930556"))
	ja, jb := claimOne(t, qa, na), claimOne(t, qb, nb)
	ask := func(q *queue.Queue, j queue.Job) queue.SlotVerdict {
		t.Helper()
		v, err := q.AcquireSlot(ctx, queue.SlotRequest{JobID: j.ID, Token: j.Token, Gateway: "gw", Number: j.Destination, NumberLimit: 1})
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	if v := ask(qa, ja); v != queue.SlotAcquired {
		t.Fatalf("first call to the number: %v", v)
	}
	if v := ask(qb, jb); v != queue.SlotNumberBusy {
		t.Fatalf("second call to the same number on another node: %v, want number busy", v)
	}
	jc := claimOne(t, qb, nb)
	if v := ask(qb, jc); v != queue.SlotAcquired {
		t.Fatalf("another number: %v", v)
	}
	if err := qa.ReleaseSlot(ctx, ja.ID, ja.Token); err != nil {
		t.Fatal(err)
	}
	if v := ask(qb, jb); v != queue.SlotAcquired {
		t.Fatalf("after release: %v", v)
	}
	// A limit of 2 lets a second call in.
	if v, err := qa.AcquireSlot(ctx, queue.SlotRequest{JobID: ja.ID, Token: ja.Token, Gateway: "gw", Number: ja.Destination, NumberLimit: 2}); err != nil || v != queue.SlotAcquired {
		t.Fatalf("limit 2: %v %v", v, err)
	}
	// A stale token gets nothing.
	if v := ask(qa, queue.Job{ID: ja.ID, Token: ja.Token + 1000, Destination: "1"}); v != queue.SlotNotHeld {
		t.Fatalf("stale token: %v", v)
	}
}

// A node that dies holding the gateway's only slot loses it with its job:
// once the survivor has taken the job over, its own acquire sweeps the
// dead claim's row and gets the slot; nothing is counted twice.
func TestSlotsReleasedByTakeover(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dsn := pgtest.NewDSN(t)
	qa, qb := newQueue(t, dsn), newQueue(t, dsn)
	na := register(t, qa, "a", queue.NodeConfig{LeaseOnly: true})
	nb := register(t, qb, "b", queue.NodeConfig{})
	enqueue(t, qa, req("4930111"))
	enqueue(t, qa, req("4930222"))
	ja, jb := claimOne(t, qa, na), claimOne(t, qb, nb)
	ask := func(q *queue.Queue, j queue.Job) queue.SlotVerdict {
		t.Helper()
		v, err := q.AcquireSlot(ctx, queue.SlotRequest{JobID: j.ID, Token: j.Token, Gateway: "gw", GatewayLimit: 1, Number: j.Destination})
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	if v := ask(qa, ja); v != queue.SlotAcquired {
		t.Fatal(v)
	}
	if v := ask(qb, jb); v != queue.SlotGatewayFull {
		t.Fatalf("second call on a 1-channel gateway: %v", v)
	}
	// Node a dies: its lease ends (as when it expires) and b takes over.
	if err := na.Deregister(ctx); err != nil {
		t.Fatal(err)
	}
	if got, err := qb.TakeOver(ctx, "b"); err != nil || len(got) != 1 || got[0].ID != ja.ID {
		t.Fatalf("takeover: %v %v", got, err)
	}
	if n := slotsHeld(t, qb, "gw"); n != 1 {
		t.Fatalf("%d slots before the sweep, want the dead one still there", n)
	}
	if v := ask(qb, jb); v != queue.SlotAcquired {
		t.Fatalf("after takeover: %v", v)
	}
	if n := slotsHeld(t, qb, "gw"); n != 1 {
		t.Fatalf("%d slots held, want 1", n)
	}
	// The taken-over job, claimed again, waits for the survivor's call.
	jc := claimOne(t, qb, nb)
	if jc.ID != ja.ID {
		t.Fatalf("claimed %d, want the taken-over %d", jc.ID, ja.ID)
	}
	if v := ask(qb, jc); v != queue.SlotGatewayFull {
		t.Fatalf("taken-over job: %v, want full", v)
	}
}

// Ending the claim frees its slots in the same statement: completion (the
// hot path), failure with retry and release, each without ReleaseSlot.
func TestSlotsFreedWithClaim(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	q := newQueue(t, pgtest.NewDSN(t))
	n := register(t, q, "n", queue.NodeConfig{})
	for range 3 {
		enqueue(t, q, req("4930777"))
	}
	take := func() queue.Job {
		t.Helper()
		j := claimOne(t, q, n)
		if v, err := q.AcquireSlot(ctx, queue.SlotRequest{JobID: j.ID, Token: j.Token, Gateway: "gw", GatewayLimit: 1, Number: j.Destination, NumberLimit: 1}); err != nil || v != queue.SlotAcquired {
			t.Fatalf("job %d: %v %v", j.ID, v, err)
		}
		if g, c := slotsHeld(t, q, "gw"), numberCalls(t, q, "4930777"); g != 1 || c != 1 {
			t.Fatalf("held: gateway %d, number %d", g, c)
		}
		return j
	}
	check := func(what string) {
		t.Helper()
		if g, c := slotsHeld(t, q, "gw"), numberCalls(t, q, "+4930777"); g != 0 || c != 0 {
			t.Fatalf("after %s: gateway %d, number %d still held", what, g, c)
		}
	}
	j := take()
	if _, err := q.Complete(ctx, j.ID, j.Token, queue.Result{Pages: 3}); err != nil {
		t.Fatal(err)
	}
	check("complete")
	j = take()
	if _, err := q.Fail(ctx, j.ID, j.Token, queue.Failure{Class: queue.ClassBusy, Reason: "busy"}); err != nil {
		t.Fatal(err)
	}
	check("fail")
	j = take()
	if _, err := q.ReleaseAfter(ctx, j.ID, j.Token, 0, "number busy"); err != nil {
		t.Fatal(err)
	}
	check("release")
}

func numberCalls(t testing.TB, q *queue.Queue, number string) int {
	t.Helper()
	n, err := q.NumberCalls(context.Background(), number)
	if err != nil {
		t.Fatal(err)
	}
	return n
}
