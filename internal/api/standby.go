package api

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/faxd/faxd/internal/api/tokens"
	"github.com/faxd/faxd/internal/audit"
	"github.com/faxd/faxd/internal/cluster"
	"github.com/faxd/faxd/queue"
)

// Cluster is this node's view of the cluster and its standby controls
// (R17, R22); internal/server implements it. Without one (Deps.Cluster
// nil) GET /v1/cluster lists the nodes table and the controls answer 409.
type Cluster interface {
	Node() string
	// Standby reports this node's standby; false: it is not a standby.
	Standby() (StandbyView, bool)
	Promote(ctx context.Context, actor string) error
	Demote(ctx context.Context, actor string) error
	Enable(ctx context.Context, actor string) error
	Disable(ctx context.Context, actor string) error
	SyncNow(ctx context.Context, actor string) error
}

// StandbyView is the controller's status plus the sync schedule.
type StandbyView struct {
	cluster.StandbyStatus
	SyncConfigured bool
	NextSync       time.Time
	LastSync       time.Time
	LastSyncError  string
}

// NodeJSON is one row of the nodes table.
type NodeJSON struct {
	ID             string    `json:"id"`
	Role           string    `json:"role"`
	Live           bool      `json:"live"`
	Address        string    `json:"address"`
	Incarnation    int64     `json:"incarnation"`
	StartedAt      time.Time `json:"started_at"`
	LastHeartbeat  time.Time `json:"last_heartbeat"`
	LeaseExpiresAt time.Time `json:"lease_expires_at"`
	Capacity       int       `json:"capacity"`
	FreeChannels   int       `json:"free_channels"`
	Site           string    `json:"site,omitempty"`
}

// StandbyJSON is this node's standby state.
type StandbyJSON struct {
	Node                 string     `json:"node"`
	State                string     `json:"state"` // watching, promoted, disabled
	Role                 string     `json:"role"`  // standby, primary
	Automatic            bool       `json:"automatic"`
	OnFailure            string     `json:"on_failure"`
	PrimaryID            string     `json:"primary_id,omitempty"`
	PrimaryURL           string     `json:"primary_url,omitempty"`
	ConsecutiveFailures  int        `json:"consecutive_failures"`
	ConsecutiveSuccesses int        `json:"consecutive_successes"`
	Threshold            int        `json:"threshold"`
	LastCheck            *time.Time `json:"last_check,omitempty"`
	LastOK               *time.Time `json:"last_ok,omitempty"`
	LastError            string     `json:"last_error,omitempty"`
	NextCheck            *time.Time `json:"next_check,omitempty"`
	ChangedAt            *time.Time `json:"changed_at,omitempty"`
	ChangedBy            string     `json:"changed_by,omitempty"`
	Reason               string     `json:"reason,omitempty"`
	Sync                 bool       `json:"sync"`
	NextSync             *time.Time `json:"next_sync,omitempty"`
	LastSync             *time.Time `json:"last_sync,omitempty"`
	LastSyncError        string     `json:"last_sync_error,omitempty"`
}

// ClusterJSON is the body of GET /v1/cluster.
type ClusterJSON struct {
	Node    string       `json:"node,omitempty"` // the node that answered
	Nodes   []NodeJSON   `json:"nodes"`
	Standby *StandbyJSON `json:"standby"`
}

func optTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	t = t.UTC()
	return &t
}

func standbyJSON(v StandbyView) *StandbyJSON {
	return &StandbyJSON{
		Node: v.Node, State: v.State, Role: v.Role, Automatic: v.Automatic, OnFailure: v.OnFailure,
		PrimaryID: v.PrimaryID, PrimaryURL: v.PrimaryURL,
		ConsecutiveFailures: v.ConsecutiveFailures, ConsecutiveSuccesses: v.ConsecutiveSuccesses, Threshold: v.Threshold,
		LastCheck: optTime(v.LastCheck), LastOK: optTime(v.LastOK), LastError: v.LastError, NextCheck: optTime(v.NextCheck),
		ChangedAt: optTime(v.ChangedAt), ChangedBy: v.ChangedBy, Reason: v.Reason,
		Sync: v.SyncConfigured, NextSync: optTime(v.NextSync), LastSync: optTime(v.LastSync), LastSyncError: v.LastSyncError,
	}
}

