package queue_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/faxd/faxd/internal/pgtest"
	"github.com/faxd/faxd/queue"
)

// makeSlots creates a gateway's slot rows the way the channels do: the
// first AcquireSlot that finds none sweeps and creates them. The job is
// failed (permanently), which frees its slot.
func makeSlots(t testing.TB, q *queue.Queue, n *queue.Node, gateway string, limit int) {
	t.Helper()
	ctx := context.Background()
	j := enqueue(t, q, queue.Request{Destination: "0", Document: "doc/0", PagesTotal: 1, Priority: 1000})
	c := claimOne(t, q, n)
	if c.ID != j.ID {
		t.Fatalf("claimed %d, want %d", c.ID, j.ID)
	}
	if v, err := q.AcquireSlot(ctx, queue.SlotRequest{JobID: c.ID, Token: c.Token, Gateway: gateway, GatewayLimit: limit, Number: c.Destination}); err != nil || v != queue.SlotAcquired {
		t.Fatalf("first slot: %v %v", v, err)
	}
	if _, err := q.Fail(ctx, c.ID, c.Token, queue.Failure{Class: queue.ClassPermanent, Reason: "slot rows made"}); err != nil {
		t.Fatal(err)
	}
}

// Three nodes, ten workers each, claim with the slot in the claim
// statement against a gateway of max_channels 5, while others take the
// slow path (claim, then AcquireSlot): never more than five calls hold a
// slot, counted from the table while every holder holds, and every job
// is sent.
func TestClaimWithSlotGatewayLimit(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dsn := pgtest.NewDSN(t)
	const nodes, workers, limit, jobs = 3, 10, 5, 150
	var qs []*queue.Queue
	var ns []*queue.Node
	for i := range nodes {
		q := newQueue(t, dsn)
		qs = append(qs, q)
		ns = append(ns, register(t, q, fmt.Sprintf("n%d", i), queue.NodeConfig{}))
	}
	makeSlots(t, qs[0], ns[0], "gw", limit)
	for i := range jobs {
		enqueue(t, qs[0], req(fmt.Sprintf("+49302%04d", i)))
	}
	hint := queue.SlotHint{Gateway: "gw", GatewayLimit: limit, NumberLimit: 1}
	var maxSeen, sent, inClaim atomic.Int64
	var wg sync.WaitGroup
	for i := range nodes {
		for w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					js, err := qs[i].ClaimWithSlot(ctx, ns[i].Lease(), 1, hint)
					if err != nil {
						t.Error(err)
						return
					}
					if len(js) == 0 {
						return
					}
					j := js[0]
					if j.SlotGateway == "gw" {
						inClaim.Add(1)
					} else {
						if j.SlotGateway != "" {
							t.Errorf("job %d: slot on %q", j.ID, j.SlotGateway)
						}
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
					}
					n := int64(slotsHeld(t, qs[i], "gw"))
					for m := maxSeen.Load(); n > m && !maxSeen.CompareAndSwap(m, n); m = maxSeen.Load() {
					}
					if c := numberCalls(t, qs[i], j.Destination); c != 1 {
						t.Errorf("job %d: %d calls to its number", j.ID, c)
					}
					// Odd workers end the claim with the completion alone
					// (no ReleaseSlot): the statement frees the slots.
					if w%2 == 0 {
						if err := qs[i].ReleaseSlot(ctx, j.ID, j.Token); err != nil {
							t.Error(err)
						}
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
	if sent.Load() != jobs {
		t.Fatalf("sent %d, want %d", sent.Load(), jobs)
	}
	if inClaim.Load() == 0 {
		t.Fatal("no job got its slot within the claim")
	}
	if n := slotsHeld(t, qs[0], "gw"); n != 0 {
		t.Fatalf("%d slots held after every job ended", n)
	}
}

// One claim statement taking two jobs to the same number (written with
// and without +) gives the slot to one only; the other, on its slow path,
// finds the number busy. A gateway without free slots gives none, and the
// job is claimed all the same.
func TestClaimWithSlotNumberAndFull(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	q := newQueue(t, pgtest.NewDSN(t))
	n := register(t, q, "n", queue.NodeConfig{})
	makeSlots(t, q, n, "gw", 2)
	enqueue(t, q, req("+4930555"))
	enqueue(t, q, req("4930555"))
	js, err := q.ClaimWithSlot(ctx, n.Lease(), 2, queue.SlotHint{Gateway: "gw", GatewayLimit: 2, NumberLimit: 1})
	if err != nil || len(js) != 2 {
		t.Fatalf("claim: %v %v", js, err)
	}
	with, without := js[0], js[1]
	if with.SlotGateway == "" {
		with, without = without, with
	}
	if with.SlotGateway != "gw" || without.SlotGateway != "" {
		t.Fatalf("slots: %q and %q, want exactly one on gw", js[0].SlotGateway, js[1].SlotGateway)
	}
	if g, c := slotsHeld(t, q, "gw"), numberCalls(t, q, "4930555"); g != 1 || c != 1 {
		t.Fatalf("held: gateway %d, number %d; want 1 and 1", g, c)
	}
	if v, err := q.AcquireSlot(ctx, queue.SlotRequest{JobID: without.ID, Token: without.Token, Gateway: "gw", GatewayLimit: 2, Number: without.Destination, NumberLimit: 1}); err != nil || v != queue.SlotNumberBusy {
		t.Fatalf("second call to the number: %v %v, want number busy", v, err)
	}
	// Fill the gateway's second slot, then claim with a hint on it.
	enqueue(t, q, req("4930556"))
	enqueue(t, q, req("4930557"))
	j := claimOne(t, q, n)
	if v, err := q.AcquireSlot(ctx, queue.SlotRequest{JobID: j.ID, Token: j.Token, Gateway: "gw", GatewayLimit: 2, Number: j.Destination}); err != nil || v != queue.SlotAcquired {
		t.Fatalf("second slot: %v %v", v, err)
	}
	js, err = q.ClaimWithSlot(ctx, n.Lease(), 1, queue.SlotHint{Gateway: "gw", GatewayLimit: 2, NumberLimit: 1})
	if err != nil || len(js) != 1 {
		t.Fatalf("claim on a full gateway: %v %v", js, err)
	}
	if js[0].SlotGateway != "" || slotsHeld(t, q, "gw") != 2 || numberCalls(t, q, js[0].Destination) != 0 {
		t.Fatalf("full gateway: slot %q, %d held, %d number calls", js[0].SlotGateway, slotsHeld(t, q, "gw"), numberCalls(t, q, js[0].Destination))
	}
	// A bad hint is refused before anything is claimed.
	if _, err := q.ClaimWithSlot(ctx, n.Lease(), 1, queue.SlotHint{GatewayLimit: 1}); err == nil {
		t.Fatal("hint without a gateway accepted")
	}
}

// The claim's slots go with a takeover: a node dies holding the only slot
// it took in its claim; the survivor takes the job over and its acquire
// sweeps the dead claim's row.
func TestClaimWithSlotReleasedByTakeover(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dsn := pgtest.NewDSN(t)
	qa, qb := newQueue(t, dsn), newQueue(t, dsn)
	na := register(t, qa, "a", queue.NodeConfig{LeaseOnly: true})
	nb := register(t, qb, "b", queue.NodeConfig{})
	makeSlots(t, qb, nb, "gw", 1)
	enqueue(t, qa, req("4930111"))
	enqueue(t, qa, req("4930222"))
	hint := queue.SlotHint{Gateway: "gw", GatewayLimit: 1, NumberLimit: 1}
	ja, err := qa.ClaimWithSlot(ctx, na.Lease(), 1, hint)
	if err != nil || len(ja) != 1 || ja[0].SlotGateway != "gw" {
		t.Fatalf("a's claim: %v %v", ja, err)
	}
	jb, err := qb.ClaimWithSlot(ctx, nb.Lease(), 1, hint)
	if err != nil || len(jb) != 1 || jb[0].SlotGateway != "" {
		t.Fatalf("b's claim on a full 1-channel gateway: %v %v", jb, err)
	}
	if err := na.Deregister(ctx); err != nil {
		t.Fatal(err)
	}
	if got, err := qb.TakeOver(ctx, "b"); err != nil || len(got) != 1 || got[0].ID != ja[0].ID {
		t.Fatalf("takeover: %v %v", got, err)
	}
	if v, err := qb.AcquireSlot(ctx, queue.SlotRequest{JobID: jb[0].ID, Token: jb[0].Token, Gateway: "gw", GatewayLimit: 1, Number: jb[0].Destination, NumberLimit: 1}); err != nil || v != queue.SlotAcquired {
		t.Fatalf("after takeover: %v %v", v, err)
	}
	if g := slotsHeld(t, qb, "gw"); g != 1 {
		t.Fatalf("%d slots held, want 1", g)
	}
	// The taken-over job's number slot went with the dead claim too.
	if _, err := qb.Complete(ctx, jb[0].ID, jb[0].Token, queue.Result{Pages: 3}); err != nil {
		t.Fatal(err)
	}
	jc, err := qb.ClaimWithSlot(ctx, nb.Lease(), 1, hint)
	if err != nil || len(jc) != 1 || jc[0].ID != ja[0].ID {
		t.Fatalf("taken-over job claimed again: %v %v", jc, err)
	}
	if jc[0].SlotGateway == "" {
		if v, err := qb.AcquireSlot(ctx, queue.SlotRequest{JobID: jc[0].ID, Token: jc[0].Token, Gateway: "gw", GatewayLimit: 1, Number: jc[0].Destination, NumberLimit: 1}); err != nil || v != queue.SlotAcquired {
			t.Fatalf("taken-over job's slot: %v %v", v, err)
		}
	}
	if g, c := slotsHeld(t, qb, "gw"), numberCalls(t, qb, "4930111"); g != 1 || c != 1 {
		t.Fatalf("held: gateway %d, number %d; want 1 and 1", g, c)
	}
}

// Inbound calls hold the gateway's slots too: with two channels and one
// inbound call, one outbound call gets a slot (by either path) and the
// next finds the gateway full; the inbound call's end frees its channel,
// and a dead node's inbound slot is swept by the next acquirer.
func TestInboundCallsHoldGatewaySlots(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dsn := pgtest.NewDSN(t)
	qa, qb := newQueue(t, dsn), newQueue(t, dsn)
	na := register(t, qa, "a", queue.NodeConfig{LeaseOnly: true})
	nb := register(t, qb, "b", queue.NodeConfig{})
	const limit = 2
	if ok, err := qa.AcquireInboundSlot(ctx, na.Lease(), "gw", limit, "call-1@a"); err != nil || !ok {
		t.Fatalf("inbound slot: %v %v", ok, err)
	}
	if n := slotsHeld(t, qb, "gw"); n != 1 {
		t.Fatalf("%d slots held with one inbound call, want 1", n)
	}
	for i := range 4 {
		enqueue(t, qb, req(fmt.Sprintf("4930%03d", i)))
	}
	ask := func(j queue.Job) queue.SlotVerdict {
		t.Helper()
		v, err := qb.AcquireSlot(ctx, queue.SlotRequest{JobID: j.ID, Token: j.Token, Gateway: "gw", GatewayLimit: limit, Number: j.Destination, NumberLimit: 1})
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	j1 := claimOne(t, qb, nb)
	if v := ask(j1); v != queue.SlotAcquired {
		t.Fatalf("first outbound call: %v", v)
	}
	j2 := claimOne(t, qb, nb)
	if v := ask(j2); v != queue.SlotGatewayFull {
		t.Fatalf("outbound beside an inbound call on 2 channels: %v, want full", v)
	}
	js, err := qb.ClaimWithSlot(ctx, nb.Lease(), 1, queue.SlotHint{Gateway: "gw", GatewayLimit: limit, NumberLimit: 1})
	if err != nil || len(js) != 1 || js[0].SlotGateway != "" {
		t.Fatalf("claim with slot on a full gateway: %+v %v", js, err)
	}
	// Another inbound call finds no slot: it goes ahead uncounted.
	if ok, err := qb.AcquireInboundSlot(ctx, nb.Lease(), "gw", limit, "call-2@b"); err != nil || ok {
		t.Fatalf("second inbound slot on a full gateway: %v %v", ok, err)
	}
	if err := qa.ReleaseInboundSlot(ctx, "gw", "call-1@a"); err != nil {
		t.Fatal(err)
	}
	if v := ask(j2); v != queue.SlotAcquired {
		t.Fatalf("after the inbound call ended: %v", v)
	}
	// Full again (two outbound calls). One ends; an inbound call on node
	// a takes the freed channel, then node a dies: its slot is stale and
	// the next outbound acquirer sweeps it.
	if _, err := qb.Complete(ctx, j1.ID, j1.Token, queue.Result{Pages: 3}); err != nil {
		t.Fatal(err)
	}
	if ok, err := qa.AcquireInboundSlot(ctx, na.Lease(), "gw", limit, "call-3@a"); err != nil || !ok {
		t.Fatalf("inbound slot: %v %v", ok, err)
	}
	if v := ask(js[0]); v != queue.SlotGatewayFull {
		t.Fatalf("with an inbound call of a live node: %v, want full", v)
	}
	if err := na.Deregister(ctx); err != nil {
		t.Fatal(err)
	}
	if v := ask(js[0]); v != queue.SlotAcquired {
		t.Fatalf("after the inbound holder died: %v", v)
	}
	if n := slotsHeld(t, qb, "gw"); n != limit {
		t.Fatalf("%d slots held, want %d", n, limit)
	}
}

// A completion hands its gateway slot to the job its statement claims: on
// a full one-channel gateway, complete-and-claim gives the next job the
// slot the finished call held (the snapshot still shows it taken, so
// without the handover the claim found the gateway full). A slot the
// finished call held on another gateway is freed, and one the statement
// has nobody to hand to is freed too.
func TestCompleteAndClaimHandsOverSlot(t *testing.T) {
	t.Parallel()
	for _, form := range []string{"one-job", "general"} {
		t.Run(form, func(t *testing.T) {
			t.Parallel()
			testHandOverSlot(t, form == "general")
		})
	}
}

func testHandOverSlot(t *testing.T, general bool) {
	ctx := context.Background()
	q := newQueue(t, pgtest.NewDSN(t))
	if general {
		queue.GeneralOnly(q)
	}
	n := register(t, q, "n", queue.NodeConfig{})
	makeSlots(t, q, n, "gw", 1)
	makeSlots(t, q, n, "other", 1)
	for i := range 3 {
		enqueue(t, q, req(fmt.Sprintf("493077%d", i)))
	}
	hint := queue.SlotHint{Gateway: "gw", GatewayLimit: 1, NumberLimit: 1}
	js, err := q.ClaimWithSlot(ctx, n.Lease(), 1, hint)
	if err != nil || len(js) != 1 || js[0].SlotGateway != "gw" {
		t.Fatalf("first claim: %v %v", js, err)
	}
	first := js[0]
	_, js, err = q.CompleteAndClaimWithSlot(ctx, first.ID, first.Token, queue.Result{Pages: 3}, n.Lease(), 1, hint)
	if err != nil || len(js) != 1 {
		t.Fatalf("complete and claim: %v %v", js, err)
	}
	second := js[0]
	if second.SlotGateway != "gw" {
		t.Fatalf("the claimed job got no slot on the full gateway its predecessor's completion freed")
	}
	if g, c1, c2 := slotsHeld(t, q, "gw"), numberCalls(t, q, first.Destination), numberCalls(t, q, second.Destination); g != 1 || c1 != 0 || c2 != 1 {
		t.Fatalf("held: gateway %d, numbers %d (finished) and %d (claimed); want 1, 0, 1", g, c1, c2)
	}
	// The second call moves to gateway "other" (slot there, gw released):
	// its completion frees that slot, and the claim takes gw's free one.
	if err := q.ReleaseSlot(ctx, second.ID, second.Token); err != nil {
		t.Fatal(err)
	}
	if v, err := q.AcquireSlot(ctx, queue.SlotRequest{JobID: second.ID, Token: second.Token, Gateway: "other", GatewayLimit: 1, Number: second.Destination, NumberLimit: 1}); err != nil || v != queue.SlotAcquired {
		t.Fatalf("slot on other: %v %v", v, err)
	}
	_, js, err = q.CompleteAndClaimWithSlot(ctx, second.ID, second.Token, queue.Result{Pages: 3}, n.Lease(), 1, hint)
	if err != nil || len(js) != 1 || js[0].SlotGateway != "gw" {
		t.Fatalf("complete and claim after a call on other: %v %v", js, err)
	}
	third := js[0]
	if g, o := slotsHeld(t, q, "gw"), slotsHeld(t, q, "other"); g != 1 || o != 0 {
		t.Fatalf("held: gw %d, other %d; want 1 and 0", g, o)
	}
	// The next job's number is busy (another node calls it): the claim
	// takes the job without slots and the finished call's slot is freed,
	// not handed to a job that may not call.
	busy := enqueue(t, q, req("4930799"))
	if _, err := q.Pool().Exec(ctx, `INSERT INTO jobs (request_hash, max_attempts, destination, document, state, node_id,
		node_incarnation, token, claimed_at, call_number, number_slot)
		VALUES ('\x00', 5, '4930799', 'doc', 'sending', 'other', 1, nextval('queue_fencing_seq'), now(), '4930799', 1)`); err != nil {
		t.Fatal(err)
	}
	_, js, err = q.CompleteAndClaimWithSlot(ctx, third.ID, third.Token, queue.Result{Pages: 3}, n.Lease(), 1, hint)
	if err != nil || len(js) != 1 || js[0].ID != busy.ID || js[0].SlotGateway != "" {
		t.Fatalf("claim of a busy number: %v %v, want job %d without slots", js, err, busy.ID)
	}
	if g, c := slotsHeld(t, q, "gw"), numberCalls(t, q, "4930799"); g != 0 || c != 1 {
		t.Fatalf("after a claim of a busy number: gateway %d, number %d held; want 0 and 1 (the other node's)", g, c)
	}
	third = js[0]
	// Nothing left to claim: the finished call's slot is freed.
	_, js, err = q.CompleteAndClaimWithSlot(ctx, third.ID, third.Token, queue.Result{Pages: 3}, n.Lease(), 1, hint)
	if err != nil || len(js) != 0 {
		t.Fatalf("last completion: %v %v", js, err)
	}
	if g, c := slotsHeld(t, q, "gw"), numberCalls(t, q, third.Destination); g != 0 || c != 1 {
		t.Fatalf("after the last call: gateway %d, number %d held; want 0 and 1 (the other node's)", g, c)
	}
}

// raceForNumber makes run lose a race for a number's slot: another node's
// claim of job a takes slot 1 of number and is not committed yet when run
// (in a goroutine) gives the number to another job, which waits for it on
// the unique index; once run waits, the other claim commits. Returns when
// run has returned.
func raceForNumber(t *testing.T, q *queue.Queue, a queue.Job, number string, run func()) {
	t.Helper()
	ctx := context.Background()
	tx, err := q.Pool().Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tx.Rollback(ctx) }()
	if _, err := tx.Exec(ctx, `UPDATE jobs SET state = 'sending', token = nextval('queue_fencing_seq'), node_id = 'other',
		node_incarnation = 1, claimed_at = now(), call_number = $2, number_slot = 1 WHERE id = $1`, a.ID, number); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		run()
	}()
	for waiting := false; !waiting; {
		if err := q.Pool().QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_stat_activity
			WHERE datname = current_database() AND wait_event_type = 'Lock' AND pid <> pg_backend_pid())`).Scan(&waiting); err != nil {
			t.Fatal(err)
		}
		select {
		case <-done:
			t.Fatal("the statement returned without waiting for the other claim of the number")
		case <-time.After(5 * time.Millisecond):
		}
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	<-done
}

// Two claims give one number's slot at the same moment: the statement
// that finds the other's hold committed under it fails on the unique
// index of number holds and runs again; run again, it sees the hold and
// claims its job without the number's slot (nor the gateway's), and its
// caller sees no error. The same on the slow path: AcquireSlot's batch
// fails on the index, is run again, and says the number is busy.
func TestNumberSlotRace(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	q := newQueue(t, pgtest.NewDSN(t))
	n := register(t, q, "n", queue.NodeConfig{})
	makeSlots(t, q, n, "gw", 2)
	held := func(number string) (gateway, holds int) { return slotsHeld(t, q, "gw"), numberCalls(t, q, number) }

	a := enqueue(t, q, req("4930777"))
	b := enqueue(t, q, req("+4930777"))
	var js []queue.Job
	var err error
	raceForNumber(t, q, a, "4930777", func() {
		js, err = q.ClaimWithSlot(ctx, n.Lease(), 1, queue.SlotHint{Gateway: "gw", GatewayLimit: 2, NumberLimit: 1})
	})
	if err != nil || len(js) != 1 || js[0].ID != b.ID {
		t.Fatalf("claim: %v %v, want job %d", js, err, b.ID)
	}
	if g, h := held("4930777"); js[0].SlotGateway != "" || g != 0 || h != 1 {
		t.Fatalf("claim: slot %q, %d gateway slots, %d number holds; want none, 0 and the other claim's 1", js[0].SlotGateway, g, h)
	}

	c := enqueue(t, q, req("4930778"))
	e := enqueue(t, q, req("4930778"))
	var v queue.SlotVerdict
	raceForNumber(t, q, c, "4930778", func() {
		// The claim passes over c, which the other claim holds.
		if js, err = q.Claim(ctx, n.Lease(), 1); err != nil || len(js) != 1 || js[0].ID != e.ID {
			return
		}
		v, err = q.AcquireSlot(ctx, queue.SlotRequest{JobID: e.ID, Token: js[0].Token, Gateway: "gw", GatewayLimit: 2, Number: e.Destination, NumberLimit: 1})
	})
	if len(js) != 1 || js[0].ID != e.ID {
		t.Fatalf("plain claim: %v %v, want job %d", js, err, e.ID)
	}
	if err != nil || v != queue.SlotNumberBusy {
		t.Fatalf("acquire: %v %v, want number busy", v, err)
	}
	if g, h := held("4930778"); g != 0 || h != 1 {
		t.Fatalf("acquire: %d gateway slots, %d number holds; want 0 and the other claim's 1", g, h)
	}
}

// In the cached generic plans of the claim statements with slots, the
// probe for a number's hold reads the index of holds: any other index
// would scan every sending job (or every job) for each claimed one.
func TestSlotPlansProbeHoldIndex(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	q := newQueue(t, pgtest.NewDSN(t))
	pool := q.Pool()
	if _, err := pool.Exec(ctx, `INSERT INTO jobs (request_hash, max_attempts, destination, document)
		SELECT '\x00', 5, (4930000000 + g)::text, 'doc' FROM generate_series(1, 20000) g`); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `UPDATE jobs SET state = 'sending', node_id = 'x', node_incarnation = 1, token = id,
		claimed_at = now(), call_number = destination, number_slot = 1 WHERE id % 10 = 0`); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, "ANALYZE jobs"); err != nil {
		t.Fatal(err)
	}
	conn, err := pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, "SET plan_cache_mode = force_generic_plan"); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ name, sql, args string }{
		{"ops", queue.SQLOpsSlots, `('{1}', '{1}', '{1}', '{x}', '{1}', 1, 'n', 1, 'gw', 30, 1)`},
		{"claim", queue.SQLClaimSlots, `(1, 'n', 1, 'gw', 30, 1)`},
		{"ops1", queue.SQLOpsSlot1, `('{1}', '{1}', '{1}', '{x}', '{1}', 0, 'n', 1, 'gw', 30, 1)`},
		{"claim1", queue.SQLClaimSlot1, `(1, 'n', 1, 'gw', 30, 1)`},
	} {
		if _, err := conn.Exec(ctx, "PREPARE plan_"+c.name+" AS "+c.sql); err != nil {
			t.Fatal(err)
		}
		rows, err := conn.Query(ctx, "EXPLAIN EXECUTE plan_"+c.name+c.args)
		if err != nil {
			t.Fatal(err)
		}
		probes := 0
		for rows.Next() {
			var line string
			if err := rows.Scan(&line); err != nil {
				t.Fatal(err)
			}
			if strings.Contains(line, " on jobs h") {
				probes++
				if !strings.Contains(line, "using jobs_number_slot") {
					t.Errorf("%s: hold probe does not read the index of holds: %s", c.name, strings.TrimSpace(line))
				}
			}
		}
		rows.Close()
		if probes == 0 {
			t.Errorf("%s: no hold probe in the plan", c.name)
		}
	}
}
