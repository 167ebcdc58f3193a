package api

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"mime/multipart"
	"net/textproto"
	"strings"
	"testing"

	"github.com/faxd/faxd/internal/api/tokens"
	"github.com/faxd/faxd/queue"
)

func (e *env) submitBroadcast(token, broadcast string, docs []doc, hdr ...string) *response {
	e.t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", `form-data; name="broadcast"`)
	h.Set("Content-Type", "application/json")
	w, _ := mw.CreatePart(h)
	io.WriteString(w, broadcast)
	for _, d := range docs {
		h := textproto.MIMEHeader{}
		h.Set("Content-Disposition", fmt.Sprintf(`form-data; name="document"; filename=%q`, d.name))
		h.Set("Content-Type", d.contentType)
		w, _ := mw.CreatePart(h)
		w.Write(d.data)
	}
	mw.Close()
	return e.do("POST", "/v1/broadcasts", token, &buf, mw.FormDataContentType(), hdr...)
}

func recipientsJSON(n int) string {
	var rs []string
	for i := range n {
		rs = append(rs, fmt.Sprintf(`{"to":"+4930555%04d"}`, i))
	}
	return "[" + strings.Join(rs, ",") + "]"
}

func (e *env) broadcastFaxes(token string, id int64) []Fax {
	e.t.Helper()
	var all []Fax
	cursor := ""
	for {
		r := e.do("GET", fmt.Sprintf("/v1/broadcasts/%d/faxes?limit=2&cursor=%s", id, cursor), token, nil, "")
		if r.status != 200 {
			e.t.Fatalf("broadcast faxes: %d %s", r.status, r.body)
		}
		var l FaxList
		r.json(e.t, &l)
		all = append(all, l.Faxes...)
		if l.NextCursor == "" {
			return all
		}
		cursor = l.NextCursor
	}
}

func (e *env) getBroadcast(token string, id int64) Broadcast {
	e.t.Helper()
	r := e.do("GET", fmt.Sprintf("/v1/broadcasts/%d", id), token, nil, "")
	if r.status != 200 {
		e.t.Fatalf("get broadcast: %d %s", r.status, r.body)
	}
	var b Broadcast
	r.json(e.t, &b)
	return b
}

