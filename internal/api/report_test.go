package api

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/faxd/faxd/internal/api/tokens"
	"github.com/faxd/faxd/queue"
)

// pdfTool runs a poppler tool on pdf and returns its output.
func pdfTool(t *testing.T, pdf []byte, tool string, args ...string) string {
	t.Helper()
	if _, err := exec.LookPath(tool); err != nil {
		t.Skipf("%s not installed (poppler-utils)", tool)
	}
	in := filepath.Join(t.TempDir(), "in.pdf")
	if err := os.WriteFile(in, pdf, 0o600); err != nil {
		t.Fatal(err)
	}
	args = append(args, in)
	if tool == "pdftotext" {
		args = append(args, "-") // to stdout
	}
	out, err := exec.Command(tool, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", tool, err, out)
	}
	return string(out)
}

// GET /v1/faxes/{id}/report: 409 until the fax is final; then a PDF whose
// text layer names the number, result, pages, duration, bit rate and
// remote station, with the first page as its one image; 404 for another
// submitter and 410 once the fax is deleted. report: true is kept with
// the job for the completion notice.
func TestFaxReport(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{})
	ctx := context.Background()
	var f Fax
	e.submit(e.sub, `{"to":"+4930331","report":true}`, []doc{textDoc("first page of the reported fax\n")}).json(t, &f)
	if f.Metadata["report"] != true {
		t.Fatalf("metadata %v: report: true is not kept", f.Metadata)
	}
	path := fmt.Sprintf("/v1/faxes/%d/report", f.ID)
	if r := e.do("GET", path, e.sub, nil, ""); r.status != 409 {
		t.Fatalf("report of a pending fax: %d %s", r.status, r.body)
	}
	node, err := e.queue.Register(ctx, queue.NodeInfo{ID: "n1", Capacity: 2}, queue.NodeConfig{})
	if err != nil {
		t.Fatal(err)
	}
	jobs, err := e.queue.Claim(ctx, node.Lease(), 1)
	if err != nil || len(jobs) != 1 {
		t.Fatalf("claim: %v %+v", err, jobs)
	}
	if err := e.queue.SetResult(ctx, f.ID, jobs[0].Token, map[string]any{"remote_station_id": "+49 30 999 REMOTE",
		"duration_ms": 42000, "bit_rate": 14400, "ecm": true, "gateway": "gw-east"}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.queue.Complete(ctx, f.ID, jobs[0].Token, queue.Result{Pages: 1}); err != nil {
		t.Fatal(err)
	}

	r := e.do("GET", path, e.sub, nil, "")
	if r.status != 200 || r.header.Get("Content-Type") != "application/pdf" {
		t.Fatalf("report: %d %s %s", r.status, r.header.Get("Content-Type"), r.body[:min(len(r.body), 300)])
	}
	text := pdfTool(t, []byte(r.body), "pdftotext", "-enc", "UTF-8", "-layout")
	for _, want := range []string{"Fax transmission report", fmt.Sprint(f.ID), "+4930331", "OK (sent)", "1 of 1 sent",
		"42s", "14400 bit/s", "+49 30 999 REMOTE", "gw-east", "billing", "First page"} {
		if !strings.Contains(text, want) {
			t.Errorf("report text lacks %q:\n%s", want, text)
		}
	}
	// One image: the first page at fax width (reduced on the page, not
	// resampled).
	images := pdfTool(t, []byte(r.body), "pdfimages", "-list")
	if lines := strings.Split(strings.TrimSpace(images), "\n"); len(lines) != 3 || !strings.Contains(lines[2], " 1728 ") {
		t.Errorf("report images:\n%s", images)
	}

	other, _, err := tokens.New(e.pool).Create(ctx, "payroll", tokens.Submitter)
	if err != nil {
		t.Fatal(err)
	}
	if r := e.do("GET", path, other, nil, ""); r.status != 404 {
		t.Errorf("another submitter's report: %d", r.status)
	}
	if _, err := e.pool.Exec(ctx, `UPDATE outbox SET published_at = now() WHERE published_at IS NULL`); err != nil {
		t.Fatal(err)
	}
	if r := e.do("DELETE", fmt.Sprintf("/v1/faxes/%d", f.ID), e.sub, nil, ""); r.status != 204 {
		t.Fatalf("delete: %d %s", r.status, r.body)
	}
	if r := e.do("GET", path, e.sub, nil, ""); r.status != 410 {
		t.Errorf("report of a deleted fax: %d %s", r.status, r.body)
	}
	if _, err := e.api.ReportPDF(ctx, f.ID); err == nil || !strings.Contains(err.Error(), "deleted") {
		t.Errorf("ReportPDF of a deleted fax: %v", err)
	}
}

// A failed fax's report gives the reason and class; without its stored
// pages it says so instead of showing the first page.
func TestFaxReportFailedWithoutPages(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{})
	ctx := context.Background()
	var f Fax
	e.submit(e.sub, `{"to":"+4930332"}`, []doc{textDoc("never sent\n")}).json(t, &f)
	node, err := e.queue.Register(ctx, queue.NodeInfo{ID: "n1", Capacity: 2}, queue.NodeConfig{})
	if err != nil {
		t.Fatal(err)
	}
	jobs, err := e.queue.Claim(ctx, node.Lease(), 1)
	if err != nil || len(jobs) != 1 {
		t.Fatalf("claim: %v %+v", err, jobs)
	}
	if _, err := e.queue.Fail(ctx, f.ID, jobs[0].Token, queue.Failure{Class: queue.ClassPermanent, Reason: "number unobtainable"}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.pool.Exec(ctx, `UPDATE jobs SET document = '' WHERE id = $1`, f.ID); err != nil {
		t.Fatal(err)
	}
	pdf, err := e.api.ReportPDF(ctx, f.ID)
	if err != nil {
		t.Fatal(err)
	}
	text := pdfTool(t, pdf, "pdftotext", "-enc", "UTF-8", "-layout")
	for _, want := range []string{"FAILED: number unobtainable [permanent]", "0 of 1 sent", "no longer stored"} {
		if !strings.Contains(text, want) {
			t.Errorf("report text lacks %q:\n%s", want, text)
		}
	}
	if images := pdfTool(t, pdf, "pdfimages", "-list"); len(strings.Split(strings.TrimSpace(images), "\n")) != 2 {
		t.Errorf("a report without pages has images:\n%s", images)
	}
}
