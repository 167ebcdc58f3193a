package server

import (
	"context"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/faxd/faxd/internal/api"
	"github.com/faxd/faxd/internal/cluster"
	"github.com/faxd/faxd/internal/sip"
)

// standbyParts are the active/standby disaster recovery (R17, R18) of a
// node whose node.role is standby: the controller watching the primary,
// the configuration sync, and the takeover of orphaned jobs once promoted.
type standbyParts struct {
	ctl      *cluster.Controller
	sync     *cluster.Syncer // nil without standby.sync.primary_dsn
	takeover atomic.Bool     // promoted: take over dead nodes' jobs each heartbeat
}

// primaryName names the primary in notices and the one-standby-per-primary
// pairing: its node id, else its URL.
func primaryName(c cluster.StandbyConfig) string {
	if c.PrimaryID != "" {
		return c.PrimaryID
	}
	return c.PrimaryURL
}

// openStandby builds the controller of a standby node; an active node has
// none. It runs after the queue, the notifier and before the channels: the
// actions reach the channel pool only when they run.
func (s *Server) openStandby(ctx context.Context) error {
	if s.cfg.Node.Role != "standby" {
		return nil
	}
	cfg := s.cfg.Standby
	log := s.log.With("component", "standby")
	store := cluster.NewStandbyStore(s.DB.Queue)
	if err := store.Pair(ctx, s.cfg.Node.ID, primaryName(cfg)); err != nil {
		return err
	}
	notices := cluster.AdminNotices{N: s.notify.notifier}
	p := &standbyParts{}
	p.ctl = cluster.NewController(cfg, cluster.StandbyDeps{
		Self:     s.cfg.Node.ID,
		Probe:    cluster.NewProbe(cfg, s.Queue, &http.Client{Timeout: cfg.ProbeTimeout}),
		Actions:  standbyActions{s, p},
		Notifier: notices,
		Store:    store,
		Log:      log,
		OnRole:   s.setRoleMetric,
		// The primary's process, watched through its liveness session
		// between heartbeats: its death is acted on at once.
		Watch:         cluster.NewWatch(cfg, s.Queue),
		WatchInterval: s.cfg.Queue.ProbeInterval.D(),
	})
	if err := p.ctl.Start(ctx); err != nil {
		return err
	}
	if cfg.Sync.PrimaryDSN != "" {
		var err error
		if p.sync, err = cluster.NewSyncer(s.cfg.Node.ID, primaryName(cfg), cfg.Sync, s.DB.Queue, notices, log); err != nil {
			return err
		}
		p.sync.Skip = func() bool { return p.ctl.Role() == cluster.RolePrimary }
	}
	s.standby = p
	log.Info("standing by", "primary", primaryName(cfg), "automatic", p.ctl.Status().Automatic,
		"on_failure", cfg.OnFailure, "sync", p.sync != nil)
	return nil
}

// runStandby watches the primary, syncs on schedule and, while promoted,
// takes over dead nodes' jobs after each heartbeat (the node was
// registered without TakeOver, being a standby). It also keeps the role in
// the nodes table right: a re-registration after a lease loss writes the
// configured role again.
func (s *Server) runStandby(ctx context.Context) {
	p := s.standby
	if p == nil {
		return
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Add(1)
	go func() { defer wg.Done(); p.ctl.Run(ctx) }()
	if p.sync != nil {
		wg.Add(1)
		go func() { defer wg.Done(); p.sync.Run(ctx) }()
	}
	t := time.NewTicker(s.cfg.Queue.HeartbeatInterval.D())
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		s.writeNodeRole(ctx, p.ctl.Role())
		if p.takeover.Load() {
			s.takeOver(ctx)
		}
	}
}

func (s *Server) takeOver(ctx context.Context) {
	jobs, err := s.Queue.TakeOver(ctx, s.cfg.Node.ID)
	if err != nil {
		if ctx.Err() == nil {
			s.log.Warn("standby: takeover failed", "err", err)
		}
		return
	}
	if len(jobs) > 0 {
		s.log.Info("standby: took over orphaned jobs", "jobs", len(jobs))
	}
}

