package server

import (
	"context"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/faxd/faxd/internal/config"
	"github.com/faxd/faxd/queue"
)

// purgeLockKey is the advisory lock that lets one node at a time purge.
const purgeLockKey = 0x66617864_70757267 // "faxdpurg"

// RetryPolicy turns the configuration's first delays into the queue's
// back-off rules: doubling, capped at max_delay, with 10% jitter so a
// burst of busy numbers does not come back all at once.
func RetryPolicy(r config.Retry) queue.RetryPolicy {
	b := func(first config.Duration) queue.Backoff {
		return queue.Backoff{Initial: queue.Duration(first), Max: queue.Duration(r.MaxDelay), Factor: 2, Jitter: 0.1}
	}
	return queue.RetryPolicy{
		queue.ClassBusy:      b(r.Busy),
		queue.ClassNoAnswer:  b(r.NoAnswer),
		queue.ClassRoute:     b(r.Gateway),
		queue.ClassProtocol:  b(r.Protocol),
		queue.ClassPermanent: {NoRetry: true},
	}
}

// openQueue builds the queue and registers this node. An active node takes
// over dead nodes' jobs after each heartbeat; a standby only shows itself.
func (s *Server) openQueue(ctx context.Context) error {
	q, err := queue.New(s.DB.Queue, queue.Config{
		Retry:              RetryPolicy(s.cfg.Queue.Retry),
		DefaultMaxAttempts: s.cfg.Queue.MaxAttempts,
		Logger:             s.log.With("component", "queue"),
	})
	if err != nil {
		return err
	}
	node, err := q.Register(ctx, queue.NodeInfo{
		ID: s.cfg.Node.ID, Address: s.HTTPAddr(), Role: s.cfg.Node.Role, Capacity: s.cfg.Channels.Count,
	}, queue.NodeConfig{
		TTL:      s.cfg.Queue.LeaseTTL.D(),
		Interval: s.cfg.Queue.HeartbeatInterval.D(),
		TakeOver: s.cfg.Node.Role == "active",
	})
	if err != nil {
		return fmt.Errorf("register node %s: %w", s.cfg.Node.ID, err)
	}
	node.SetFree(s.cfg.Channels.Count)
	s.Queue, s.Node = q, node
	s.Metrics.Registry.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Namespace: "faxd", Name: "node_lease_held",
		Help: "1 while this node's lease in the queue database is guaranteed; 0 means its channels must not transmit.",
	}, func() float64 {
		if s.Node.Lease().Err() != nil {
			return 0
		}
		return 1
	}))
	s.purged = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: "faxd", Name: "queue_purged_jobs_total",
		Help: "Finished jobs deleted from the queue after queue.purge_after.",
	})
	s.Metrics.Registry.MustRegister(s.purged)
	return nil
}

// purgeLoop deletes finished jobs older than queue.purge_after. The
// advisory lock makes one node at a time do it; the others skip the round.
func (s *Server) purgeLoop(ctx context.Context) {
	every := min(time.Hour, s.cfg.Queue.PurgeAfter.D()/10)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if n, err := s.purgeOnce(ctx); err != nil {
			if ctx.Err() == nil {
				s.log.Warn("queue purge", "err", err)
			}
		} else if n > 0 {
			s.log.Info("queue purged", "jobs", n, "older_than", s.cfg.Queue.PurgeAfter)
		}
	}
}

// purgeOnce purges if no other node holds the purge lock; it returns the
// number of jobs deleted.
func (s *Server) purgeOnce(ctx context.Context) (int64, error) {
	conn, err := s.DB.Queue.Acquire(ctx)
	if err != nil {
		return 0, err
	}
	defer conn.Release()
	var got bool
	if err := conn.QueryRow(ctx, "SELECT pg_try_advisory_lock($1)", int64(purgeLockKey)).Scan(&got); err != nil {
		return 0, err
	}
	if !got {
		return 0, nil
	}
	defer conn.Exec(context.Background(), "SELECT pg_advisory_unlock($1)", int64(purgeLockKey))
	n, err := s.Queue.Purge(ctx, s.cfg.Queue.PurgeAfter.D())
	s.purged.Add(float64(n))
	return n, err
}
