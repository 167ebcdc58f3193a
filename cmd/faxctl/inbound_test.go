package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/faxd/faxd/archive"
	"github.com/faxd/faxd/t38/bilevel"
	"github.com/faxd/faxd/t38/tiff"
)

// archiveReceived puts an unrouted received fax with a one-page TIFF into
// the archive, as the archiver does for an inbound call.
func archiveReceived(t *testing.T, f fixture) (archive.Record, []byte) {
	t.Helper()
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
	ctx := context.Background()
	if err := f.archive.PutDocument(ctx, sha, "image/tiff", buf.Bytes()); err != nil {
		t.Fatal(err)
	}
	rec := archive.Record{Key: "src/inbound/n1/call-1", Source: "src", Version: 1, Direction: archive.Inbound,
		Result: "received", LocalNumber: "+15550100", RemoteNumber: "+15557777", RemoteStationID: "ACME FAX",
		Pages: 1, NodeID: "n1", FinishedAt: time.Now(), DocumentSHA256: sha, Routing: "unrouted"}
	if _, err := f.archive.Upsert(ctx, rec); err != nil {
		t.Fatal(err)
	}
	recs, _, err := f.archive.Search(ctx, archive.Filter{Direction: archive.Inbound})
	if err != nil || len(recs) != 1 {
		t.Fatalf("archived: %v %d", err, len(recs))
	}
	return recs[0], buf.Bytes()
}

