package server

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/faxd/faxd/internal/config"
	"github.com/faxd/faxd/queue"
	"github.com/faxd/faxd/routing"
)

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
		Sites:              &s.sites,
		SiteWait:           s.cfg.Channel.SiteOverflowWait,
	})
	if err != nil {
		return err
	}
	var liveness *pgx.ConnConfig
	if dsn := s.cfg.Queue.LivenessDSN; dsn != "" {
		if liveness, err = pgx.ParseConfig(dsn); err != nil {
			return errors.New("queue.liveness_dsn: not a valid PostgreSQL connection string (value not shown)")
		}
	}
	node, err := q.Register(ctx, queue.NodeInfo{
		ID: s.cfg.Node.ID, Address: s.HTTPAddr(), Role: s.cfg.Node.Role, Capacity: s.cfg.Channels.Count,
		Site: s.cfg.Node.Site, Balance: s.cfg.Node.Balance,
	}, queue.NodeConfig{
		TTL:       s.cfg.Queue.LeaseTTL.D(),
		Interval:  s.cfg.Queue.HeartbeatInterval.D(),
		TakeOver:  s.cfg.Node.Role == "active",
		Probe:     s.cfg.Queue.ProbeInterval.D(),
		LeaseOnly: !s.cfg.Queue.LivenessSession,
		Liveness:  liveness,
	})
	if err != nil {
		return fmt.Errorf("register node %s: %w", s.cfg.Node.ID, err)
	}
	if s.cfg.Node.Role == "active" {
		node.SetFree(s.cfg.Channels.Count)
	} // a standby offers nothing until it is promoted
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
	return nil
}

// routerSites gives the queue the router's site preference once the
// channels have built the router (the queue opens first); before that,
// and on a node without channels, jobs get no preference.
type routerSites struct {
	r atomic.Pointer[routing.Router]
}

func (rs *routerSites) PreferredSite(number string) string {
	if r := rs.r.Load(); r != nil {
		return r.PreferredSite(number)
	}
	return ""
}

func (rs *routerSites) NextCheapWindow(number string) (time.Time, error) {
	if r := rs.r.Load(); r != nil {
		return r.NextCheapWindow(number)
	}
	return time.Now(), nil
}
