package api

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/faxd/faxd/internal/docstore"
	"github.com/faxd/faxd/queue"
	"github.com/faxd/faxd/t38/faxpdf"
	"github.com/faxd/faxd/t38/tiff"
)

// The confirmation report of a finished fax is a one-page PDF, written
// with a text layer (searchable, and readable by tools that extract text)
// rather than as a rendered image: what it says is the record of the
// transmission, so it should survive copy and search. Beside the text it
// shows the first page, reduced, as business fax machines print it.

// ReportMetadataKey is the job metadata key set by `report: true`: the
// completion notices then carry the report.
const ReportMetadataKey = "report"

// withReport is a job's metadata with the report mark when report is
// set: kept with the job, where the completion notice finds it. md is
// copied (it is the caller's).
func withReport(md map[string]any, report bool) map[string]any {
	if !report {
		return md
	}
	out := make(map[string]any, len(md)+1)
	for k, v := range md {
		out[k] = v
	}
	out[ReportMetadataKey] = true
	return out
}

// ErrReportNotFinal is ReportPDF's error for a fax still under way.
var ErrReportNotFinal = errors.New("api: fax not finished")

// faxReport answers GET /v1/faxes/{id}/report.
func (a *API) faxReport(w http.ResponseWriter, r *http.Request, c *caller) error {
	j, err := a.job(r, c) // 404 for others' faxes, 410 once deleted
	if err != nil {
		return err
	}
	if !j.State.Final() {
		return newProblem(http.StatusConflict, "state-conflict", "fax %d is %s; a report exists once it is sent, failed or cancelled", j.ID, j.State)
	}
	pdf, err := a.report(r.Context(), j)
	if err != nil {
		return err
	}
	return sendFile(w, "application/pdf", fmt.Sprintf("fax-%d-report.pdf", j.ID), pdf)
}

// ReportPDF returns the confirmation report of finished fax id, for the
// completion notices of faxes submitted with `report: true`.
// queue.ErrNotFound and queue.ErrDeleted say it is gone for good.
func (a *API) ReportPDF(ctx context.Context, id int64) ([]byte, error) {
	j, err := a.queue.Get(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("report of fax %d: %w", id, err)
	}
	ts, err := a.queue.Tombstones(ctx, []int64{id})
	if err != nil {
		return nil, fmt.Errorf("report of fax %d: %w", id, err)
	}
	if t, ok := ts[id]; ok {
		return nil, fmt.Errorf("report of fax %d: %w", id, &queue.TombstoneError{ID: id, Tombstone: t})
	}
	if !j.State.Final() {
		return nil, fmt.Errorf("report of fax %d (%s): %w", id, j.State, ErrReportNotFinal)
	}
	return a.report(ctx, j)
}

// report writes finished job j's report.
func (a *API) report(ctx context.Context, j queue.Job) ([]byte, error) {
	first, err := a.firstPage(ctx, j)
	if err != nil {
		return nil, err
	}
	return reportPDF(j, first, time.Now())
}

// firstPage is the job's first fax page, or nil when its document set is
// gone (the report is still worth having without the picture).
func (a *API) firstPage(ctx context.Context, j queue.Job) (*faxpdf.Page, error) {
	if j.Document == "" {
		return nil, nil
	}
	set, err := a.docs.Get(ctx, j.Document)
	if errors.Is(err, docstore.ErrNotFound) || errors.Is(err, docstore.ErrInvalid) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("report of fax %d: %w", j.ID, err)
	}
	data, _, err := a.docs.Blob(ctx, set.Pages)
	if errors.Is(err, docstore.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("report of fax %d: %w", j.ID, err)
	}
	f, err := tiff.Open(data, tiff.Limits{})
	if err != nil {
		a.log.Warn("report without its first page: pages unreadable", "fax", j.ID, "err", err)
		return nil, nil
	}
	p, err := f.Page(0)
	if err != nil {
		a.log.Warn("report without its first page: page unreadable", "fax", j.ID, "err", err)
		return nil, nil
	}
	img := p.Fax(0, 0)
	return &faxpdf.Page{Image: img}, nil
}

// reportLine is one labelled value of the report.
type reportLine struct{ label, value string }

