package server

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/faxd/faxd/archive"
	"github.com/faxd/faxd/internal/api"
	"github.com/faxd/faxd/internal/api/tokens"
	"github.com/faxd/faxd/internal/cluster"
	"github.com/faxd/faxd/internal/config"
	"github.com/faxd/faxd/internal/notify"
	"github.com/faxd/faxd/internal/notify/notifytest"
	"github.com/faxd/faxd/internal/pgtest"
	"github.com/faxd/faxd/internal/sip"
	"github.com/faxd/faxd/queue"
)

// startNode runs a server on the queue database dsn (shared with other
// nodes); stop ends it gracefully (its lease is given up at once), and
// the test's end stops it if the test did not.
func startNode(t *testing.T, dsn string, mutate func(*config.Config)) (s *Server, stop func()) {
	t.Helper()
	cfg := config.Default()
	cfg.HTTP.Listen = "127.0.0.1:0"
	cfg.Database.QueueDSN = dsn
	cfg.NATS.EmbeddedDir = t.TempDir()
	cfg.NATS.EmbeddedListen = "127.0.0.1:0"
	cfg.SIP.ListenUDP = "127.0.0.1:0"
	// Leases of 5 s renewed every 100 ms: a node that stops gives its lease
	// up at once and a dead process is seen through its liveness session,
	// so nothing here waits for a lease to run out; a 1 s lease lapsed on a
	// loaded machine and a standby promoted itself over a live primary.
	cfg.Queue.HeartbeatInterval = config.Duration(100 * time.Millisecond)
	cfg.Queue.LeaseTTL = config.Duration(5 * time.Second)
	cfg.Secrets.KeyFile = testKeyFile(t)
	mutate(&cfg)
	if errs := cfg.Validate(); len(errs) > 0 {
		t.Fatal(errs)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s, err := New(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Error(err)
			}
			s.Close(context.Background())
		})
	}
	t.Cleanup(stop)
	return s, stop
}

// waitFor polls cond until it holds.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// clusterState reads GET /v1/cluster from a server.
func clusterState(t *testing.T, s *Server, token string) api.ClusterJSON {
	t.Helper()
	req, _ := http.NewRequest("GET", "http://"+s.HTTPAddr()+"/v1/cluster", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out api.ClusterJSON
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET /v1/cluster: %d %v", resp.StatusCode, err)
	}
	return out
}

func nodeRow(t *testing.T, c api.ClusterJSON, id string) api.NodeJSON {
	t.Helper()
	for _, n := range c.Nodes {
		if n.ID == id {
			return n
		}
	}
	t.Fatalf("no node %s in %+v", id, c.Nodes)
	return api.NodeJSON{}
}

// noticeEvents lists the events the administrators' webhook got.
// Webhooks are delivered at least once: a retry after a slow answer, or a
// second node's worker after a lease expired, repeats the same id, which
// receivers are told to deduplicate on. The notices are counted by id.
func noticeEvents(hook *notifytest.Webhook) map[string][]notify.WebhookBody {
	out := map[string][]notify.WebhookBody{}
	seen := map[string]bool{}
	for _, r := range hook.Requests() {
		var b notify.WebhookBody
		if json.Unmarshal(r.Body, &b) == nil && r.VerifyErr == nil && !seen[b.ID] {
			seen[b.ID] = true
			out[b.Event] = append(out[b.Event], b)
		}
	}
	return out
}

