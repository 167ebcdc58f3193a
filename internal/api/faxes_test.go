package api

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/png"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/faxd/faxd/queue"
	"github.com/faxd/faxd/t38/tiff"
)

// Submit, resubmit with the same key, read, list, download, cancel.
func TestSubmitFlow(t *testing.T) {
	e := newEnv(t, Config{})
	fax := `{"to":"+49 30 1234-567","from":"+4930999","header":"ACME Billing","priority":5,
		"max_attempts":3,"callback_url":"https://app.example/fax","metadata":{"invoice":"A-17"}}`
	r := e.submit(e.sub, fax, []doc{textDoc("Invoice A-17\nTotal: 100 EUR\n")}, "Idempotency-Key", "inv-A-17")
	if r.status != 201 {
		t.Fatalf("submit: %d %s", r.status, r.body)
	}
	var f Fax
	r.json(t, &f)
	if f.State != queue.Pending || f.To != "+49301234567" || f.From != "+4930999" || f.PagesTotal != 1 ||
		f.Submitter != "billing" || f.IdempotencyKey != "inv-A-17" || f.Metadata["invoice"] != "A-17" || f.MaxAttempts != 3 {
		t.Fatalf("fax = %+v", f)
	}
	if loc := r.header.Get("Location"); loc != fmt.Sprintf("/v1/faxes/%d", f.ID) {
		t.Fatalf("Location %q", loc)
	}
	before := e.counts()

	// Same key, same request: the same fax, 200, nothing new stored.
	r = e.submit(e.sub, fax, []doc{textDoc("Invoice A-17\nTotal: 100 EUR\n")}, "Idempotency-Key", "inv-A-17")
	var again Fax
	r.json(t, &again)
	if r.status != 200 || again.ID != f.ID {
		t.Fatalf("resubmit: %d id %d, want 200 id %d", r.status, again.ID, f.ID)
	}
	if got := e.counts(); got != before {
		t.Fatalf("resubmit stored something: %s, before %s", got, before)
	}
	// Same key, other document: 409.
	r = e.submit(e.sub, fax, []doc{textDoc("Invoice A-18\n")}, "Idempotency-Key", "inv-A-17")
	if p := r.problem(t); r.status != 409 || !strings.Contains(p.Detail, "inv-A-17") || p.Type != problemPrefix+"idempotency-conflict" {
		t.Fatalf("conflicting reuse: %d %+v", r.status, p)
	}
	if got := e.counts(); got != before {
		t.Fatalf("conflict stored something: %s, before %s", got, before)
	}
	// The same key from another submitter is another fax.
	r = e.submit(e.admin, fax, []doc{textDoc("Invoice A-17\nTotal: 100 EUR\n")}, "Idempotency-Key", "inv-A-17")
	var other Fax
	r.json(t, &other)
	if r.status != 201 || other.ID == f.ID || other.Submitter != "ops" {
		t.Fatalf("other submitter's key: %d %+v", r.status, other)
	}

	r = e.do("GET", fmt.Sprintf("/v1/faxes/%d", f.ID), e.sub, nil, "")
	var got Fax
	r.json(t, &got)
	if r.status != 200 || got.ID != f.ID || len(got.History) != 1 || got.History[0].To != "pending" || got.NextAttemptAt == nil {
		t.Fatalf("get: %d %+v", r.status, got)
	}

	// Downloads: PDF by default, as for received faxes; TIFF Class F
	// with one fine page; PDF; the original.
	r = e.do("GET", fmt.Sprintf("/v1/faxes/%d/document", f.ID), e.sub, nil, "")
	if r.status != 200 || r.header.Get("Content-Type") != "application/pdf" || !bytes.HasPrefix(r.body, []byte("%PDF-")) {
		t.Fatalf("default download: %d %s", r.status, r.header)
	}
	r = e.do("GET", fmt.Sprintf("/v1/faxes/%d/document?format=tiff", f.ID), e.sub, nil, "")
	if r.status != 200 || r.header.Get("Content-Type") != "image/tiff" {
		t.Fatalf("tiff: %d %s", r.status, r.header)
	}
	pages, err := tiff.Decode(r.body)
	if err != nil || len(pages) != 1 || pages[0].Bilevel == nil || pages[0].Bilevel.Width != 1728 || pages[0].YDPI < 190 {
		t.Fatalf("tiff pages: %d %v", len(pages), err)
	}
	r = e.do("GET", fmt.Sprintf("/v1/faxes/%d/document?format=pdf", f.ID), e.sub, nil, "")
	if r.status != 200 || !bytes.HasPrefix(r.body, []byte("%PDF-")) {
		t.Fatalf("pdf: %d %.20q", r.status, r.body)
	}
	if pdfinfo, err := exec.LookPath("pdfinfo"); err == nil {
		cmd := exec.Command(pdfinfo, "-")
		cmd.Stdin = bytes.NewReader(r.body)
		out, err := cmd.CombinedOutput()
		if err != nil || !regexp.MustCompile(`Pages:\s+1\n`).Match(out) {
			t.Fatalf("pdfinfo: %v %s", err, out)
		}
	}

	// A thumbnail of the page as sent: a PNG as wide as asked, with ink.
	r = e.do("GET", fmt.Sprintf("/v1/faxes/%d/thumbnail?width=120", f.ID), e.sub, nil, "")
	if r.status != 200 || r.header.Get("Content-Type") != "image/png" {
		t.Fatalf("thumbnail: %d %s %.200s", r.status, r.header.Get("Content-Type"), r.body)
	}
	img, err := png.Decode(bytes.NewReader(r.body))
	if err != nil {
		t.Fatal(err)
	}
	if b := img.Bounds(); b.Dx() != 120 || b.Dy() < 100 {
		t.Fatalf("thumbnail size %v", b)
	}
	if !hasInk(img) {
		t.Fatal("the thumbnail of a page of text has no ink")
	}
	if r := e.do("GET", fmt.Sprintf("/v1/faxes/%d/thumbnail?page=2", f.ID), e.sub, nil, ""); r.status != 404 {
		t.Fatalf("thumbnail of a page past the end: %d", r.status)
	}
	if r := e.do("GET", fmt.Sprintf("/v1/faxes/%d/thumbnail?width=10", f.ID), e.sub, nil, ""); r.status != 400 {
		t.Fatalf("thumbnail too narrow: %d", r.status)
	}
	r = e.do("GET", fmt.Sprintf("/v1/faxes/%d/document?format=original", f.ID), e.sub, nil, "")
	if r.status != 200 || string(r.body) != "Invoice A-17\nTotal: 100 EUR\n" {
		t.Fatalf("original: %d %q", r.status, r.body)
	}
	r = e.do("GET", fmt.Sprintf("/v1/faxes/%d/document?format=original&part=1", f.ID), e.sub, nil, "")
	if r.status != 404 {
		t.Fatalf("part 1: %d", r.status)
	}
	r = e.do("GET", fmt.Sprintf("/v1/faxes/%d/document?format=docx", f.ID), e.sub, nil, "")
	if p := r.problem(t); r.status != 400 || !strings.Contains(p.Detail, "tiff, pdf or original") {
		t.Fatalf("bad format: %d %+v", r.status, p)
	}

	// List: the submitter sees its own only; the admin sees both.
	var l FaxList
	e.do("GET", "/v1/faxes", e.sub, nil, "").json(t, &l)
	if len(l.Faxes) != 1 || l.Faxes[0].ID != f.ID {
		t.Fatalf("submitter list: %+v", l)
	}
	e.do("GET", "/v1/faxes?state=pending&limit=1", e.admin, nil, "").json(t, &l)
	if len(l.Faxes) != 1 || l.Faxes[0].ID != other.ID || l.NextCursor == "" {
		t.Fatalf("admin list page 1: %+v", l)
	}
	e.do("GET", "/v1/faxes?state=pending&limit=1&cursor="+l.NextCursor, e.admin, nil, "").json(t, &l)
	if len(l.Faxes) != 1 || l.Faxes[0].ID != f.ID {
		t.Fatalf("admin list page 2: %+v", l)
	}
	e.do("GET", "/v1/faxes?to=%2B49301234567&submitter=ops", e.admin, nil, "").json(t, &l)
	if len(l.Faxes) != 1 || l.Faxes[0].ID != other.ID {
		t.Fatalf("filtered list: %+v", l)
	}
	e.do("GET", "/v1/faxes?state=sent", e.admin, nil, "").json(t, &l)
	if len(l.Faxes) != 0 {
		t.Fatalf("sent list: %+v", l)
	}
	e.do("GET", "/v1/faxes?created_after=2100-01-01T00:00:00Z", e.admin, nil, "").json(t, &l)
	if len(l.Faxes) != 0 {
		t.Fatalf("future list: %+v", l)
	}

	// Another submitter cannot see, cancel or download it.
	_, _, _ = e.api.tokens.Create(context.Background(), "sales", "submitter")
	sales, _, _ := e.api.tokens.Create(context.Background(), "sales2", "submitter")
	for _, p := range []string{"", "/document"} {
		if r := e.do("GET", fmt.Sprintf("/v1/faxes/%d%s", f.ID, p), sales, nil, ""); r.status != 404 {
			t.Fatalf("other submitter GET%s: %d", p, r.status)
		}
	}
	if r := e.do("POST", fmt.Sprintf("/v1/faxes/%d/cancel", f.ID), sales, nil, ""); r.status != 404 {
		t.Fatalf("other submitter cancel: %d", r.status)
	}
	if r := e.do("GET", "/v1/faxes?submitter=billing", sales, nil, ""); r.status != 403 {
		t.Fatalf("other submitter's list: %d", r.status)
	}

	// Cancel; cancelling again is a state conflict.
	r = e.do("POST", fmt.Sprintf("/v1/faxes/%d/cancel", f.ID), e.sub, nil, "")
	r.json(t, &got)
	if r.status != 200 || got.State != queue.Cancelled || got.FinishedAt == nil {
		t.Fatalf("cancel: %d %+v", r.status, got)
	}
	r = e.do("POST", fmt.Sprintf("/v1/faxes/%d/cancel", f.ID), e.sub, nil, "")
	if p := r.problem(t); r.status != 409 || !strings.Contains(p.Detail, "already cancelled") {
		t.Fatalf("second cancel: %d %+v", r.status, p)
	}
}