// reportLines lists what the report says about job j.
func reportLines(j queue.Job) []reportLine {
	res, _ := j.Metadata["result"].(map[string]any)
	str := func(k string) string {
		switch v := res[k].(type) {
		case string:
			return v
		case float64:
			return strconv.FormatFloat(v, 'f', -1, 64)
		case bool:
			if v {
				return "yes"
			}
			return "no"
		}
		return ""
	}
	result := strings.ToUpper(string(j.State))
	if j.State == queue.Sent {
		result = "OK (sent)"
	}
	if j.LastReason != "" && j.State != queue.Sent {
		result += ": " + j.LastReason
	}
	if j.LastClass != "" && j.State == queue.Failed {
		result += " [" + string(j.LastClass) + "]"
	}
	lines := []reportLine{
		{"Fax", strconv.FormatInt(j.ID, 10)},
		{"To", j.Destination},
		{"From", strings.TrimSpace(j.CallerID + " " + j.Header)},
		{"Submitted by", j.Submitter},
		{"Result", result},
		{"Submitted", j.CreatedAt.UTC().Format("2006-01-02 15:04:05 UTC")},
	}
	if !j.FinishedAt.IsZero() {
		lines = append(lines, reportLine{"Finished", j.FinishedAt.UTC().Format("2006-01-02 15:04:05 UTC")})
	}
	lines = append(lines, reportLine{"Pages", fmt.Sprintf("%d of %d sent", j.PagesConfirmed, j.PagesTotal)})
	if ms, ok := res["duration_ms"].(float64); ok && !math.IsNaN(ms) {
		lines = append(lines, reportLine{"Duration", (time.Duration(ms) * time.Millisecond).Round(time.Second).String()})
	}
	if s := str("bit_rate"); s != "" {
		lines = append(lines, reportLine{"Bit rate", s + " bit/s"})
	}
	lines = append(lines, reportLine{"Remote station", str("remote_station_id")})
	for _, kv := range [][2]string{{"ECM", "ecm"}, {"Coding", "coding"}, {"Resolution", "resolution"}, {"Gateway", "gateway"}} {
		if s := str(kv[1]); s != "" {
			lines = append(lines, reportLine{kv[0], s})
		}
	}
	lines = append(lines, reportLine{"Attempts", strconv.Itoa(j.Attempts)})
	return lines
}

// reportPDF lays the report out on one A4 page.
func reportPDF(j queue.Job, first *faxpdf.Page, now time.Time) ([]byte, error) {
	const left, valueX, top = 56, 190, 780
	clip := func(s string, n int) string {
		if r := []rune(s); len(r) > n {
			return string(r[:n-1]) + "…"
		}
		return s
	}
	tp := faxpdf.TextPage{Lines: []faxpdf.Text{{X: left, Y: top, Size: 18, Bold: true, S: "Fax transmission report"}}}
	y := float64(top - 34)
	for _, l := range reportLines(j) {
		tp.Lines = append(tp.Lines, faxpdf.Text{X: left, Y: y, Size: 11, Bold: true, S: l.label},
			faxpdf.Text{X: valueX, Y: y, Size: 11, S: clip(l.value, 60)})
		y -= 16
	}
	y -= 12
	if first != nil {
		tp.Lines = append(tp.Lines, faxpdf.Text{X: left, Y: y, Size: 11, Bold: true, S: "First page"})
		tp.Image = first
		tp.Box = faxpdf.Rect{X: left, Y: 50, W: faxpdf.A4Width - 2*left, H: y - 8 - 50}
	} else {
		tp.Lines = append(tp.Lines, faxpdf.Text{X: left, Y: y, Size: 11, S: "The fax's pages are no longer stored."})
	}
	tp.Lines = append(tp.Lines, faxpdf.Text{X: left, Y: 30, Size: 8, S: "Report written by faxd at " + now.UTC().Format("2006-01-02 15:04:05 UTC")})
	var buf bytes.Buffer
	w := faxpdf.NewWriter(&buf, faxpdf.Info{Title: fmt.Sprintf("Fax %d transmission report", j.ID), Subject: "fax to " + j.Destination})
	if err := w.AddTextPage(tp); err != nil {
		return nil, fmt.Errorf("report of fax %d: %w", j.ID, err)
	}
	if err := w.Close(); err != nil {
		return nil, fmt.Errorf("report of fax %d: %w", j.ID, err)
	}
	return buf.Bytes(), nil
}
