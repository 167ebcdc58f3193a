package api

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/faxd/faxd/archive"
	"github.com/faxd/faxd/internal/api/tokens"
	"github.com/faxd/faxd/internal/docstore"
	"github.com/faxd/faxd/internal/inbound"
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
	// The listing keeps the deleted fax, marked.
	var list FaxList
	if r := e.do("GET", "/v1/faxes", e.sub, nil, ""); r.status != 200 {
		t.Fatalf("list: %d %s", r.status, r.body)
	} else {
		r.json(t, &list)
	}
	marked := map[int64]bool{}
	for _, x := range list.Faxes {
		marked[x.ID] = x.DeletedAt != nil
		if x.ID == f.ID && (x.DeletedAt == nil || x.DeletedBy != "billing" || x.DeleteReason != "sent to the wrong customer") {
			t.Errorf("the deleted fax in the list: %+v", x)
		}
	}
	if d, ok := marked[f.ID]; !ok || !d || marked[keep.ID] {
		t.Fatalf("listed and marked deleted: %v (deleted %d, kept %d)", marked, f.ID, keep.ID)
	}
	var audited int
	if err := e.pool.QueryRow(ctx, `SELECT count(*) FROM audit_log WHERE object_type = 'fax' AND action = 'delete' AND object_id = $1 AND actor = 'billing'`,
		fmt.Sprint(f.ID)).Scan(&audited); err != nil || audited != 1 {
		t.Fatalf("audit rows: %d %v", audited, err)
	}
	// The audit log shows it (its answer checked against openapi.yaml).
	var al AuditList
	if r := e.do("GET", "/v1/audit?object_type=fax&action=delete", e.admin, nil, ""); r.status != 200 {
		t.Fatalf("audit: %d %s", r.status, r.body)
	} else if r.json(t, &al); len(al.Entries) != 1 || al.Entries[0].ObjectID != fmt.Sprint(f.ID) {
		t.Fatalf("audit entries: %+v", al.Entries)
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

// DELETE of a received fax: only operators and admins; 204, then the fax
// and everything naming it answer 410 naming who deleted it, while the
// received list, the mailbox and the archive search keep showing it
// marked deleted and without a document. Its pages are gone from the
// archive and from the server's document store; the other fax is whole;
// the deletion is audited and on its way to every archiver.
func TestDeleteReceived(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{RateLimit: 1000, RateBurst: 1000})
	ctx := context.Background()
	if r := e.doJSON("POST", "/v1/inbound-rules", e.admin, map[string]any{"priority": 1,
		"number":      map[string]any{"kind": "prefix", "value": "+4930"},
		"destination": map[string]any{"kind": "mailbox", "mailbox": "legal"}}); r.status != 201 {
		t.Fatalf("rule: %d %s", r.status, r.body)
	}
	keep := e.archiveReceived("+4930777", "+4989111", 1)
	rec := e.archiveReceived("+4930555", "+4989222", 2)
	// The receiving server's copy of the pages, as the inbound channel
	// stores it.
	store := docstore.New(e.pool, docstore.Config{})
	ref, err := store.Put(ctx, docstore.NewSet{Recipe: "received " + rec.Key,
		Sources: []docstore.Source{{Filename: "fax.pdf", ContentType: "application/pdf", Data: []byte("%PDF-1.4 test")}},
		Pages:   faxTIFF(t, 2, 99), PageCount: 2})
	if err != nil {
		t.Fatal(err)
	}
	rec.Document, rec.Version = ref, rec.Version+1
	if _, err := e.archive.Upsert(ctx, rec); err != nil {
		t.Fatal(err)
	}
	for _, x := range []archive.Record{keep, rec} {
		x, _ := e.archive.GetByKey(ctx, x.Key)
		if _, err := inbound.RouteArchived(ctx, e.archive, e.inbound, x); err != nil {
			t.Fatal(err)
		}
	}
	path := fmt.Sprintf("/v1/received/%d", rec.ID)

	if r := e.do("DELETE", path, e.sub, nil, ""); r.status != 403 {
		t.Fatalf("delete by a submitter: %d %s", r.status, r.body)
	}
	if r := e.do("DELETE", "/v1/received/999999", e.admin, nil, ""); r.status != 404 {
		t.Fatalf("delete of no fax: %d %s", r.status, r.body)
	}
	if r := e.do("DELETE", path+"?reason="+strings.Repeat("x", 501), e.admin, nil, ""); r.status != 400 || !strings.Contains(string(r.body), "reason") {
		t.Fatalf("delete with a long reason: %d %s", r.status, r.body)
	}
	if r := e.do("DELETE", path+"?reason=privacy+request", e.admin, nil, ""); r.status != 204 {
		t.Fatalf("delete: %d %s", r.status, r.body)
	}

	for _, p := range []string{path, path + "/document", path + "/document?format=tiff", path + "/thumbnail", path + "/reroutes"} {
		r := e.do("GET", p, e.admin, nil, "")
		if pr := r.problem(t); r.status != 410 || pr.Type != problemPrefix+"gone" ||
			!strings.Contains(pr.Detail, "deleted by ops at ") || !strings.Contains(pr.Detail, "privacy request") {
			t.Fatalf("GET %s after delete: %d %+v", p, r.status, pr)
		}
	}
	for _, m := range []string{"POST", "DELETE"} {
		if r := e.do(m, path+"/read", e.admin, nil, ""); r.status != 410 {
			t.Fatalf("%s read mark after delete: %d %s", m, r.status, r.body)
		}
	}
	if r := e.do("DELETE", path, e.admin, nil, ""); r.status != 410 || !strings.Contains(string(r.body), "deleted by ops") {
		t.Fatalf("second delete: %d %s", r.status, r.body)
	}

	// Listed, marked, without a document.
	check := func(what string, id int64, deletedAt *time.Time, by, reason string, hasDoc bool) {
		t.Helper()
		switch {
		case id == rec.ID && (deletedAt == nil || by != "ops" || reason != "privacy request" || hasDoc):
			t.Errorf("%s: the deleted fax shows deleted_at %v by %q reason %q has_document %v", what, deletedAt, by, reason, hasDoc)
		case id == keep.ID && (deletedAt != nil || by != "" || !hasDoc):
			t.Errorf("%s: the other fax shows deleted_at %v by %q has_document %v", what, deletedAt, by, hasDoc)
		}
	}
	var list ReceivedList
	if r := e.do("GET", "/v1/received", e.admin, nil, ""); r.status != 200 {
		t.Fatalf("list: %d %s", r.status, r.body)
	} else {
		r.json(t, &list)
	}
	seen := 0
	for _, f := range list.Received {
		if f.ID == rec.ID || f.ID == keep.ID {
			seen++
			check("GET /v1/received", f.ID, f.DeletedAt, f.DeletedBy, f.DeleteReason, f.HasDocument)
		}
	}
	var arch ArchiveList
	e.do("GET", "/v1/archive?direction=inbound", e.admin, nil, "").json(t, &arch)
	for _, f := range arch.Faxes {
		if f.ID == rec.ID || f.ID == keep.ID {
			seen++
			check("GET /v1/archive", f.ID, f.DeletedAt, f.DeletedBy, f.DeleteReason, f.HasDocument)
		}
	}
	var mb struct {
		Entries []MailboxEntry `json:"entries"`
	}
	e.do("GET", "/v1/mailboxes/legal", e.admin, nil, "").json(t, &mb)
	for _, en := range mb.Entries {
		if en.Fax != nil && (en.Fax.ID == rec.ID || en.Fax.ID == keep.ID) {
			seen++
			check("GET /v1/mailboxes/legal", en.Fax.ID, en.Fax.DeletedAt, en.Fax.DeletedBy, en.Fax.DeleteReason, en.Fax.HasDocument)
		}
	}
	if seen != 6 {
		t.Fatalf("the two faxes were listed %d times in the three listings, want 6", seen)
	}

	// The pages are gone from the archive and the document store; the
	// other fax's are not.
	for sha, want := range map[string]int{rec.DocumentSHA256: 0, keep.DocumentSHA256: 1} {
		var n int
		if err := e.pool.QueryRow(ctx, `SELECT count(*) FROM documents WHERE sha256 = $1`, sha).Scan(&n); err != nil || n != want {
			t.Fatalf("archive documents %s: %d, want %d (%v)", sha, n, want, err)
		}
	}
	if _, err := store.Get(ctx, ref); !errors.Is(err, docstore.ErrNotFound) {
		t.Fatalf("the document store still has the pages: %v", err)
	}
	if r := e.do("GET", fmt.Sprintf("/v1/received/%d/document", keep.ID), e.admin, nil, ""); r.status != 200 {
		t.Fatalf("the other fax's document: %d", r.status)
	}
	var audited, outbox int
	if err := e.pool.QueryRow(ctx, `SELECT count(*) FROM audit_log WHERE object_type = 'received_fax' AND action = 'delete' AND object_id = $1 AND actor = 'ops' AND detail = 'privacy request'`,
		fmt.Sprint(rec.ID)).Scan(&audited); err != nil || audited != 1 {
		t.Fatalf("audit rows: %d %v", audited, err)
	}
	if err := e.pool.QueryRow(ctx, `SELECT count(*) FROM outbox WHERE topic = $1 AND key = $2 AND payload->>'deleted_by' = 'ops'`,
		archive.TopicRecordDeleted, rec.Key).Scan(&outbox); err != nil || outbox != 1 {
		t.Fatalf("outbox rows for the archivers: %d %v", outbox, err)
	}
}
