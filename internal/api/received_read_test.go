package api

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/faxd/faxd/archive"
	"github.com/faxd/faxd/internal/api/tokens"
	"github.com/faxd/faxd/internal/inbound"
)

// withTSI archives a received fax from the station id tsi.
func (e *env) withTSI(did, tsi string, pages int) archive.Record {
	e.t.Helper()
	rec := e.archiveReceived(did, "+4989111", pages)
	rec.RemoteStationID, rec.Version = tsi, rec.Version+1
	if _, err := e.archive.Upsert(context.Background(), rec); err != nil {
		e.t.Fatal(err)
	}
	out, err := e.archive.GetByKey(context.Background(), rec.Key)
	if err != nil {
		e.t.Fatal(err)
	}
	if _, err := inbound.RouteArchived(context.Background(), e.archive, e.inbound, out); err != nil {
		e.t.Fatal(err)
	}
	out, _ = e.archive.GetByKey(context.Background(), rec.Key)
	return out
}

// Rules on the station id and on calls without pages, through the API and
// routing against the real database.
func TestRulesOnTSIAndPages(t *testing.T) {
	e := newEnv(t, Config{RateLimit: 1000, RateBurst: 1000})
	var ru InboundRule
	r := e.doJSON("POST", "/v1/inbound-rules", e.admin, map[string]any{"priority": 1,
		"number": map[string]any{"kind": "prefix", "value": ""}, "tsi": map[string]any{"kind": "contains", "value": "acme"},
		"destination": map[string]any{"kind": "mailbox", "mailbox": "acme"}})
	if r.json(t, &ru); r.status != 201 || ru.TSI != (inbound.Match{Kind: "contains", Value: "acme"}) || ru.Pages != inbound.PagesSome {
		t.Fatalf("TSI rule: %d %s", r.status, r.body)
	}
	if r := e.doJSON("POST", "/v1/inbound-rules", e.admin, map[string]any{"priority": 2,
		"number": map[string]any{"kind": "prefix", "value": "+4930"}, "pages": "none",
		"destination": map[string]any{"kind": "mailbox", "mailbox": "failed"}}); r.status != 201 {
		t.Fatalf("pages rule: %d %s", r.status, r.body)
	}
	for _, c := range []struct {
		body  map[string]any
		field string
	}{
		{map[string]any{"tsi": map[string]any{"kind": "pattern", "value": "_X."}}, "tsi.kind"},
		{map[string]any{"tsi": map[string]any{"kind": "exact", "value": ""}}, "tsi.value"},
		{map[string]any{"tsi": map[string]any{"kind": "prefix", "value": strings.Repeat("A", 21)}}, "tsi.value"},
		{map[string]any{"pages": "zero"}, "pages"},
	} {
		c.body["number"] = map[string]any{"kind": "prefix", "value": ""}
		c.body["destination"] = map[string]any{"kind": "mailbox", "mailbox": "x"}
		r := e.doJSON("POST", "/v1/inbound-rules", e.admin, c.body)
		if p := r.problem(t); r.status != 400 || !strings.HasPrefix(p.Detail, c.field+": ") {
			t.Errorf("%v: %d %s, want 400 naming %s", c.body, r.status, r.body, c.field)
		}
	}
	// The update keeps the conditions it is given.
	r = e.doJSON("PUT", fmt.Sprintf("/v1/inbound-rules/%d", ru.ID), e.admin, map[string]any{"priority": 1,
		"number": map[string]any{"kind": "prefix", "value": ""}, "tsi": map[string]any{"kind": "prefix", "value": "ACME"}, "pages": "any",
		"destination": map[string]any{"kind": "mailbox", "mailbox": "acme"}})
	if r.json(t, &ru); r.status != 200 || ru.TSI.Kind != inbound.MatchPrefix || ru.Pages != inbound.PagesAny {
		t.Fatalf("update: %d %s", r.status, r.body)
	}

	for _, c := range []struct {
		did, tsi        string
		pages           int
		routing, target string
	}{
		{"+4955500", "acme billing", 1, archive.Routed, "mailbox:acme"},
		{"+4955500", "ACME", 0, archive.Routed, "mailbox:acme"}, // pages any
		{"+4955500", "Other Corp", 1, archive.Unrouted, ""},
		{"+4955500", "THE ACME", 1, archive.Unrouted, ""}, // prefix, not contains
		{"+4930100", "Other Corp", 0, archive.Routed, "mailbox:failed"},
		{"+4955500", "Other Corp", 0, archive.Unrouted, ""}, // no page, no rule: unrouted
	} {
		rec := e.withTSI(c.did, c.tsi, c.pages)
		var f ReceivedFax
		e.do("GET", fmt.Sprintf("/v1/received/%d", rec.ID), e.admin, nil, "").json(t, &f)
		if f.Routing != c.routing || f.RoutedTo != c.target {
			t.Errorf("DID %s TSI %q %d pages: %s %q, want %s %q", c.did, c.tsi, c.pages, f.Routing, f.RoutedTo, c.routing, c.target)
		}
	}
}

