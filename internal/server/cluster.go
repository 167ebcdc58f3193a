package server

import (
	"context"

	"github.com/faxd/faxd/internal/cluster"
)

// runMembership watches the other servers every heartbeat: a server whose
// lease runs out, or that comes back, is reported to the administrators
// (notify.admin_emails, notify.admin_webhooks) and in faxd_cluster_node_live.
func (s *Server) runMembership(ctx context.Context) {
	s.members.Run(ctx, s.cfg.Queue.HeartbeatInterval.D())
}

func (s *Server) openMembership() {
	s.members = cluster.NewWatcher(s.Queue, s.notify.notifier, s.cfg.Node.ID, s.log.With("component", "cluster"), s.Metrics.Registry)
}
