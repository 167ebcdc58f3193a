package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/faxd/faxd/client"
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

// A recipients file with a header line names cover page variables; one
// without keeps number,name,company; mistakes are usage errors naming the
// line.
func TestBroadcastRecipientsFile(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	got, err := readRecipients(write("vars.csv", "# customers\nnumber,name,company,account,var.due\n+4930111,Ann,A GmbH,7,2026-12-31\n+4930222,,,8\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := []client.Recipient{
		{To: "+4930111", Name: "Ann", Company: "A GmbH", Vars: map[string]string{"account": "7", "due": "2026-12-31"}},
		{To: "+4930222", Vars: map[string]string{"account": "8"}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("with a header:\n got %+v\nwant %+v", got, want)
	}
	got, err = readRecipients(write("plain.csv", "+4930333, Bob, B AG\n+4930444\n"))
	if err != nil || !reflect.DeepEqual(got, []client.Recipient{{To: "+4930333", Name: "Bob", Company: "B AG"}, {To: "+4930444"}}) {
		t.Fatalf("without a header: %+v %v", got, err)
	}
	for body, want := range map[string]string{
		"+4930333,Bob,B AG,7\n":            "line 1: 4 columns",
		"number,name,account\n,Ann,7\n":    "line 2: no number",
		"to,account,var.account\n+49301\n": `column "var.account" twice`,
	} {
		if _, err := readRecipients(write("bad.csv", body)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", body, err, want)
		}
	}

	// Against the server: the variables need a cover, each recipient gets
	// its own cover page.
	f := newFixture(t)
	doc := write("prices.txt", "Price list\n")
	common := []string{"-server", f.url, "-token", f.sub}
	rc, out, errs := faxctl(t, append(common, "broadcast", "send", doc, "-recipients", filepath.Join(dir, "vars.csv"))...)
	if rc != exitFailed || !strings.Contains(errs, "add a cover object") {
		t.Fatalf("variables without a cover: rc=%d %q %q", rc, out, errs)
	}
	rc, out, errs = faxctl(t, append(common, "broadcast", "send", doc, "-recipients", filepath.Join(dir, "vars.csv"), "-cover-subject", "Your account")...)
	if rc != 0 || !strings.Contains(out, "queued: 2 fax(es)") {
		t.Fatalf("send: rc=%d %q %q", rc, out, errs)
	}
	rc, out, errs = faxctl(t, append(common, "broadcast", "send", doc, "-recipients", write("bad.csv", "+4930333,Bob,B AG,7\n"))...)
	if rc != exitUsage || !strings.Contains(errs, "line 1: 4 columns") {
		t.Fatalf("bad file: rc=%d %q %q", rc, out, errs)
	}
}
