package clienttest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/faxd/faxd/archive"
	"github.com/faxd/faxd/client"
	"github.com/faxd/faxd/internal/api"
	"github.com/faxd/faxd/internal/api/tokens"
	"github.com/faxd/faxd/internal/inbound"
	"github.com/faxd/faxd/internal/notify"
	"github.com/faxd/faxd/internal/pgtest"
	"github.com/faxd/faxd/internal/secretbox"
	"github.com/faxd/faxd/queue"
	"github.com/faxd/faxd/t38/bilevel"
	"github.com/faxd/faxd/t38/tiff"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

type fixture struct {
	url, admin, sub string
	archive         *archive.Store
}

func newFixture(t *testing.T) fixture {
	t.Helper()
	pool := pgtest.NewDB(t)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	q, err := queue.New(pool, queue.Config{Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	keys, err := secretbox.NewRandom("test")
	if err != nil {
		t.Fatal(err)
	}
	arch := archive.NewStore(pool)
	n, err := notify.New(pool, notify.DefaultConfig(), notify.Options{Secrets: keys, NodeID: "client-test", Documents: inbound.Archived{Store: arch}, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	router := inbound.NewRouter(pool, n, inbound.Archived{Store: arch}, inbound.Config{}, log)
	a, err := api.New(api.Config{RateLimit: 1000, RateBurst: 1000}, api.Deps{Pool: pool, Queue: q, Archive: arch, Inbound: router, Secrets: keys, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(a.Handler())
	t.Cleanup(srv.Close)
	ts := tokens.New(pool)
	admin, _, err := ts.Create(context.Background(), "ops", tokens.Admin)
	if err != nil {
		t.Fatal(err)
	}
	sub, _, err := ts.Create(context.Background(), "billing", tokens.Submitter)
	if err != nil {
		t.Fatal(err)
	}
	return fixture{url: srv.URL, admin: admin, sub: sub, archive: arch}
}

func deadURL(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return "http://" + addr
}

func newClient(t *testing.T, o client.Options) *client.Client {
	t.Helper()
	o.RetryDelay = time.Millisecond
	c, err := client.New(o)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// problem asserts err is a *client.Error with this status and type.
func problem(t *testing.T, err error, status int, typ string) *client.Error {
	t.Helper()
	var e *client.Error
	if !errors.As(err, &e) {
		t.Fatalf("want a *client.Error %d, got %v (%T)", status, err, err)
	}
	if e.Status != status || !strings.HasPrefix(e.Type, "urn:faxd:problem:") || (typ != "" && e.Type != "urn:faxd:problem:"+typ) || e.Title == "" || e.Detail == "" {
		t.Fatalf("problem %+v, want status %d type %s", *e, status, typ)
	}
	return e
}

// reader reads a whole download, failing the test on an error.
func reader(t *testing.T) func(*client.Download, error) []byte {
	return func(d *client.Download, err error) []byte {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		defer d.Close()
		b, err := io.ReadAll(d)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
}

// The fax operations against the real API, through failover from a dead
// production server to the DR server.
func TestFaxOperations(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	rd := reader(t)
	c := newClient(t, client.Options{Servers: []string{deadURL(t)}, DR: []string{f.url}, Token: f.sub, AttemptsPerServer: 1, Cycles: 1})

	me, err := c.WhoAmI(ctx)
	if err != nil || me.Name != "billing" || me.Role != "submitter" || !c.OnDR() || c.Server() != f.url {
		t.Fatalf("whoami: %+v %v onDR=%v", me, err, c.OnDR())
	}
	letter := "Dear customer,\nplease pay.\n"
	fax, existed, err := c.SubmitFax(ctx, client.FaxRequest{To: "+49 30 123456", Header: "ACME", Metadata: map[string]any{"invoice": "7"}},
		[]client.Document{{Name: "letter.txt", Body: strings.NewReader(letter)}}, "k1")
	if err != nil || existed || fax.ID != 1 || fax.To != "+4930123456" || fax.State != client.StatePending || fax.PagesTotal != 1 {
		t.Fatalf("submit: %+v existed=%v %v", fax, existed, err)
	}
	again, existed, err := c.SubmitFax(ctx, client.FaxRequest{To: "+49 30 123456", Header: "ACME", Metadata: map[string]any{"invoice": "7"}},
		[]client.Document{{Name: "letter.txt", Body: strings.NewReader(letter)}}, "k1")
	if err != nil || !existed || again.ID != 1 {
		t.Fatalf("same key: %+v existed=%v %v", again, existed, err)
	}
	_, _, err = c.SubmitFax(ctx, client.FaxRequest{To: "CALL-ME"}, []client.Document{{Name: "a.txt", Body: strings.NewReader("x")}}, "")
	if e := problem(t, err, 400, ""); !strings.Contains(e.Detail, "is not a fax number") {
		t.Fatalf("bad number: %+v", e)
	}

	got, err := c.GetFax(ctx, 1)
	if err != nil || got.State != client.StatePending || len(got.History) == 0 || got.Metadata["invoice"] != "7" || got.Final() {
		t.Fatalf("get: %+v %v", got, err)
	}
	l, err := c.ListFaxes(ctx, client.ListFaxesParams{States: []string{"pending", "sending"}, To: "+4930123456", CreatedAfter: time.Now().Add(-time.Hour), Limit: 10})
	if err != nil || len(l.Faxes) != 1 || l.Faxes[0].ID != 1 {
		t.Fatalf("list: %+v %v", l, err)
	}
	l, err = c.ListFaxes(ctx, client.ListFaxesParams{States: []string{"sent"}})
	if err != nil || len(l.Faxes) != 0 {
		t.Fatalf("list sent: %+v %v", l, err)
	}
	_, err = c.ListFaxes(ctx, client.ListFaxesParams{Limit: 5000})
	problem(t, err, 400, "")

	if b := rd(c.GetFaxDocument(ctx, 1, "", 0)); !bytes.HasPrefix(b, []byte("%PDF-")) {
		t.Fatalf("default download is no PDF: %q", b[:min(len(b), 16)])
	}
	if b := rd(c.GetFaxDocument(ctx, 1, client.FormatTIFF, 0)); !bytes.HasPrefix(b, []byte("II*\x00")) && !bytes.HasPrefix(b, []byte("MM\x00*")) {
		t.Fatalf("tiff download is no TIFF: %q", b[:min(len(b), 16)])
	}
	if b := rd(c.GetFaxDocument(ctx, 1, client.FormatOriginal, 0)); string(b) != letter {
		t.Fatalf("original: %q", b)
	}
	_, err = c.GetFaxDocument(ctx, 1, client.FormatOriginal, 5)
	problem(t, err, 404, "")
	_, err = c.GetAttemptTrace(ctx, 1, 1)
	problem(t, err, 404, "")

	cancelled, hangingUp, err := c.CancelFax(ctx, 1)
	if err != nil || hangingUp || cancelled.State != client.StateCancelled || !cancelled.Final() {
		t.Fatalf("cancel: %+v %v %v", cancelled, hangingUp, err)
	}
	_, _, err = c.CancelFax(ctx, 1)
	if e := problem(t, err, 409, ""); !strings.Contains(e.Detail, "already cancelled") {
		t.Fatalf("second cancel: %+v", e)
	}
	// The confirmation report of the finished (cancelled) fax.
	if b := rd(c.GetFaxReport(ctx, 1)); !bytes.HasPrefix(b, []byte("%PDF-")) || !bytes.Contains(b, []byte("/BaseFont /Helvetica")) {
		t.Fatalf("report is no PDF with text: %q", b[:min(len(b), 16)])
	}
	_, err = c.GetFaxReport(ctx, 999)
	problem(t, err, 404, "")
	_, err = c.GetFax(ctx, 999)
	problem(t, err, 404, "")

	// A submitter may not administer: 403 as a typed error, at once.
	_, err = c.ListGateways(ctx)
	problem(t, err, 403, "")
	noToken := newClient(t, client.Options{Servers: []string{f.url}})
	_, err = noToken.WhoAmI(ctx)
	problem(t, err, 401, "")
}

// The administrative operations against the real API.
func TestAdminOperations(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	c := newClient(t, client.Options{Servers: []string{f.url}, Token: f.admin})

	pw := "secret"
	gw, err := c.CreateGateway(ctx, client.GatewayInput{Name: "gw1", Address: "192.0.2.1:5060", MaxChannels: 4, Username: "u", Password: &pw})
	if err != nil || gw.Name != "gw1" || !gw.HasPassword || !gw.Enabled || gw.MaxChannels != 4 {
		t.Fatalf("create gateway: %+v %v", gw, err)
	}
	_, err = c.CreateGateway(ctx, client.GatewayInput{Name: "gw1", Address: "192.0.2.2"})
	problem(t, err, 409, "")
	off := false
	gw, err = c.UpdateGateway(ctx, "gw1", client.GatewayInput{Name: "gw1", Address: "192.0.2.3", Username: "u", Enabled: &off})
	if err != nil || gw.Address != "192.0.2.3" || gw.Enabled || !gw.HasPassword {
		t.Fatalf("update gateway (password kept): %+v %v", gw, err)
	}
	if gws, err := c.ListGateways(ctx); err != nil || len(gws) != 1 {
		t.Fatalf("list gateways: %+v %v", gws, err)
	}
	if gw, err = c.GetGateway(ctx, "gw1"); err != nil || gw.Address != "192.0.2.3" {
		t.Fatalf("get gateway: %+v %v", gw, err)
	}

	w := 3
	rt, err := c.CreateRoute(ctx, client.RouteInput{Prefix: "+49", Gateway: "gw1", Cost: 0.25, Weight: &w})
	if err != nil || rt.ID == 0 || rt.Weight != 3 || rt.Cost != 0.25 {
		t.Fatalf("create route: %+v %v", rt, err)
	}
	_, err = c.CreateRoute(ctx, client.RouteInput{Prefix: "+1", Gateway: "nope"})
	problem(t, err, 0+400, "")
	if rt, err = c.UpdateRoute(ctx, rt.ID, client.RouteInput{Prefix: "+4930", Gateway: "gw1"}); err != nil || rt.Prefix != "+4930" || rt.Weight != 1 {
		t.Fatalf("update route: %+v %v", rt, err)
	}
	if rs, err := c.ListRoutes(ctx); err != nil || len(rs) != 1 {
		t.Fatalf("list routes: %+v %v", rs, err)
	}
	if got, err := c.GetRoute(ctx, rt.ID); err != nil || got.Prefix != "+4930" {
		t.Fatalf("get route: %+v %v", got, err)
	}
	problem(t, c.DeleteGateway(ctx, "gw1"), 409, "")
	if err := c.DeleteRoute(ctx, rt.ID); err != nil {
		t.Fatal(err)
	}
	if err := c.DeleteGateway(ctx, "gw1"); err != nil {
		t.Fatal(err)
	}
	_, err = c.GetGateway(ctx, "gw1")
	problem(t, err, 404, "")

	rule, err := c.CreateInboundRule(ctx, client.InboundRuleInput{Number: client.Match{Kind: "prefix", Value: "+4930"},
		Destination: client.DestinationInput{Kind: "webhook", URL: "https://example.com/fax", Secret: "0123456789abcdef0123"}, Description: "Berlin"})
	if err != nil || rule.Priority != 100 || !rule.Enabled || !rule.Destination.HasSecret || rule.Caller.Kind != "" {
		t.Fatalf("create rule: %+v %v", rule, err)
	}
	p := 5
	rule, err = c.UpdateInboundRule(ctx, rule.ID, client.InboundRuleInput{Priority: &p, Number: rule.Number,
		Destination: client.DestinationInput{Kind: "webhook", URL: "https://example.com/fax2"}})
	if err != nil || rule.Priority != 5 || !rule.Destination.HasSecret || rule.Destination.URL != "https://example.com/fax2" {
		t.Fatalf("update rule (secret kept): %+v %v", rule, err)
	}
	if rs, err := c.ListInboundRules(ctx); err != nil || len(rs) != 1 {
		t.Fatalf("list rules: %+v %v", rs, err)
	}
	if got, err := c.GetInboundRule(ctx, rule.ID); err != nil || got.Description != "" {
		t.Fatalf("get rule (replaced, so no description): %+v %v", got, err)
	}
	if err := c.DeleteInboundRule(ctx, rule.ID); err != nil {
		t.Fatal(err)
	}
	problem(t, c.DeleteInboundRule(ctx, rule.ID), 404, "")

	ct, err := c.CreateToken(ctx, client.TokenInput{Name: "crm", Role: "submitter", ExpiresIn: "30d"})
	if err != nil || !strings.HasPrefix(ct.Secret, "faxd_") || ct.ExpiresAt == nil {
		t.Fatalf("create token: %+v %v", ct, err)
	}
	crm := newClient(t, client.Options{Servers: []string{f.url}, Token: ct.Secret})
	if me, err := crm.WhoAmI(ctx); err != nil || me.Name != "crm" {
		t.Fatalf("new token: %+v %v", me, err)
	}
	if ts, err := c.ListTokens(ctx); err != nil || len(ts) != 3 {
		t.Fatalf("list tokens: %+v %v", ts, err)
	}
	if tok, err := c.RevokeToken(ctx, ct.ID); err != nil || tok.RevokedAt == nil {
		t.Fatalf("revoke: %+v %v", tok, err)
	}
	_, err = crm.WhoAmI(ctx)
	problem(t, err, 401, "")

	al, err := c.ListAuditEntries(ctx, client.ListAuditParams{ObjectType: "gateway", Since: time.Now().Add(-time.Hour)})
	if err != nil || len(al.Entries) != 3 || al.Entries[0].Action != "delete" || al.Entries[2].Action != "create" || al.Entries[0].Actor != "ops" {
		t.Fatalf("audit: %+v %v", al, err)
	}

	// Without a cluster or gateway health configured the server says so.
	_, err = c.GetGatewayHealth(ctx)
	var e *client.Error
	if err != nil && (!errors.As(err, &e) || e.Status != 503) {
		t.Fatalf("gateway health: %v", err)
	}
	cl, err := c.GetCluster(ctx)
	if err != nil && (!errors.As(err, &e) || e.Status >= 500 && e.Status != 503) {
		t.Fatalf("cluster: %+v %v", cl, err)
	}
	for name, op := range map[string]func(context.Context) (*client.Standby, error){
		"promote": c.PromoteStandby, "demote": c.DemoteStandby, "enable": c.EnableStandby, "disable": c.DisableStandby, "sync": c.SyncStandby} {
		_, err := op(ctx)
		if !errors.As(err, &e) || (e.Status != 409 && e.Status != 503) {
			t.Errorf("%s on a server that is no standby: %v", name, err)
		}
	}
}

// The received-fax operations over one archived inbound fax.
func TestReceivedOperations(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	page := bilevel.New(bilevel.WidthA4, 200)
	for x := 100; x < 300; x++ {
		page.SetBlack(x, 50, true)
	}
	var buf bytes.Buffer
	if err := tiff.EncodeFax(&buf, []*bilevel.Image{page}, tiff.FaxOptions{}); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(buf.Bytes())
	sha := hex.EncodeToString(sum[:])
	if err := f.archive.PutDocument(ctx, sha, "image/tiff", buf.Bytes()); err != nil {
		t.Fatal(err)
	}
	if _, err := f.archive.Upsert(ctx, archive.Record{Key: "src/inbound/n1/call-1", Source: "src", Version: 1, Direction: archive.Inbound,
		Result: "received", LocalNumber: "+15550100", RemoteNumber: "+15557777", RemoteStationID: "ACME FAX",
		Pages: 1, NodeID: "n1", FinishedAt: time.Now(), DocumentSHA256: sha, Routing: "unrouted"}); err != nil {
		t.Fatal(err)
	}
	c := newClient(t, client.Options{Servers: []string{f.url}, Token: f.admin})
	rd := reader(t)

	rl, err := c.ListReceived(ctx, client.ListReceivedParams{Unrouted: true, Caller: "+15557777", Result: "received", Limit: 5})
	if err != nil || len(rl.Received) != 1 || rl.Received[0].RemoteStationID != "ACME FAX" {
		t.Fatalf("list received: %+v %v", rl, err)
	}
	id := rl.Received[0].ID
	if b := rd(c.GetReceivedDocument(ctx, id, client.FormatTIFF)); !bytes.Equal(b, buf.Bytes()) {
		t.Fatal("received TIFF differs from the archived one")
	}
	if b := rd(c.GetReceivedDocument(ctx, id, "")); !bytes.HasPrefix(b, []byte("%PDF-")) {
		t.Fatal("default received download is no PDF")
	}
	if b := rd(c.GetReceivedThumbnail(ctx, id, 1, 100)); !bytes.HasPrefix(b, []byte("\x89PNG")) {
		t.Fatal("thumbnail is no PNG")
	}
	_, err = c.GetReceivedThumbnail(ctx, id, 1, 5000)
	problem(t, err, 400, "")
	_, err = c.GetReceivedTrace(ctx, id)
	problem(t, err, 404, "")

	rr, err := c.RerouteReceived(ctx, id, client.DestinationInput{Kind: "mailbox", Mailbox: "accounts"}, "filed in the wrong mailbox")
	if err != nil || rr.Actor != "ops" || rr.From != "unrouted" || rr.To != "mailbox:accounts" || rr.Outcome != "delivered" {
		t.Fatalf("reroute: %+v %v", rr, err)
	}
	if rrs, err := c.ListReroutes(ctx, id); err != nil || len(rrs) != 1 || rrs[0].ID != rr.ID {
		t.Fatalf("reroutes: %+v %v", rrs, err)
	}
	if got, err := c.GetReceived(ctx, id); err != nil || got.Routing != "rerouted" || len(got.Reroutes) != 1 {
		t.Fatalf("get received: %+v %v", got, err)
	}
	if ms, err := c.ListMailboxes(ctx); err != nil || len(ms) != 1 || ms[0].Mailbox != "accounts" || ms[0].Total != 1 {
		t.Fatalf("mailboxes: %+v %v", ms, err)
	}
	if mb, err := c.GetMailbox(ctx, "accounts", false, 10); err != nil || len(mb.Entries) != 1 || mb.Entries[0].Fax == nil || mb.Entries[0].Fax.ID != id {
		t.Fatalf("mailbox: %+v %v", mb, err)
	}
	pg, err := c.SearchArchive(ctx, client.ArchiveParams{Direction: "inbound", Number: "+15557777", Routing: "rerouted", FinishedAfter: time.Now().Add(-time.Hour)})
	if err != nil || len(pg.Faxes) != 1 || pg.Faxes[0].RemoteStationID != "ACME FAX" {
		t.Fatalf("archive: %+v %v", pg, err)
	}
	_, err = c.SearchArchive(ctx, client.ArchiveParams{Direction: "sideways"})
	problem(t, err, 400, "")

	// Deleted for good: 410 naming who, still listed, marked.
	if err := c.DeleteReceived(ctx, id, "privacy request"); err != nil {
		t.Fatalf("delete received: %v", err)
	}
	_, err = c.GetReceived(ctx, id)
	if e := problem(t, err, 410, "gone"); !strings.Contains(e.Detail, "deleted by ops") {
		t.Fatalf("after delete: %+v", e)
	}
	_, err = c.GetReceivedDocument(ctx, id, "")
	problem(t, err, 410, "gone")
	problem(t, c.DeleteReceived(ctx, id, ""), 410, "gone")
	rl, err = c.ListReceived(ctx, client.ListReceivedParams{})
	if err != nil || len(rl.Received) != 1 || rl.Received[0].DeletedAt == nil || rl.Received[0].DeletedBy != "ops" ||
		rl.Received[0].DeleteReason != "privacy request" || rl.Received[0].HasDocument {
		t.Fatalf("list after delete: %+v %v", rl, err)
	}
	pg, err = c.SearchArchive(ctx, client.ArchiveParams{Direction: "inbound"})
	if err != nil || len(pg.Faxes) != 1 || pg.Faxes[0].DeletedBy != "ops" || pg.Faxes[0].HasDocument {
		t.Fatalf("archive after delete: %+v %v", pg, err)
	}
}

// A broadcast through the client: multipart for files, one JSON body
// when a document is a URL (refused here by the outbound policy, which
// names the field).
func TestBroadcastOperations(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	c := newClient(t, client.Options{Servers: []string{f.url}, Token: f.sub})
	req := client.BroadcastRequest{Recipients: []client.Recipient{{To: "+4930111", Name: "Ann", Vars: map[string]string{"account": "7"}}, {To: "+4930222"}},
		Cover: &client.Cover{Subject: "Prices"}, Report: true}
	b, existed, err := c.SubmitBroadcast(ctx, req, []client.Document{{Name: "prices.txt", Body: strings.NewReader("Price list\n")}}, "b1")
	if err != nil || existed || b.Recipients != 2 {
		t.Fatalf("submit: %+v %v %v", b, existed, err)
	}
	fl, err := c.ListBroadcastFaxes(ctx, b.ID, 0, "")
	if err != nil || len(fl.Faxes) != 2 || fl.Faxes[0].PagesTotal != 2 || fl.Faxes[0].Metadata["report"] != true {
		t.Fatalf("faxes: %+v %v", fl, err)
	}
	_, _, err = c.SubmitBroadcast(ctx, req, []client.Document{{Name: "prices.txt", Body: strings.NewReader("x\n")}, {URL: "http://127.0.0.1:9/terms.pdf"}}, "")
	if e := problem(t, err, 422, ""); !strings.HasPrefix(e.Detail, "documents[1].url: ") {
		t.Fatalf("URL document: %+v", e)
	}
}
