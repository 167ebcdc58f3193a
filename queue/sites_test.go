package queue_test

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/faxd/faxd/internal/pgtest"
	"github.com/faxd/faxd/queue"
)

// prefixSites prefers the site named by the number's first digit (1: a,
// 2: b, 3: c), like a router whose cheapest route for 1... is at site a.
type prefixSites struct{}

func (prefixSites) PreferredSite(number string) string {
	switch {
	case strings.HasPrefix(number, "1"):
		return "a"
	case strings.HasPrefix(number, "2"):
		return "b"
	case strings.HasPrefix(number, "3"):
		return "c"
	}
	return ""
}

// Site preference: a job is claimed by its preferred site's node; another
// site takes it once the wait has passed since it became due (a job
// scheduled an hour ago is past it, one scheduled a minute ago is not), at
// once when the preferred site has no live node, and jobs without a
// preference go to anyone.
func TestSitePreference(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	q, na, nb := twoSites(t, prefixSites{}, 2*time.Minute)
	claim := func(n *queue.Node) []queue.Job {
		t.Helper()
		jobs, err := q.Claim(ctx, n.Lease(), 10)
		if err != nil {
			t.Fatal(err)
		}
		return jobs
	}
	ids := func(js []queue.Job) (out []int64) {
		for _, j := range js {
			out = append(out, j.ID)
		}
		return out
	}
	at := func(dest string, ago time.Duration) queue.Job {
		r := req(dest)
		r.SendAfter = time.Now().Add(-ago)
		return enqueue(t, q, r)
	}
	fresh := at("1001", time.Minute) // preferred a, a minute into its 2-minute wait
	if got := claim(nb); len(got) != 0 {
		t.Fatalf("site b claimed %v during site a's wait", ids(got))
	}
	if got := claim(na); len(got) != 1 || got[0].ID != fresh.ID {
		t.Fatalf("site a claimed %v, want [%d]", ids(got), fresh.ID)
	}
	stale := at("1002", time.Hour) // preferred a, wait over: overflow
	gone := at("3001", 0)          // preferred c: no node there
	open := at("4001", 0)          // no preference
	got := claim(nb)
	if len(got) != 3 || got[0].ID != stale.ID || got[1].ID != gone.ID || got[2].ID != open.ID {
		t.Fatalf("site b claimed %v, want [%d %d %d]", ids(got), stale.ID, gone.ID, open.ID)
	}
	// Site a goes down: its preferred jobs go to b at once.
	down := at("1003", 0)
	if got := claim(nb); len(got) != 0 {
		t.Fatalf("site b claimed %v while a is up", ids(got))
	}
	if err := na.Deregister(ctx); err != nil {
		t.Fatal(err)
	}
	if got := claim(nb); len(got) != 1 || got[0].ID != down.ID {
		t.Fatalf("with a down, site b claimed %v, want [%d]", ids(got), down.ID)
	}
	nodes, err := q.Nodes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(nodes) != 2 || nodes[0].Site != "a" || nodes[1].Site != "b" {
		t.Fatalf("nodes %+v", nodes)
	}
}

// Load balancing: among live active balancing nodes of a site, only those
// with the most free channels (as of their last heartbeat) claim; a dead
// or standby node with more does not hold them back, nor does a node of
// another site, and a node that does not balance always claims.
func TestBalancedClaims(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	q := newQueue(t, pgtest.NewDSN(t))
	reg := func(id, site, role string, free int, balance bool) *queue.Node {
		t.Helper()
		n, err := q.Register(ctx, queue.NodeInfo{ID: id, Site: site, Role: role, Capacity: 10, Balance: balance}, queue.NodeConfig{})
		if err != nil {
			t.Fatal(err)
		}
		n.SetFree(free)
		if err := n.Renew(ctx); err != nil {
			t.Fatal(err)
		}
		return n
	}
	n1 := reg("n1", "a", "active", 5, true)
	n2 := reg("n2", "a", "active", 3, true)
	n3 := reg("n3", "a", "active", 5, true)
	reg("sb", "a", "standby", 9, true)
	dead := reg("dead", "a", "active", 9, true)
	if err := dead.Deregister(ctx); err != nil {
		t.Fatal(err)
	}
	nb := reg("nb", "b", "active", 9, true)
	plain := reg("plain", "a", "active", 0, false)
	for i := range 20 {
		enqueue(t, q, req(fmt.Sprintf("49%d", i)))
	}
	claims := func(n *queue.Node) int {
		t.Helper()
		jobs, err := q.Claim(ctx, n.Lease(), 1)
		if err != nil {
			t.Fatal(err)
		}
		return len(jobs)
	}
	want := map[*queue.Node]int{n1: 1, n2: 0, n3: 1, nb: 1, plain: 1}
	for n, w := range want {
		if got := claims(n); got != w {
			t.Fatalf("node %s claimed %d, want %d", n.ID(), got, w)
		}
	}
	// n1 fills up: n3 alone has the most; then n2 overtakes both.
	n1.SetFree(2)
	if err := n1.Renew(ctx); err != nil {
		t.Fatal(err)
	}
	if claims(n1) != 0 || claims(n3) != 1 {
		t.Fatal("after n1 filled up, want n3 only")
	}
	n3.SetFree(1)
	if err := n3.Renew(ctx); err != nil {
		t.Fatal(err)
	}
	if claims(n3) != 0 || claims(n2) != 1 || claims(n1) != 0 {
		t.Fatal("with n2 the emptiest, want n2 only")
	}
}

