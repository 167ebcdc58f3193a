package inbound_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"mime/quotedprintable"
	"net/mail"
	"strings"
	"testing"
	"time"

	"github.com/faxd/faxd/internal/inbound"
	"github.com/faxd/faxd/internal/notify"
	"github.com/faxd/faxd/internal/notify/notifytest"
)

// A TSI condition routes by the sender's station id, ignoring case and
// padding, and leaves other senders to later rules.
func TestRouteByTSI(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	any := inbound.Match{Kind: inbound.MatchPrefix}
	acme := e.rule(t, inbound.Rule{Priority: 1, Number: any, TSI: inbound.Match{Kind: inbound.MatchExact, Value: " ACME  Billing "}, Destination: mailbox("acme")})
	bank := e.rule(t, inbound.Rule{Priority: 2, Number: any, TSI: inbound.Match{Kind: inbound.MatchPrefix, Value: "+49 69"}, Destination: mailbox("frankfurt")})
	spam := e.rule(t, inbound.Rule{Priority: 3, Number: any, TSI: inbound.Match{Kind: inbound.MatchContains, Value: "promo"}, Destination: mailbox("spam")})
	rest := e.rule(t, inbound.Rule{Priority: 9, Number: any, Destination: mailbox("rest")})
	if acme.TSI.Value != "ACME Billing" {
		t.Errorf("stored TSI value %q, want the padding collapsed", acme.TSI.Value)
	}
	for _, c := range []struct {
		tsi  string
		want inbound.Rule
	}{
		{"ACME BILLING", acme},
		{"  acme billing        ", acme}, // padded as senders do, any case
		{"ACME Billing Dept", rest},      // exact is exact
		{"+49 69 1234567", bank},
		{"+49 30 1234567", rest},
		{"Big PROMO fax", spam},
		{"PROM O", rest},
		{"", rest}, // no station id: only rules without a TSI condition
	} {
		d, err := e.router.Route(ctx, inbound.Fax{DID: "+4930100", RemoteID: c.tsi, Pages: 1})
		if err != nil {
			t.Fatal(err)
		}
		if d.Unrouted() || d.Rule.ID != c.want.ID {
			t.Errorf("TSI %q: routed to %+v, want %s", c.tsi, d.Rule, c.want.Destination)
		}
	}
	for _, c := range []struct {
		m     inbound.Match
		field string
	}{
		{inbound.Match{Kind: inbound.MatchPattern, Value: "_X."}, "tsi.kind"},
		{inbound.Match{Kind: inbound.MatchExact}, "tsi.value"},
		{inbound.Match{Kind: inbound.MatchContains, Value: strings.Repeat("x", 21)}, "tsi.value"},
		{inbound.Match{Kind: inbound.MatchPrefix, Value: "caf\u00e9"}, "tsi.value"},
		{inbound.Match{Value: "ACME"}, "tsi.value"},
	} {
		_, err := e.store.Create(ctx, inbound.Rule{Number: any, TSI: c.m, Destination: mailbox("x")})
		var ve *inbound.ValidationError
		if !errors.As(err, &ve) || ve.Field != c.field {
			t.Errorf("TSI %+v: %v, want a validation error on %s", c.m, err, c.field)
		}
	}
	// The condition survives an update and a read back.
	acme.TSI = inbound.Match{Kind: inbound.MatchContains, Value: "acme"}
	if _, err := e.store.Update(ctx, acme); err != nil {
		t.Fatal(err)
	}
	if got, err := e.store.Get(ctx, acme.ID); err != nil || got.TSI != acme.TSI {
		t.Errorf("after update: %+v %v", got.TSI, err)
	}
}

