package notify_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net"
	"net/http"
	"net/mail"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/faxd/faxd/internal/notify"
	"github.com/faxd/faxd/internal/notify/notifytest"
	"github.com/faxd/faxd/internal/pgtest"
	"github.com/faxd/faxd/queue"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// docs is an in-memory notify.Documents.
type docs map[string][]byte

func (d docs) PDF(_ context.Context, ref string) ([]byte, error) {
	b, ok := d[ref]
	if !ok {
		return nil, fmt.Errorf("fax %s: %w", ref, notify.ErrNoDocument)
	}
	return b, nil
}

func testConfig() notify.Config {
	c := notify.DefaultConfig()
	c.Retry = notify.Retry{Initial: 20 * time.Millisecond, Max: 200 * time.Millisecond, MaxAttempts: 6}
	c.PollInterval = 20 * time.Millisecond
	c.WebhookTimeout = 5 * time.Second
	c.OutboundAllow = []string{"127.0.0.1"} // webhooks go to local test servers
	return c
}

func newNotifier(t *testing.T, pool *pgxpool.Pool, cfg notify.Config, d notify.Documents) *notify.Notifier {
	t.Helper()
	return newNode(t, "node-1", pool, cfg, d)
}

func newNode(t *testing.T, node string, pool *pgxpool.Pool, cfg notify.Config, d notify.Documents) *notify.Notifier {
	t.Helper()
	n, err := notify.New(pool, cfg, notify.Options{Secrets: testSecrets, NodeID: node, Documents: d})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// run works deliveries in the background until the test ends.
func run(t *testing.T, n *notify.Notifier) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = n.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
}

