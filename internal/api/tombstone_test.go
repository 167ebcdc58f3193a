package api

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/faxd/faxd/internal/api/tokens"
	"github.com/faxd/faxd/queue"
)

// DELETE of a fax: 409 while unfinished, 404 for another submitter's fax;
// on a finished fax 204, its document set and blobs are gone (rows and
// bytes counted), the deletion is audited, and GET, downloads and a
// second DELETE answer 410 naming who deleted it.
func TestDeleteFax(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{})
	ctx := context.Background()
	other, _, err := tokens.New(e.pool).Create(ctx, "payroll", tokens.Submitter)
	if err != nil {
		t.Fatal(err)
	}
	var keep Fax // another fax whose documents must survive
	e.submit(e.sub, `{"to":"+4930332"}`, []doc{textDoc("keep me\n")}).json(t, &keep)
	r := e.submit(e.sub, `{"to":"+4930331"}`, []doc{textDoc("delete me, a different text\n")})
	var f Fax
	r.json(t, &f)
	path := fmt.Sprintf("/v1/faxes/%d", f.ID)

	r = e.do("DELETE", path, e.sub, nil, "")
	if p := r.problem(t); r.status != 409 || !strings.Contains(p.Detail, "pending") {
		t.Fatalf("delete of a pending fax: %d %+v", r.status, p)
	}
	// Finish it: claimed and failed (the keep fax stays pending).
	node, err := e.queue.Register(ctx, queue.NodeInfo{ID: "n1", Capacity: 2}, queue.NodeConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.queue.Cancel(ctx, keep.ID, "test"); err != nil {
		t.Fatal(err)
	}
	jobs, err := e.queue.Claim(ctx, node.Lease(), 1)
	if err != nil || len(jobs) != 1 || jobs[0].ID != f.ID {
		t.Fatalf("claim: %v %+v", err, jobs)
	}
	if _, err := e.queue.Fail(ctx, f.ID, jobs[0].Token, queue.Failure{Class: queue.ClassPermanent, Reason: "rejected"}); err != nil {
		t.Fatal(err)
	}

	r = e.do("DELETE", path, other, nil, "")
	if r.status != 404 {
		t.Fatalf("delete of another submitter's fax: %d %s", r.status, r.body)
	}
	// The relay has published the result (the archive has its copy): until
	// then the document store keeps a set an outbox row names.
	if _, err := e.pool.Exec(ctx, `UPDATE outbox SET published_at = now() WHERE published_at IS NULL`); err != nil {
		t.Fatal(err)
	}
	sets, blobs, bytes := e.docCounts()
	r = e.do("DELETE", path+"?reason=sent+to+the+wrong+customer", e.sub, nil, "")
	if r.status != 204 {
		t.Fatalf("delete: %d %s", r.status, r.body)
	}
	sets2, blobs2, bytes2 := e.docCounts()
	if sets2 != sets-1 || blobs2 >= blobs || bytes2 >= bytes {
		t.Fatalf("documents before sets=%d blobs=%d bytes=%d, after sets=%d blobs=%d bytes=%d", sets, blobs, bytes, sets2, blobs2, bytes2)
	}
	for _, p := range []string{path, path + "/document", path + "/document?format=pdf"} {
		r = e.do("GET", p, e.sub, nil, "")
		if pr := r.problem(t); r.status != 410 || !strings.Contains(pr.Detail, "deleted by billing at ") ||
			!strings.Contains(pr.Detail, "wrong customer") || pr.Type != problemPrefix+"gone" {
			t.Fatalf("GET %s after delete: %d %+v", p, r.status, pr)
		}
	}
	// A second DELETE (by an admin) is 410 as well; nothing changes.
	r = e.do("DELETE", path, e.admin, nil, "")
	if pr := r.problem(t); r.status != 410 || !strings.Contains(pr.Detail, "deleted by billing") {
		t.Fatalf("second delete: %d %+v", r.status, pr)
	}
	// The other fax is whole.
	r = e.do("GET", fmt.Sprintf("/v1/faxes/%d/document", keep.ID), e.sub, nil, "")
	if r.status != 200 || len(r.body) == 0 {
		t.Fatalf("the other fax's document: %d", r.status)
	}
	var audited int
	if err := e.pool.QueryRow(ctx, `SELECT count(*) FROM audit_log WHERE object_type = 'fax' AND action = 'delete' AND object_id = $1 AND actor = 'billing'`,
		fmt.Sprint(f.ID)).Scan(&audited); err != nil || audited != 1 {
		t.Fatalf("audit rows: %d %v", audited, err)
	}
}

// An operator or admin may delete any finished fax.
func TestDeleteFaxByAdmin(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{})
	var f Fax
	e.submit(e.sub, `{"to":"+4930341"}`, []doc{textDoc("x\n")}).json(t, &f)
	if _, err := e.queue.Cancel(context.Background(), f.ID, "test"); err != nil {
		t.Fatal(err)
	}
	path := fmt.Sprintf("/v1/faxes/%d", f.ID)
	if r := e.do("DELETE", path, e.admin, nil, ""); r.status != 204 {
		t.Fatalf("admin delete: %d %s", r.status, r.body)
	}
	r := e.do("GET", path, e.sub, nil, "")
	if p := r.problem(t); r.status != 410 || !strings.Contains(p.Detail, "deleted by ops") {
		t.Fatalf("after admin delete: %d %+v", r.status, p)
	}
}

func (e *env) docCounts() (sets, blobs, bytes int64) {
	e.t.Helper()
	err := e.pool.QueryRow(context.Background(),
		`SELECT (SELECT count(*) FROM docstore_sets), (SELECT count(*) FROM docstore_blobs), (SELECT coalesce(sum(size), 0) FROM docstore_blobs)`).
		Scan(&sets, &blobs, &bytes)
	if err != nil {
		e.t.Fatal(err)
	}
	return sets, blobs, bytes
}