// Read marks through the API are per caller and drive the mailbox's
// unread filter and counts.
func TestReadUnreadPerCaller(t *testing.T) {
	e := newEnv(t, Config{RateLimit: 1000, RateBurst: 1000})
	ctx := context.Background()
	lead, _, err := tokens.New(e.pool).Create(ctx, "lead", tokens.Admin)
	if err != nil {
		t.Fatal(err)
	}
	if r := e.doJSON("POST", "/v1/inbound-rules", e.admin, map[string]any{"number": map[string]any{"kind": "prefix", "value": ""},
		"destination": map[string]any{"kind": "mailbox", "mailbox": "sales"}}); r.status != 201 {
		t.Fatalf("rule: %d %s", r.status, r.body)
	}
	a := e.withTSI("+4930100", "A", 1)
	b := e.withTSI("+4930100", "B", 1)
	unread := func(token string) string {
		t.Helper()
		var mb struct {
			Entries []MailboxEntry `json:"entries"`
		}
		if r := e.do("GET", "/v1/mailboxes/sales?unread=true", token, nil, ""); r.status != 200 {
			t.Fatalf("mailbox: %d %s", r.status, r.body)
		} else {
			r.json(t, &mb)
		}
		var ids []string
		for _, en := range mb.Entries {
			if en.Read || en.Fax == nil {
				t.Errorf("unread filter gave %+v", en)
				continue
			}
			ids = append(ids, fmt.Sprint(en.Fax.ID))
		}
		return strings.Join(ids, ",")
	}
	both := fmt.Sprintf("%d,%d", b.ID, a.ID)
	if got := unread(e.admin); got != both {
		t.Fatalf("ops unread before: %q", got)
	}
	var m ReadMark
	r := e.do("POST", fmt.Sprintf("/v1/received/%d/read", a.ID), e.admin, nil, "")
	if r.json(t, &m); r.status != 200 || m != (ReadMark{ID: a.ID, Reader: "ops", Read: true}) {
		t.Fatalf("mark read: %d %s", r.status, r.body)
	}
	if got := unread(e.admin); got != fmt.Sprint(b.ID) {
		t.Errorf("ops unread after marking %d: %q", a.ID, got)
	}
	if got := unread(lead); got != both {
		t.Errorf("lead's unread changed by ops's mark: %q", got)
	}
	var f ReceivedFax
	e.do("GET", fmt.Sprintf("/v1/received/%d", a.ID), e.admin, nil, "").json(t, &f)
	if f.Read == nil || !*f.Read {
		t.Errorf("ops sees fax %d read=%v", a.ID, f.Read)
	}
	e.do("GET", fmt.Sprintf("/v1/received/%d", a.ID), lead, nil, "").json(t, &f)
	if f.Read == nil || *f.Read {
		t.Errorf("lead sees fax %d read=%v", a.ID, f.Read)
	}
	var mbs struct {
		Mailboxes []inbound.MailboxSummary `json:"mailboxes"`
	}
	e.do("GET", "/v1/mailboxes", e.admin, nil, "").json(t, &mbs)
	if len(mbs.Mailboxes) != 1 || mbs.Mailboxes[0] != (inbound.MailboxSummary{Mailbox: "sales", Total: 2, Unread: 1}) {
		t.Errorf("ops mailboxes: %+v", mbs)
	}
	e.do("GET", "/v1/mailboxes", lead, nil, "").json(t, &mbs)
	if len(mbs.Mailboxes) != 1 || mbs.Mailboxes[0].Unread != 2 {
		t.Errorf("lead mailboxes: %+v", mbs)
	}
	// Unread again.
	r = e.do("DELETE", fmt.Sprintf("/v1/received/%d/read", a.ID), e.admin, nil, "")
	if r.json(t, &m); r.status != 200 || m.Read {
		t.Fatalf("mark unread: %d %s", r.status, r.body)
	}
	if got := unread(e.admin); got != both {
		t.Errorf("ops unread after unmarking: %q", got)
	}
	// Refusals.
	for _, c := range []struct {
		method, path, token string
		status              int
	}{
		{"POST", "/v1/received/999999/read", e.admin, 404},
		{"POST", "/v1/received/abc/read", e.admin, 404},
		{"DELETE", "/v1/received/999999/read", e.admin, 404},
		{"POST", fmt.Sprintf("/v1/received/%d/read", a.ID), e.sub, 403},
		{"POST", fmt.Sprintf("/v1/received/%d/read", a.ID), "", 401},
		{"PUT", fmt.Sprintf("/v1/received/%d/read", a.ID), e.admin, 405},
	} {
		if r := e.do(c.method, c.path, c.token, nil, ""); r.problem(t).Status != c.status {
			t.Errorf("%s %s: %d %s, want %d", c.method, c.path, r.status, r.body, c.status)
		}
	}
}