// waitState polls the log until the delivery reaches a final state.
func waitState(t *testing.T, n *notify.Notifier, id int64, want notify.State) notify.Delivery {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		d, err := n.Get(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if d.State != notify.StatePending {
			if d.State != want {
				t.Fatalf("delivery %d is %s (%s), want %s", id, d.State, d.LastError, want)
			}
			return d
		}
		if time.Now().After(deadline) {
			t.Fatalf("delivery %d still pending after %d attempts: %s", id, d.Attempts, d.LastError)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func samplePDF() []byte {
	// Not a fax, but binary bytes of every value prove the attachment
	// survives the mail transport byte for byte.
	b := []byte("%PDF-1.4\n")
	for i := range 5000 {
		b = append(b, byte(i*7+i/256))
	}
	return b
}

func TestEmailWithAttachmentSTARTTLSAndAuth(t *testing.T) {
	pool := pgtest.NewDB(t)
	srv := notifytest.StartSMTP(t, notifytest.SMTPOptions{Username: "faxd", Password: "s3cret pass", TLS: true})
	cfg := testConfig()
	cfg.SMTP = srv.Config("fax@example.com")
	pdf := samplePDF()
	n := newNotifier(t, pool, cfg, docs{"rx-42": pdf})
	run(t, n)
	id, err := n.Enqueue(context.Background(), nil, notify.Request{
		Kind: notify.KindEmail, Event: notify.EventFaxReceived,
		Targets: []string{"sales@example.com", "boss@example.org"},
		Subject: "Fax from +4930123 — 3 pages\r\nBcc: evil@example.net",
		Text:    "Caller: +4930123\nPages: 3\nÜmlaut line\n",
		Data:    map[string]any{"pages": 3}, FaxRef: "rx-42", Attach: true, Key: "rx-42:rule:1",
	})
	if err != nil {
		t.Fatal(err)
	}
	d := waitState(t, n, id, notify.StateDelivered)
	if d.Attempts != 1 {
		t.Errorf("attempts = %d, want 1", d.Attempts)
	}
	msgs := srv.Wait(t, 1, 5*time.Second)
	if len(msgs) != 1 {
		t.Fatalf("server got %d messages, want 1", len(msgs))
	}
	got := msgs[0]
	if got.From != "fax@example.com" || strings.Join(got.To, " ") != "sales@example.com boss@example.org" {
		t.Errorf("envelope from %q to %q", got.From, got.To)
	}
	if got.User != "faxd" || !got.TLS {
		t.Errorf("auth user %q, tls %v: want faxd over TLS", got.User, got.TLS)
	}
	msg, err := mail.ReadMessage(bytes.NewReader(got.Data))
	if err != nil {
		t.Fatal(err)
	}
	subj, err := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
	if err != nil {
		t.Fatal(err)
	}
	if subj != "Fax from +4930123 — 3 pages Bcc: evil@example.net" {
		t.Errorf("subject %q", subj)
	}
	if msg.Header.Get("Bcc") != "" {
		t.Error("subject injected a Bcc header")
	}
	if msg.Header.Get("Message-Id") != "<"+d.IdempotencyKey+"@faxd>" {
		t.Errorf("Message-ID %q, key %q", msg.Header.Get("Message-Id"), d.IdempotencyKey)
	}
	text, att, name := parseMultipart(t, msg)
	if !strings.Contains(text, "Ümlaut line") || !strings.Contains(text, "Pages: 3") {
		t.Errorf("text part %q", text)
	}
	if !bytes.Equal(att, pdf) {
		t.Errorf("attached PDF differs from the source: %d bytes vs %d", len(att), len(pdf))
	}
	if name != "fax-rx-42.pdf" {
		t.Errorf("attachment name %q", name)
	}
}

func parseMultipart(t *testing.T, msg *mail.Message) (text string, pdf []byte, name string) {
	t.Helper()
	mt, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/mixed" {
		t.Fatalf("content type %q: %v", msg.Header.Get("Content-Type"), err)
	}
	mr := multipart.NewReader(msg.Body, params["boundary"])
	for {
		p, err := mr.NextPart() // decodes quoted-printable itself
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(p)
		if err != nil {
			t.Fatal(err)
		}
		ct, _, _ := mime.ParseMediaType(p.Header.Get("Content-Type"))
		switch ct {
		case "text/plain":
			text = string(b)
		case "application/pdf":
			if p.Header.Get("Content-Transfer-Encoding") != "base64" {
				t.Fatalf("PDF part encoding %q", p.Header.Get("Content-Transfer-Encoding"))
			}
			pdf, err = decodeBase64Lines(b)
			if err != nil {
				t.Fatal(err)
			}
			name = p.FileName()
		}
	}
	return text, pdf, name
}

func decodeBase64Lines(b []byte) ([]byte, error) {
	var out bytes.Buffer
	for line := range strings.SplitSeq(string(b), "\r\n") {
		if len(line) > 76 {
			return nil, fmt.Errorf("base64 line of %d characters", len(line))
		}
		out.WriteString(line)
	}
	return base64Decode(out.String())
}

func TestEmailRejectedRecipientIsPermanentAndTemporaryIsRetried(t *testing.T) {
	pool := pgtest.NewDB(t)
	var mu sync.Mutex
	tempFails := 2
	srv := notifytest.StartSMTP(t, notifytest.SMTPOptions{RcptReply: func(to string) error {
		mu.Lock()
		defer mu.Unlock()
		if strings.HasPrefix(to, "nobody@") {
			return notifytest.SMTPError(550, "no such user")
		}
		if tempFails > 0 {
			tempFails--
			return notifytest.SMTPError(451, "greylisted")
		}
		return nil
	}})
	cfg := testConfig()
	cfg.SMTP = srv.Config("fax@example.com")
	n := newNotifier(t, pool, cfg, nil)
	run(t, n)
	ctx := context.Background()
	bad, err := n.Enqueue(ctx, nil, notify.Request{Kind: notify.KindEmail, Event: "test", Targets: []string{"nobody@example.com"}, Key: "bad"})
	if err != nil {
		t.Fatal(err)
	}
	d := waitState(t, n, bad, notify.StateFailed)
	if d.Attempts != 1 || !strings.Contains(d.LastError, "550") {
		t.Errorf("550: attempts %d, error %q; want 1 attempt and the 550 kept", d.Attempts, d.LastError)
	}
	grey, err := n.Enqueue(ctx, nil, notify.Request{Kind: notify.KindEmail, Event: "test", Targets: []string{"someone@example.com"}, Key: "grey"})
	if err != nil {
		t.Fatal(err)
	}
	d = waitState(t, n, grey, notify.StateDelivered)
	if d.Attempts != 3 {
		t.Errorf("451 twice: attempts %d, want 3", d.Attempts)
	}
	if len(srv.Messages()) != 1 {
		t.Errorf("server accepted %d messages, want 1", len(srv.Messages()))
	}
}

func TestWebhookRetriesWithBackoffThenDelivers(t *testing.T) {
	pool := pgtest.NewDB(t)
	const failures = 3
	hook := notifytest.StartWebhook(t, "whsec-0123456789abcdef", func(n int) int {
		if n <= failures {
			return http.StatusBadGateway
		}
		return http.StatusNoContent
	})
	cfg := testConfig()
	cfg.Retry.Initial, cfg.Retry.Max = 40*time.Millisecond, time.Second
	n := newNotifier(t, pool, cfg, docs{"rx-1": samplePDF()})
	run(t, n)
	id, err := n.Enqueue(context.Background(), nil, notify.Request{Kind: notify.KindWebhook, Event: notify.EventFaxReceived,
		Targets: []string{hook.URL}, Data: map[string]any{"did": "+4930555"}, FaxRef: "rx-1", Attach: true,
		Secret: hook.Secret, Key: "rx-1:webhook"})
	if err != nil {
		t.Fatal(err)
	}
	d := waitState(t, n, id, notify.StateDelivered)
	reqs := hook.Requests()
	if len(reqs) != failures+1 || d.Attempts != failures+1 {
		t.Fatalf("receiver got %d requests, log has %d attempts; want %d", len(reqs), d.Attempts, failures+1)
	}
	for i, r := range reqs {
		if r.VerifyErr != nil {
			t.Errorf("request %d: signature: %v", r.N, r.VerifyErr)
		}
		if r.Header.Get(notify.IdempotencyHeader) != d.IdempotencyKey {
			t.Errorf("request %d: idempotency key %q, want %q", r.N, r.Header.Get(notify.IdempotencyHeader), d.IdempotencyKey)
		}
		if !bytes.Equal(r.Body, reqs[0].Body) {
			t.Errorf("request %d: body differs from the first attempt's", r.N)
		}
		if i > 0 {
			// Back-off doubles: attempt k waits at least Initial·2^(k-1).
			min := cfg.Retry.Delay(i)
			if gap := r.At.Sub(reqs[i-1].At); gap < min {
				t.Errorf("gap before request %d is %v, want at least %v", r.N, gap, min)
			}
		}
	}
	var body notify.WebhookBody
	if err := json.Unmarshal(reqs[0].Body, &body); err != nil {
		t.Fatal(err)
	}
	if body.Event != notify.EventFaxReceived || body.ID != d.IdempotencyKey || string(body.Data) != `{"did":"+4930555"}` {
		t.Errorf("body %+v", body)
	}
	if body.Document == nil || !bytes.Equal(body.Document.Data, samplePDF()) || body.Document.Size != len(samplePDF()) {
		t.Error("webhook document does not carry the fax's PDF")
	}
}

func TestWebhookClientErrorIsNotRetried(t *testing.T) {
	pool := pgtest.NewDB(t)
	hook := notifytest.StartWebhook(t, "k", func(int) int { return http.StatusUnprocessableEntity })
	n := newNotifier(t, pool, testConfig(), nil)
	run(t, n)
	id, err := n.Enqueue(context.Background(), nil, notify.Request{Kind: notify.KindWebhook, Event: "test",
		Targets: []string{hook.URL}, Secret: "k", Key: "x"})
	if err != nil {
		t.Fatal(err)
	}
	d := waitState(t, n, id, notify.StateFailed)
	if d.Attempts != 1 || !strings.Contains(d.LastError, "422") {
		t.Errorf("attempts %d, error %q; want 1 and the 422 kept", d.Attempts, d.LastError)
	}
	time.Sleep(5 * testConfig().Retry.Initial)
	if got := len(hook.Requests()); got != 1 {
		t.Errorf("receiver got %d requests, want 1", got)
	}
}

func TestGivesUpAfterMaxAttemptsAndRetryRequeues(t *testing.T) {
	pool := pgtest.NewDB(t)
	var mu sync.Mutex
	healthy := false
	hook := notifytest.StartWebhook(t, "k", func(int) int {
		mu.Lock()
		defer mu.Unlock()
		if healthy {
			return http.StatusOK
		}
		return http.StatusTooManyRequests
	})
	cfg := testConfig()
	cfg.Retry.MaxAttempts = 3
	n := newNotifier(t, pool, cfg, nil)
	run(t, n)
	ctx := context.Background()
	id, err := n.Enqueue(ctx, nil, notify.Request{Kind: notify.KindWebhook, Event: "test", Targets: []string{hook.URL}, Secret: "k", Key: "k1"})
	if err != nil {
		t.Fatal(err)
	}
	d := waitState(t, n, id, notify.StateFailed)
	if d.Attempts != 3 || !strings.Contains(d.LastError, "429") || d.FinishedAt.IsZero() {
		t.Errorf("attempts %d, error %q, finished %v", d.Attempts, d.LastError, d.FinishedAt)
	}
	mu.Lock()
	healthy = true
	mu.Unlock()
	if err := n.Retry(ctx, id); err != nil {
		t.Fatal(err)
	}
	d = waitState(t, n, id, notify.StateDelivered)
	if d.Attempts != 1 || len(hook.Requests()) != 4 {
		t.Errorf("after retry: attempts %d, receiver got %d; want 1 and 4", d.Attempts, len(hook.Requests()))
	}
}

func TestBackoffScheduleRecorded(t *testing.T) {
	pool := pgtest.NewDB(t)
	hook := notifytest.StartWebhook(t, "k", func(int) int { return http.StatusInternalServerError })
	cfg := testConfig()
	cfg.Retry = notify.Retry{Initial: time.Hour, Max: 24 * time.Hour, MaxAttempts: 5}
	n := newNotifier(t, pool, cfg, nil)
	ctx := context.Background()
	id, err := n.Enqueue(ctx, nil, notify.Request{Kind: notify.KindWebhook, Event: "test", Targets: []string{hook.URL}, Secret: "k", Key: "k"})
	if err != nil {
		t.Fatal(err)
	}
	for attempt := 1; attempt <= 3; attempt++ {
		worked, err := n.ProcessOne(ctx)
		if err != nil || !worked {
			t.Fatalf("attempt %d: worked %v, %v", attempt, worked, err)
		}
		d, err := n.Get(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		wait := d.NextAttemptAt.Sub(d.UpdatedAt)
		want := time.Hour << (attempt - 1)
		if wait < want || wait > want+want/10+time.Second {
			t.Errorf("after attempt %d the wait is %v, want %v plus at most 10%%", attempt, wait, want)
		}
		if worked, _ := n.ProcessOne(ctx); worked {
			t.Fatalf("attempt %d: a backing-off delivery was worked early", attempt)
		}
		// Make it due now, as if the wait had passed.
		if _, err := pool.Exec(ctx, `UPDATE deliveries SET next_attempt_at = now() WHERE id = $1`, id); err != nil {
			t.Fatal(err)
		}
	}
}

func TestRetryDelay(t *testing.T) {
	r := notify.Retry{Initial: time.Second, Max: 10 * time.Second}
	for attempt, want := range map[int]time.Duration{1: time.Second, 2: 2 * time.Second, 3: 4 * time.Second, 4: 8 * time.Second, 5: 10 * time.Second, 50: 10 * time.Second} {
		if got := r.Delay(attempt); got != want {
			t.Errorf("Delay(%d) = %v, want %v", attempt, got, want)
		}
	}
}

// Two nodes' workers race over the same deliveries: each is sent once.
func TestTwoNodesNeverDeliverTwice(t *testing.T) {
	dsn := pgtest.NewDSN(t)
	var mu sync.Mutex
	seen := map[string]int{}
	// A slow receiver keeps rows locked long enough for real contention.
	hook := notifytest.StartWebhook(t, "k", func(int) int { time.Sleep(3 * time.Millisecond); return http.StatusOK })
	cfg := testConfig()
	cfg.Workers = 4
	a := newNode(t, "node-a", pgtest.Pool(t, dsn), cfg, nil)
	b := newNode(t, "node-b", pgtest.Pool(t, dsn), cfg, nil)
	const total = 60
	ctx := context.Background()
	var ids []int64
	for i := range total {
		id, err := a.Enqueue(ctx, nil, notify.Request{Kind: notify.KindWebhook, Event: "test", Targets: []string{hook.URL},
			Data: map[string]int{"i": i}, Secret: "k", Key: fmt.Sprint("race-", i)})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	run(t, a)
	run(t, b)
	for _, id := range ids {
		waitState(t, a, id, notify.StateDelivered)
	}
	for _, r := range hook.Requests() {
		mu.Lock()
		seen[r.Header.Get(notify.IdempotencyHeader)]++
		mu.Unlock()
	}
	if len(seen) != total {
		t.Errorf("receiver saw %d distinct deliveries, want %d", len(seen), total)
	}
	for k, c := range seen {
		if c != 1 {
			t.Errorf("delivery %s arrived %d times", k, c)
		}
	}
	nodes := map[string]int{}
	ds, err := a.List(ctx, notify.Filter{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range ds {
		nodes[d.NodeID]++
	}
	t.Logf("deliveries per node: %v", nodes)
}

func TestEnqueueSameKeyIsOneDelivery(t *testing.T) {
	pool := pgtest.NewDB(t)
	hook := notifytest.StartWebhook(t, "adm", nil)
	cfg := testConfig()
	cfg.AdminEmails = []string{"ops@example.com", "oncall@example.com"}
	cfg.AdminWebhooks = []notify.Webhook{{URL: hook.URL, Secret: "adm"}}
	// Two nodes see the same server go down.
	a, b := newNotifier(t, pool, cfg, nil), newNotifier(t, pool, cfg, nil)
	ev := notify.ServerEvent{Node: "fax2", LastHeartbeat: time.Now().Add(-time.Minute), Incarnation: 7, At: time.Now()}
	ctx := context.Background()
	if err := a.ServerDown(ctx, ev); err != nil {
		t.Fatal(err)
	}
	ev.ReportedBy, ev.At = "other", time.Now()
	if err := b.ServerDown(ctx, ev); err != nil {
		t.Fatal(err)
	}
	ds, err := a.List(ctx, notify.Filter{Event: notify.EventServerDown})
	if err != nil {
		t.Fatal(err)
	}
	if len(ds) != 3 {
		t.Fatalf("%d deliveries for one server-down seen twice, want 3 (2 emails, 1 webhook)", len(ds))
	}
	targets := map[string]bool{}
	for _, d := range ds {
		targets[d.Target] = true
		if d.Kind == notify.KindEmail && !strings.Contains(d.Subject, "fax2 is down") {
			t.Errorf("subject %q", d.Subject)
		}
	}
	if !targets["ops@example.com"] || !targets["oncall@example.com"] || !targets[hook.URL] {
		t.Errorf("targets %v", targets)
	}
	// A later outage of the same server is a new notice.
	ev.LastHeartbeat = ev.LastHeartbeat.Add(time.Hour)
	if err := a.ServerDown(ctx, ev); err != nil {
		t.Fatal(err)
	}
	if ds, _ = a.List(ctx, notify.Filter{Event: notify.EventServerDown}); len(ds) != 6 {
		t.Errorf("%d deliveries after a second outage, want 6", len(ds))
	}
}

func TestAdminEventsReachReceivers(t *testing.T) {
	pool := pgtest.NewDB(t)
	srv := notifytest.StartSMTP(t, notifytest.SMTPOptions{})
	hook := notifytest.StartWebhook(t, "adm-secret", nil)
	cfg := testConfig()
	cfg.SMTP = srv.Config("faxd@example.com")
	cfg.AdminEmails = []string{"ops@example.com"}
	cfg.AdminWebhooks = []notify.Webhook{{URL: hook.URL, Secret: "adm-secret"}}
	cfg.SyncCompleted = true
	n := newNotifier(t, pool, cfg, nil)
	run(t, n)
	ctx := context.Background()
	now := time.Now()
	calls := []struct {
		event string
		call  func() error
		want  string
	}{
		{notify.EventSyncCompleted, func() error {
			return n.SyncCompleted(ctx, notify.SyncEvent{Node: "standby1", Primary: "fax1", StartedAt: now, FinishedAt: now, Copied: map[string]int{"inbound_rules": 4}})
		}, "inbound_rules:"},
		{notify.EventFailure, func() error {
			return n.Failure(ctx, notify.FailureEvent{Node: "standby1", Component: "sync", Message: "primary unreachable", At: now})
		}, "primary unreachable"},
		{notify.EventBecamePrimary, func() error {
			return n.BecamePrimary(ctx, notify.PrimaryEvent{Node: "standby1", Previous: "fax1", Reason: "3 heartbeats missed", At: now})
		}, "3 heartbeats missed"},
		{notify.EventServerDown, func() error {
			return n.ServerDown(ctx, notify.ServerEvent{Node: "fax1", LastHeartbeat: now, At: now})
		}, "fax1 is down"},
		{notify.EventServerUp, func() error {
			return n.ServerUp(ctx, notify.ServerEvent{Node: "fax1", LastHeartbeat: now, DownSince: now, At: now})
		}, "fax1 is back"},
	}
	for i, c := range calls {
		if err := c.call(); err != nil {
			t.Fatal(err)
		}
		msgs := srv.Wait(t, i+1, 10*time.Second)
		reqs := hook.Wait(t, i+1, 10*time.Second)
		m, err := mail.ReadMessage(bytes.NewReader(msgs[i].Data))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(m.Body)
		if m.Header.Get("X-Faxd-Event") != c.event || !strings.Contains(string(body), c.want) {
			t.Errorf("%s: mail event %q, body %q", c.event, m.Header.Get("X-Faxd-Event"), body)
		}
		if reqs[i].Header.Get(notify.EventHeader) != c.event || reqs[i].VerifyErr != nil {
			t.Errorf("%s: webhook event %q, signature %v", c.event, reqs[i].Header.Get(notify.EventHeader), reqs[i].VerifyErr)
		}
	}
	// With sync_completed off, a completed sync tells nobody.
	cfg.SyncCompleted = false
	quiet := newNotifier(t, pool, cfg, nil)
	if err := quiet.SyncCompleted(ctx, notify.SyncEvent{Node: "standby1", FinishedAt: now.Add(time.Second)}); err != nil {
		t.Fatal(err)
	}
	if ds, _ := n.List(ctx, notify.Filter{Event: notify.EventSyncCompleted}); len(ds) != 2 {
		t.Errorf("%d sync deliveries, want the first event's 2", len(ds))
	}
}

func TestFaxFinishedCallbackAndEmail(t *testing.T) {
	pool := pgtest.NewDB(t)
	srv := notifytest.StartSMTP(t, notifytest.SMTPOptions{})
	hook := notifytest.StartWebhook(t, "cb-secret", nil)
	cfg := testConfig()
	cfg.SMTP = srv.Config("faxd@example.com")
	cfg.CallbackSecret = "cb-secret"
	n := newNotifier(t, pool, cfg, nil)
	run(t, n)
	ctx := context.Background()
	job := queue.Job{ID: 77, State: queue.Failed, Destination: "+4940123", LastReason: "busy 5 times",
		PagesTotal: 3, PagesConfirmed: 1, Attempts: 5, CallbackURL: hook.URL, CreatedAt: time.Now(), FinishedAt: time.Now(),
		Metadata: map[string]any{notify.NotifyEmailKey: []any{"me@example.com, you@example.com", "not an address"}}}
	tx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := n.FaxFinished(ctx, tx, notify.JobNoticeFrom(job)); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	n.Wake()
	reqs := hook.Wait(t, 1, 10*time.Second)
	if reqs[0].VerifyErr != nil || reqs[0].Header.Get(notify.EventHeader) != notify.EventFaxFailed {
		t.Errorf("callback: signature %v, event %q", reqs[0].VerifyErr, reqs[0].Header.Get(notify.EventHeader))
	}
	var body struct {
		Data notify.JobNotice `json:"data"`
	}
	if err := json.Unmarshal(reqs[0].Body, &body); err != nil {
		t.Fatal(err)
	}
	if body.Data.JobID != 77 || body.Data.State != "failed" || body.Data.Reason != "busy 5 times" || body.Data.PagesConfirmed != 1 {
		t.Errorf("callback data %+v", body.Data)
	}
	msgs := srv.Wait(t, 1, 10*time.Second)
	if strings.Join(msgs[0].To, ",") != "me@example.com,you@example.com" {
		t.Errorf("notice went to %v", msgs[0].To)
	}
	m, _ := mail.ReadMessage(bytes.NewReader(msgs[0].Data))
	if m.Header.Get("Subject") != "Fax 77 to +4940123: failed" {
		t.Errorf("subject %q", m.Header.Get("Subject"))
	}
	// Finishing again (a retried transaction) adds nothing.
	if err := n.FaxFinished(ctx, nil, notify.JobNoticeFrom(job)); err != nil {
		t.Fatal(err)
	}
	if ds, _ := n.List(ctx, notify.Filter{}); len(ds) != 2 {
		t.Errorf("%d deliveries, want 2", len(ds))
	}
}

func TestMissingDocumentFailsWithoutRetry(t *testing.T) {
	pool := pgtest.NewDB(t)
	hook := notifytest.StartWebhook(t, "k", nil)
	n := newNotifier(t, pool, testConfig(), docs{})
	run(t, n)
	id, err := n.Enqueue(context.Background(), nil, notify.Request{Kind: notify.KindWebhook, Event: "test",
		Targets: []string{hook.URL}, Secret: "k", Key: "gone", FaxRef: "purged", Attach: true})
	if err != nil {
		t.Fatal(err)
	}
	d := waitState(t, n, id, notify.StateFailed)
	if d.Attempts != 1 || !strings.Contains(d.LastError, "not found") || len(hook.Requests()) != 0 {
		t.Errorf("attempts %d, error %q, requests %d", d.Attempts, d.LastError, len(hook.Requests()))
	}
}

func TestEnqueueValidation(t *testing.T) {
	pool := pgtest.NewDB(t)
	n := newNotifier(t, pool, testConfig(), nil)
	for name, r := range map[string]notify.Request{
		"no target":     {Kind: notify.KindEmail, Event: "e", Key: "k"},
		"bad address":   {Kind: notify.KindEmail, Event: "e", Key: "k", Targets: []string{"Bob <bob@example.com>"}},
		"header inject": {Kind: notify.KindEmail, Event: "e", Key: "k", Targets: []string{"a@example.com\r\nBcc: x@y.z"}},
		"ftp url":       {Kind: notify.KindWebhook, Event: "e", Key: "k", Targets: []string{"ftp://example.com/"}},
		"two urls":      {Kind: notify.KindWebhook, Event: "e", Key: "k", Targets: []string{"http://a/", "http://b/"}},
		"creds in url":  {Kind: notify.KindWebhook, Event: "e", Key: "k", Targets: []string{"https://u:p@example.com/"}},
		"no key":        {Kind: notify.KindWebhook, Event: "e", Targets: []string{"http://a/"}},
		"kind":          {Kind: "sms", Event: "e", Key: "k", Targets: []string{"123"}},
		"attach no ref": {Kind: notify.KindWebhook, Event: "e", Key: "k", Targets: []string{"http://a/"}, Attach: true},
	} {
		if _, err := n.Enqueue(context.Background(), nil, r); err == nil || !strings.Contains(err.Error(), "invalid") {
			t.Errorf("%s: err = %v, want ErrInvalid", name, err)
		}
	}
	if ds, _ := n.List(context.Background(), notify.Filter{}); len(ds) != 0 {
		t.Errorf("%d deliveries recorded from invalid requests", len(ds))
	}
}

func TestConfigValidate(t *testing.T) {
	if err := notify.DefaultConfig().Validate(); err != nil {
		t.Fatalf("default config: %v", err)
	}
	c := notify.DefaultConfig()
	c.SMTP.Host, c.SMTP.Port, c.SMTP.From, c.SMTP.StartTLS = "mail", 0, "nope", "maybe"
	c.AdminEmails = []string{"x"}
	c.AdminWebhooks = []notify.Webhook{{URL: "gopher://x"}, {URL: "http://169.254.169.254/latest"}}
	c.OutboundAllow = []string{"10.0.0.0/8", "bad entry!"}
	c.Retry.MaxAttempts = 0
	err := c.Validate()
	for _, key := range []string{"smtp.port", "smtp.from", "smtp.starttls", "admin_emails[0]", "admin_webhooks[0].url",
		"admin_webhooks[1].url: 169.254.169.254 is a link-local address", "outbound_allow[1]", "retry.max_attempts"} {
		if err == nil || !strings.Contains(err.Error(), "notify."+key) {
			t.Errorf("Validate does not name notify.%s: %v", key, err)
		}
	}
}

// Without notify.outbound_allow, a webhook to 127.0.0.1, or to a name that
// resolves to it ("localhost"), fails for good on its first attempt and
// the 127.0.0.1 listener never sees a connection: the address is checked
// where it is dialled.
func TestWebhookToInternalAddressRefused(t *testing.T) {
	pool := pgtest.NewDB(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var accepted atomic.Int64
	srv := &http.Server{Handler: http.NotFoundHandler(), ConnState: func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			accepted.Add(1)
		}
	}}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	_, port, _ := net.SplitHostPort(ln.Addr().String())

	cfg := testConfig()
	cfg.OutboundAllow = nil
	n := newNotifier(t, pool, cfg, nil)
	run(t, n)
	for i, u := range []string{"http://localhost:" + port + "/hook", "http://127.0.0.1:" + port + "/hook"} {
		id, err := n.Enqueue(context.Background(), nil, notify.Request{Kind: notify.KindWebhook, Event: "test",
			Targets: []string{u}, Secret: "k", Key: fmt.Sprint("ssrf-", i)})
		if err != nil {
			t.Fatal(err)
		}
		d := waitState(t, n, id, notify.StateFailed)
		if d.Attempts != 1 || !strings.Contains(d.LastError, "loopback address") || !strings.Contains(d.LastError, "notify.outbound_allow") {
			t.Errorf("%s: attempts %d, error %q", u, d.Attempts, d.LastError)
		}
	}
	if got := accepted.Load(); got != 0 {
		t.Fatalf("the 127.0.0.1 listener accepted %d connections", got)
	}
}

// While a webhook attempt is in progress no transaction is open and the
// row is not locked; the row is leased to the node instead (another node
// finds nothing due). When the lease runs out, as when the node died,
// another node delivers it; the first node's late outcome is then not
// recorded over the second's.
func TestAttemptHoldsALeaseNotATransaction(t *testing.T) {
	dsn := pgtest.NewDSN(t)
	pool := pgtest.Pool(t, dsn)
	ctx := context.Background()
	entered := make(chan struct{}, 4)
	release := make(chan struct{})
	hook := notifytest.StartWebhook(t, "k", func(n int) int {
		if n == 1 {
			entered <- struct{}{}
			<-release // the first attempt hangs until the test lets it go
			return http.StatusInternalServerError
		}
		return http.StatusOK
	})
	a := newNode(t, "node-a", pool, testConfig(), nil)
	b := newNode(t, "node-b", pgtest.Pool(t, dsn), testConfig(), nil)
	id, err := a.Enqueue(ctx, nil, notify.Request{Kind: notify.KindWebhook, Event: "test", Targets: []string{hook.URL}, Secret: "k", Key: "lease"})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { _, err := a.ProcessOne(ctx); done <- err }()
	<-entered

	var idleInTx int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()
		AND state LIKE 'idle in transaction%'`).Scan(&idleInTx); err != nil {
		t.Fatal(err)
	}
	if idleInTx != 0 {
		t.Errorf("%d transactions open during the attempt", idleInTx)
	}
	var leased bool
	var node string
	// NOWAIT fails at once if anyone holds the row lock.
	err = pool.QueryRow(ctx, `SELECT next_attempt_at > clock_timestamp() + interval '30 seconds', node_id FROM deliveries
		WHERE id = $1 FOR UPDATE NOWAIT`, id).Scan(&leased, &node)
	if err != nil || !leased || node != "node-a" {
		t.Fatalf("during the attempt: leased %v to %q, %v", leased, node, err)
	}
	if worked, err := b.ProcessOne(ctx); worked || err != nil {
		t.Fatalf("another node took a leased delivery: %v %v", worked, err)
	}

	// The lease runs out (node-a is as good as dead): node-b delivers.
	if _, err := pool.Exec(ctx, `UPDATE deliveries SET next_attempt_at = clock_timestamp() WHERE id = $1`, id); err != nil {
		t.Fatal(err)
	}
	if worked, err := b.ProcessOne(ctx); !worked || err != nil {
		t.Fatalf("node-b after the lease: %v %v", worked, err)
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	d, err := a.Get(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if d.State != notify.StateDelivered || d.Attempts != 1 || d.NodeID != "node-b" || d.LastError != "" {
		t.Fatalf("after both: %s, %d attempts, node %q, error %q; want node-b's delivery kept", d.State, d.Attempts, d.NodeID, d.LastError)
	}
}

// A worker stopped mid-attempt gives the delivery back at once, without
// counting the attempt.
func TestShutdownMidAttemptReleasesTheDelivery(t *testing.T) {
	pool := pgtest.NewDB(t)
	entered := make(chan struct{}, 1)
	release := make(chan struct{})
	hook := notifytest.StartWebhook(t, "k", func(int) int { entered <- struct{}{}; <-release; return http.StatusOK })
	t.Cleanup(func() { close(release) }) // before the receiver's Close, which waits for its handlers
	n := newNotifier(t, pool, testConfig(), nil)
	id, err := n.Enqueue(context.Background(), nil, notify.Request{Kind: notify.KindWebhook, Event: "test", Targets: []string{hook.URL}, Secret: "k", Key: "stop"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { _, err := n.ProcessOne(ctx); done <- err }()
	<-entered
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("ProcessOne: %v", err)
	}
	var due bool
	var attempts int
	if err := pool.QueryRow(context.Background(), `SELECT next_attempt_at <= clock_timestamp(), attempts FROM deliveries WHERE id = $1`, id).Scan(&due, &attempts); err != nil {
		t.Fatal(err)
	}
	if !due || attempts != 0 {
		t.Fatalf("after shutdown: due %v, attempts %d; want due now and no attempt counted", due, attempts)
	}
}

// The back-off runs from when the attempt ended, not from when it began:
// a slow receiver does not shorten the wait.
func TestBackoffCountsFromTheAttemptsEnd(t *testing.T) {
	pool := pgtest.NewDB(t)
	ctx := context.Background()
	var replied time.Time
	hook := notifytest.StartWebhook(t, "k", func(int) int {
		// Hold the attempt until the database clock has moved on by half
		// the back-off, then note the database time of the answer.
		var start time.Time
		for {
			var now time.Time
			if err := pool.QueryRow(ctx, `SELECT clock_timestamp()`).Scan(&now); err != nil {
				t.Error(err)
				return http.StatusInternalServerError
			}
			if start.IsZero() {
				start = now
			}
			if now.Sub(start) >= 50*time.Millisecond {
				replied = now
				return http.StatusInternalServerError
			}
			time.Sleep(5 * time.Millisecond)
		}
	})
	cfg := testConfig()
	cfg.Retry = notify.Retry{Initial: 100 * time.Millisecond, Max: 100 * time.Millisecond, MaxAttempts: 5}
	n := newNotifier(t, pool, cfg, nil)
	id, err := n.Enqueue(ctx, nil, notify.Request{Kind: notify.KindWebhook, Event: "test", Targets: []string{hook.URL}, Secret: "k", Key: "slow"})
	if err != nil {
		t.Fatal(err)
	}
	if worked, err := n.ProcessOne(ctx); !worked || err != nil {
		t.Fatalf("%v %v", worked, err)
	}
	d, err := n.Get(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if d.Attempts != 1 || d.NextAttemptAt.Before(replied.Add(100*time.Millisecond)) {
		t.Fatalf("attempt answered at %v, next attempt at %v (%v later); want at least 100ms after the answer",
			replied, d.NextAttemptAt, d.NextAttemptAt.Sub(replied))
	}
}
