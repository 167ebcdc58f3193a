// Package cluster watches the other faxd servers through the nodes table
// of the queue database: which are live, and when one goes down or comes
// back, so administrators hear of it at once (R15). Every node watches;
// the notifications are keyed on the transition, so the cluster sends one
// notice per event however many nodes see it.
package cluster

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/faxd/faxd/internal/notify"
	"github.com/faxd/faxd/queue"
)

// Nodes lists the membership table; *queue.Queue implements it.
type Nodes interface {
	Nodes(ctx context.Context) ([]queue.NodeStatus, error)
}

// Alerter is told of transitions; *notify.Notifier implements it.
type Alerter interface {
	ServerDown(ctx context.Context, e notify.ServerEvent) error
	ServerUp(ctx context.Context, e notify.ServerEvent) error
}

// Watcher polls the membership and reports transitions.
type Watcher struct {
	nodes Nodes
	alert Alerter
	self  string
	log   *slog.Logger
	now   func() time.Time

	mu    sync.Mutex
	known map[string]nodeState
	live  *prometheus.GaugeVec
}

type nodeState struct {
	live      bool
	lastBeat  time.Time
	downSince time.Time
}

// NewWatcher watches on behalf of node self. reg may be nil.
func NewWatcher(nodes Nodes, alert Alerter, self string, log *slog.Logger, reg prometheus.Registerer) *Watcher {
	w := &Watcher{nodes: nodes, alert: alert, self: self, log: log, now: time.Now, known: map[string]nodeState{},
		live: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: "faxd", Name: "cluster_node_live",
			Help: "1 while the named server's lease in the queue database is live and its process is there, 0 once the lease expired or its liveness session ended.",
		}, []string{"node"})}
	if reg != nil {
		reg.MustRegister(w.live)
	}
	return w
}

// Run polls every interval until ctx ends.
func (w *Watcher) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if err := w.Check(ctx); err != nil && ctx.Err() == nil {
			w.log.Warn("cluster membership check", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Check reads the membership once and alerts on every transition since the
// last check. A node seen for the first time raises nothing: its history
// before this process started is unknown. A transition whose alert fails
// is kept pending and alerted again at the next check.
func (w *Watcher) Check(ctx context.Context) error {
	list, err := w.nodes.Nodes(ctx)
	if err != nil {
		return err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, n := range list {
		// A node whose process is gone is down at once, whatever its lease
		// still says.
		n.Live = n.Live && !n.ProcessGone
		v := 0.0
		if n.Live {
			v = 1
		}
		w.live.WithLabelValues(n.ID).Set(v)
		if n.ID == w.self {
			continue
		}
		prev, seen := w.known[n.ID]
		next := nodeState{live: n.Live, lastBeat: n.LastHeartbeat, downSince: prev.downSince}
		switch {
		case !seen:
			if !n.Live {
				next.downSince = n.LastHeartbeat
			}
		case prev.live && !n.Live:
			ev := notify.ServerEvent{Node: n.ID, LastHeartbeat: n.LastHeartbeat, Incarnation: n.Incarnation, ReportedBy: w.self, At: w.now()}
			if err := w.alert.ServerDown(ctx, ev); err != nil {
				w.log.Warn("server down: notice not queued yet", "server", n.ID, "err", err)
				continue // state unchanged: alerted again next time
			}
			w.log.Error("server down", "server", n.ID, "last_heartbeat", n.LastHeartbeat)
			next.downSince = n.LastHeartbeat
		case !prev.live && n.Live:
			ev := notify.ServerEvent{Node: n.ID, LastHeartbeat: n.LastHeartbeat, Incarnation: n.Incarnation,
				DownSince: prev.downSince, ReportedBy: w.self, At: w.now()}
			if err := w.alert.ServerUp(ctx, ev); err != nil {
				w.log.Warn("server up: notice not queued yet", "server", n.ID, "err", err)
				continue
			}
			w.log.Info("server up", "server", n.ID, "down_since", prev.downSince)
			next.downSince = time.Time{}
		}
		w.known[n.ID] = next
	}
	return nil
}

// Live lists the servers whose lease is live at the last check.
func (w *Watcher) Live() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []string
	for id, s := range w.known {
		if s.live {
			out = append(out, id)
		}
	}
	return out
}
