package queue_test

// Benchmarks of the queue against River (github.com/riverqueue/river) on the
// same PostgreSQL in the same run. See docs/queue.md, "Benchmarks".

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"

	"github.com/faxd/faxd/internal/pgcluster"
	"github.com/faxd/faxd/internal/pgtest"
	"github.com/faxd/faxd/queue"
	"github.com/faxd/faxd/schemas"
)

type benchArgs struct {
	Destination string `json:"destination"`
	Document    string `json:"document"`
}

func (benchArgs) Kind() string { return "fax" }

type benchWorker struct {
	river.WorkerDefaults[benchArgs]
	work func()
}

func (w *benchWorker) Work(ctx context.Context, job *river.Job[benchArgs]) error {
	w.work()
	return nil
}

// benchDB is one database holding both the faxd queue and River's tables.
type benchDB struct {
	pool *pgxpool.Pool
	q    *queue.Queue
}

// benchDSN is the benchmarks' database: by default on the test harness's
// cluster (Fast mode: fsync, synchronous_commit and full_page_writes off);
// with FAXD_BENCH_DURABLE=1 on a cluster of its own with the server's
// settings (all three on). Both queues always share the cluster and its
// settings.
func benchDSN(b testing.TB) string {
	if os.Getenv("FAXD_BENCH_DURABLE") != "1" {
		return pgtest.NewDSN(b)
	}
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "faxd-bench-")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = os.RemoveAll(dir) })
	c, err := pgcluster.Start(ctx, pgcluster.Options{Dir: filepath.Join(dir, "data"), Fast: false})
	if errors.Is(err, pgcluster.ErrNoBinaries) {
		b.Skip("PostgreSQL server binaries (initdb, postgres) missing: install postgresql")
	}
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = c.Stop(context.Background()) })
	dsn := c.DSN("postgres")
	pool, err := pgxpool.New(ctx, dsn)
	if err != nil {
		b.Fatal(err)
	}
	defer pool.Close()
	if err := schemas.Migrate(ctx, pool, schemas.Queue); err != nil {
		b.Fatal(err)
	}
	return dsn
}

func newBenchDB(b testing.TB) *benchDB {
	b.Helper()
	ctx := context.Background()
	dsn := benchDSN(b)
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		b.Fatal(err)
	}
	cfg.MaxConns = 40
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(pool.Close)
	mig, err := rivermigrate.New(riverpgxv5.New(pool), nil)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := mig.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		b.Fatal(err)
	}
	q, err := queue.New(pool, queue.Config{Logger: quiet})
	if err != nil {
		b.Fatal(err)
	}
	return &benchDB{pool: pool, q: q}
}

func (d *benchDB) reset(b *testing.B) {
	b.Helper()
	for _, sql := range []string{"TRUNCATE jobs, job_history, outbox, river_job, gateway_slots CASCADE", "VACUUM ANALYZE jobs", "VACUUM ANALYZE river_job"} {
		if _, err := d.pool.Exec(context.Background(), sql); err != nil {
			b.Fatal(err)
		}
	}
}

// riverClient makes a River client tuned for throughput and latency: the
// shortest fetch cooldown River allows, so that River is not held back by
// its defaults.
func riverClient(b *testing.B, pool *pgxpool.Pool, workers int, work func()) *river.Client[pgx.Tx] {
	b.Helper()
	cfg := &river.Config{Logger: quiet, FetchCooldown: time.Millisecond, FetchPollInterval: 100 * time.Millisecond}
	if workers > 0 {
		ws := river.NewWorkers()
		river.AddWorker(ws, &benchWorker{work: work})
		cfg.Workers = ws
		cfg.Queues = map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: workers}}
	}
	c, err := river.NewClient(riverpgxv5.New(pool), cfg)
	if err != nil {
		b.Fatal(err)
	}
	return c
}

func benchRequest(i int) queue.Request {
	return queue.Request{Destination: fmt.Sprint(4930000000 + i), Document: "spool/doc.tiff", PagesTotal: 2}
}

const enqueuers = 8

// BenchmarkEnqueue: single-job inserts from 8 goroutines.
func BenchmarkEnqueue(b *testing.B) {
	d := newBenchDB(b)
	b.Run("impl=faxd", func(b *testing.B) {
		d.reset(b)
		var next atomic.Int64
		b.ResetTimer()
		parallel(b, enqueuers, func() error {
			_, _, err := d.q.Enqueue(context.Background(), benchRequest(int(next.Add(1))))
			return err
		})
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "jobs/s")
	})
	b.Run("impl=river", func(b *testing.B) {
		d.reset(b)
		c := riverClient(b, d.pool, 0, nil)
		var next atomic.Int64
		b.ResetTimer()
		parallel(b, enqueuers, func() error {
			r := benchRequest(int(next.Add(1)))
			_, err := c.Insert(context.Background(), benchArgs{Destination: r.Destination, Document: r.Document}, nil)
			return err
		})
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "jobs/s")
	})
}

// parallel runs b.N calls of f over g goroutines.
func parallel(b *testing.B, g int, f func() error) {
	var left atomic.Int64
	left.Store(int64(b.N))
	var wg sync.WaitGroup
	var once sync.Once
	for range g {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for left.Add(-1) >= 0 {
				if err := f(); err != nil {
					once.Do(func() { b.Error(err) })
					return
				}
			}
		}()
	}
	wg.Wait()
}