func TestInboundListShowDownloadReroute(t *testing.T) {
	f := newFixture(t)
	rec, tif := archiveReceived(t, f)
	id := itoa(rec.ID)

	rc, out, errs := faxctl(t, "-server", f.url, "-token", f.admin, "inbound", "list", "-unrouted")
	if rc != 0 || !strings.Contains(out, "+15557777") || !strings.Contains(out, "ACME FAX") || !strings.Contains(out, "unrouted") {
		t.Fatalf("list: rc=%d out=%q err=%q", rc, out, errs)
	}
	dir := t.TempDir()
	tifPath := filepath.Join(dir, "r.tif")
	if rc, _, errs := faxctl(t, "-server", f.url, "-token", f.admin, "inbound", "download", id, "-format", "tiff", "-o", tifPath); rc != 0 {
		t.Fatalf("download tiff: %d %s", rc, errs)
	}
	if got, _ := os.ReadFile(tifPath); !bytes.Equal(got, tif) {
		t.Fatal("downloaded TIFF differs from the archived one")
	}
	pdfPath := filepath.Join(dir, "r.pdf")
	if rc, _, errs := faxctl(t, "-server", f.url, "-token", f.admin, "inbound", "download", id, "-o", pdfPath); rc != 0 {
		t.Fatalf("download pdf: %d %s", rc, errs)
	}
	if got, _ := os.ReadFile(pdfPath); !bytes.HasPrefix(got, []byte("%PDF-")) {
		t.Fatal("downloaded PDF is not a PDF")
	}

	// A submitter may not see or reroute received faxes.
	if rc, _, errs := faxctl(t, "-server", f.url, "-token", f.sub, "inbound", "reroute", id, "-mailbox", "accounts", "-reason", "misfiled"); rc == 0 || !strings.Contains(errs, "403") {
		t.Fatalf("submitter reroute: rc=%d err=%q", rc, errs)
	}
	if rc, _, errs := faxctl(t, "-server", f.url, "-token", f.admin, "inbound", "reroute", id, "-mailbox", "a", "-email", "x@example.com"); rc != 2 || !strings.Contains(errs, "exactly one") {
		t.Fatalf("two destinations: rc=%d err=%q", rc, errs)
	}
	rc, out, errs = faxctl(t, "-server", f.url, "-token", f.admin, "inbound", "reroute", id, "-mailbox", "accounts", "-reason", "misfiled")
	if rc != 0 || !strings.Contains(out, "accounts") {
		t.Fatalf("reroute: rc=%d out=%q err=%q", rc, out, errs)
	}
	rc, out, errs = faxctl(t, "-server", f.url, "-token", f.admin, "inbound", "show", id)
	if rc != 0 || !strings.Contains(out, "Reroutes:") || !strings.Contains(out, "ops") || !strings.Contains(out, "accounts") {
		t.Fatalf("show: rc=%d out=%q err=%q", rc, out, errs)
	}
	rc, out, errs = faxctl(t, "-server", f.url, "-token", f.admin, "inbound", "reroutes", id)
	if rc != 0 || !strings.Contains(out, "unrouted") || !strings.Contains(out, "mailbox:accounts") || !strings.Contains(out, "delivered") {
		t.Fatalf("reroutes: rc=%d out=%q err=%q", rc, out, errs)
	}
	png := filepath.Join(dir, "p1.png")
	if rc, _, errs := faxctl(t, "-server", f.url, "-token", f.admin, "inbound", "thumbnail", id, "-width", "100", "-o", png); rc != 0 {
		t.Fatalf("thumbnail: %d %s", rc, errs)
	}
	if got, _ := os.ReadFile(png); !bytes.HasPrefix(got, []byte("\x89PNG")) {
		t.Fatal("thumbnail is not a PNG")
	}
	if rc, _, errs := faxctl(t, "-server", f.url, "-token", f.admin, "inbound", "thumbnail", id, "-width", "9000", "-o", png); rc != 1 || !strings.Contains(errs, "width") {
		t.Fatalf("bad width: rc=%d %q", rc, errs)
	}
	if rc, _, errs := faxctl(t, "-server", f.url, "-token", f.admin, "inbound", "show", "999999"); rc == 0 || !strings.Contains(errs, "404") {
		t.Fatalf("unknown id: rc=%d err=%q", rc, errs)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// inbound read/unread change the caller's unread list; rules take -tsi
// and -pages.
func TestInboundReadUnreadAndRuleTSI(t *testing.T) {
	f := newFixture(t)
	rec, _ := archiveReceived(t, f)
	id := itoa(rec.ID)
	adm := []string{"-server", f.url, "-token", f.admin}
	if rc, _, errs := faxctl(t, append(adm, "inbound", "reroute", id, "-mailbox", "accounts", "-reason", "misfiled")...); rc != 0 {
		t.Fatalf("reroute: %d %s", rc, errs)
	}
	unread := func() string {
		t.Helper()
		rc, out, errs := faxctl(t, append(adm, "mailboxes", "show", "accounts", "-unread", "-json")...)
		if rc != 0 {
			t.Fatalf("mailboxes show: %d %s", rc, errs)
		}
		return out
	}
	if !strings.Contains(unread(), `"id": `+id) {
		t.Fatalf("fresh fax not unread: %s", unread())
	}
	rc, out, errs := faxctl(t, append(adm, "inbound", "read", id)...)
	if rc != 0 || !strings.Contains(out, "marked read for ops") {
		t.Fatalf("read: rc=%d %q %q", rc, out, errs)
	}
	if got := unread(); strings.Contains(got, `"id": `+id) {
		t.Fatalf("still unread after inbound read: %s", got)
	}
	if rc, out, _ := faxctl(t, append(adm, "inbound", "show", id)...); rc != 0 || !strings.Contains(out, "Read:") || !strings.Contains(out, "true") {
		t.Fatalf("show after read: %q", out)
	}
	if rc, out, errs := faxctl(t, append(adm, "inbound", "unread", id)...); rc != 0 || !strings.Contains(out, "marked unread") {
		t.Fatalf("unread: rc=%d %q %q", rc, out, errs)
	}
	if !strings.Contains(unread(), `"id": `+id) {
		t.Fatalf("not unread again: %s", unread())
	}
	if rc, _, errs := faxctl(t, append(adm, "inbound", "read", "999999")...); rc != 1 || !strings.Contains(errs, "404") {
		t.Fatalf("read unknown: rc=%d %q", rc, errs)
	}

	rc, out, errs = faxctl(t, append(adm, "rules", "create", "-number", "prefix:", "-tsi", "contains:acme", "-pages", "any", "-mailbox", "acme", "-json")...)
	if rc != 0 || !strings.Contains(out, `"kind": "contains"`) || !strings.Contains(out, `"pages": "any"`) {
		t.Fatalf("rules create -tsi: rc=%d %q %q", rc, out, errs)
	}
	var rule struct{ ID int64 }
	if err := json.Unmarshal([]byte(out), &rule); err != nil {
		t.Fatal(err)
	}
	// update keeps the TSI condition unless given; -tsi any drops it.
	rc, out, _ = faxctl(t, append(adm, "rules", "update", itoa(rule.ID), "-mailbox", "acme2")...)
	if rc != 0 || !strings.Contains(out, "contains:acme") || !strings.Contains(out, "any") {
		t.Fatalf("rules update kept: rc=%d %q", rc, out)
	}
	rc, out, _ = faxctl(t, append(adm, "rules", "update", itoa(rule.ID), "-tsi", "any", "-json")...)
	if rc != 0 || !strings.Contains(out, `"tsi": {`) || strings.Contains(out, "contains") {
		t.Fatalf("rules update -tsi any: rc=%d %q", rc, out)
	}
	if rc, _, errs := faxctl(t, append(adm, "rules", "create", "-number", "1", "-tsi", "pattern:X.", "-mailbox", "x")...); rc != 2 || !strings.Contains(errs, "-tsi") {
		t.Fatalf("bad -tsi kind: rc=%d %q", rc, errs)
	}
	// The server's validation names the field.
	if rc, _, errs := faxctl(t, append(adm, "rules", "create", "-number", "1", "-tsi", "prefix:"+strings.Repeat("A", 21), "-mailbox", "x")...); rc != 1 || !strings.Contains(errs, "tsi.value") {
		t.Fatalf("bad -tsi: rc=%d %q", rc, errs)
	}
	if rc, _, errs := faxctl(t, append(adm, "rules", "create", "-number", "1", "-pages", "few", "-mailbox", "x")...); rc != 2 || !strings.Contains(errs, "-pages") {
		t.Fatalf("bad -pages: rc=%d %q", rc, errs)
	}
}

// inbound delete: refused for a submitter, then the pages go, and show,
// download and the listing say who deleted the fax.
func TestInboundDelete(t *testing.T) {
	f := newFixture(t)
	rec, _ := archiveReceived(t, f)
	id := itoa(rec.ID)
	if rc, _, errs := faxctl(t, "-server", f.url, "-token", f.admin, "inbound", "reroute", id, "-mailbox", "legal", "-reason", "privacy case"); rc != 0 {
		t.Fatalf("reroute: %d %s", rc, errs)
	}
	if rc, _, errs := faxctl(t, "-server", f.url, "-token", f.sub, "inbound", "delete", id); rc != exitFailed || !strings.Contains(errs, "403") {
		t.Fatalf("submitter delete: rc=%d err=%q", rc, errs)
	}
	if rc, _, errs := faxctl(t, "-server", f.url, "-token", f.admin, "inbound", "delete"); rc != exitUsage || errs == "" {
		t.Fatalf("delete without an id: rc=%d err=%q", rc, errs)
	}
	rc, out, errs := faxctl(t, "-server", f.url, "-token", f.admin, "inbound", "delete", id, "-reason", "privacy request")
	if rc != 0 || !strings.Contains(out, "received fax "+id+" deleted") {
		t.Fatalf("delete: rc=%d out=%q err=%q", rc, out, errs)
	}
	for _, args := range [][]string{{"inbound", "show", id}, {"inbound", "download", id, "-o", filepath.Join(t.TempDir(), "x.pdf")}, {"inbound", "delete", id}} {
		rc, _, errs := faxctl(t, append([]string{"-server", f.url, "-token", f.admin}, args...)...)
		if rc != exitFailed || !strings.Contains(errs, "deleted by") || !strings.Contains(errs, "privacy request") {
			t.Fatalf("%v after delete: rc=%d err=%q", args, rc, errs)
		}
	}
	for _, args := range [][]string{{"inbound", "list"}, {"mailboxes", "show", "legal"}, {"archive", "search", "-direction", "inbound"}} {
		rc, out, errs := faxctl(t, append([]string{"-server", f.url, "-token", f.admin}, args...)...)
		if rc != 0 || !strings.Contains(out, "received (deleted by ") {
			t.Fatalf("%v after delete: rc=%d out=%q err=%q", args, rc, out, errs)
		}
	}
	rc, out, _ = faxctl(t, "-server", f.url, "-token", f.admin, "--json", "inbound", "list")
	var l struct {
		Received []struct {
			DeletedBy   string `json:"deleted_by"`
			HasDocument bool   `json:"has_document"`
		} `json:"received"`
	}
	if err := json.Unmarshal([]byte(out), &l); rc != 0 || err != nil || len(l.Received) != 1 || l.Received[0].DeletedBy == "" || l.Received[0].HasDocument {
		t.Fatalf("json list after delete: rc=%d %v %q", rc, err, out)
	}
}
