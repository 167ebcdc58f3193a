package server

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/mail"
	"strings"
	"testing"
	"time"

	"github.com/faxd/faxd/archive"
	"github.com/faxd/faxd/internal/api"
	"github.com/faxd/faxd/internal/api/tokens"
	"github.com/faxd/faxd/internal/config"
	"github.com/faxd/faxd/internal/docstore"
	"github.com/faxd/faxd/internal/notify"
	"github.com/faxd/faxd/internal/notify/notifytest"
	"github.com/faxd/faxd/queue"
	"github.com/faxd/faxd/t38/bilevel"
	"github.com/faxd/faxd/t38/tiff"
)

// fastNotify makes deliveries retry in milliseconds; no channels claim
// jobs, SIP takes any free port and the API allows polling.
func fastNotify(c *config.Config) {
	c.Notify.Retry = notify.Retry{Initial: 20 * time.Millisecond, Max: 100 * time.Millisecond, MaxAttempts: 5}
	c.Notify.PollInterval = 20 * time.Millisecond
	c.Notify.OutboundAllow = []string{"127.0.0.1"} // webhooks go to local test servers
	c.Channels.Count = 0
	c.SIP.ListenUDP = "127.0.0.1:0"
	c.API.RateLimit, c.API.RateBurst = 1000, 1000 // the tests poll
}

// client calls the server's API with one token.
type client struct {
	t     *testing.T
	base  string
	token string
}

func newClient(t *testing.T, s *Server, role tokens.Role, name string) *client {
	t.Helper()
	secret, _, err := tokens.New(s.DB.Queue).Create(context.Background(), name, role)
	if err != nil {
		t.Fatal(err)
	}
	return &client{t: t, base: "http://" + s.HTTPAddr(), token: secret}
}

func (c *client) do(method, path, ctype string, body io.Reader) (int, http.Header, []byte) {
	c.t.Helper()
	req, err := http.NewRequest(method, c.base+path, body)
	if err != nil {
		c.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b
}

// json calls the API with a JSON body (nil: none) and decodes the answer
// into out, failing unless the status is want.
func (c *client) json(method, path string, in any, want int, out any) {
	c.t.Helper()
	var body io.Reader
	ctype := ""
	if in != nil {
		b, _ := json.Marshal(in)
		body, ctype = bytes.NewReader(b), "application/json"
	}
	status, hdr, b := c.do(method, path, ctype, body)
	if status != want {
		c.t.Fatalf("%s %s: %d %s, want %d", method, path, status, b, want)
	}
	if status >= 400 && hdr.Get("Content-Type") != "application/problem+json" {
		c.t.Fatalf("%s %s: error as %q", method, path, hdr.Get("Content-Type"))
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			c.t.Fatalf("%s %s: %v: %s", method, path, err, b)
		}
	}
}

// receive does what the inbound channel does with a received fax: its
// pages go to the document store and its record to the outbox.
func receive(t *testing.T, s *Server, did, caller string, seed int) string {
	t.Helper()
	ctx := context.Background()
	img := bilevel.New(1728, 300)
	for x := 200; x < 1500; x++ {
		for y := 10 + seed%200; y < 40+seed%200; y++ {
			img.SetBlack(x, y, true)
		}
	}
	var tb bytes.Buffer
	if err := tiff.EncodeFax(&tb, []*bilevel.Image{img}, tiff.FaxOptions{}); err != nil {
		t.Fatal(err)
	}
	key := fmt.Sprintf("inbound/%s/call-%d-%d", s.cfg.Node.ID, seed, time.Now().UnixNano())
	ref, err := s.docs.Put(ctx, docstore.NewSet{Recipe: "received " + key,
		Sources: []docstore.Source{{Filename: "fax.tif", ContentType: "image/tiff", Data: tb.Bytes()}},
		Pages:   tb.Bytes(), PageCount: 1})
	if err != nil {
		t.Fatal(err)
	}
	emit(t, s, archive.Record{Key: key, Direction: archive.Inbound, Result: "received", LocalNumber: did,
		RemoteNumber: caller, RemoteStationID: "SENDER " + caller, Pages: 1, PagesTotal: 1, Attempts: 1,
		NodeID: s.cfg.Node.ID, StartedAt: time.Now().Add(-time.Minute), FinishedAt: time.Now(), Document: ref,
		Routing: archive.Unrouted})
	return key
}

