package notify_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"mime"
	"mime/multipart"
	"net/mail"
	"strings"
	"testing"
	"time"

	"github.com/faxd/faxd/internal/notify"
	"github.com/faxd/faxd/internal/notify/notifytest"
	"github.com/faxd/faxd/internal/pgtest"
	"github.com/faxd/faxd/queue"
)

// A fax submitted with report: true gets its confirmation report attached
// to both the callback and the mail; one without gets neither.
func TestFaxFinishedReportAttached(t *testing.T) {
	pool := pgtest.NewDB(t)
	srv := notifytest.StartSMTP(t, notifytest.SMTPOptions{})
	hook := notifytest.StartWebhook(t, "cb-secret", nil)
	cfg := testConfig()
	cfg.SMTP = srv.Config("faxd@example.com")
	cfg.CallbackSecret = "cb-secret"
	report := []byte("%PDF-1.4 report of fax 78")
	n := newNotifier(t, pool, cfg, docs{notify.ReportRef(78): report})
	run(t, n)
	ctx := context.Background()
	for _, id := range []int64{78, 79} {
		job := queue.Job{ID: id, State: queue.Sent, Destination: "+4940123", PagesTotal: 1, PagesConfirmed: 1, Attempts: 1,
			CallbackURL: hook.URL, CreatedAt: time.Now(), FinishedAt: time.Now(),
			Metadata: map[string]any{notify.NotifyEmailKey: "me@example.com", notify.ReportKey: id == 78}}
		if err := n.FaxFinished(ctx, nil, notify.JobNoticeFrom(job)); err != nil {
			t.Fatal(err)
		}
	}
	n.Wake()
	reqs := hook.Wait(t, 2, 10*time.Second)
	docOf := map[int64]*notify.Document{}
	for _, r := range reqs {
		var body struct {
			Data     notify.JobNotice `json:"data"`
			Document *notify.Document `json:"document"`
		}
		if err := json.Unmarshal(r.Body, &body); err != nil {
			t.Fatal(err)
		}
		docOf[body.Data.JobID] = body.Document
	}
	if d := docOf[78]; d == nil || !bytes.Equal(d.Data, report) || d.ContentType != "application/pdf" {
		t.Errorf("callback of the fax with report: document %+v", d)
	}
	if d := docOf[79]; d != nil {
		t.Errorf("callback of the fax without report carries a document %+v", d)
	}
	msgs := srv.Wait(t, 2, 10*time.Second)
	attached := map[string]bool{}
	for _, raw := range msgs {
		m, err := mail.ReadMessage(bytes.NewReader(raw.Data))
		if err != nil {
			t.Fatal(err)
		}
		mt, params, _ := mime.ParseMediaType(m.Header.Get("Content-Type"))
		has := false
		if strings.HasPrefix(mt, "multipart/") {
			mr := multipart.NewReader(m.Body, params["boundary"])
			for {
				p, err := mr.NextPart()
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				if p.Header.Get("Content-Type") != "" && strings.HasPrefix(p.Header.Get("Content-Type"), "application/pdf") {
					has = true
				}
			}
		}
		attached[m.Header.Get("Subject")] = has
	}
	if !attached["Fax 78 to +4940123: sent"] || attached["Fax 79 to +4940123: sent"] {
		t.Errorf("report attached by mail subject: %v", attached)
	}
}