// A call that brought no page is routed only by rules that ask for it,
// and its mail and webhook go out without an attachment.
func TestNoPageFaxRouting(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	hook := notifytest.StartWebhook(t, "hook-secret-0123456789", nil)
	e.run(t)
	e.rule(t, inbound.Rule{Priority: 1, Number: inbound.Match{Kind: inbound.MatchPrefix, Value: "+4930"}, Destination: mailbox("berlin")})
	failed := e.rule(t, inbound.Rule{Priority: 2, Number: inbound.Match{Kind: inbound.MatchPrefix, Value: "+4930"}, Pages: inbound.PagesNone,
		Destination: inbound.Destination{Kind: inbound.DestEmail, Emails: []string{"ops@example.com"}}})
	hookRule := e.rule(t, inbound.Rule{Priority: 3, Number: inbound.Match{Kind: inbound.MatchExact, Value: "+4940100"}, Pages: inbound.PagesAny,
		Destination: inbound.Destination{Kind: inbound.DestWebhook, URL: hook.URL, Secret: hook.Secret}})
	if failed.Pages != inbound.PagesNone {
		t.Fatalf("stored pages %q", failed.Pages)
	}
	if r, _ := e.store.Get(ctx, 1); r.Pages != inbound.PagesSome {
		t.Errorf("a rule made without pages has %q, want some", r.Pages)
	}
	empty := func(ref, did string) inbound.Fax {
		return inbound.Fax{Ref: ref, DID: did, Caller: "+4989123", Result: "receive_failed", Reason: "call dropped",
			FinishedAt: time.Now().Truncate(time.Second)}
	}
	// With pages: the first rule, as always.
	withPages := e.arch.add(t, inbound.Fax{Ref: "rx-pages", DID: "+4930100"})
	if d, err := e.router.Dispatch(ctx, withPages); err != nil || d.Destination != "mailbox:berlin" {
		t.Fatalf("fax with pages: %+v %v", d, err)
	}
	for _, c := range []struct {
		fax  inbound.Fax
		want string
	}{
		{empty("rx-none-mail", "+4930100"), "email:ops@example.com"},
		{empty("rx-none-hook", "+4940100"), "webhook:" + hook.URL},
		{empty("rx-none-lost", "+3312345"), inbound.Unrouted},
	} {
		d, err := e.router.Dispatch(ctx, c.fax)
		if err != nil {
			t.Fatalf("%s: %v", c.fax.Ref, err)
		}
		if d.Destination != c.want {
			t.Errorf("%s: routed to %q, want %q", c.fax.Ref, d.Destination, c.want)
		}
	}
	if un, err := e.router.Unrouted(ctx, 0); err != nil || len(un) != 1 || un[0].FaxRef != "rx-none-lost" {
		t.Errorf("unrouted %+v %v", un, err)
	}

	msgs := e.smtp.Wait(t, 1, 10*time.Second)
	msg, err := mail.ReadMessage(bytes.NewReader(msgs[0].Data))
	if err != nil {
		t.Fatal(err)
	}
	if got := msg.Header.Get("Subject"); got != "Fax call from +4989123 to +4930100: no page received" {
		t.Errorf("subject %q", got)
	}
	// No attachment: a single quoted-printable text part.
	if ct := msg.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Errorf("Content-Type %q, want text/plain without an attachment", ct)
	}
	raw, err := io.ReadAll(quotedprintable.NewReader(msg.Body))
	if text := string(raw); err != nil || !strings.Contains(text, "no page was received") || !strings.Contains(text, "call dropped") {
		t.Errorf("mail text %q (%v)", text, err)
	}
	reqs := hook.Wait(t, 1, 10*time.Second)
	var body struct {
		Data struct {
			inbound.Fax
			RuleID int64 `json:"rule_id"`
		} `json:"data"`
		Document *notify.Document `json:"document"`
	}
	if err := json.Unmarshal(reqs[0].Body, &body); err != nil {
		t.Fatal(err)
	}
	if body.Document != nil || body.Data.Ref != "rx-none-hook" || body.Data.Pages != 0 || body.Data.RuleID != hookRule.ID {
		t.Errorf("webhook body %s", reqs[0].Body)
	}
	// Both deliveries succeeded: none failed for want of a document.
	var failedN, deliveredN int
	err = e.pool.QueryRow(ctx, `SELECT count(*) FILTER (WHERE state = 'failed'), count(*) FILTER (WHERE state = 'delivered')
		FROM deliveries WHERE payload_ref LIKE 'rx-none-%'`).Scan(&failedN, &deliveredN)
	if err != nil || failedN != 0 {
		t.Errorf("deliveries: %d failed, %d delivered (%v)", failedN, deliveredN, err)
	}
}

// Read marks are per reader, and a fax filed again is unread again.
func TestReadMarksPerReader(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.rule(t, inbound.Rule{Number: inbound.Match{Kind: inbound.MatchPrefix}, Destination: mailbox("sales")})
	for _, ref := range []string{"rx-a", "rx-b"} {
		if _, err := e.router.Dispatch(ctx, e.arch.add(t, inbound.Fax{Ref: ref, DID: "+1"})); err != nil {
			t.Fatal(err)
		}
	}
	unread := func(reader string) string {
		t.Helper()
		es, err := e.router.Mailbox(ctx, "sales", reader, true, 0)
		if err != nil {
			t.Fatal(err)
		}
		var refs []string
		for _, en := range es {
			refs = append(refs, en.FaxRef)
		}
		return strings.Join(refs, ",")
	}
	if err := e.router.MarkRead(ctx, "rx-a", "alice", true); err != nil {
		t.Fatal(err)
	}
	if got := unread("alice"); got != "rx-b" {
		t.Errorf("alice's unread: %q", got)
	}
	if got := unread("bob"); got != "rx-b,rx-a" {
		t.Errorf("bob's unread: %q", got)
	}
	sums, err := e.router.Mailboxes(ctx, "alice")
	if err != nil || len(sums) != 1 || sums[0].Total != 2 || sums[0].Unread != 1 {
		t.Errorf("alice's mailboxes %+v %v", sums, err)
	}
	// Filed again by a reroute into the same mailbox: unread again.
	if _, err := e.router.Reroute(ctx, "rx-a", mailbox("sales"), "admin"); err != nil {
		t.Fatal(err)
	}
	if got := unread("alice"); got != "rx-b,rx-a" {
		t.Errorf("alice's unread after the reroute: %q", got)
	}
	if err := e.router.MarkRead(ctx, "rx-a", "alice", true); err != nil {
		t.Fatal(err)
	}
	if err := e.router.MarkRead(ctx, "rx-a", "alice", false); err != nil {
		t.Fatal(err)
	}
	if got := unread("alice"); got != "rx-b,rx-a" {
		t.Errorf("alice's unread after marking unread: %q", got)
	}
	if err := e.router.MarkRead(ctx, "", "alice", true); !errors.Is(err, inbound.ErrInvalid) {
		t.Errorf("mark without a fax: %v", err)
	}
}