func emit(t *testing.T, s *Server, rec archive.Record) {
	t.Helper()
	ctx := context.Background()
	tx, err := s.DB.Queue.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if err := archive.Emit(ctx, tx, rec); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
}

// eventually retries check until it holds or 30 s pass.
func eventually(t *testing.T, what string, check func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !check() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 30s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func mailPDF(t *testing.T, raw []byte) []byte {
	t.Helper()
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	_, params, _ := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	mr := multipart.NewReader(msg.Body, params["boundary"])
	for {
		p, err := mr.NextPart()
		if err != nil {
			t.Fatalf("no PDF attachment: %v", err)
		}
		if mt, _, _ := mime.ParseMediaType(p.Header.Get("Content-Type")); mt == "application/pdf" {
			b, _ := io.ReadAll(p)
			pdf, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(string(b)), ""))
			if err != nil {
				t.Fatal(err)
			}
			return pdf
		}
	}
}

// A received fax written to the outbox is archived and then routed by the
// rules, once: to a mailbox listed through the API, to an address (the
// mailed PDF is the archived document), to a signed webhook; one no rule
// matches is listed as unrouted until an administrator reroutes it, and
// the reroute's outcome follows its delivery.
func TestServerRoutesReceivedFaxes(t *testing.T) {
	smtp := notifytest.StartSMTP(t, notifytest.SMTPOptions{})
	hook := notifytest.StartWebhook(t, "whsec_0123456789abcdef", nil)
	s := startServer(t, func(c *config.Config) {
		fastNotify(c)
		c.Notify.SMTP = smtp.Config("fax@faxd.example")
	})
	admin := newClient(t, s, tokens.Admin, "ops")
	sub := newClient(t, s, tokens.Submitter, "crm")
	for did, dest := range map[string]map[string]any{
		"+4930100": {"kind": "mailbox", "mailbox": "sales"},
		"+4930200": {"kind": "email", "emails": []string{"desk@example.com"}},
		"+4930300": {"kind": "webhook", "url": hook.URL, "secret": hook.Secret},
	} {
		admin.json("POST", "/v1/inbound-rules", map[string]any{"number": map[string]any{"kind": "exact", "value": did}, "destination": dest}, 201, nil)
	}
	keys := map[string]string{}
	for i, did := range []string{"+4930100", "+4930200", "+4930300", "+4930999"} {
		keys[did] = receive(t, s, did, fmt.Sprintf("+498912345%d", i), i*37)
	}

	byDID := map[string]api.ReceivedFax{}
	eventually(t, "four faxes archived and routed", func() bool {
		var l api.ReceivedList
		admin.json("GET", "/v1/received", nil, 200, &l)
		routed := 0
		for _, f := range l.Received {
			byDID[f.DID] = f
			if f.Routing == archive.Routed {
				routed++
			}
		}
		return len(l.Received) == 4 && routed == 3
	})
	if f := byDID["+4930999"]; f.Routing != archive.Unrouted {
		t.Fatalf("unmatched fax: %+v", f)
	}
	var unrouted api.ReceivedList
	admin.json("GET", "/v1/received?unrouted=true", nil, 200, &unrouted)
	if len(unrouted.Received) != 1 || unrouted.Received[0].ID != byDID["+4930999"].ID {
		t.Fatalf("unrouted list: %+v", unrouted)
	}

	// (a) the mailbox.
	var mb struct {
		Entries []api.MailboxEntry `json:"entries"`
	}
	admin.json("GET", "/v1/mailboxes/sales", nil, 200, &mb)
	if len(mb.Entries) != 1 || mb.Entries[0].Fax == nil || mb.Entries[0].Fax.ID != byDID["+4930100"].ID {
		t.Fatalf("mailbox sales: %+v", mb)
	}
	pdfOf := func(id int64) []byte {
		status, hdr, b := admin.do("GET", fmt.Sprintf("/v1/received/%d/document?format=pdf", id), "", nil)
		if status != 200 || hdr.Get("Content-Type") != "application/pdf" {
			t.Fatalf("document of %d: %d %s", id, status, b)
		}
		return b
	}
	// (b) the mail, whose attachment is the archived document.
	msgs := smtp.Wait(t, 1, 30*time.Second)
	if msgs[0].To[0] != "desk@example.com" || !bytes.Equal(mailPDF(t, msgs[0].Data), pdfOf(byDID["+4930200"].ID)) {
		t.Fatalf("mail to %v does not carry the archived PDF", msgs[0].To)
	}
	// (c) the webhook, signed.
	reqs := hook.Wait(t, 1, 30*time.Second)
	var body struct {
		Event    string               `json:"event"`
		Data     struct{ DID string } `json:"data"`
		Document struct {
			Data string `json:"data_base64"`
		} `json:"document"`
	}
	if err := json.Unmarshal(reqs[0].Body, &body); err != nil {
		t.Fatal(err)
	}
	if reqs[0].VerifyErr != nil || notify.Verify([]byte(hook.Secret), reqs[0].Header.Get(notify.SignatureHeader), reqs[0].Body, time.Minute, time.Now()) != nil {
		t.Fatalf("webhook signature: %v", reqs[0].VerifyErr)
	}
	if pdf, _ := base64.StdEncoding.DecodeString(body.Document.Data); body.Event != notify.EventFaxReceived ||
		body.Data.DID != "+4930300" || !bytes.Equal(pdf, pdfOf(byDID["+4930300"].ID)) {
		t.Fatalf("webhook body: event %q did %q, %d document bytes", body.Event, body.Data.DID, len(pdf))
	}

	// The same record again (a second outbox row for it) routes nothing
	// more: dispatch is idempotent per fax.
	again, err := s.Archive.GetByKey(context.Background(), byDIDKey(t, s, byDID["+4930200"].ID))
	if err != nil {
		t.Fatal(err)
	}
	again.Key = strings.TrimPrefix(again.Key, again.Source+"/")
	again.Routing, again.RoutedTo, again.ID = archive.Unrouted, "", 0
	reEmitted := time.Now()
	emit(t, s, again)

	// A submitter may not reroute; an administrator sends the unrouted fax
	// to an address, and the audit shows the outcome once delivered.
	lost := byDID["+4930999"].ID
	path := fmt.Sprintf("/v1/received/%d/reroute", lost)
	reroute := map[string]any{"destination": map[string]any{"kind": "email", "emails": []string{"boss@example.com"}},
		"reason": "no rule matched the number"}
	sub.json("POST", path, reroute, 403, nil)
	var rr api.RerouteView
	admin.json("POST", path, reroute, 201, &rr)
	if rr.From != "unrouted" || rr.To != "email:boss@example.com" || rr.Actor != "ops" {
		t.Fatalf("reroute: %+v", rr)
	}
	eventually(t, "reroute delivered", func() bool {
		var f api.ReceivedFax
		admin.json("GET", fmt.Sprintf("/v1/received/%d", lost), nil, 200, &f)
		return f.Routing == archive.Rerouted && len(f.Reroutes) == 1 && f.Reroutes[0].Outcome == "delivered"
	})
	msgs = smtp.Wait(t, 2, 30*time.Second)
	if msgs[1].To[0] != "boss@example.com" || !bytes.Equal(mailPDF(t, msgs[1].Data), pdfOf(lost)) {
		t.Fatalf("rerouted mail: %v", msgs[1].To)
	}
	eventually(t, "re-emitted record archived and routed again", func() bool {
		var f api.ReceivedFax
		admin.json("GET", fmt.Sprintf("/v1/received/%d", byDID["+4930200"].ID), nil, 200, &f)
		return f.ArchivedAt.After(reEmitted) && f.Routing == archive.Routed
	})
	time.Sleep(300 * time.Millisecond) // room for a wrong second delivery
	if n := len(smtp.Messages()); n != 2 {
		t.Fatalf("%d mails, want 2 (one routed, one rerouted)", n)
	}
	if n := len(hook.Requests()); n != 1 {
		t.Fatalf("%d webhook requests, want 1", n)
	}
}