// TestBroadcastFlow: one document for five recipients is rendered and
// stored once and makes five faxes naming it; the counts follow the
// faxes' states; cancel-all cancels what is unfinished; the broadcast is
// done when every fax is final; the same key replays.
func TestBroadcastFlow(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{})
	body := `{"recipients":` + recipientsJSON(5) + `,"header":"ACME","callback_url":"https://app.example/bc","metadata":{"campaign":"q3"}}`
	r := e.submitBroadcast(e.sub, body, []doc{textDoc("Price list\n")}, "Idempotency-Key", "q3-prices")
	if r.status != 201 {
		t.Fatalf("submit: %d %s", r.status, r.body)
	}
	var b Broadcast
	r.json(t, &b)
	if b.Recipients != 5 || b.Counts["pending"] != 5 || b.Done || b.Submitter != "billing" || b.IdempotencyKey != "q3-prices" {
		t.Fatalf("broadcast %+v", b)
	}
	if loc := r.header.Get("Location"); loc != fmt.Sprintf("/v1/broadcasts/%d", b.ID) {
		t.Fatalf("Location %q", loc)
	}
	var sets int
	if err := e.pool.QueryRow(context.Background(), "SELECT count(*) FROM docstore_sets").Scan(&sets); err != nil {
		t.Fatal(err)
	}
	faxes := e.broadcastFaxes(e.sub, b.ID)
	if len(faxes) != 5 || sets != 1 {
		t.Fatalf("%d faxes, %d stored document sets; want 5 and 1", len(faxes), sets)
	}
	docs := map[string]bool{}
	for _, f := range faxes {
		j, err := e.queue.Get(context.Background(), f.ID)
		if err != nil {
			t.Fatal(err)
		}
		docs[j.Document] = true
		if f.Header != "ACME" || f.CallbackURL != "" || f.Metadata["campaign"] != "q3" {
			t.Fatalf("fax %+v", f)
		}
	}
	if len(docs) != 1 {
		t.Fatalf("faxes name %d documents, want one shared", len(docs))
	}
	// Replay with the same key: the same broadcast, nothing new.
	r = e.submitBroadcast(e.sub, body, []doc{textDoc("Price list\n")}, "Idempotency-Key", "q3-prices")
	var again Broadcast
	r.json(t, &again)
	if r.status != 200 || again.ID != b.ID {
		t.Fatalf("replay: %d %+v", r.status, again)
	}
	if n := len(e.broadcastFaxes(e.sub, b.ID)); n != 5 {
		t.Fatalf("replay made faxes: %d", n)
	}

	// Drive the faxes through the queue as channels would.
	ctx := context.Background()
	node, err := e.queue.Register(ctx, queue.NodeInfo{ID: "n1", Capacity: 4}, queue.NodeConfig{})
	if err != nil {
		t.Fatal(err)
	}
	claimed, err := e.queue.Claim(ctx, node.Lease(), 2)
	if err != nil || len(claimed) != 2 {
		t.Fatalf("claim: %d %v", len(claimed), err)
	}
	if _, err := e.queue.Complete(ctx, claimed[0].ID, claimed[0].Token, queue.Result{Pages: 1}); err != nil {
		t.Fatal(err)
	}
	got := e.getBroadcast(e.sub, b.ID)
	if got.Counts["sent"] != 1 || got.Counts["sending"] != 1 || got.Counts["pending"] != 3 || got.Done {
		t.Fatalf("counts %v done %v", got.Counts, got.Done)
	}
	r = e.do("POST", fmt.Sprintf("/v1/broadcasts/%d/cancel", b.ID), e.sub, nil, "")
	r.json(t, &got)
	if r.status != 202 || got.Counts["cancelled"] != 3 || got.Counts["sending"] != 1 || got.Done {
		t.Fatalf("cancel: %d %v", r.status, got.Counts)
	}
	if _, err := e.queue.Fail(ctx, claimed[1].ID, claimed[1].Token, queue.Failure{Class: queue.ClassPermanent, Reason: "hung up"}); err != nil {
		t.Fatal(err)
	}
	got = e.getBroadcast(e.sub, b.ID)
	if !got.Done || got.DoneAt == nil || got.Counts["pending"]+got.Counts["sending"] != 0 || got.Counts["sent"] != 1 {
		t.Fatalf("after the last fax: %+v", got)
	}
	r = e.do("POST", fmt.Sprintf("/v1/broadcasts/%d/cancel", b.ID), e.sub, nil, "")
	if r.status != 200 {
		t.Fatalf("cancel of a done broadcast: %d %s", r.status, r.body)
	}
}

// TestBroadcastCoverPerRecipient: each recipient's cover is its own page
// before the shared body.
func TestBroadcastCoverPerRecipient(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{})
	body := `{"recipients":[{"to":"+4930111","name":"Ann","company":"A GmbH","vars":{"account":"7"}},{"to":"+4930222","name":"Bob"}],
		"cover":{"subject":"Prices"}}`
	r := e.submitBroadcast(e.sub, body, []doc{textDoc("Price list\n")})
	if r.status != 201 {
		t.Fatalf("submit: %d %s", r.status, r.body)
	}
	var b Broadcast
	r.json(t, &b)
	faxes := e.broadcastFaxes(e.sub, b.ID)
	docs := map[string]bool{}
	for _, f := range faxes {
		j, err := e.queue.Get(context.Background(), f.ID)
		if err != nil {
			t.Fatal(err)
		}
		docs[j.Document] = true
		if f.PagesTotal != 2 {
			t.Fatalf("fax %d has %d pages, want cover + 1", f.ID, f.PagesTotal)
		}
	}
	if len(faxes) != 2 || len(docs) != 2 {
		t.Fatalf("%d faxes with %d documents, want 2 and 2 (one cover each)", len(faxes), len(docs))
	}
}

