package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// broadcast send makes a fax per recipient (from -to and a CSV file),
// status counts them, list shows the broadcast, cancel cancels them all;
// usage errors exit 2 without a server.
func TestBroadcastCommands(t *testing.T) {
	f := newFixture(t)
	dir := t.TempDir()
	doc := filepath.Join(dir, "prices.txt")
	csvFile := filepath.Join(dir, "to.csv")
	if err := os.WriteFile(doc, []byte("Price list\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(csvFile, []byte("+4930333,Ann,A GmbH\n+4930444,Bob\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	common := []string{"-server", f.url, "-token", f.sub}
	rc, out, errs := faxctl(t, append(common, "broadcast", "send", doc, "-to", "+4930111,+4930222", "-recipients", csvFile, "-cover-subject", "Prices")...)
	if rc != 0 || !strings.Contains(out, "broadcast 1 queued: 4 fax(es)") {
		t.Fatalf("send: rc=%d %q %q", rc, out, errs)
	}
	rc, out, errs = faxctl(t, append(common, "broadcast", "status", "1")...)
	if rc != 0 || !strings.Contains(out, "4: 4 pending, 0 sending") || !strings.Contains(out, "+4930444") {
		t.Fatalf("status: rc=%d %q %q", rc, out, errs)
	}
	rc, out, errs = faxctl(t, append(common, "broadcast", "list", "-json")...)
	var l struct {
		Broadcasts []struct {
			ID     int64          `json:"id"`
			Counts map[string]int `json:"counts"`
		} `json:"broadcasts"`
	}
	if rc != 0 || json.Unmarshal([]byte(out), &l) != nil || len(l.Broadcasts) != 1 || l.Broadcasts[0].Counts["pending"] != 4 {
		t.Fatalf("list: rc=%d %q %q", rc, out, errs)
	}
	rc, out, errs = faxctl(t, append(common, "broadcast", "cancel", "1")...)
	if rc != 0 || !strings.Contains(out, "4: 0 pending, 0 sending, 0 sent, 0 failed, 4 cancelled") {
		t.Fatalf("cancel: rc=%d %q %q", rc, out, errs)
	}
	rc, _, errs = faxctl(t, append(common, "broadcast", "send", doc, "-to", "12")...)
	if rc != 1 || !strings.Contains(errs, "recipients[0].to") {
		t.Fatalf("bad number: rc=%d %q", rc, errs)
	}
	if rc, _, _ = faxctl(t, "broadcast", "send", doc); rc != 2 {
		t.Fatalf("no recipients: rc=%d, want 2", rc)
	}
	if rc, out, _ = faxctl(t, "broadcast", "status", "-h"); rc != 0 || !strings.Contains(out, "usage: faxctl broadcast status ID") {
		t.Fatalf("status -h: rc=%d %q", rc, out)
	}
}
