package queue_test

import (
	"context"
	"fmt"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/faxd/faxd/internal/pgtest"
	"github.com/faxd/faxd/queue"
)

// benchSizes are the table sizes of the scale benchmarks: 0 and 100,000
// rows always, 1,000,000 with FAXD_BENCH_1M=1 (loading them takes about a
// minute).
func benchSizes() []int {
	s := []int{0, 100_000}
	if os.Getenv("FAXD_BENCH_1M") == "1" {
		s = append(s, 1_000_000)
	}
	return s
}

// BenchmarkListFilters: one 50-job page of GET /v1/faxes per filter, over
// a queue of 0, 100k and (FAXD_BENCH_1M=1) 1M jobs loaded by loadJobs.
// Flat across sizes is the goal.
func BenchmarkListFilters(b *testing.B) {
	ctx := context.Background()
	cases := listCases()
	names := make([]string, 0, len(cases))
	for n := range cases {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, size := range benchSizes() {
		pool := pgtest.NewDB(b)
		loadJobs(b, pool, size)
		q, err := queue.New(pool, queue.Config{Logger: quiet})
		if err != nil {
			b.Fatal(err)
		}
		for _, name := range names {
			f := cases[name]
			f.Limit = 50
			b.Run(fmt.Sprintf("rows=%d/filter=%s", size, name), func(b *testing.B) {
				for b.Loop() {
					if _, err := q.List(ctx, f); err != nil {
						b.Fatal(err)
					}
				}
				// The pages a query reads do not depend on the machine's
				// load, unlike its time: the figure to compare across sizes.
				sql, args := queue.ListSQL(f)
				b.ReportMetric(explain(b, pool, sql, args, "BUFFERS").Buffers(), "pages/op")
			})
		}
		pool.Close()
	}
}

// listIndexes are the indexes migration 0140 adds for the listing.
var listIndexes = []string{"jobs_list_created", "jobs_list_state", "jobs_list_destination", "jobs_list_submitter"}

// BenchmarkListIndexWriteCost: the write path (enqueue from 8 goroutines;
// claim and complete by 4 workers) with and without the listing's
// indexes, over 100,000 finished jobs already in the table: what the
// indexes cost the hot path.
func BenchmarkListIndexWriteCost(b *testing.B) {
	ctx := context.Background()
	for _, idx := range []string{"with", "without"} {
		pool := pgtest.NewDB(b)
		loadJobs(b, pool, 100_000)
		if _, err := pool.Exec(ctx, `UPDATE jobs SET state = 'sent', finished_at = created_at WHERE state = 'pending'`); err != nil {
			b.Fatal(err)
		}
		if idx == "without" {
			for _, name := range listIndexes {
				if _, err := pool.Exec(ctx, "DROP INDEX "+name); err != nil {
					b.Fatal(err)
				}
			}
		}
		if _, err := pool.Exec(ctx, "VACUUM ANALYZE jobs"); err != nil {
			b.Fatal(err)
		}
		q, err := queue.New(pool, queue.Config{Logger: quiet})
		if err != nil {
			b.Fatal(err)
		}
		b.Run("indexes="+idx+"/op=enqueue", func(b *testing.B) {
			var next atomic.Int64
			parallel(b, enqueuers, func() error {
				_, _, err := q.Enqueue(ctx, benchRequest(int(next.Add(1))))
				return err
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "jobs/s")
		})
		b.Run("indexes="+idx+"/op=claim-complete", func(b *testing.B) {
			claimComplete(b, ctx, pool, q, 4)
		})
		pool.Close()
	}
}

// claimComplete drains b.N fresh pending jobs with workers workers, each
// completing a job and claiming its next in one call, as a channel does.
func claimComplete(b *testing.B, ctx context.Context, pool *pgxpool.Pool, q *queue.Queue, workers int) {
	if _, err := pool.Exec(ctx, `UPDATE jobs SET state = 'cancelled', finished_at = now() WHERE state = 'pending'`); err != nil {
		b.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `
		INSERT INTO jobs (request_hash, max_attempts, destination, document, pages_total)
		SELECT '\x00', 5, (4930000000 + g)::text, 'spool/doc.tiff', 2 FROM generate_series(1, $1) g`, b.N); err != nil {
		b.Fatal(err)
	}
	node, err := q.Register(ctx, queue.NodeInfo{ID: fmt.Sprint("bench-", b.N), Capacity: workers}, queue.NodeConfig{TTL: time.Hour})
	if err != nil {
		b.Fatal(err)
	}
	defer node.Deregister(ctx)
	b.ResetTimer()
	var done atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			jobs, err := q.Claim(ctx, node.Lease(), 1)
			for err == nil && len(jobs) > 0 {
				j := jobs[0]
				_, jobs, err = q.CompleteAndClaim(ctx, j.ID, j.Token, queue.Result{Pages: 2}, node.Lease(), 1)
				if err == nil {
					done.Add(1)
				}
			}
			if err != nil {
				b.Error(err)
			}
		}()
	}
	wg.Wait()
	b.StopTimer()
	if done.Load() != int64(b.N) {
		b.Fatalf("completed %d of %d", done.Load(), b.N)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "jobs/s")
}
