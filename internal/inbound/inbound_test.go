package inbound_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/mail"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/faxd/faxd/internal/inbound"
	"github.com/faxd/faxd/internal/notify"
	"github.com/faxd/faxd/internal/notify/notifytest"
	"github.com/faxd/faxd/internal/pgtest"
	"github.com/faxd/faxd/internal/secretbox"
	"github.com/faxd/faxd/t38/bilevel"
	"github.com/faxd/faxd/t38/faxpdf"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// archive is an in-memory inbound.FaxSource standing in for the archive
// package, which is not built yet.
type archive struct {
	faxes map[string]inbound.Fax
	pdfs  map[string][]byte
}

func (a *archive) Fax(_ context.Context, ref string) (inbound.Fax, error) {
	f, ok := a.faxes[ref]
	if !ok {
		return inbound.Fax{}, fmt.Errorf("archive: fax %s: %w", ref, inbound.ErrNotFound)
	}
	return f, nil
}

func (a *archive) PDF(_ context.Context, ref string) ([]byte, error) {
	b, ok := a.pdfs[ref]
	if !ok {
		return nil, fmt.Errorf("archive: fax %s: %w", ref, notify.ErrNoDocument)
	}
	return b, nil
}

// faxPDF makes a received fax's PDF with faxpdf: a page with a diagonal.
func faxPDF(t *testing.T, seed int) []byte {
	t.Helper()
	img := bilevel.New(bilevel.WidthA4, 300)
	for y := range 300 {
		img.SetBlack((y*5+seed)%bilevel.WidthA4, y, true)
	}
	var buf bytes.Buffer
	if err := faxpdf.Write(&buf, []faxpdf.Page{{Image: img}}, faxpdf.Info{Title: fmt.Sprint("fax ", seed)}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func (a *archive) add(t *testing.T, f inbound.Fax) inbound.Fax {
	f.Pages, f.Result = 1, "received"
	f.StartedAt = time.Now().Add(-time.Minute).Truncate(time.Second)
	f.FinishedAt = time.Now().Truncate(time.Second)
	a.faxes[f.Ref] = f
	a.pdfs[f.Ref] = faxPDF(t, len(a.faxes))
	return f
}

type env struct {
	pool   *pgxpool.Pool
	arch   *archive
	smtp   *notifytest.SMTPServer
	n      *notify.Notifier
	router *inbound.Router
	store  *inbound.Store
}

func newEnv(t *testing.T) *env {
	t.Helper()
	e := &env{pool: pgtest.NewDB(t), arch: &archive{faxes: map[string]inbound.Fax{}, pdfs: map[string][]byte{}}}
	e.smtp = notifytest.StartSMTP(t, notifytest.SMTPOptions{})
	cfg := notify.DefaultConfig()
	cfg.SMTP = e.smtp.Config("faxd@example.com")
	cfg.Retry = notify.Retry{Initial: 20 * time.Millisecond, Max: 100 * time.Millisecond, MaxAttempts: 4}
	cfg.PollInterval = 20 * time.Millisecond
	cfg.OutboundAllow = []string{"127.0.0.1"} // webhooks go to local test servers
	n, err := notify.New(e.pool, cfg, notify.Options{Secrets: testSecrets, NodeID: "n1", Documents: e.arch, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	e.n = n
	e.router = inbound.NewRouter(e.pool, n, e.arch, inbound.Config{}, quiet)
	e.store = e.router.Store()
	return e
}

func (e *env) run(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = e.n.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
}

func (e *env) rule(t *testing.T, r inbound.Rule) inbound.Rule {
	t.Helper()
	out, err := e.store.Create(context.Background(), r)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func mailbox(name string) inbound.Destination {
	return inbound.Destination{Kind: inbound.DestMailbox, Mailbox: name}
}

func TestRouteTable(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	// Created out of order: evaluation follows priority, then id.
	catchAll := e.rule(t, inbound.Rule{Priority: 1000, Number: inbound.Match{Kind: inbound.MatchPrefix, Value: ""}, Destination: mailbox("catchall")})
	sales := e.rule(t, inbound.Rule{Priority: 10, Number: inbound.Match{Kind: inbound.MatchExact, Value: "+49 30 555-100"}, Destination: mailbox("sales")})
	berlin := e.rule(t, inbound.Rule{Priority: 50, Number: inbound.Match{Kind: inbound.MatchPrefix, Value: "+4930"}, Destination: mailbox("berlin")})
	tieFirst := e.rule(t, inbound.Rule{Priority: 20, Number: inbound.Match{Kind: inbound.MatchPattern, Value: "_+4940[1-3]XX"}, Destination: mailbox("hamburg-a")})
	tieSecond := e.rule(t, inbound.Rule{Priority: 20, Number: inbound.Match{Kind: inbound.MatchPattern, Value: "_+4940X."}, Destination: mailbox("hamburg-b")})
	vip := e.rule(t, inbound.Rule{Priority: 5, Number: inbound.Match{Kind: inbound.MatchPrefix, Value: "+4930"},
		Caller: inbound.Match{Kind: inbound.MatchPattern, Value: "_+1NXX."}, Destination: mailbox("vip")})
	disabled := e.rule(t, inbound.Rule{Priority: 1, Number: inbound.Match{Kind: inbound.MatchPrefix, Value: "+49"}, Destination: mailbox("off"), Disabled: true})
	for _, c := range []struct {
		did, caller string
		want        *inbound.Rule
	}{
		{"+4930555100", "+4989111", &sales},
		{"+49 (30) 555 100", "", &sales},      // separators are ignored
		{"+4930555100", "+12125551234", &vip}, // caller condition, lower priority number
		{"+4930555101", "+4989111", &berlin},
		{"+4930555101", "+10125551234", &berlin}, // N excludes 0
		{"+4940299", "", &tieFirst},
		{"+494050099", "", &tieSecond},
		{"+494020", "", &tieSecond}, // too short for the first
		{"+3312345", "", &catchAll},
	} {
		d, err := e.router.Route(ctx, inbound.Fax{DID: c.did, Caller: c.caller, Pages: 1})
		if err != nil {
			t.Fatal(err)
		}
		if d.Unrouted() || d.Rule.ID != c.want.ID {
			t.Errorf("DID %q caller %q: routed to %+v, want rule %d (%s)", c.did, c.caller, d.Rule, c.want.ID, c.want.Destination)
		} else if d.Destination != c.want.Destination.String() {
			t.Errorf("destination %q, want %q", d.Destination, c.want.Destination.String())
		}
	}
	_ = disabled
	if err := e.store.Delete(ctx, catchAll.ID); err != nil {
		t.Fatal(err)
	}
	d, err := e.router.Route(ctx, inbound.Fax{DID: "+3312345", Pages: 1})
	if err != nil {
		t.Fatal(err)
	}
	if !d.Unrouted() || d.Destination != inbound.Unrouted {
		t.Errorf("no rule matches, got %+v", d)
	}
}

func TestStoreCRUDAndValidation(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	r := e.rule(t, inbound.Rule{Priority: 7, Number: inbound.Match{Kind: inbound.MatchExact, Value: "100"},
		Destination: inbound.Destination{Kind: inbound.DestWebhook, URL: "https://example.com/fax", Secret: "0123456789abcdef"},
		Description: "  reception  "})
	if r.ID == 0 || r.CreatedAt.IsZero() || r.Description != "reception" || r.Disabled {
		t.Errorf("created %+v", r)
	}
	got, err := e.store.Get(ctx, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	// The secret is stored sealed and opens to what was given.
	if plain, err := testSecrets.Open(got.Destination.Secret); err != nil || plain != "0123456789abcdef" || got.Number != r.Number {
		t.Errorf("got %+v (secret opens: %v)", got, err)
	}
	var raw string
	if err := e.pool.QueryRow(ctx, `SELECT secret FROM inbound_rules WHERE id = $1`, r.ID).Scan(&raw); err != nil ||
		!secretbox.IsSealed(raw) || strings.Contains(raw, "0123456789abcdef") {
		t.Errorf("stored secret column %q (%v): want a sealed value", raw, err)
	}
	// An update without the secret keeps it.
	sealed := got.Destination.Secret
	got.Destination.Secret = ""
	got.Number.Value = "101"
	got.Caller = inbound.Match{Kind: inbound.MatchPrefix, Value: "+44"}
	up, err := e.store.Update(ctx, got)
	if err != nil {
		t.Fatal(err)
	}
	if up.Destination.Secret != sealed || up.Number.Value != "101" || up.Caller.Value != "+44" || !up.UpdatedAt.After(r.UpdatedAt) {
		t.Errorf("updated %+v", up)
	}
	up.Destination = inbound.Destination{Kind: inbound.DestEmail, Emails: []string{"a@example.com", " b@example.com"}}
	if up, err = e.store.Update(ctx, up); err != nil {
		t.Fatal(err)
	}
	if strings.Join(up.Destination.Emails, "|") != "a@example.com|b@example.com" || up.Destination.Secret != "" {
		t.Errorf("email destination %+v", up.Destination)
	}
	list, err := e.store.List(ctx)
	if err != nil || len(list) != 1 || list[0].ID != r.ID {
		t.Fatalf("list %v %v", list, err)
	}
	if err := e.store.Delete(ctx, r.ID); err != nil {
		t.Fatal(err)
	}
	for name, err := range map[string]error{
		"get":    func() error { _, err := e.store.Get(ctx, r.ID); return err }(),
		"update": func() error { _, err := e.store.Update(ctx, up); return err }(),
		"delete": e.store.Delete(ctx, r.ID),
	} {
		if !errors.Is(err, inbound.ErrNotFound) {
			t.Errorf("%s of a deleted rule: %v, want ErrNotFound", name, err)
		}
	}

	ok := inbound.Rule{Number: inbound.Match{Kind: inbound.MatchExact, Value: "100"}, Destination: mailbox("m")}
	for _, c := range []struct {
		field string
		edit  func(r *inbound.Rule)
	}{
		{"priority", func(r *inbound.Rule) { r.Priority = -1 }},
		{"number.kind", func(r *inbound.Rule) { r.Number.Kind = "" }},
		{"number.kind", func(r *inbound.Rule) { r.Number.Kind = "regex" }},
		{"number.value", func(r *inbound.Rule) { r.Number.Value = "" }},
		{"number.value", func(r *inbound.Rule) { r.Number.Value = "12a" }},
		{"number.value", func(r *inbound.Rule) { r.Number = inbound.Match{Kind: inbound.MatchPattern, Value: "X.X"} }},
		{"caller.value", func(r *inbound.Rule) { r.Caller = inbound.Match{Kind: inbound.MatchPattern, Value: "[9-1]"} }},
		{"caller.value", func(r *inbound.Rule) { r.Caller = inbound.Match{Value: "123"} }},
		{"destination.kind", func(r *inbound.Rule) { r.Destination = inbound.Destination{Kind: "fax"} }},
		{"destination.mailbox", func(r *inbound.Rule) { r.Destination.Mailbox = "../etc" }},
		{"destination.emails", func(r *inbound.Rule) { r.Destination = inbound.Destination{Kind: inbound.DestEmail} }},
		{"destination.emails[1]", func(r *inbound.Rule) {
			r.Destination = inbound.Destination{Kind: inbound.DestEmail, Emails: []string{"a@example.com", "a@b, c@d"}}
		}},
		{"destination.url", func(r *inbound.Rule) {
			r.Destination = inbound.Destination{Kind: inbound.DestWebhook, URL: "file:///etc/passwd", Secret: "0123456789abcdef"}
		}},
		{"destination.secret", func(r *inbound.Rule) {
			r.Destination = inbound.Destination{Kind: inbound.DestWebhook, URL: "https://example.com/", Secret: "short"}
		}},
		{"destination", func(r *inbound.Rule) { r.Destination.URL = "https://example.com/" }},
		{"description", func(r *inbound.Rule) { r.Description = strings.Repeat("x", 501) }},
	} {
		bad := ok
		c.edit(&bad)
		_, err := e.store.Create(ctx, bad)
		var ve *inbound.ValidationError
		if !errors.As(err, &ve) || !errors.Is(err, inbound.ErrInvalid) || ve.Field != c.field || ve.Message == "" {
			t.Errorf("%s: got %v, want a ValidationError on %s", c.field, err, c.field)
		}
	}
	if list, _ := e.store.List(ctx); len(list) != 0 {
		t.Errorf("%d rules stored by invalid creates", len(list))
	}
}

func TestDispatchDeliversToEachDestination(t *testing.T) {
	e := newEnv(t)
	hook := notifytest.StartWebhook(t, "hook-secret-0123456789", nil)
	e.rule(t, inbound.Rule{Priority: 1, Number: inbound.Match{Kind: inbound.MatchExact, Value: "+4930100"},
		Destination: inbound.Destination{Kind: inbound.DestEmail, Emails: []string{"sales@example.com", "lead@example.com"}}})
	hookRule := e.rule(t, inbound.Rule{Priority: 2, Number: inbound.Match{Kind: inbound.MatchExact, Value: "+4930200"},
		Destination: inbound.Destination{Kind: inbound.DestWebhook, URL: hook.URL, Secret: hook.Secret}})
	e.rule(t, inbound.Rule{Priority: 3, Number: inbound.Match{Kind: inbound.MatchExact, Value: "+4930300"}, Destination: mailbox("support")})
	e.run(t)
	ctx := context.Background()
	mailFax := e.arch.add(t, inbound.Fax{Ref: "rx-mail", DID: "+4930100", Caller: "+4989123", RemoteID: "ACME FAX"})
	hookFax := e.arch.add(t, inbound.Fax{Ref: "rx-hook", DID: "+4930200", Caller: "+4989124"})
	boxFax := e.arch.add(t, inbound.Fax{Ref: "rx-box", DID: "+4930300"})
	lost := e.arch.add(t, inbound.Fax{Ref: "rx-lost", DID: "+4930999"})
	for _, f := range []inbound.Fax{mailFax, hookFax, boxFax, lost} {
		if _, err := e.router.Dispatch(ctx, f); err != nil {
			t.Fatal(err)
		}
	}
	// A repeated dispatch (the caller retried) delivers nothing more.
	d, err := e.router.Dispatch(ctx, hookFax)
	if err != nil {
		t.Fatal(err)
	}
	if !d.Repeat || d.Rule == nil || d.Rule.ID != hookRule.ID {
		t.Errorf("repeat dispatch: %+v", d)
	}

	msgs := e.smtp.Wait(t, 1, 10*time.Second)
	m := msgs[0]
	if m.From != "faxd@example.com" || strings.Join(m.To, ",") != "sales@example.com,lead@example.com" {
		t.Errorf("envelope %q -> %v", m.From, m.To)
	}
	msg, err := mail.ReadMessage(bytes.NewReader(m.Data))
	if err != nil {
		t.Fatal(err)
	}
	if got := msg.Header.Get("Subject"); got != "Fax from +4989123 to +4930100: 1 page" {
		t.Errorf("subject %q", got)
	}
	text, pdf := parseMail(t, msg)
	if !bytes.Equal(pdf, e.arch.pdfs["rx-mail"]) {
		t.Errorf("attached PDF (%d bytes) differs from the archive's (%d)", len(pdf), len(e.arch.pdfs["rx-mail"]))
	}
	if !strings.Contains(text, "ACME FAX") || !strings.Contains(text, "+4930100") {
		t.Errorf("mail text %q", text)
	}

	reqs := hook.Wait(t, 1, 10*time.Second)
	if reqs[0].VerifyErr != nil {
		t.Errorf("webhook signature: %v", reqs[0].VerifyErr)
	}
	var body struct {
		Event string `json:"event"`
		Data  struct {
			inbound.Fax
			RuleID int64 `json:"rule_id"`
		} `json:"data"`
		Document *notify.Document `json:"document"`
	}
	if err := json.Unmarshal(reqs[0].Body, &body); err != nil {
		t.Fatal(err)
	}
	if body.Event != notify.EventFaxReceived || body.Data.Ref != "rx-hook" || body.Data.DID != "+4930200" || body.Data.RuleID != hookRule.ID {
		t.Errorf("webhook body %+v", body)
	}
	if body.Document == nil || !bytes.Equal(body.Document.Data, e.arch.pdfs["rx-hook"]) {
		t.Error("webhook body lacks the fax's PDF")
	}

	box, err := e.router.Mailbox(ctx, "support", "ops", false, 0)
	if err != nil || len(box) != 1 || box[0].FaxRef != "rx-box" || box[0].Read {
		t.Fatalf("mailbox %+v %v", box, err)
	}
	if err := e.router.MarkRead(ctx, box[0].FaxRef, "ops", true); err != nil {
		t.Fatal(err)
	}
	if unread, _ := e.router.Mailbox(ctx, "support", "ops", true, 0); len(unread) != 0 {
		t.Errorf("unread after MarkRead: %+v", unread)
	}
	sums, err := e.router.Mailboxes(ctx, "ops")
	if err != nil || len(sums) != 1 || sums[0] != (inbound.MailboxSummary{Mailbox: "support", Total: 1, Unread: 0}) {
		t.Errorf("mailboxes %+v %v", sums, err)
	}

	un, err := e.router.Unrouted(ctx, 0)
	if err != nil || len(un) != 1 || un[0].FaxRef != "rx-lost" {
		t.Errorf("unrouted %+v %v", un, err)
	}
	time.Sleep(100 * time.Millisecond)
	if n := len(hook.Requests()); n != 1 {
		t.Errorf("webhook called %d times, want 1", n)
	}
	if n := len(e.smtp.Messages()); n != 1 {
		t.Errorf("%d mails, want 1", n)
	}
}

func parseMail(t *testing.T, msg *mail.Message) (string, []byte) {
	t.Helper()
	_, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil {
		t.Fatal(err)
	}
	mr := multipart.NewReader(msg.Body, params["boundary"])
	var text string
	var pdf []byte
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(p)
		if strings.HasPrefix(p.Header.Get("Content-Type"), "application/pdf") {
			dec := make([]byte, len(b))
			n, err := base64Decode(dec, b)
			if err != nil {
				t.Fatal(err)
			}
			pdf = dec[:n]
		} else {
			text = string(b)
		}
	}
	return text, pdf
}

func TestRerouteAuditFollowsDelivery(t *testing.T) {
	e := newEnv(t)
	good := notifytest.StartWebhook(t, "good-secret-0123456789", nil)
	refusing := notifytest.StartWebhook(t, "bad-secret-0123456789", func(int) int { return http.StatusForbidden })
	e.run(t)
	ctx := context.Background()
	fax := e.arch.add(t, inbound.Fax{Ref: "rx-9", DID: "+4930777", Caller: "+331234"})
	d, err := e.router.Dispatch(ctx, fax)
	if err != nil || !d.Unrouted() {
		t.Fatalf("dispatch: %+v %v", d, err)
	}

	// To a mailbox: delivered at once.
	r1, err := e.router.Reroute(ctx, "rx-9", mailbox("legal"), "alice")
	if err != nil {
		t.Fatal(err)
	}
	if r1.From != inbound.Unrouted || r1.To != "mailbox:legal" || r1.Outcome != notify.StateDelivered || r1.FinishedAt.IsZero() {
		t.Errorf("mailbox reroute %+v", r1)
	}
	// To an email: pending until the worker sends it.
	r2, err := e.router.Reroute(ctx, "rx-9", inbound.Destination{Kind: inbound.DestEmail, Emails: []string{"legal@example.com"}}, "bob")
	if err != nil {
		t.Fatal(err)
	}
	if r2.From != "mailbox:legal" || r2.DeliveryID == 0 {
		t.Errorf("email reroute %+v", r2)
	}
	// To a receiver that refuses: failed, with the reason.
	r3, err := e.router.Reroute(ctx, "rx-9", inbound.Destination{Kind: inbound.DestWebhook, URL: refusing.URL, Secret: refusing.Secret}, "bob")
	if err != nil {
		t.Fatal(err)
	}
	r4, err := e.router.Reroute(ctx, "rx-9", inbound.Destination{Kind: inbound.DestWebhook, URL: good.URL, Secret: good.Secret}, "carol")
	if err != nil {
		t.Fatal(err)
	}
	msgs := e.smtp.Wait(t, 1, 10*time.Second)
	if msgs[0].To[0] != "legal@example.com" {
		t.Errorf("reroute mail to %v", msgs[0].To)
	}
	msg, _ := mail.ReadMessage(bytes.NewReader(msgs[0].Data))
	if text, pdf := parseMail(t, msg); !bytes.Equal(pdf, e.arch.pdfs["rx-9"]) || !strings.Contains(text, "Rerouted by bob") {
		t.Errorf("reroute mail: text %q, pdf equal %v", text, bytes.Equal(pdf, e.arch.pdfs["rx-9"]))
	}
	reqs := good.Wait(t, 1, 10*time.Second)
	if reqs[0].VerifyErr != nil || reqs[0].Header.Get(notify.EventHeader) != notify.EventFaxRerouted {
		t.Errorf("reroute webhook: %v %q", reqs[0].VerifyErr, reqs[0].Header.Get(notify.EventHeader))
	}

	var list []inbound.Reroute
	deadline := time.Now().Add(10 * time.Second)
	for {
		if list, err = e.router.Reroutes(ctx, "rx-9"); err != nil {
			t.Fatal(err)
		}
		pending := 0
		for _, r := range list {
			if r.Outcome == notify.StatePending {
				pending++
			}
		}
		if pending == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	want := []struct {
		id            int64
		actor, from   string
		outcome       notify.State
		errorContains string
	}{
		{r1.ID, "alice", "unrouted", notify.StateDelivered, ""},
		{r2.ID, "bob", "mailbox:legal", notify.StateDelivered, ""},
		{r3.ID, "bob", "email:legal@example.com", notify.StateFailed, "403"},
		{r4.ID, "carol", "webhook:" + refusing.URL, notify.StateDelivered, ""},
	}
	if len(list) != len(want) {
		t.Fatalf("%d reroutes, want %d", len(list), len(want))
	}
	for i, w := range want {
		g := list[i]
		if g.ID != w.id || g.Actor != w.actor || g.From != w.from || g.Outcome != w.outcome || !strings.Contains(g.Error, w.errorContains) {
			t.Errorf("reroute %d: %+v, want %+v", i, g, w)
		}
		if g.Outcome != notify.StatePending && g.FinishedAt.IsZero() {
			t.Errorf("reroute %d finished without a time", i)
		}
	}
	disp, err := e.router.Disposition(ctx, "rx-9")
	if err != nil || disp.Destination != "webhook:"+good.URL {
		t.Errorf("disposition %+v %v", disp, err)
	}
	if un, _ := e.router.Unrouted(ctx, 0); len(un) != 0 {
		t.Errorf("still unrouted after reroute: %+v", un)
	}
	if box, _ := e.router.Mailbox(ctx, "legal", "admin", false, 0); len(box) != 1 {
		t.Errorf("legal mailbox %+v", box)
	}
	// The secret never reaches the audit trail.
	for _, r := range list {
		if strings.Contains(r.To+r.From, "secret") {
			t.Errorf("secret in audit: %+v", r)
		}
	}
}

func TestRerouteRefusals(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.arch.add(t, inbound.Fax{Ref: "rx-1", DID: "1"})
	if _, err := e.router.Reroute(ctx, "nope", mailbox("x"), "alice"); !errors.Is(err, inbound.ErrNotFound) {
		t.Errorf("unknown fax: %v", err)
	}
	var ve *inbound.ValidationError
	if _, err := e.router.Reroute(ctx, "rx-1", inbound.Destination{Kind: inbound.DestEmail, Emails: []string{"nope"}}, "alice"); !errors.As(err, &ve) {
		t.Errorf("bad destination: %v", err)
	}
	if _, err := e.router.Reroute(ctx, "rx-1", mailbox("x"), "  "); !errors.As(err, &ve) || ve.Field != "actor" {
		t.Errorf("no actor: %v", err)
	}
	if list, _ := e.router.Reroutes(ctx, "rx-1"); len(list) != 0 {
		t.Errorf("refused reroutes recorded: %+v", list)
	}
}

// Purge deletes routing history older than the period and keeps the rest;
// deliveries that finished that long ago go with notify's Purge, pending
// ones stay.
func TestPurgeRoutingHistory(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.rule(t, inbound.Rule{Number: inbound.Match{Kind: inbound.MatchPrefix}, Destination: mailbox("all")})
	old := e.arch.add(t, inbound.Fax{Ref: "old", DID: "+1"})
	fresh := e.arch.add(t, inbound.Fax{Ref: "fresh", DID: "+2"})
	for _, f := range []inbound.Fax{old, fresh} {
		if _, err := e.router.Dispatch(ctx, f); err != nil {
			t.Fatal(err)
		}
		if _, err := e.router.Reroute(ctx, f.Ref, mailbox("ops"), "admin"); err != nil {
			t.Fatal(err)
		}
		if _, err := e.router.Reroute(ctx, f.Ref, inbound.Destination{Kind: inbound.DestEmail, Emails: []string{"a@example.com"}}, "admin"); err != nil {
			t.Fatal(err)
		}
	}
	for _, ref := range []string{"old", "fresh"} {
		if err := e.router.MarkRead(ctx, ref, "ops", true); err != nil {
			t.Fatal(err)
		}
	}
	back := "now() - interval '40 days'"
	for _, q := range []string{
		"UPDATE received_reads SET read_at = " + back + " WHERE fax_ref = 'old'",
		"UPDATE reroutes SET created_at = " + back + " WHERE fax_ref = 'old'",
		"UPDATE mailbox_entries SET created_at = " + back + " WHERE fax_ref = 'old'",
		"UPDATE inbound_dispositions SET created_at = " + back + " WHERE fax_ref = 'old'",
		// The old fax's delivery finished long ago; the fresh one's is
		// still pending however old it is.
		"UPDATE deliveries SET state = 'delivered', finished_at = " + back + " WHERE payload_ref = 'old'",
		"UPDATE deliveries SET created_at = " + back + " WHERE payload_ref = 'fresh'",
	} {
		if _, err := e.pool.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	n, err := e.router.Purge(ctx, 30*24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	d, err := e.n.Purge(ctx, 30*24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	// old: 2 reroutes, 2 mailbox entries (all, ops), 1 disposition, 1 read
	// mark; 1 delivery.
	if n != 6 || d != 1 {
		t.Fatalf("purged %d routing rows and %d deliveries, want 6 and 1", n, d)
	}
	var left string
	if err := e.pool.QueryRow(ctx, `SELECT string_agg(DISTINCT fax_ref, ',') FROM (
		SELECT fax_ref FROM reroutes UNION ALL SELECT fax_ref FROM mailbox_entries
		UNION ALL SELECT fax_ref FROM inbound_dispositions UNION ALL SELECT payload_ref FROM deliveries
		UNION ALL SELECT fax_ref FROM received_reads) x`).Scan(&left); err != nil {
		t.Fatal(err)
	}
	if left != "fresh" {
		t.Fatalf("left after purge: %q", left)
	}
	if _, err := e.router.Purge(ctx, 0); err == nil {
		t.Fatal("purge of everything accepted")
	}
}
