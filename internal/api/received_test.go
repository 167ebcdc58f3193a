package api

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"image/png"
	"io"
	"mime"
	"mime/multipart"
	"net/http/httptest"
	"net/mail"
	"strings"
	"testing"
	"time"

	"github.com/faxd/faxd/archive"
	"github.com/faxd/faxd/internal/inbound"
	"github.com/faxd/faxd/internal/notify"
	"github.com/faxd/faxd/internal/notify/notifytest"
	"github.com/faxd/faxd/t38/bilevel"
	"github.com/faxd/faxd/t38/tiff"
)

// faxTIFF makes a TIFF Class F of n pages, each with a bar at row seed.
func faxTIFF(t *testing.T, n, seed int) []byte {
	t.Helper()
	var pages []*bilevel.Image
	for i := range n {
		img := bilevel.New(1728, 200)
		for x := 100; x < 1600; x++ {
			for y := seed % 150; y < seed%150+20+i; y++ {
				img.SetBlack(x, y, true)
			}
		}
		pages = append(pages, img)
	}
	var b bytes.Buffer
	if err := tiff.EncodeFax(&b, pages, tiff.FaxOptions{}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

var received = 0

// archiveReceived archives a received fax as the archiver would, with
// its TIFF when pages > 0, and returns the record.
func (e *env) archiveReceived(did, caller string, pages int) archive.Record {
	e.t.Helper()
	ctx := context.Background()
	received++
	rec := archive.Record{Key: fmt.Sprintf("src/inbound/n1/call-%d-%d", received, time.Now().UnixNano()), Source: "src", Version: 1,
		Direction: archive.Inbound, Result: "received", LocalNumber: did, RemoteNumber: caller, RemoteStationID: "ACME FAX",
		Pages: pages, PagesTotal: pages, Attempts: 1, NodeID: "n1", Routing: archive.Unrouted,
		StartedAt: time.Now().Add(-time.Minute), FinishedAt: time.Now().Add(time.Duration(received) * time.Millisecond)}
	if pages > 0 {
		data := faxTIFF(e.t, pages, received*7)
		sum := sha256.Sum256(data)
		rec.DocumentSHA256 = hex.EncodeToString(sum[:])
		if err := e.archive.PutDocument(ctx, rec.DocumentSHA256, "image/tiff", data); err != nil {
			e.t.Fatal(err)
		}
	} else {
		rec.Result, rec.Reason = "receive_failed", "call dropped"
	}
	if _, err := e.archive.Upsert(ctx, rec); err != nil {
		e.t.Fatal(err)
	}
	out, err := e.archive.GetByKey(ctx, rec.Key)
	if err != nil {
		e.t.Fatal(err)
	}
	return out
}

func TestReceivedFaxes(t *testing.T) {
	e := newEnv(t, Config{RateLimit: 1000, RateBurst: 1000})
	ctx := context.Background()
	smtp := notifytest.StartSMTP(t, notifytest.SMTPOptions{})
	// The notifier of newEnv has no SMTP relay; this one does.
	ncfg := e.notify.Config()
	ncfg.SMTP = smtp.Config("fax@faxd.example")
	n, err := notify.New(e.pool, ncfg, notify.Options{Secrets: testSecrets, NodeID: "api-test", Documents: inbound.Archived{Store: e.archive}})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { _ = n.Run(runCtx); close(done) }()
	t.Cleanup(func() { stop(); <-done })

	if r := e.doJSON("POST", "/v1/inbound-rules", e.admin, map[string]any{"number": map[string]any{"kind": "prefix", "value": "+4930"},
		"destination": map[string]any{"kind": "mailbox", "mailbox": "sales"}}); r.status != 201 {
		t.Fatalf("rule: %d %s", r.status, r.body)
	}
	routed := e.archiveReceived("+4930100", "+4989111", 2)
	unrouted := e.archiveReceived("+4955500", "", 1)
	failed := e.archiveReceived("+4930100", "+4989222", 0)
	for _, rec := range []archive.Record{routed, unrouted, failed} {
		if _, err := inbound.RouteArchived(ctx, e.archive, e.inbound, rec); err != nil {
			t.Fatal(err)
		}
	}
	// An outbound fax of the submitter "billing" in the archive too.
	if _, err := e.archive.Upsert(ctx, archive.Record{Key: "src/job/1", Source: "src", Version: 1, Direction: archive.Outbound,
		Result: "sent", RemoteNumber: "+4940123", Submitter: "billing", JobID: 1, Pages: 1, PagesTotal: 1, Attempts: 1,
		FinishedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	outbound, _ := e.archive.GetByKey(ctx, "src/job/1")

	list := func(query string) ReceivedList {
		t.Helper()
		r := e.do("GET", "/v1/received"+query, e.admin, nil, "")
		if r.status != 200 {
			t.Fatalf("list %s: %d %s", query, r.status, r.body)
		}
		var l ReceivedList
		r.json(t, &l)
		return l
	}
	ids := func(l ReceivedList) (out []int64) {
		for _, f := range l.Received {
			out = append(out, f.ID)
		}
		return out
	}
	if got := ids(list("")); fmt.Sprint(got) != fmt.Sprint([]int64{failed.ID, unrouted.ID, routed.ID}) {
		t.Fatalf("all received, newest first: %v", got)
	}
	if got := ids(list("?unrouted=true&result=received")); fmt.Sprint(got) != fmt.Sprint([]int64{unrouted.ID}) {
		t.Fatalf("unrouted: %v", got)
	}
	if got := ids(list("?did=%2B49%2030%20100&caller=%2B4989111")); fmt.Sprint(got) != fmt.Sprint([]int64{routed.ID}) {
		t.Fatalf("by did and caller: %v", got)
	}
	if got := list("?received_after=" + time.Now().Add(time.Hour).UTC().Format(time.RFC3339)); len(got.Received) != 0 {
		t.Fatalf("future: %v", ids(got))
	}
	p1 := list("?limit=2")
	p2 := list("?limit=2&cursor=" + p1.NextCursor)
	if len(p1.Received) != 2 || p1.NextCursor == "" || fmt.Sprint(ids(p2)) != fmt.Sprint([]int64{routed.ID}) || p2.NextCursor != "" {
		t.Fatalf("pages: %v %q then %v %q", ids(p1), p1.NextCursor, ids(p2), p2.NextCursor)
	}
	for _, q := range []string{"?cursor=nonsense", "?unrouted=maybe", "?limit=0", "?received_after=yesterday", "?result=sent", "?colour=blue"} {
		if r := e.do("GET", "/v1/received"+q, e.admin, nil, ""); r.status != 400 || len(r.problem(t).Errors) == 0 {
			t.Errorf("list %s: %d %s", q, r.status, r.body)
		}
	}

	var f ReceivedFax
	e.do("GET", fmt.Sprintf("/v1/received/%d", routed.ID), e.admin, nil, "").json(t, &f)
	if f.Routing != archive.Routed || f.RoutedTo != "mailbox:sales" || f.DID != "+4930100" || f.Pages != 2 || !f.HasDocument {
		t.Fatalf("routed fax: %+v", f)
	}
	for _, path := range []string{fmt.Sprintf("/v1/received/%d", outbound.ID), "/v1/received/999999", "/v1/received/abc",
		fmt.Sprintf("/v1/received/%d/document", failed.ID), "/v1/mailboxes/not%20a%20name"} {
		if r := e.do("GET", path, e.admin, nil, ""); r.status != 404 {
			t.Errorf("%s: %d %s", path, r.status, r.body)
		} else {
			r.problem(t)
		}
	}

	// Documents: the TIFF as archived, and the PDF that deliveries attach.
	r := e.do("GET", fmt.Sprintf("/v1/received/%d/document", routed.ID), e.admin, nil, "")
	pdf, err := inbound.Archived{Store: e.archive}.PDF(ctx, routed.Key)
	if err != nil {
		t.Fatal(err)
	}
	if r.status != 200 || r.header.Get("Content-Type") != "application/pdf" || !bytes.Equal(r.body, pdf) || !bytes.HasPrefix(pdf, []byte("%PDF-")) {
		t.Fatalf("pdf: %d %s, %d bytes", r.status, r.header.Get("Content-Type"), len(r.body))
	}
	if n := bytes.Count(pdf, []byte("/Type /Page ")); n != 2 || !bytes.Contains(pdf, []byte("/Count 2 ")) {
		t.Fatalf("pdf has %d pages, want 2", n)
	}
	r = e.do("GET", fmt.Sprintf("/v1/received/%d/document?format=tiff", routed.ID), e.admin, nil, "")
	_, stored, _ := e.archive.Document(ctx, routed.DocumentSHA256)
	if r.status != 200 || r.header.Get("Content-Type") != "image/tiff" || !bytes.Equal(r.body, stored) {
		t.Fatalf("tiff: %d %s", r.status, r.header.Get("Content-Type"))
	}
	if r := e.do("GET", fmt.Sprintf("/v1/received/%d/document?format=png", routed.ID), e.admin, nil, ""); r.status != 400 {
		t.Fatalf("format=png: %d", r.status)
	}

	// A fax archived as PDF is served as is, and not as TIFF.
	asPDF := e.archiveReceived("+4930100", "+4989333", 0)
	asPDF.Result, asPDF.Version, asPDF.DocumentSHA256 = "received", 2, "pdf-"+asPDF.Key
	if err := e.archive.PutDocument(ctx, asPDF.DocumentSHA256, "application/pdf", pdf); err != nil {
		t.Fatal(err)
	}
	if _, err := e.archive.Upsert(ctx, asPDF); err != nil {
		t.Fatal(err)
	}
	if r := e.do("GET", fmt.Sprintf("/v1/received/%d/document", asPDF.ID), e.admin, nil, ""); r.status != 200 || !bytes.Equal(r.body, pdf) {
		t.Fatalf("stored pdf: %d", r.status)
	}
	if r := e.do("GET", fmt.Sprintf("/v1/received/%d/document?format=tiff", asPDF.ID), e.admin, nil, ""); r.status != 406 || r.problem(t).Type != "urn:faxd:problem:not-acceptable-format" {
		t.Fatalf("stored pdf as tiff: %d %s", r.status, r.body)
	}
	if _, err := e.pool.Exec(ctx, "DELETE FROM faxes WHERE id = $1", asPDF.ID); err != nil {
		t.Fatal(err)
	}

	// Mailboxes.
	var mbs struct {
		Mailboxes []inbound.MailboxSummary `json:"mailboxes"`
	}
	e.do("GET", "/v1/mailboxes", e.admin, nil, "").json(t, &mbs)
	if len(mbs.Mailboxes) != 1 || mbs.Mailboxes[0] != (inbound.MailboxSummary{Mailbox: "sales", Total: 1, Unread: 1}) {
		t.Fatalf("mailboxes: %+v", mbs)
	}
	var mb struct {
		Entries []MailboxEntry `json:"entries"`
	}
	e.do("GET", "/v1/mailboxes/sales?unread=true", e.admin, nil, "").json(t, &mb)
	if len(mb.Entries) != 1 || mb.Entries[0].Fax == nil || mb.Entries[0].Fax.ID != routed.ID {
		t.Fatalf("sales: %+v", mb)
	}
	if r := e.do("GET", "/v1/mailboxes/nobody", e.admin, nil, ""); r.status != 200 || !strings.Contains(string(r.body), `"entries": []`) {
		t.Fatalf("empty mailbox: %d %s", r.status, r.body)
	}

	// Reroutes: the unrouted fax to a mailbox (delivered at once), the
	// routed one to an address (pending until the mail is accepted).
	var rr RerouteView
	r = e.doJSON("POST", fmt.Sprintf("/v1/received/%d/reroute", unrouted.ID), e.admin, map[string]any{"destination": map[string]any{"kind": "mailbox", "mailbox": "ops"}, "reason": "no rule matched"})
	r.json(t, &rr)
	if r.status != 201 || rr.From != "unrouted" || rr.To != "mailbox:ops" || rr.Outcome != "delivered" || rr.Actor != "ops" || rr.Reason != "no rule matched" {
		t.Fatalf("reroute to mailbox: %d %s", r.status, r.body)
	}
	// The reroute is in the audit log too, with its reason, and its row
	// links the entry.
	var linked int
	if err := e.pool.QueryRow(ctx, `SELECT count(*) FROM reroutes r JOIN audit_log a ON a.id = r.audit_id
		WHERE r.id = $1 AND a.action = 'reroute' AND a.object_type = 'received_fax' AND a.object_id = $2 AND a.actor = 'ops'
		AND r.reason = 'no rule matched' AND a.detail LIKE '%no rule matched%'`,
		rr.ID, fmt.Sprint(unrouted.ID)).Scan(&linked); err != nil || linked != 1 {
		t.Fatalf("reroute audit entry: %d %v", linked, err)
	}
	e.do("GET", fmt.Sprintf("/v1/received/%d", unrouted.ID), e.admin, nil, "").json(t, &f)
	if f.Routing != archive.Rerouted || f.RoutedTo != "mailbox:ops" || len(f.Reroutes) != 1 || f.Reroutes[0].ID != rr.ID {
		t.Fatalf("rerouted fax: %+v", f)
	}
	if got := ids(list("?unrouted=true&result=received")); len(got) != 0 {
		t.Fatalf("still unrouted: %v", got)
	}
	r = e.doJSON("POST", fmt.Sprintf("/v1/received/%d/reroute", routed.ID), e.admin, map[string]any{"destination": map[string]any{"kind": "email", "emails": []string{"boss@example.com"}}, "reason": "the boss asked"})
	r.json(t, &rr)
	if r.status != 201 || rr.From != "mailbox:sales" || rr.To != "email:boss@example.com" || rr.DeliveryID == 0 {
		t.Fatalf("reroute to email: %d %s", r.status, r.body)
	}
	msgs := smtp.Wait(t, 1, 20*time.Second)
	if att := attachment(t, msgs[0].Data); !bytes.Equal(att, pdf) {
		t.Fatalf("mailed PDF (%d bytes) differs from the archived document (%d bytes)", len(att), len(pdf))
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		var l struct {
			Reroutes []RerouteView `json:"reroutes"`
		}
		e.do("GET", fmt.Sprintf("/v1/received/%d/reroutes", routed.ID), e.admin, nil, "").json(t, &l)
		if len(l.Reroutes) == 1 && l.Reroutes[0].Outcome == "delivered" && l.Reroutes[0].FinishedAt != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("reroute outcome: %+v", l.Reroutes)
		}
		time.Sleep(50 * time.Millisecond)
	}

	// Refusals, each as problem+json with the documented status.
	for _, c := range []struct {
		name, path, token, body, ctype string
		status                         int
	}{
		{"submitter", fmt.Sprintf("/v1/received/%d/reroute", routed.ID), e.sub, `{"destination":{"kind":"mailbox","mailbox":"x"},"reason":"r"}`, "application/json", 403},
		{"no token", fmt.Sprintf("/v1/received/%d/reroute", routed.ID), "", `{"destination":{"kind":"mailbox","mailbox":"x"},"reason":"r"}`, "application/json", 401},
		{"bad destination", fmt.Sprintf("/v1/received/%d/reroute", routed.ID), e.admin, `{"destination":{"kind":"email","emails":["not an address"]},"reason":"r"}`, "application/json", 400},
		{"no reason", fmt.Sprintf("/v1/received/%d/reroute", routed.ID), e.admin, `{"destination":{"kind":"mailbox","mailbox":"x"},"reason":"  "}`, "application/json", 400},
		{"unknown field", fmt.Sprintf("/v1/received/%d/reroute", routed.ID), e.admin, `{"to":"mailbox:x"}`, "application/json", 400},
		{"form body", fmt.Sprintf("/v1/received/%d/reroute", routed.ID), e.admin, `kind=mailbox`, "application/x-www-form-urlencoded", 415},
		{"unknown fax", "/v1/received/999999/reroute", e.admin, `{"destination":{"kind":"mailbox","mailbox":"x"},"reason":"r"}`, "application/json", 404},
		{"outbound fax", fmt.Sprintf("/v1/received/%d/reroute", outbound.ID), e.admin, `{"destination":{"kind":"mailbox","mailbox":"x"},"reason":"r"}`, "application/json", 404},
		{"no pages", fmt.Sprintf("/v1/received/%d/reroute", failed.ID), e.admin, `{"destination":{"kind":"mailbox","mailbox":"x"},"reason":"r"}`, "application/json", 409},
	} {
		r := e.do("POST", c.path, c.token, strings.NewReader(c.body), c.ctype)
		if r.problem(t); r.status != c.status {
			t.Errorf("%s: %d %s, want %d", c.name, r.status, r.body, c.status)
		}
	}
	// A missing reason is named as the field.
	if r := e.doJSON("POST", fmt.Sprintf("/v1/received/%d/reroute", routed.ID), e.admin, map[string]any{"destination": map[string]any{"kind": "mailbox", "mailbox": "x"}}); r.status != 400 || !strings.Contains(string(r.body), `"reason: `) {
		t.Errorf("no reason: %d %s", r.status, r.body)
	}
	for _, path := range []string{"/v1/received", fmt.Sprintf("/v1/received/%d", routed.ID), fmt.Sprintf("/v1/received/%d/document", routed.ID),
		fmt.Sprintf("/v1/received/%d/reroutes", routed.ID), "/v1/mailboxes", "/v1/mailboxes/sales"} {
		if r := e.do("GET", path, e.sub, nil, ""); r.status != 403 {
			t.Errorf("submitter GET %s: %d", path, r.status)
		}
	}
	var count int
	e.pool.QueryRow(ctx, "SELECT count(*) FROM reroutes").Scan(&count)
	if count != 2 {
		t.Fatalf("refused reroutes left %d audit rows, want the 2 made", count)
	}

	// The archive search: admins see everything, submitters their own
	// sent faxes only.
	search := func(token, query string) ArchiveList {
		t.Helper()
		r := e.do("GET", "/v1/archive"+query, token, nil, "")
		if r.status != 200 {
			t.Fatalf("archive %s: %d %s", query, r.status, r.body)
		}
		var l ArchiveList
		r.json(t, &l)
		return l
	}
	if l := search(e.admin, ""); len(l.Faxes) != 4 {
		t.Fatalf("admin archive: %d faxes", len(l.Faxes))
	}
	if l := search(e.admin, "?direction=inbound&routing=rerouted"); len(l.Faxes) != 2 {
		t.Fatalf("rerouted: %d", len(l.Faxes))
	}
	if l := search(e.sub, ""); len(l.Faxes) != 1 || l.Faxes[0].ID != outbound.ID || l.Faxes[0].FaxID != 1 {
		t.Fatalf("submitter archive: %+v", l.Faxes)
	}
	if l := search(e.admin, "?number=%2B4940123"); len(l.Faxes) != 1 || l.Faxes[0].Direction != "outbound" {
		t.Fatalf("by number: %+v", l.Faxes)
	}
	for q, status := range map[string]int{"?direction=inbound": 403, "?submitter=ops": 403, "?result=lost": 400, "?finished_before=soon": 400} {
		if r := e.do("GET", "/v1/archive"+q, e.sub, nil, ""); r.status != status || r.problem(t).Status != status {
			t.Errorf("submitter archive %s: %d", q, r.status)
		}
	}

	// A server without the archive says so.
	bare, err := New(Config{}, Deps{Pool: e.pool, Queue: e.queue, Logger: e.api.log})
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/v1/received", "/v1/mailboxes", "/v1/archive"} {
		req := httptest.NewRequest("GET", path, nil)
		req.Header.Set("Authorization", "Bearer "+e.admin)
		rec := httptest.NewRecorder()
		bare.Handler().ServeHTTP(rec, req)
		if errs := loadSpec(t).checkResponse("GET", path, rec.Code, rec.Header(), rec.Body.Bytes()); rec.Code != 503 || len(errs) > 0 {
			t.Errorf("%s without an archive: %d %v", path, rec.Code, errs)
		}
	}
}

// attachment returns the PDF attached to a mail.
func attachment(t *testing.T, raw []byte) []byte {
	t.Helper()
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	_, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil {
		t.Fatal(err)
	}
	mr := multipart.NewReader(msg.Body, params["boundary"])
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			t.Fatal("no PDF attachment")
		}
		if err != nil {
			t.Fatal(err)
		}
		if mt, _, _ := mime.ParseMediaType(p.Header.Get("Content-Type")); mt == "application/pdf" {
			b, err := io.ReadAll(p) // multipart decodes quoted-printable only; base64 by hand
			if err != nil {
				t.Fatal(err)
			}
			return decodeB64(t, b)
		}
	}
}