// TestBroadcastErrors: every refusal names its field and queues nothing.
func TestBroadcastErrors(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{MaxBroadcastRecipients: 3})
	for _, c := range []struct{ body, want string }{
		{`{"recipients":[{"to":"+4930111"},{"to":"12"}]}`, "recipients[1].to"},
		{`{"recipients":[{"to":"+4930111"},{"to":""}]}`, "recipients[1].to"},
		{`{"recipients":[{"to":"+4930111"},{"to":"+49 30 111"}]}`, "recipients[1].to: +4930111 is recipients[0] already"},
		{`{"recipients":` + recipientsJSON(4) + `}`, "api.max_broadcast_recipients"},
		{`{"recipients":[]}`, "recipients: at least one"},
		{`{"to":"+4930111","recipients":[{"to":"+4930222"}]}`, "to: a broadcast goes to recipients[].to"},
		{`{"recipients":[{"to":"+4930111","name":"Ann"}]}`, "recipients[0]: name, company and vars"},
		{`{"recipients":[{"to":"+4930111"}],"priority":5000}`, "priority"},
		{`{"recipients":[{"to":"+4930111","bogus":1}]}`, "bogus"},
	} {
		r := e.submitBroadcast(e.sub, c.body, []doc{textDoc("x")})
		if p := r.problem(t); r.status != 400 || !strings.Contains(p.Detail, c.want) {
			t.Errorf("%s: %d %q, want 400 naming %q", c.body, r.status, p.Detail, c.want)
		}
	}
	r := e.submitBroadcast(e.sub, `{"recipients":[{"to":"+4930111"}]}`, nil)
	if p := r.problem(t); r.status != 400 || !strings.Contains(p.Detail, "document") {
		t.Errorf("no document: %d %q", r.status, p.Detail)
	}
	var n int
	if err := e.pool.QueryRow(context.Background(), "SELECT (SELECT count(*) FROM jobs) + (SELECT count(*) FROM broadcasts)").Scan(&n); err != nil || n != 0 {
		t.Fatalf("refusals queued %d rows (%v)", n, err)
	}
}

// TestBroadcastRoles: submitters see and cancel only their own
// broadcasts (others' are not found); admins see all.
func TestBroadcastRoles(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{})
	other, _, err := tokens.New(e.pool).Create(context.Background(), "crm", tokens.Submitter)
	if err != nil {
		t.Fatal(err)
	}
	r := e.submitBroadcast(e.sub, `{"recipients":[{"to":"+4930111"}]}`, []doc{textDoc("x")})
	var b Broadcast
	r.json(t, &b)
	for _, path := range []string{"", "/faxes"} {
		if r := e.do("GET", fmt.Sprintf("/v1/broadcasts/%d%s", b.ID, path), other, nil, ""); r.status != 404 {
			t.Errorf("other submitter GET %s: %d", path, r.status)
		}
	}
	if r := e.do("POST", fmt.Sprintf("/v1/broadcasts/%d/cancel", b.ID), other, nil, ""); r.status != 404 {
		t.Errorf("other submitter cancel: %d", r.status)
	}
	if e.getBroadcast(e.sub, b.ID).Counts["pending"] != 1 {
		t.Error("the other submitter's cancel changed something")
	}
	var l BroadcastList
	e.do("GET", "/v1/broadcasts", other, nil, "").json(t, &l)
	if len(l.Broadcasts) != 0 {
		t.Errorf("other submitter lists %d broadcasts", len(l.Broadcasts))
	}
	if r := e.do("GET", "/v1/broadcasts?submitter=billing", other, nil, ""); r.status != 403 {
		t.Errorf("other submitter naming billing: %d", r.status)
	}
	e.do("GET", "/v1/broadcasts", e.sub, nil, "").json(t, &l)
	if len(l.Broadcasts) != 1 || l.Broadcasts[0].ID != b.ID {
		t.Errorf("own list %+v", l)
	}
	e.do("GET", "/v1/broadcasts?submitter=billing", e.admin, nil, "").json(t, &l)
	if len(l.Broadcasts) != 1 {
		t.Errorf("admin list %+v", l)
	}
	if e.getBroadcast(e.admin, b.ID).ID != b.ID {
		t.Error("admin cannot see the broadcast")
	}
}