// A fax that was sent cannot be cancelled: 409 with the state named.
func TestCancelSentFax(t *testing.T) {
	e := newEnv(t, Config{})
	r := e.submit(e.sub, `{"to":"0301234567"}`, []doc{textDoc("hello\n")})
	var f Fax
	r.json(t, &f)
	ctx := context.Background()
	node, err := e.queue.Register(ctx, queue.NodeInfo{ID: "n1", Capacity: 1}, queue.NodeConfig{})
	if err != nil {
		t.Fatal(err)
	}
	jobs, err := e.queue.Claim(ctx, node.Lease(), 1)
	if err != nil || len(jobs) != 1 {
		t.Fatalf("claim: %v %d", err, len(jobs))
	}
	if _, err := e.queue.Complete(ctx, jobs[0].ID, jobs[0].Token, queue.Result{Pages: 1}); err != nil {
		t.Fatal(err)
	}
	r = e.do("POST", fmt.Sprintf("/v1/faxes/%d/cancel", f.ID), e.sub, nil, "")
	p := r.problem(t)
	if r.status != 409 || p.Type != problemPrefix+"state-conflict" || !strings.Contains(p.Detail, "already sent") {
		t.Fatalf("cancel sent: %d %+v", r.status, p)
	}
	var got Fax
	e.do("GET", fmt.Sprintf("/v1/faxes/%d", f.ID), e.sub, nil, "").json(t, &got)
	if got.State != queue.Sent || got.PagesConfirmed != 1 || len(got.History) != 3 {
		t.Fatalf("after send: %+v", got)
	}
}