// byDIDKey returns an archived fax's record key.
func byDIDKey(t *testing.T, s *Server, id int64) string {
	t.Helper()
	r, err := s.Archive.Get(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return r.Key
}

// A submitter's fax with a callback_url gets one signed callback after it
// finishes, even when the callback endpoint fails twice first.
func TestServerCallbackOnceAfterFailures(t *testing.T) {
	const secret = "cbsec_0123456789abcdef"
	hook := notifytest.StartWebhook(t, secret, func(n int) int {
		if n <= 2 {
			return http.StatusInternalServerError
		}
		return http.StatusOK
	})
	s := startServer(t, func(c *config.Config) {
		fastNotify(c)
		c.Notify.CallbackSecret = secret
	})
	sub := newClient(t, s, tokens.Submitter, "crm")
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	fw, _ := mw.CreateFormField("fax")
	fmt.Fprintf(fw, `{"to":"+4940123456","callback_url":%q}`, hook.URL)
	dw, _ := mw.CreateFormFile("document", "letter.txt")
	io.WriteString(dw, "Hello by fax.\n")
	mw.Close()
	status, _, b := sub.do("POST", "/v1/faxes", mw.FormDataContentType(), &body)
	var fax api.Fax
	if err := json.Unmarshal(b, &fax); status != 201 || err != nil {
		t.Fatalf("submit: %d %s", status, b)
	}
	ctx := context.Background()
	claimed, err := s.Queue.Claim(ctx, s.Node.Lease(), 1)
	if err != nil || len(claimed) != 1 || claimed[0].ID != fax.ID {
		t.Fatalf("claim: %+v %v", claimed, err)
	}
	if _, err := s.Queue.Complete(ctx, fax.ID, claimed[0].Token, queue.Result{Pages: claimed[0].PagesTotal}); err != nil {
		t.Fatal(err)
	}
	reqs := hook.Wait(t, 3, 30*time.Second)
	time.Sleep(500 * time.Millisecond) // room for a wrong fourth
	reqs = hook.Requests()
	if len(reqs) != 3 {
		t.Fatalf("%d callback requests, want 3 (two failed, one delivered)", len(reqs))
	}
	var notice struct {
		Event string           `json:"event"`
		Data  notify.JobNotice `json:"data"`
	}
	if err := json.Unmarshal(reqs[2].Body, &notice); err != nil {
		t.Fatal(err)
	}
	if reqs[2].Status != 200 || reqs[2].VerifyErr != nil || notice.Event != notify.EventFaxCompleted || notice.Data.JobID != fax.ID || notice.Data.State != "sent" {
		t.Fatalf("callback: status %d, verify %v, %+v", reqs[2].Status, reqs[2].VerifyErr, notice)
	}
	for _, r := range reqs {
		if r.Header.Get("Idempotency-Key") != reqs[0].Header.Get("Idempotency-Key") || r.VerifyErr != nil {
			t.Fatalf("attempt %d: key %q, signature %v", r.N, r.Header.Get("Idempotency-Key"), r.VerifyErr)
		}
	}
	var deliveries int
	if err := s.DB.Queue.QueryRow(ctx, "SELECT count(*) FROM deliveries WHERE event = 'fax.completed'").Scan(&deliveries); err != nil || deliveries != 1 {
		t.Fatalf("%d completion deliveries (%v), want 1", deliveries, err)
	}
}