func (a *API) clusterRoutes() []route {
	return []route{
		{"GET", "/v1/cluster", needOperator, a.getCluster},
		{"POST", "/v1/cluster/standby/promote", tokens.Admin, a.standbyControl(Cluster.Promote, "promote", "promoted")},
		{"POST", "/v1/cluster/standby/demote", tokens.Admin, a.standbyControl(Cluster.Demote, "demote", "demoted")},
		{"POST", "/v1/cluster/standby/enable", tokens.Admin, a.standbyControl(Cluster.Enable, "enable", "automatic failover enabled")},
		{"POST", "/v1/cluster/standby/disable", tokens.Admin, a.standbyControl(Cluster.Disable, "disable", "automatic failover disabled")},
		{"POST", "/v1/cluster/standby/sync", tokens.Admin, a.standbyControl(Cluster.SyncNow, "sync", "configuration synced")},
	}
}

func (a *API) getCluster(w http.ResponseWriter, r *http.Request, c *caller) error {
	nodes, err := a.queue.Nodes(r.Context())
	if err != nil {
		return err
	}
	out := ClusterJSON{Nodes: make([]NodeJSON, 0, len(nodes))}
	for _, n := range nodes {
		out.Nodes = append(out.Nodes, nodeJSON(n))
	}
	if a.cluster != nil {
		out.Node = a.cluster.Node()
		if v, ok := a.cluster.Standby(); ok {
			out.Standby = standbyJSON(v)
		}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func nodeJSON(n queue.NodeStatus) NodeJSON {
	return NodeJSON{ID: n.ID, Role: n.Role, Live: n.Live, Address: n.Address, Incarnation: n.Incarnation,
		StartedAt: n.StartedAt.UTC(), LastHeartbeat: n.LastHeartbeat.UTC(), LeaseExpiresAt: n.LeaseExpiresAt.UTC(),
		Capacity: n.Capacity, FreeChannels: n.FreeChannels, Site: n.Site}
}

// standbyControl runs one manual control on this node's standby and
// answers with its state afterwards. The audit entry follows a control
// that succeeded: a control is not one database transaction (a sync
// reads the primary over the network), so it cannot share one.
func (a *API) standbyControl(op func(Cluster, context.Context, string) error, action, done string) func(http.ResponseWriter, *http.Request, *caller) error {
	return func(w http.ResponseWriter, r *http.Request, c *caller) error {
		if a.cluster == nil {
			return newProblem(http.StatusConflict, "conflict", "this server is not a standby (node.role is active)")
		}
		var before *StandbyJSON
		if v, ok := a.cluster.Standby(); ok {
			before = standbyJSON(v)
		}
		err := op(a.cluster, r.Context(), c.Name)
		switch {
		case errors.Is(err, cluster.ErrNotStandby):
			return newProblem(http.StatusConflict, "conflict", "server %s is not a standby (node.role is active); send standby controls to the standby itself", a.cluster.Node())
		case errors.Is(err, cluster.ErrNoPrimary):
			return newProblem(http.StatusConflict, "conflict", "server %s has no primary to watch: set standby.primary_id or standby.primary_url", a.cluster.Node())
		case errors.Is(err, cluster.ErrNoSync):
			return newProblem(http.StatusConflict, "conflict", "server %s has no configuration sync: set standby.sync.primary_dsn", a.cluster.Node())
		case err != nil:
			a.log.Error("standby control failed", "op", done, "by", c.Name, "err", err)
			return newProblem(http.StatusServiceUnavailable, "unavailable", "%s", err.Error())
		}
		a.log.Info("standby: "+done, "by", c.Name)
		v, _ := a.cluster.Standby()
		ch := audit.Change{Action: action, ObjectType: audit.Standby, ObjectID: a.cluster.Node(), Before: before, After: standbyJSON(v), Detail: done}
		a.stamp(&ch, r, c)
		if _, err := audit.Record(r.Context(), a.pool, ch); err != nil {
			// The control happened; losing its record is logged loudly.
			a.log.Error("standby control not recorded in the audit log", "op", action, "by", c.Name, "err", err)
		}
		writeJSON(w, http.StatusOK, map[string]any{"standby": standbyJSON(v)})
		return nil
	}
}