// writeNodeRole shows the controller's role in the nodes table: active
// once promoted, standby otherwise.
func (s *Server) writeNodeRole(ctx context.Context, role string) {
	r := "standby"
	if role == cluster.RolePrimary {
		r = "active"
	}
	if _, err := s.DB.Queue.Exec(ctx, `UPDATE nodes SET role = $2 WHERE node_id = $1 AND role <> $2`, s.cfg.Node.ID, r); err != nil && ctx.Err() == nil {
		s.log.Warn("standby: node role not written", "role", r, "err", err)
	}
}

// setRoleMetric moves faxd_node_role to the new role.
func (s *Server) setRoleMetric(role string) {
	active := 0.0
	if role == cluster.RolePrimary {
		active = 1
	}
	s.Metrics.Role.WithLabelValues("active").Set(active)
	s.Metrics.Role.WithLabelValues("standby").Set(1 - active)
}

// standbyActions are what promotion and step-down do to this node.
type standbyActions struct {
	s *Server
	p *standbyParts
}

// Promote: channels active (claims, answers INVITEs), orphaned jobs taken
// over now and after each heartbeat, the role shown as active.
func (a standbyActions) Promote(ctx context.Context) error {
	a.p.takeover.Store(true)
	if c := a.s.channels; c != nil && c.Pool != nil {
		c.Pool.SetState(sip.StateActive)
	}
	a.s.writeNodeRole(ctx, cluster.RolePrimary)
	a.s.takeOver(ctx)
	return nil
}

// StepDown: no more takeovers; the channels drain (503 to new INVITEs, no
// claims, calls in progress finish, for up to channel.drain_timeout) and
// go back to standby. A call still running after the timeout finishes on
// its own: its job's fencing token keeps it from being sent twice.
func (a standbyActions) StepDown(ctx context.Context) error {
	a.p.takeover.Store(false)
	if c := a.s.channels; c != nil && c.Pool != nil {
		c.Pool.SetState(sip.StateDraining)
		deadline := time.Now().Add(a.s.cfg.Channel.DrainTimeout)
		for {
			out, in := c.Pool.Busy()
			if out+in == 0 {
				break
			}
			if time.Now().After(deadline) || ctx.Err() != nil {
				a.s.log.Warn("standby: calls still in progress after the drain timeout; they finish, nothing new starts",
					"outbound", out, "inbound", in)
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		c.Pool.SetState(sip.StateStandby)
	}
	a.s.writeNodeRole(ctx, cluster.RoleStandby)
	return nil
}

// clusterControl is the API's view of the cluster (api.Cluster).
type clusterControl struct{ s *Server }

func (s *Server) clusterAPI() api.Cluster { return clusterControl{s} }

func (c clusterControl) Node() string { return c.s.cfg.Node.ID }

func (c clusterControl) Standby() (api.StandbyView, bool) {
	p := c.s.standby
	if p == nil {
		return api.StandbyView{}, false
	}
	v := api.StandbyView{StandbyStatus: p.ctl.Status()}
	if p.sync != nil {
		v.SyncConfigured = true
		v.NextSync, v.LastSync, v.LastSyncError = p.sync.Status()
	}
	return v, true
}

func (c clusterControl) ctl() (*cluster.Controller, error) {
	if c.s.standby == nil {
		return nil, cluster.ErrNotStandby
	}
	return c.s.standby.ctl, nil
}

func (c clusterControl) Promote(ctx context.Context, actor string) error {
	ctl, err := c.ctl()
	if err != nil {
		return err
	}
	return ctl.Promote(ctx, actor)
}

func (c clusterControl) Demote(ctx context.Context, actor string) error {
	ctl, err := c.ctl()
	if err != nil {
		return err
	}
	return ctl.Demote(ctx, actor)
}

func (c clusterControl) Enable(ctx context.Context, actor string) error {
	ctl, err := c.ctl()
	if err != nil {
		return err
	}
	return ctl.Enable(ctx, actor)
}

func (c clusterControl) Disable(ctx context.Context, actor string) error {
	ctl, err := c.ctl()
	if err != nil {
		return err
	}
	return ctl.Disable(ctx, actor)
}

func (c clusterControl) SyncNow(ctx context.Context, actor string) error {
	if _, err := c.ctl(); err != nil {
		return err
	}
	if c.s.standby.sync == nil {
		return cluster.ErrNoSync
	}
	c.s.log.Info("configuration sync requested", "by", actor)
	_, err := c.s.standby.sync.SyncNow(ctx)
	return err
}
