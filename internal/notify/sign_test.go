package notify_test

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/faxd/faxd/internal/notify"
)

func base64Decode(s string) ([]byte, error) { return base64.StdEncoding.DecodeString(s) }

func TestSignVerify(t *testing.T) {
	secret := []byte("whsec_test")
	body := []byte(`{"event":"fax.received"}`)
	now := time.Unix(1_700_000_000, 0)
	h := notify.Sign(secret, now, body)
	if !strings.HasPrefix(h, "t=1700000000,v1=") || len(h) != len("t=1700000000,v1=")+64 {
		t.Fatalf("header %q", h)
	}
	if err := notify.Verify(secret, h, body, time.Minute, now.Add(30*time.Second)); err != nil {
		t.Fatalf("own signature: %v", err)
	}
	rotated := notify.Sign([]byte("old"), now, body) + "," + strings.Split(h, ",")[1]
	if err := notify.Verify(secret, rotated, body, time.Minute, now); err != nil {
		t.Errorf("header with two v1 entries: %v", err)
	}
	for name, c := range map[string]struct {
		secret []byte
		header string
		body   []byte
		now    time.Time
		want   error
	}{
		"tampered body": {secret, h, []byte(`{"event":"fax.receivee"}`), now, notify.ErrSignatureMismatch},
		"wrong secret":  {[]byte("other"), h, body, now, notify.ErrSignatureMismatch},
		"moved time":    {secret, strings.Replace(h, "t=1700000000", "t=1700000001", 1), body, now, notify.ErrSignatureMismatch},
		"too old":       {secret, h, body, now.Add(2 * time.Minute), notify.ErrSignatureTimestamp},
		"from future":   {secret, h, body, now.Add(-2 * time.Minute), notify.ErrSignatureTimestamp},
		"empty":         {secret, "", body, now, notify.ErrSignatureMissing},
		"no v1":         {secret, "t=1700000000", body, now, notify.ErrSignatureMissing},
		"short v1":      {secret, "t=1700000000,v1=abcd", body, now, notify.ErrSignatureMissing},
		"bad timestamp": {secret, strings.Replace(h, "t=1700000000", "t=x", 1), body, now, notify.ErrSignatureMissing},
	} {
		if err := notify.Verify(c.secret, c.header, c.body, time.Minute, c.now); !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", name, err, c.want)
		}
	}
}

func FuzzVerify(f *testing.F) {
	f.Add([]byte("k"), "t=1,v1=00", []byte("{}"))
	f.Add([]byte(""), "t=1700000000,v1="+strings.Repeat("ab", 32), []byte(""))
	f.Add([]byte("s"), ",,=,t==,v1=zz", []byte("x"))
	f.Fuzz(func(t *testing.T, secret []byte, header string, body []byte) {
		now := time.Unix(1_700_000_000, 0)
		_ = notify.Verify(secret, header, body, time.Minute, now)
		// Whatever the secret and body, a fresh signature verifies and
		// a changed body does not.
		h := notify.Sign(secret, now, body)
		if err := notify.Verify(secret, h, body, time.Minute, now); err != nil {
			t.Fatalf("own signature: %v", err)
		}
		if err := notify.Verify(secret, h, append(body, 'x'), time.Minute, now); !errors.Is(err, notify.ErrSignatureMismatch) {
			t.Fatalf("changed body: %v", err)
		}
	})
}

// BenchmarkMessageBytes renders a received-fax mail with a 200 KB PDF.
func BenchmarkMessageBytes(b *testing.B) {
	pdf := make([]byte, 200<<10)
	for i := range pdf {
		pdf[i] = byte(i * 31)
	}
	m := notify.Message{From: "faxd@example.com", To: []string{"a@example.com"}, Subject: "Fax", Text: "details\n",
		MessageID: "fd-0123@faxd", Date: time.Unix(0, 0), Filename: "fax.pdf", PDF: pdf}
	b.SetBytes(int64(len(pdf)))
	for b.Loop() {
		_ = m.Bytes()
	}
}

// The documented example, computed independently with Python's hmac
// module, so a receiver in any language can check its implementation.
func TestSignDocumentedExample(t *testing.T) {
	got := notify.Sign([]byte("whsec_example"), time.Unix(1_700_000_000, 0), []byte(`{"event":"test"}`))
	want := "t=1700000000,v1=6278becabcffd9691cc690f3325a32fbb974ce886ed466276d506e6981003fd3"
	if got != want {
		t.Errorf("Sign = %s, want %s (docs/inbound-and-notifications.md)", got, want)
	}
}