// Active/standby on one shared queue database (R17). The primary holds a
// three-page job with two pages confirmed when it stops. The standby
// fails three heartbeats, promotes itself, takes the job over and sends
// only the third page through its own channels; the primary's token can
// no longer write the job. When a primary with the same id comes back,
// the standby steps down: its channels go back to standby (503, no
// claims) and the administrators hear of both transitions.
func TestStandbyPromotesTakesOverAndStepsDown(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dsn := pgtest.NewDSN(t)
	hook := notifytest.StartWebhook(t, "dr-secret", nil)
	admins := func(c *config.Config) {
		c.Notify.AdminWebhooks = []notify.Webhook{{URL: hook.URL, Secret: "dr-secret"}}
		c.Notify.OutboundAllow = []string{"127.0.0.1"} // the receiver is a local test server
		c.Notify.PollInterval = 100 * time.Millisecond
	}
	primaryCfg := func(c *config.Config) {
		c.Node.ID = "fax-a" // no gateways: it never dials; the test claims for it
		admins(c)
	}
	pri, stopPri := startNode(t, dsn, primaryCfg)
	sb, _ := startNode(t, dsn, func(c *config.Config) {
		selfConfig(c)
		admins(c)
		c.Node.ID, c.Node.Role = "fax-b", "standby"
		c.Standby.PrimaryID = "fax-a"
		c.Standby.HeartbeatInterval = 100 * time.Millisecond
		c.Standby.RecheckInterval = 100 * time.Millisecond
		c.Standby.ConsecutiveFailures = 3
	})
	secret, _, err := tokens.New(sb.DB.Queue).Create(ctx, "ops", tokens.Admin)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "the standby's first good heartbeat", func() bool {
		return !sb.standby.ctl.Status().LastOK.IsZero()
	})
	// Its free channels reach the nodes table with its next heartbeat.
	waitFor(t, 5*time.Second, "the standby's 0 free channels", func() bool {
		return nodeRow(t, clusterState(t, sb, secret), "fax-b").FreeChannels == 0
	})
	c := clusterState(t, sb, secret)
	if c.Standby == nil || c.Standby.State != cluster.StateWatching || nodeRow(t, c, "fax-b").Role != "standby" ||
		!nodeRow(t, c, "fax-a").Live {
		t.Fatalf("before the failure: %+v %+v", c.Standby, c.Nodes)
	}
	if sb.channels.UA.State() != sip.StateStandby {
		t.Fatal("the standby's SIP user agent accepts calls")
	}

	// The primary claims a three-page fax and confirms two pages.
	pages := testPages(3, 80)
	job := enqueueFax(t, pri, pages, queue.Request{})
	claimed, err := pri.Queue.Claim(ctx, pri.Node.Lease(), 1)
	if err != nil || len(claimed) != 1 || claimed[0].ID != job.ID {
		t.Fatalf("primary's claim: %v %v", claimed, err)
	}
	oldToken := claimed[0].Token
	if _, err := pri.Queue.Progress(ctx, job.ID, oldToken, 2); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond) // several heartbeats: the standby holds still
	if got, _ := sb.Queue.Get(ctx, job.ID); got.State != queue.Sending || got.NodeID != "fax-a" {
		t.Fatalf("job moved while the primary lived: %+v", got)
	}

	stopPri() // mid-transmission: the job stays sending under fax-a's token
	waitFor(t, 15*time.Second, "the promotion", func() bool { return sb.standby.ctl.Status().State == cluster.StatePromoted })
	done := waitJob(t, sb, job.ID, 90*time.Second, "sent", func(j queue.Job) bool { return j.State.Final() })
	if done.State != queue.Sent || done.NodeID != "fax-b" || done.PagesConfirmed != 3 {
		t.Fatalf("job ended %s on %s with %d pages (%s)", done.State, done.NodeID, done.PagesConfirmed, done.LastReason)
	}
	in := waitArchived(t, sb, archive.Filter{Direction: archive.Inbound}, 1)[0]
	if in.Pages != 1 {
		t.Fatalf("the resumed call carried %d pages, want only the third", in.Pages)
	}
	if got := receivedPages(t, sb, in.Document); len(got) != 1 || !got[0].Bilevel.Equal(pages[2]) {
		t.Error("the page received is not the third page")
	}

	// Fencing: the old primary's token writes nothing, the job was sent once.
	if _, err := sb.Queue.Complete(ctx, job.ID, oldToken, queue.Result{Pages: 3}); !errors.Is(err, queue.ErrStaleToken) {
		t.Errorf("the old primary's completion: %v, want a stale token", err)
	}
	if _, err := sb.Queue.Progress(ctx, job.ID, oldToken, 3); !errors.Is(err, queue.ErrStaleToken) {
		t.Errorf("the old primary's progress: %v, want a stale token", err)
	}
	hist, err := sb.Queue.History(ctx, job.ID)
	if err != nil {
		t.Fatal(err)
	}
	var sent, takeovers int
	for _, h := range hist {
		if h.To == queue.Sent {
			sent++
		}
		if strings.Contains(h.Reason, "taken over from fax-a") {
			takeovers++
		}
	}
	if sent != 1 || takeovers != 1 {
		t.Errorf("history: %d sent, %d takeovers: %+v", sent, takeovers, hist)
	}

	c = clusterState(t, sb, secret)
	if c.Standby.State != cluster.StatePromoted || c.Standby.ChangedBy != cluster.ActorAutomatic || nodeRow(t, c, "fax-b").Role != "active" {
		t.Errorf("after the promotion: %+v, nodes %+v", c.Standby, c.Nodes)
	}
	if body := metricsBody(t, sb); !strings.Contains(body, `faxd_node_role{role="active"} 1`) || !strings.Contains(body, `faxd_node_role{role="standby"} 0`) {
		t.Error("faxd_node_role does not show the promotion")
	}
	waitFor(t, 20*time.Second, "the became-primary notice", func() bool { return len(noticeEvents(hook)[notify.EventBecamePrimary]) > 0 })
	var pe notify.PrimaryEvent
	if err := json.Unmarshal(noticeEvents(hook)[notify.EventBecamePrimary][0].Data, &pe); err != nil || pe.Node != "fax-b" || pe.Previous != "fax-a" {
		t.Errorf("became-primary notice %+v %v", pe, err)
	}

	// A primary comes back: the standby steps down after three good checks.
	startNode(t, dsn, primaryCfg)
	waitFor(t, 20*time.Second, "the step-down", func() bool { return sb.standby.ctl.Status().State == cluster.StateWatching })
	if sb.channels.UA.State() != sip.StateStandby {
		t.Error("the stepped-down standby still accepts calls")
	}
	waitFor(t, 5*time.Second, "the standby role in the nodes table", func() bool {
		return nodeRow(t, clusterState(t, sb, secret), "fax-b").Role == "standby"
	})
	if body := metricsBody(t, sb); !strings.Contains(body, `faxd_node_role{role="standby"} 1`) {
		t.Error("faxd_node_role does not show the step-down")
	}
	waitFor(t, 20*time.Second, "the step-down notice", func() bool { return len(noticeEvents(hook)[cluster.EventSteppedDown]) > 0 })
	if got := noticeEvents(hook)[notify.EventBecamePrimary]; len(got) != 1 {
		t.Errorf("%d became-primary notices, want 1: %+v", len(got), got)
	}
	// Back in standby it claims nothing (the new primary has no gateway).
	next := enqueueFax(t, sb, testPages(1, 80), queue.Request{})
	time.Sleep(time.Second)
	if j, _ := sb.Queue.Get(ctx, next.ID); j.State != queue.Pending {
		t.Errorf("a job enqueued after the step-down is %s on %s", j.State, j.NodeID)
	}
}

