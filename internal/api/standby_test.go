package api

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/faxd/faxd/internal/cluster"
	"github.com/faxd/faxd/queue"
)

// fakeCluster is a standby whose controls only record who used them.
type fakeCluster struct {
	mu      sync.Mutex
	standby bool
	view    StandbyView
	calls   []string
	err     error
}

func (f *fakeCluster) Node() string { return "fax-b" }

func (f *fakeCluster) Standby() (StandbyView, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.view, f.standby
}

func (f *fakeCluster) op(name string) func(context.Context, string) error {
	return func(_ context.Context, actor string) error {
		f.mu.Lock()
		defer f.mu.Unlock()
		if !f.standby {
			return cluster.ErrNotStandby
		}
		if f.err != nil {
			return f.err
		}
		f.calls = append(f.calls, name+" by "+actor)
		if name == "promote" {
			f.view.State, f.view.Role, f.view.ChangedBy = cluster.StatePromoted, cluster.RolePrimary, actor
		}
		return nil
	}
}

func (f *fakeCluster) Promote(ctx context.Context, a string) error { return f.op("promote")(ctx, a) }
func (f *fakeCluster) Demote(ctx context.Context, a string) error  { return f.op("demote")(ctx, a) }
func (f *fakeCluster) Enable(ctx context.Context, a string) error  { return f.op("enable")(ctx, a) }
func (f *fakeCluster) Disable(ctx context.Context, a string) error { return f.op("disable")(ctx, a) }
func (f *fakeCluster) SyncNow(ctx context.Context, a string) error { return f.op("sync")(ctx, a) }

// GET /v1/cluster lists the nodes table with roles, liveness, leases and
// free channels, and this node's standby state; the controls are admin
// only, act on this node, and say so when it is not a standby.
func TestClusterAndStandbyControls(t *testing.T) {
	e := newEnv(t, Config{})
	ctx := context.Background()
	n, err := e.queue.Register(ctx, queue.NodeInfo{ID: "fax-a", Capacity: 8}, queue.NodeConfig{TTL: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	n.SetFree(5)
	if err := n.Renew(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := e.queue.Register(ctx, queue.NodeInfo{ID: "fax-b", Role: "standby", Capacity: 8}, queue.NodeConfig{TTL: time.Minute}); err != nil {
		t.Fatal(err)
	}

	// Without a Cluster (the test env): nodes, standby null, controls 409.
	var got ClusterJSON
	r := e.do("GET", "/v1/cluster", e.admin, nil, "")
	r.json(t, &got)
	if r.status != 200 || len(got.Nodes) != 2 || got.Standby != nil {
		t.Fatalf("GET /v1/cluster: %d %s", r.status, r.body)
	}
	a := got.Nodes[0]
	if a.ID != "fax-a" || a.Role != "active" || !a.Live || a.FreeChannels != 5 || a.Capacity != 8 || !a.LeaseExpiresAt.After(time.Now()) {
		t.Errorf("node a: %+v", a)
	}
	if got.Nodes[1].Role != "standby" {
		t.Errorf("node b: %+v", got.Nodes[1])
	}
	if r := e.do("POST", "/v1/cluster/standby/promote", e.admin, nil, ""); r.status != 409 {
		t.Fatalf("promote without a standby: %d", r.status)
	}
	if r := e.do("GET", "/v1/cluster", e.sub, nil, ""); r.status != 403 {
		t.Fatalf("submitter reads the cluster: %d", r.status)
	}

	// With a standby.
	f := &fakeCluster{standby: true, view: StandbyView{StandbyStatus: cluster.StandbyStatus{
		Node: "fax-b", PrimaryID: "fax-a", State: cluster.StateWatching, Role: cluster.RoleStandby, Automatic: true,
		OnFailure: cluster.OnFailurePromote, ConsecutiveFailures: 1, Threshold: 3, LastCheck: time.Now(), LastError: "primary down",
	}, SyncConfigured: true, NextSync: time.Now().Add(time.Hour)}}
	api, err := New(Config{}, Deps{Pool: e.pool, Queue: e.queue, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Cluster: f})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(api.Handler())
	t.Cleanup(srv.Close)
	e.srv = srv
	r = e.do("GET", "/v1/cluster", e.admin, nil, "")
	got = ClusterJSON{}
	r.json(t, &got)
	if r.status != 200 || got.Node != "fax-b" || got.Standby == nil || got.Standby.State != "watching" ||
		got.Standby.ConsecutiveFailures != 1 || got.Standby.NextSync == nil || got.Standby.PrimaryID != "fax-a" {
		t.Fatalf("GET /v1/cluster on a standby: %d %s", r.status, r.body)
	}
	for _, op := range []string{"promote", "demote", "enable", "disable", "sync"} {
		if r := e.do("POST", "/v1/cluster/standby/"+op, e.sub, nil, ""); r.status != 403 {
			t.Errorf("%s by a submitter: %d", op, r.status)
		}
		if r := e.do("POST", "/v1/cluster/standby/"+op, e.admin, nil, ""); r.status != 200 {
			t.Errorf("%s: %d %s", op, r.status, r.body)
		}
	}
	if want := "promote by ops,demote by ops,enable by ops,disable by ops,sync by ops"; joinCalls(f) != want {
		t.Errorf("calls %q, want %q", joinCalls(f), want)
	}
	// Each control that happened is in the audit log, with who and where.
	var al AuditList
	e.do("GET", "/v1/audit?object_type=standby", e.admin, nil, "").json(t, &al)
	var acts []string
	for _, en := range al.Entries {
		if en.Actor != "ops" || en.ObjectID != "fax-b" || en.RemoteAddr != "127.0.0.1" || en.After == nil {
			t.Errorf("standby audit entry %+v", en)
		}
		acts = append(acts, en.Action)
	}
	if got := strings.Join(acts, ","); got != "sync,disable,enable,demote,promote" {
		t.Errorf("standby audit actions %q", got)
	}
	f.err = errors.New("cluster: sync: connection refused")
	if r := e.do("POST", "/v1/cluster/standby/sync", e.admin, nil, ""); r.status != 503 || r.problem(t).Detail == "" {
		t.Errorf("failed sync: %d %s", r.status, r.body)
	}
	f.err = cluster.ErrNoPrimary
	if r := e.do("POST", "/v1/cluster/standby/enable", e.admin, nil, ""); r.status != 409 {
		t.Errorf("enable without a primary: %d %s", r.status, r.body)
	}
}

func joinCalls(f *fakeCluster) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := ""
	for i, c := range f.calls {
		if i > 0 {
			s += ","
		}
		s += c
	}
	return s
}
