package queue_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/faxd/faxd/internal/pgtest"
	"github.com/faxd/faxd/queue"
)

// BenchmarkFailover measures the recovery time of a half-sent fax: from
// the SIGKILL of the node process holding it to the survivor's claim of
// it (the claim stands for the survivor's new INVITE, which follows it
// at once). Each op is one kill of a fresh helper node process. The
// survivor probes for dead nodes every 250 ms (the default probe) and has
// one channel, which claims when the Waiter wakes it (the takeover's
// notification), one job at a time. Variants: with the
// liveness session or with the lease only (both with a 2 s lease, so the
// lease path costs up to 2 s here and up to queue.lease_ttl in
// production), each with no backlog and with 20 due pending jobs that are
// older than the orphan (without precedence they would all go first).
// ns/op is the mean; p50-ms and p99-ms the percentiles; before-orphan the
// backlog jobs claimed before the orphan (0 with precedence).
//
//	go test -run '^$' -bench Failover -benchtime 50x ./queue
func BenchmarkFailover(b *testing.B) {
	for _, c := range []struct {
		name      string
		leaseOnly bool
		backlog   int
	}{
		{"liveness", false, 0},
		{"liveness-backlog20", false, 20},
		{"lease-only", true, 0},
		{"lease-only-backlog20", true, 20},
	} {
		b.Run(c.name, func(b *testing.B) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			dsn := pgtest.NewDSN(b)
			q := newQueue(b, dsn)
			survivor := register(b, q, "survivor", queue.NodeConfig{TTL: time.Minute, TakeOver: true})
			go survivor.Run(ctx)
			w := q.NewWaiter(time.Second)
			defer w.Close()
			env := []string{helperTTL + "=2s"}
			if c.leaseOnly {
				env = append(env, helperLease+"=1")
			}
			var lat []time.Duration
			var before int
			b.ResetTimer()
			for i := range b.N {
				b.StopTimer()
				// The backlog waits in the future while the victim claims
				// the orphan, then becomes due and older than it.
				var pending int
				if _, err := q.Pool().Exec(ctx, "UPDATE jobs SET run_at = now() + interval '1 hour' WHERE state = 'pending'"); err != nil {
					b.Fatal(err)
				}
				if err := q.Pool().QueryRow(ctx, "SELECT count(*) FROM jobs WHERE state = 'pending'").Scan(&pending); err != nil {
					b.Fatal(err)
				}
				for j := pending; j < c.backlog; j++ {
					r := req(fmt.Sprint("backlog-", i, "-", j))
					r.SendAfter = time.Now().Add(time.Hour)
					enqueue(b, q, r)
				}
				orphan := enqueue(b, q, req(fmt.Sprint("orphan-", i)))
				v := startVictim(b, dsn, append(env, fmt.Sprintf("%s=victim-%d", helperNode, i))...)
				if v.job != orphan.ID {
					b.Fatalf("victim claimed job %d, want %d", v.job, orphan.ID)
				}
				if _, err := q.Pool().Exec(ctx, "UPDATE jobs SET run_at = now() - interval '1 hour' WHERE state = 'pending'"); err != nil {
					b.Fatal(err)
				}
				// The survivor's channel is busy until the takeover (a free
				// channel would have taken the backlog): it claims once
				// woken and the orphan is no longer held by the victim (a
				// read that the measured time includes).
				mark := w.Mark()
				b.StartTimer()
				t0 := time.Now()
				v.kill(b)
				for {
					if err := w.WaitSince(ctx, mark); err != nil {
						b.Fatal(err)
					}
					mark = w.Mark()
					o, err := q.Get(ctx, orphan.ID)
					if err != nil {
						b.Fatal(err)
					}
					if o.State == queue.Sending && o.Token == v.token {
						continue // a stray wake-up or poll
					}
					jobs, err := q.Claim(ctx, survivor.Lease(), 1)
					if err != nil {
						b.Fatal(err)
					}
					for len(jobs) == 1 && jobs[0].ID != orphan.ID {
						before++ // the backlog went before the taken-over orphan
						if _, err := q.Complete(ctx, jobs[0].ID, jobs[0].Token, queue.Result{Pages: 3}); err != nil {
							b.Fatal(err)
						}
						if jobs, err = q.Claim(ctx, survivor.Lease(), 1); err != nil {
							b.Fatal(err)
						}
					}
					if len(jobs) == 1 {
						lat = append(lat, time.Since(t0))
						b.StopTimer()
						if _, err := q.Complete(ctx, jobs[0].ID, jobs[0].Token, queue.Result{Pages: 3}); err != nil {
							b.Fatal(err)
						}
						break
					}
				}
			}
			b.StopTimer()
			reportLatency(b, lat)
			b.ReportMetric(float64(before)/float64(b.N), "before-orphan/op")
		})
	}
}
