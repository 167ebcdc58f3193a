package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
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
	if rc, _, errs := faxctl(t, "-server", f.url, "-token", f.sub, "inbound", "reroute", id, "-mailbox", "accounts"); rc == 0 || !strings.Contains(errs, "403") {
		t.Fatalf("submitter reroute: rc=%d err=%q", rc, errs)
	}
	if rc, _, errs := faxctl(t, "-server", f.url, "-token", f.admin, "inbound", "reroute", id, "-mailbox", "a", "-email", "x@example.com"); rc != 2 || !strings.Contains(errs, "exactly one") {
		t.Fatalf("two destinations: rc=%d err=%q", rc, errs)
	}
	rc, out, errs = faxctl(t, "-server", f.url, "-token", f.admin, "inbound", "reroute", id, "-mailbox", "accounts")
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