// PDF, PNG and text become fax pages; several documents make one fax.
func TestSubmitRendersDocuments(t *testing.T) {
	e := newEnv(t, Config{})
	pdf := pdfDoc(t)
	r := e.submit(e.sub, `{"to":"+15550100","resolution":"standard"}`, []doc{pdf, pngDoc(t), textDoc("cover note\n")})
	if r.status != 201 {
		t.Fatalf("submit: %d %s", r.status, r.body)
	}
	var f Fax
	r.json(t, &f)
	if f.PagesTotal != 4 {
		t.Fatalf("pages_total = %d, want 4 (2 PDF + 1 PNG + 1 text)", f.PagesTotal)
	}
	r = e.do("GET", fmt.Sprintf("/v1/faxes/%d/document?format=tiff", f.ID), e.sub, nil, "")
	pages, err := tiff.Decode(r.body)
	if err != nil || len(pages) != 4 {
		t.Fatalf("tiff: %d pages, %v", len(pages), err)
	}
	for i, p := range pages {
		if p.Bilevel.Width != 1728 || p.YDPI > 100 {
			t.Fatalf("page %d: width %d ydpi %v", i, p.Bilevel.Width, p.YDPI)
		}
		black := 0
		for _, b := range p.Bilevel.Pix {
			if b != 0 {
				black++
			}
		}
		if black == 0 {
			t.Fatalf("page %d is blank", i)
		}
	}
	if tiffinfo, err := exec.LookPath("tiffinfo"); err == nil {
		fn := t.TempDir() + "/fax.tif"
		if err := os.WriteFile(fn, r.body, 0o600); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(tiffinfo, fn).CombinedOutput()
		if err != nil || strings.Count(string(out), "Image Width: 1728") != 4 {
			t.Fatalf("tiffinfo: %v %s", err, out)
		}
	}
	r = e.do("GET", fmt.Sprintf("/v1/faxes/%d/document?format=original&part=0", f.ID), e.sub, nil, "")
	if !bytes.Equal(r.body, pdf.data) || r.header.Get("Content-Type") != "application/pdf" {
		t.Fatalf("original PDF differs (%d bytes, %s)", len(r.body), r.header.Get("Content-Type"))
	}
}

