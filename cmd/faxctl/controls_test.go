package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// send -kill-after shows a deadline; resend of a pending fax is refused
// (exit 1, the server's reason), of a cancelled one makes a new fax to
// another number that names the old one, and the old one lists it.
func TestDeadlineAndResend(t *testing.T) {
	f := newFixture(t)
	doc := filepath.Join(t.TempDir(), "letter.txt")
	if err := os.WriteFile(doc, []byte("Dear customer,\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	common := []string{"-server", f.url, "-token", f.sub}
	rc, out, errs := faxctl(t, append(common, "send", doc, "-to", "+4930123456", "-kill-after", "36h")...)
	if rc != 0 || !strings.Contains(out, "fax 1 queued") {
		t.Fatalf("send: rc=%d %q %q", rc, out, errs)
	}
	rc, out, _ = faxctl(t, append(common, "status", "1")...)
	if rc != 0 || !strings.Contains(out, "Deadline:") {
		t.Fatalf("status shows no deadline: rc=%d %q", rc, out)
	}
	rc, _, errs = faxctl(t, append(common, "resend", "1")...)
	if rc != 1 || !strings.Contains(errs, "only a finished fax") {
		t.Fatalf("resend of a pending fax: rc=%d %q", rc, errs)
	}
	rc, out, errs = faxctl(t, append(common, "retry", "1")...)
	if rc != 0 || !strings.Contains(out, "fax 1 is due now") {
		t.Fatalf("retry now: rc=%d %q %q", rc, out, errs)
	}
	if rc, _, errs = faxctl(t, append(common, "cancel", "1")...); rc != 0 {
		t.Fatalf("cancel: rc=%d %q", rc, errs)
	}
	rc, _, errs = faxctl(t, append(common, "retry", "1")...)
	if rc != 1 || !strings.Contains(errs, "only a pending fax") {
		t.Fatalf("retry of a cancelled fax: rc=%d %q", rc, errs)
	}
	rc, out, errs = faxctl(t, append(common, "resend", "1", "-to", "+4930999888")...)
	if rc != 0 || !strings.Contains(out, "fax 2 queued: fax 1 again, 1 page(s) to +4930999888, pending") {
		t.Fatalf("resend: rc=%d %q %q", rc, out, errs)
	}
	rc, out, _ = faxctl(t, append(common, "status", "2")...)
	if rc != 0 || !strings.Contains(out, "Resent from:") || !strings.Contains(out, "fax 1") {
		t.Fatalf("status of the resend: rc=%d %q", rc, out)
	}
	rc, out, _ = faxctl(t, append(common, "status", "1")...)
	if rc != 0 || !strings.Contains(out, "Resent as:") || !strings.Contains(out, "fax 2") {
		t.Fatalf("status of the old fax: rc=%d %q", rc, out)
	}
	if rc, _, _ = faxctl(t, append(common, "send", doc, "-to", "+4930123456", "-deadline", "tomorrow")...); rc != 2 {
		t.Fatalf("bad -deadline: rc=%d, want 2", rc)
	}
	if rc, _, _ = faxctl(t, append(common, "resend", "-h")...); rc != 0 {
		t.Fatalf("resend -h: rc=%d, want 0", rc)
	}
	// delete: a pending fax is refused; a cancelled one is deleted, and its
	// status and a second delete then say by whom.
	if rc, _, errs = faxctl(t, append(common, "delete", "2")...); rc != 1 || !strings.Contains(errs, "only sent, failed or cancelled") {
		t.Fatalf("delete of a pending fax: rc=%d %q", rc, errs)
	}
	if rc, out, errs = faxctl(t, append(common, "delete", "1", "-reason", "wrong customer")...); rc != 0 || !strings.Contains(out, "fax 1 deleted") {
		t.Fatalf("delete: rc=%d %q %q", rc, out, errs)
	}
	for _, args := range [][]string{{"status", "1"}, {"delete", "1"}, {"download", "1", "-o", "-"}} {
		if rc, _, errs = faxctl(t, append(common, args...)...); rc != 1 || !strings.Contains(errs, "was deleted by") || !strings.Contains(errs, "wrong customer") {
			t.Fatalf("%v after delete: rc=%d %q", args, rc, errs)
		}
	}
}