func decodeB64(t *testing.T, b []byte) []byte {
	t.Helper()
	out, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(string(b)), ""))
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// A thumbnail is a PNG of the asked page, as wide as asked, with ink where
// the page has its bar; a page past the end is 404, a bad width 400.
func TestReceivedThumbnail(t *testing.T) {
	e := newEnv(t, Config{})
	rec := e.archiveReceived("+15550100", "+15557777", 2)
	r := e.do("GET", fmt.Sprintf("/v1/received/%d/thumbnail?page=2&width=100", rec.ID), e.admin, nil, "")
	if r.status != 200 || r.header.Get("Content-Type") != "image/png" {
		t.Fatalf("thumbnail: %d %s %s", r.status, r.header.Get("Content-Type"), r.body)
	}
	img, err := png.Decode(bytes.NewReader(r.body))
	if err != nil {
		t.Fatal(err)
	}
	b := img.Bounds()
	if b.Dx() != 100 || b.Dy() < 5 {
		t.Fatalf("size %v", b)
	}
	dark := false
	for y := b.Min.Y; y < b.Max.Y; y++ {
		if g, _, _, _ := img.At(b.Dx()/2, y).RGBA(); g < 0x8000 {
			dark = true
		}
	}
	if !dark {
		t.Fatal("no ink down the middle of the thumbnail")
	}
	if r := e.do("GET", fmt.Sprintf("/v1/received/%d/thumbnail?page=3", rec.ID), e.admin, nil, ""); r.status != 404 {
		t.Fatalf("page past the end: %d", r.status)
	}
	if r := e.do("GET", fmt.Sprintf("/v1/received/%d/thumbnail?width=5000", rec.ID), e.admin, nil, ""); r.status != 400 {
		t.Fatalf("bad width: %d", r.status)
	}
	if r := e.do("GET", fmt.Sprintf("/v1/received/%d/thumbnail", rec.ID), e.sub, nil, ""); r.status != 403 {
		t.Fatalf("submitter: %d", r.status)
	}
}