// A cover page goes before the documents: the first page carries ink in
// the cover's box, the others are the documents' own pages, and the count
// includes it. Another cover is another set of pages.
func TestSubmitWithCoverPage(t *testing.T) {
	e := newEnv(t, Config{})
	plain := e.submit(e.sub, `{"to":"+15550100","resolution":"standard"}`, []doc{textDoc("the letter\n")})
	covered := e.submit(e.sub, `{"to":"+15550100","from":"+15550111","resolution":"standard",
		"cover":{"to_name":"Accounts","from_name":"ACME","subject":"Invoice 4711","comment":"Two lines\nof comment"}}`,
		[]doc{textDoc("the letter\n")})
	if plain.status != 201 || covered.status != 201 {
		t.Fatalf("submit: %d %s / %d %s", plain.status, plain.body, covered.status, covered.body)
	}
	var fp, fc Fax
	plain.json(t, &fp)
	covered.json(t, &fc)
	if fp.PagesTotal != 1 || fc.PagesTotal != 2 {
		t.Fatalf("pages: plain %d, with cover %d", fp.PagesTotal, fc.PagesTotal)
	}
	get := func(id int64) []tiff.Page {
		r := e.do("GET", fmt.Sprintf("/v1/faxes/%d/document?format=tiff", id), e.sub, nil, "")
		pages, err := tiff.Decode(r.body)
		if err != nil {
			t.Fatal(err)
		}
		return pages
	}
	pp, pc := get(fp.ID), get(fc.ID)
	if len(pc) != 2 || !pc[1].Bilevel.Equal(pp[0].Bilevel) {
		t.Fatal("the page after the cover is not the document's page")
	}
	if pc[0].Bilevel.Equal(pp[0].Bilevel) {
		t.Fatal("the cover page is the document's page")
	}
	ink := 0
	for _, b := range pc[0].Bilevel.Pix {
		if b != 0 {
			ink++
		}
	}
	if ink < 500 {
		t.Fatalf("cover page nearly blank (%d inked bytes)", ink)
	}
}

