package server

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
)

// Advisory lock keys: one node at a time runs each periodic task.
const (
	purgeLockKey        = 0x66617864_70757267 // "faxdpurg": the queue purge
	archivePurgeLockKey = 0x66617864_61726368 // "faxdarch": the archive purge
)

// exclusiveTask runs fn every interval on whichever node holds the
// task's advisory lock in db at that moment; the others skip the round.
type exclusiveTask struct {
	name    string
	db      *pgxpool.Pool
	lockKey int64
	every   time.Duration
	fn      func(context.Context) (int64, error)
	done    prometheus.Counter
}

func (s *Server) newTask(name string, db *pgxpool.Pool, lockKey int64, every time.Duration, help string, fn func(context.Context) (int64, error)) *exclusiveTask {
	c := prometheus.NewCounter(prometheus.CounterOpts{Namespace: "faxd", Name: name + "_total", Help: help})
	s.Metrics.Registry.MustRegister(c)
	return &exclusiveTask{name: name, db: db, lockKey: lockKey, every: every, fn: fn, done: c}
}

// loop waits one interval, then runs, until ctx ends.
func (t *exclusiveTask) loop(ctx context.Context, s *Server) {
	tick := time.NewTicker(t.every)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		if n, err := t.once(ctx); err != nil {
			if ctx.Err() == nil {
				s.log.Warn(t.name, "err", err)
			}
		} else if n > 0 {
			s.log.Info(t.name, "rows", n)
		}
	}
}

// once runs the task if no other node holds its lock and returns the
// number of rows it reports.
func (t *exclusiveTask) once(ctx context.Context) (int64, error) {
	conn, err := t.db.Acquire(ctx)
	if err != nil {
		return 0, err
	}
	defer conn.Release()
	var got bool
	if err := conn.QueryRow(ctx, "SELECT pg_try_advisory_lock($1)", t.lockKey).Scan(&got); err != nil {
		return 0, err
	}
	if !got {
		return 0, nil
	}
	defer conn.Exec(context.Background(), "SELECT pg_advisory_unlock($1)", t.lockKey)
	n, err := t.fn(ctx)
	t.done.Add(float64(n))
	return n, err
}