// BenchmarkClaimComplete: b.N queued jobs drained by W workers, each
// working one job at a time (a fax channel takes one call): faxd's worker
// claims, then hands in each finished job and gets its next in one call
// (CompleteAndClaim), as a channel does. faxd pays for its fencing token,
// history rows and outbox record; the clock stops when every completion is
// committed (River: Stop flushes its batched completions).
func BenchmarkClaimComplete(b *testing.B) {
	d := newBenchDB(b)
	ctx := context.Background()
	for _, workers := range []int{1, 4, 16} {
		b.Run(fmt.Sprintf("impl=faxd/workers=%d", workers), func(b *testing.B) {
			d.reset(b)
			if _, err := d.pool.Exec(ctx, `
				INSERT INTO jobs (request_hash, max_attempts, destination, document, pages_total)
				SELECT '\x00', 5, (4930000000 + g)::text, 'spool/doc.tiff', 2 FROM generate_series(1, $1) g`, b.N); err != nil {
				b.Fatal(err)
			}
			node, err := d.q.Register(ctx, queue.NodeInfo{ID: "bench", Capacity: workers}, queue.NodeConfig{TTL: time.Hour})
			if err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			var done atomic.Int64
			var wg sync.WaitGroup
			for range workers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					jobs, err := d.q.Claim(ctx, node.Lease(), 1)
					for err == nil && len(jobs) > 0 {
						j := jobs[0]
						_, jobs, err = d.q.CompleteAndClaim(ctx, j.ID, j.Token, queue.Result{Pages: 2}, node.Lease(), 1)
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
		})
		b.Run(fmt.Sprintf("impl=river/workers=%d", workers), func(b *testing.B) {
			d.reset(b)
			ins := riverClient(b, d.pool, 0, nil)
			params := make([]river.InsertManyParams, b.N)
			for i := range params {
				r := benchRequest(i)
				params[i] = river.InsertManyParams{Args: benchArgs{Destination: r.Destination, Document: r.Document}}
			}
			if _, err := ins.InsertManyFast(ctx, params); err != nil {
				b.Fatal(err)
			}
			var worked atomic.Int64
			all := make(chan struct{})
			c := riverClient(b, d.pool, workers, func() {
				if worked.Add(1) == int64(b.N) {
					close(all)
				}
			})
			b.ResetTimer()
			if err := c.Start(ctx); err != nil {
				b.Fatal(err)
			}
			<-all
			if err := c.Stop(ctx); err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			var completed int
			if err := d.pool.QueryRow(ctx, "SELECT count(*) FROM river_job WHERE state = 'completed'").Scan(&completed); err != nil {
				b.Fatal(err)
			}
			if completed != b.N {
				b.Fatalf("River completed %d of %d", completed, b.N)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "jobs/s")
		})
	}
}

// BenchmarkDispatchLatency: one job at a time is enqueued while 4 workers
// sit idle; the latency is from the start of the enqueue to the claim.
func BenchmarkDispatchLatency(b *testing.B) {
	d := newBenchDB(b)
	ctx := context.Background()
	const workers = 4
	b.Run("impl=faxd", func(b *testing.B) {
		d.reset(b)
		node, err := d.q.Register(ctx, queue.NodeInfo{ID: "bench", Capacity: workers}, queue.NodeConfig{TTL: time.Hour})
		if err != nil {
			b.Fatal(err)
		}
		w := d.q.NewWaiter(time.Second)
		defer w.Close()
		for !w.Listening() {
			time.Sleep(time.Millisecond)
		}
		claimed := make(chan time.Time, 1)
		wctx, stop := context.WithCancel(ctx)
		var wg sync.WaitGroup
		for range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for wctx.Err() == nil {
					mark := w.Mark()
					jobs, err := d.q.Claim(wctx, node.Lease(), 1)
					if err != nil {
						if wctx.Err() == nil {
							b.Error(err)
						}
						return
					}
					if len(jobs) == 0 {
						_ = w.WaitSince(wctx, mark)
						continue
					}
					claimed <- time.Now()
					if _, err := d.q.Complete(wctx, jobs[0].ID, jobs[0].Token, queue.Result{}); err != nil && wctx.Err() == nil {
						b.Error(err)
					}
				}
			}()
		}
		lat := make([]time.Duration, 0, b.N)
		b.ResetTimer()
		for i := range b.N {
			t0 := time.Now()
			if _, _, err := d.q.Enqueue(ctx, benchRequest(i)); err != nil {
				b.Fatal(err)
			}
			lat = append(lat, (<-claimed).Sub(t0))
		}
		b.StopTimer()
		stop()
		wg.Wait()
		reportLatency(b, lat)
	})
	b.Run("impl=river", func(b *testing.B) {
		d.reset(b)
		claimed := make(chan time.Time, 1)
		c := riverClient(b, d.pool, workers, func() { claimed <- time.Now() })
		if err := c.Start(ctx); err != nil {
			b.Fatal(err)
		}
		defer c.Stop(ctx)
		time.Sleep(200 * time.Millisecond) // let the notifier connect
		lat := make([]time.Duration, 0, b.N)
		b.ResetTimer()
		for i := range b.N {
			r := benchRequest(i)
			t0 := time.Now()
			if _, err := c.Insert(ctx, benchArgs{Destination: r.Destination, Document: r.Document}, nil); err != nil {
				b.Fatal(err)
			}
			lat = append(lat, (<-claimed).Sub(t0))
		}
		b.StopTimer()
		reportLatency(b, lat)
	})
}

func reportLatency(b *testing.B, lat []time.Duration) {
	slices.Sort(lat)
	pct := func(p float64) float64 {
		i := int(p * float64(len(lat)-1))
		return float64(lat[i].Microseconds()) / 1000
	}
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
}
