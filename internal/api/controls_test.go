package api

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/faxd/faxd/queue"
)

// Deadline and kill_after: accepted and shown; bad values get a 400
// naming the field.
func TestSubmitDeadline(t *testing.T) {
	e := newEnv(t, Config{})
	at := time.Now().Add(2 * time.Hour).UTC().Truncate(time.Second)
	r := e.submit(e.sub, fmt.Sprintf(`{"to":"+4930111","deadline":%q}`, at.Format(time.RFC3339)), []doc{textDoc("a\n")})
	var f Fax
	r.json(t, &f)
	if r.status != 201 || f.Deadline == nil || !f.Deadline.Equal(at) {
		t.Fatalf("deadline: %d %+v", r.status, f)
	}
	r = e.submit(e.sub, `{"to":"+4930112","kill_after":"90m"}`, []doc{textDoc("b\n")})
	r.json(t, &f)
	if r.status != 201 || f.Deadline == nil || !f.Deadline.Equal(f.CreatedAt.Add(90*time.Minute)) {
		t.Fatalf("kill_after: %d %+v", r.status, f)
	}
	r = e.do("GET", fmt.Sprintf("/v1/faxes?to=%s", "%2B4930112"), e.sub, nil, "")
	var list FaxList
	r.json(t, &list)
	if r.status != 200 || len(list.Faxes) != 1 || list.Faxes[0].Deadline == nil {
		t.Fatalf("list shows no deadline: %d %s", r.status, r.body)
	}
	for fax, want := range map[string]string{
		`{"to":"+4930113","deadline":"2001-01-01T00:00:00Z"}`:                     "deadline: must be in the future",
		`{"to":"+4930113","kill_after":"soon"}`:                                   `kill_after "soon"`,
		`{"to":"+4930113","kill_after":"10s"}`:                                    `kill_after "10s"`,
		`{"to":"+4930113","kill_after":"1h","deadline":"2099-01-01T00:00:00Z"}`:   "not both",
		`{"to":"+4930113","send_after":"2099-01-01T00:00:00Z","kill_after":"1h"}`: "kill_after: ends before send_after",
	} {
		r := e.submit(e.sub, fax, []doc{textDoc("c\n")})
		if p := r.problem(t); r.status != 400 || !strings.Contains(p.Detail, want) {
			t.Errorf("%s: %d %q, want 400 naming %q", fax, r.status, p.Detail, want)
		}
	}
}

// Resend: a finished fax only; the new fax has the old one's pages, names
// it, and the old one lists it; another number; idempotency; others'
// faxes are not found.
func TestResendFax(t *testing.T) {
	e := newEnv(t, Config{})
	ctx := context.Background()
	r := e.submit(e.sub, `{"to":"+4930221","header":"ACME"}`, []doc{textDoc("resend me\n")})
	var old Fax
	r.json(t, &old)
	path := fmt.Sprintf("/v1/faxes/%d/resend", old.ID)

	r = e.do("POST", path, e.sub, nil, "")
	if p := r.problem(t); r.status != 409 || !strings.Contains(p.Detail, "only a finished fax") {
		t.Fatalf("resend of a pending fax: %d %+v", r.status, p)
	}
	node, err := e.queue.Register(ctx, queue.NodeInfo{ID: "n1", Capacity: 1}, queue.NodeConfig{})
	if err != nil {
		t.Fatal(err)
	}
	jobs, err := e.queue.Claim(ctx, node.Lease(), 1)
	if err != nil || len(jobs) != 1 {
		t.Fatalf("claim: %v %d", err, len(jobs))
	}
	if _, err := e.queue.Fail(ctx, jobs[0].ID, jobs[0].Token, queue.Failure{Class: queue.ClassPermanent, Reason: "rejected"}); err != nil {
		t.Fatal(err)
	}

	r = e.do("POST", path, e.sub, nil, "", "Idempotency-Key", "again-1")
	var first Fax
	r.json(t, &first)
	if r.status != 201 || first.ResentFrom != old.ID || first.To != old.To || first.Header != "ACME" ||
		first.State != queue.Pending || r.header.Get("Location") != fmt.Sprintf("/v1/faxes/%d", first.ID) {
		t.Fatalf("resend: %d %+v", r.status, first)
	}
	r = e.do("POST", path, e.sub, nil, "", "Idempotency-Key", "again-1")
	var dup Fax
	r.json(t, &dup)
	if r.status != 200 || dup.ID != first.ID {
		t.Fatalf("repeated resend: %d id %d, want 200 id %d", r.status, dup.ID, first.ID)
	}
	r = e.doJSON("POST", path, e.sub, map[string]any{"to": "+49 30 2229", "kill_after": "2h"})
	var second Fax
	r.json(t, &second)
	if r.status != 201 || second.To != "+49302229" || second.Deadline == nil {
		t.Fatalf("resend to another number: %d %+v", r.status, second)
	}
	// Both documents are the same pages.
	a := e.do("GET", fmt.Sprintf("/v1/faxes/%d/document?format=tiff", old.ID), e.sub, nil, "")
	b := e.do("GET", fmt.Sprintf("/v1/faxes/%d/document?format=tiff", second.ID), e.sub, nil, "")
	if a.status != 200 || string(a.body) != string(b.body) {
		t.Errorf("resent pages differ: %d %d bytes", len(a.body), len(b.body))
	}
	r = e.do("GET", fmt.Sprintf("/v1/faxes/%d", old.ID), e.sub, nil, "")
	var got Fax
	r.json(t, &got)
	if !slices.Equal(got.Resends, []int64{first.ID, second.ID}) {
		t.Errorf("old fax lists resends %v, want %d and %d", got.Resends, first.ID, second.ID)
	}

	r = e.doJSON("POST", path, e.sub, map[string]any{"to": "x"})
	if p := r.problem(t); r.status != 400 || !strings.HasPrefix(p.Detail, "to:") {
		t.Errorf("bad number: %d %+v", r.status, p)
	}
	r = e.doJSON("POST", path, e.sub, map[string]any{"bogus": 1})
	if p := r.problem(t); r.status != 400 || !strings.Contains(p.Detail, "bogus") {
		t.Errorf("unknown field: %d %+v", r.status, p)
	}
	// Another submitter's fax does not exist for this one.
	r = e.submit(e.admin, `{"to":"+4930223"}`, []doc{textDoc("ops\n")})
	var opsFax Fax
	r.json(t, &opsFax)
	r = e.do("POST", fmt.Sprintf("/v1/faxes/%d/resend", opsFax.ID), e.sub, nil, "")
	if r.status != 404 {
		t.Errorf("resend of another submitter's fax: %d, want 404", r.status)
	}
}