// A standby with its own queue database watches the primary's /readyz and
// copies its configuration: before the sync the primary's admin token is
// unknown to the standby, after it the token works there and the
// primary's gateway is in the standby's database. When the primary stops
// answering, the standby promotes itself.
func TestStandbyOwnDatabaseSyncAndHTTPProbe(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	priDSN := pgtest.NewDSN(t)
	pri, stopPri := startNode(t, priDSN, func(c *config.Config) { c.Node.ID = "fax-a" })
	secret, _, err := tokens.New(pri.DB.Queue).Create(ctx, "ops", tokens.Admin)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pri.DB.Queue.Exec(ctx, `INSERT INTO gateways (name, address) VALUES ('carrier', '192.0.2.7')`); err != nil {
		t.Fatal(err)
	}
	sb, _ := startNode(t, pgtest.NewDSN(t), func(c *config.Config) {
		c.Node.ID, c.Node.Role = "fax-b", "standby"
		c.Standby.PrimaryURL = "http://" + pri.HTTPAddr()
		c.Standby.HeartbeatInterval = 100 * time.Millisecond
		c.Standby.RecheckInterval = 100 * time.Millisecond
		c.Standby.ProbeTimeout = time.Second
		c.Standby.Sync.PrimaryDSN = priDSN
		c.Standby.Sync.Every = cluster.Every(24 * time.Hour)
	})
	req, _ := http.NewRequest("GET", "http://"+sb.HTTPAddr()+"/v1/cluster", nil)
	req.Header.Set("Authorization", "Bearer "+secret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("the primary's token before the sync: %d", resp.StatusCode)
	}
	if _, err := sb.standby.sync.SyncNow(ctx); err != nil {
		t.Fatal(err)
	}
	c := clusterState(t, sb, secret) // the primary's token works on the standby now
	if c.Standby == nil || !c.Standby.Sync || c.Standby.LastSync == nil || c.Standby.LastSyncError != "" || c.Standby.NextSync == nil {
		t.Fatalf("standby after the sync: %+v", c.Standby)
	}
	var addr string
	if err := sb.DB.Queue.QueryRow(ctx, `SELECT address FROM gateways WHERE name = 'carrier'`).Scan(&addr); err != nil || addr != "192.0.2.7" {
		t.Fatalf("gateway on the standby: %q %v", addr, err)
	}
	waitFor(t, 10*time.Second, "a good /readyz check", func() bool { return !sb.standby.ctl.Status().LastOK.IsZero() })
	if st := sb.standby.ctl.Status(); st.State != cluster.StateWatching {
		t.Fatalf("state %s while the primary answers", st.State)
	}
	stopPri()
	waitFor(t, 15*time.Second, "the promotion", func() bool { return sb.standby.ctl.Status().State == cluster.StatePromoted })
	if st := sb.standby.ctl.Status(); !strings.Contains(st.Reason, "/readyz") || sb.channels.UA.State() != sip.StateActive {
		t.Errorf("after the promotion: %+v, SIP %v", st, sb.channels.UA.State())
	}
}