func TestCoverTemplateConfig(t *testing.T) {
	dir := t.TempDir()
	bad := dir + "/bad.tmpl"
	os.WriteFile(bad, []byte("# {{.Subject"), 0o600)
	if errs := (Config{CoverTemplate: bad}).Validate(); len(errs) == 0 || !strings.Contains(fmt.Sprint(errs), "cover_template") {
		t.Fatalf("bad template: %v", errs)
	}
	if errs := (Config{CoverTemplate: dir + "/missing.tmpl"}).Validate(); len(errs) == 0 {
		t.Fatal("missing template file accepted")
	}
	good := dir + "/good.tmpl"
	os.WriteFile(good, []byte("# {{.Subject}}\nTo: {{.To}}\n"), 0o600)
	e := newEnv(t, Config{CoverTemplate: good})
	r := e.submit(e.sub, `{"to":"+15550100","cover":{"subject":"Hello"}}`, []doc{textDoc("x\n")})
	if r.status != 201 {
		t.Fatalf("submit with a custom cover template: %d %s", r.status, r.body)
	}
}

// hasInk reports whether img has a dark pixel.
func hasInk(img image.Image) bool {
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			if g, _, _, _ := img.At(x, y).RGBA(); g < 0x8000 {
				return true
			}
		}
	}
	return false
}

// A fax waiting for its time is made due at once by its submitter (the
// history says who); a fax in any other state is a 409, another
// submitter's a 404.
func TestRetryNow(t *testing.T) {
	e := newEnv(t, Config{})
	later := time.Now().Add(6 * time.Hour).UTC().Format(time.RFC3339)
	r := e.submit(e.sub, `{"to":"0301234567","send_after":"`+later+`"}`, []doc{textDoc("hello\n")})
	var f Fax
	r.json(t, &f)
	if r.status != 201 || f.NextAttemptAt == nil || time.Until(*f.NextAttemptAt) < time.Hour {
		t.Fatalf("scheduled fax: %d %+v", r.status, f)
	}
	sales, _, _ := e.api.tokens.Create(context.Background(), "sales", "submitter")
	if r := e.do("POST", fmt.Sprintf("/v1/faxes/%d/retry", f.ID), sales, nil, ""); r.status != 404 {
		t.Fatalf("other submitter's retry: %d", r.status)
	}
	var got Fax
	r = e.do("POST", fmt.Sprintf("/v1/faxes/%d/retry", f.ID), e.sub, nil, "")
	r.json(t, &got)
	if r.status != 200 || got.State != queue.Pending || got.NextAttemptAt == nil || got.NextAttemptAt.After(time.Now().Add(time.Minute)) {
		t.Fatalf("retry now: %d %+v", r.status, got)
	}
	e.do("GET", fmt.Sprintf("/v1/faxes/%d", f.ID), e.sub, nil, "").json(t, &got)
	if h := got.History[len(got.History)-1]; h.From != "pending" || h.To != "pending" || !strings.Contains(h.Reason, "retry now by") {
		t.Fatalf("history after retry now: %+v", got.History)
	}
	e.do("POST", fmt.Sprintf("/v1/faxes/%d/cancel", f.ID), e.sub, nil, "")
	r = e.do("POST", fmt.Sprintf("/v1/faxes/%d/retry", f.ID), e.sub, nil, "")
	if p := r.problem(t); r.status != 409 || !strings.Contains(p.Detail, "cancelled") {
		t.Fatalf("retry of a cancelled fax: %d %+v", r.status, p)
	}
}