// switchSites prefers whatever site it is set to, like a router whose
// preferred site's gateways went out of rotation.
type switchSites struct{ site atomic.Value }

func (s *switchSites) PreferredSite(string) string { v, _ := s.site.Load().(string); return v }

// A retry goes to the site preferred when the attempt failed, not the one
// preferred at enqueue: after site a's gateways failed, the job is b's at
// once (a's node no longer takes it within the wait), and it does not stay
// with a dead site.
func TestSiteRecomputedOnRetry(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	prefer := &switchSites{}
	prefer.site.Store("a")
	q, na, nb := twoSites(t, prefer, time.Hour)
	j := enqueue(t, q, req("4930123"))
	if got, err := q.Claim(ctx, nb.Lease(), 1); err != nil || len(got) != 0 {
		t.Fatalf("site b claimed a's job within the wait: %v %v", got, err)
	}
	c := claimOne(t, q, na)
	if c.ID != j.ID {
		t.Fatalf("claimed %d, want %d", c.ID, j.ID)
	}
	// The attempt failed on a's gateways; the router now prefers b.
	prefer.site.Store("b")
	if _, err := q.Fail(ctx, c.ID, c.Token, queue.Failure{Class: queue.ClassRoute, Reason: "every gateway is down"}); err != nil {
		t.Fatal(err)
	}
	due := func() {
		t.Helper()
		if _, err := q.Pool().Exec(ctx, `UPDATE jobs SET run_at = now(), site_until = site_until - (run_at - now()) WHERE id = $1`, j.ID); err != nil {
			t.Fatal(err)
		}
	}
	due()
	if got, err := q.Claim(ctx, na.Lease(), 1); err != nil || len(got) != 0 {
		t.Fatalf("site a claimed the retry that b should send: %v %v", got, err)
	}
	c = claimOne(t, q, nb)
	if c.ID != j.ID {
		t.Fatalf("b claimed %d, want %d", c.ID, j.ID)
	}
	// b's gateways fail too and no site reaches the number: anyone may
	// take the next retry.
	prefer.site.Store("")
	if _, err := q.Fail(ctx, c.ID, c.Token, queue.Failure{Class: queue.ClassRoute, Reason: "down"}); err != nil {
		t.Fatal(err)
	}
	due()
	if c := claimOne(t, q, na); c.ID != j.ID {
		t.Fatalf("a claimed %d, want %d", c.ID, j.ID)
	}
}

// twoSites is a queue whose jobs prefer sites as sites says, after wait,
// with a node on site a and one on site b.
func twoSites(t *testing.T, sites queue.SitePreferrer, wait time.Duration) (q *queue.Queue, na, nb *queue.Node) {
	t.Helper()
	q, err := queue.New(pgtest.Pool(t, pgtest.NewDSN(t)), queue.Config{Retry: noJitter(), Logger: quiet, Sites: sites, SiteWait: wait})
	if err != nil {
		t.Fatal(err)
	}
	reg := func(id, site string) *queue.Node {
		n, err := q.Register(context.Background(), queue.NodeInfo{ID: id, Site: site, Capacity: 4}, queue.NodeConfig{})
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	return q, reg("na", "a"), reg("nb", "b")
}