// TestBroadcastJSONBody: the JSON body of POST /v1/faxes with recipients
// instead of to: base64 documents rendered once, a cover per recipient
// with its variables, the originals stored as sent; bad fields named as
// for a single fax, a URL through the outbound policy, nothing queued by
// a refusal.
func TestBroadcastJSONBody(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{})
	png := pngDoc(t)
	r := e.doJSON("POST", "/v1/broadcasts", e.sub, map[string]any{
		"recipients": []map[string]any{
			{"to": "+4930111", "name": "Ann", "company": "A GmbH", "vars": map[string]string{"account": "7"}},
			{"to": "+4930222", "name": "Bob"},
		},
		"cover": map[string]any{"subject": "Prices"}, "header": "ACME", "metadata": map[string]any{"campaign": "q3"}, "report": true,
		"documents": []map[string]any{
			{"filename": "chart.png", "content_type": "image/png", "data": b64(png.data)},
			{"filename": "note.txt", "content_type": "text/plain; charset=utf-8", "data": b64([]byte("hello\fsecond page\n"))},
		},
	})
	if r.status != 201 {
		t.Fatalf("submit: %d %s", r.status, r.body)
	}
	var b Broadcast
	r.json(t, &b)
	if b.Recipients != 2 || b.Metadata["campaign"] != "q3" || b.Submitter != "billing" {
		t.Fatalf("broadcast %+v", b)
	}
	faxes := e.broadcastFaxes(e.sub, b.ID)
	if len(faxes) != 2 {
		t.Fatalf("%d faxes, want 2", len(faxes))
	}
	for _, f := range faxes {
		if f.PagesTotal != 4 || f.Header != "ACME" || f.Metadata[ReportMetadataKey] != true || f.Metadata["campaign"] != "q3" {
			t.Fatalf("fax %d: %d pages (want cover + 1 PNG + 2 text), header %q, metadata %v", f.ID, f.PagesTotal, f.Header, f.Metadata)
		}
		r := e.do("GET", fmt.Sprintf("/v1/faxes/%d/document?format=original&part=0", f.ID), e.sub, nil, "")
		if !bytes.Equal(r.body, png.data) || r.header.Get("Content-Type") != "image/png" {
			t.Fatalf("fax %d original part 0: %d bytes %s", f.ID, len(r.body), r.header.Get("Content-Type"))
		}
	}

	for _, c := range []struct {
		body   string
		status int
		want   string
	}{
		{`{"recipients":[{"to":"+4930111"}],"documents":[{"data":"aGVsbG8K"},{"data":"***"}]}`, 400, "documents[1].data: not base64"},
		{`{"recipients":[{"to":"+4930111"}],"documents":[]}`, 400, "documents: at least one document"},
		{`{"recipients":[{"to":"+4930111"}],"documents":[{"data":"aGVsbG8K"}],"colour":true}`, 400, `unknown field "colour"`},
		{`{"recipients":[{"to":"+4930111"},{"to":"12"}],"documents":[{"data":"aGVsbG8K"}]}`, 400, "recipients[1].to"},
		{`{"to":"+4930111","recipients":[{"to":"+4930222"}],"documents":[{"data":"aGVsbG8K"}]}`, 400, "to: a broadcast goes to recipients[].to"},
		{`{"recipients":[{"to":"+4930111"}],"documents":[{"url":"http://127.0.0.1:9/a.pdf"}]}`, 422, "documents[0].url: "},
		{`{"recipients":[{"to":"+4930111"}],"documents":[{"data":"` + b64([]byte{0, 1, 2, 3}) + `"}]}`, 415, "document 1"},
	} {
		r := e.do("POST", "/v1/broadcasts", e.sub, strings.NewReader(c.body), "application/json")
		if r.status != c.status {
			t.Errorf("%.80s: status %d, want %d: %s", c.body, r.status, c.status, r.body)
			continue
		}
		if p := r.problem(t); !strings.Contains(p.Detail, c.want) {
			t.Errorf("%.80s: detail %q does not say %q", c.body, p.Detail, c.want)
		}
	}
	var n int
	if err := e.pool.QueryRow(context.Background(), "SELECT (SELECT count(*) FROM jobs) + (SELECT count(*) FROM broadcasts)").Scan(&n); err != nil || n != 3 {
		t.Fatalf("%d jobs and broadcasts after the refusals, want the first broadcast's 3 (%v)", n, err)
	}
}
