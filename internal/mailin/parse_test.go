package mailin

import (
	"bytes"
	"strings"
	"testing"
)

// Attachments become documents in order, quoted-printable and base64 are
// decoded, an encoded file name is decoded, signatures are skipped, and
// the text body is the first page only when asked for.
func TestParseMail(t *testing.T) {
	msg := "Subject: =?utf-8?q?Rechnung_f=C3=BCr_M=C3=A4rz?=\r\nMessage-ID: <m1@test>\r\n" +
		"Content-Type: multipart/mixed; boundary=b\r\n\r\n" +
		"--b\r\nContent-Type: multipart/alternative; boundary=c\r\n\r\n" +
		"--c\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nGr=C3=BC=C3=9Fe\r\n" +
		"--c\r\nContent-Type: text/html\r\n\r\n<p>Gr&uuml;&szlig;e</p>\r\n--c--\r\n" +
		"--b\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename=\"=?utf-8?q?M=C3=A4rz.pdf?=\"\r\n" +
		"Content-Transfer-Encoding: base64\r\n\r\nJVBERi0x\r\nLjQK\r\n" +
		"--b\r\nContent-Type: application/pkcs7-signature; name=smime.p7s\r\nContent-Transfer-Encoding: base64\r\n\r\nAAEC\r\n--b--\r\n"
	p, err := parseMail(strings.NewReader(msg), false)
	if err != nil {
		t.Fatal(err)
	}
	if p.subject != "Rechnung für März" || p.messageID != "<m1@test>" {
		t.Fatalf("subject %q id %q", p.subject, p.messageID)
	}
	if len(p.docs) != 1 || p.docs[0].Filename != "März.pdf" || string(p.docs[0].Data) != "%PDF-1.4\n" || p.docs[0].ContentType != "application/pdf" {
		t.Fatalf("docs %+v", p.docs)
	}
	p2, err := parseMail(strings.NewReader(msg), true)
	if err != nil {
		t.Fatal(err)
	}
	if len(p2.docs) != 2 || string(p2.docs[0].Data) != "Grüße" || p2.docs[0].ContentType != "text/plain; charset=utf-8" {
		t.Fatalf("with the body: %+v", p2.docs)
	}
	if bytes.Equal(p.digest, p2.digest) {
		t.Fatal("the body page does not change the digest")
	}
}

func FuzzParseMail(f *testing.F) {
	f.Add([]byte("Subject: x\r\n\r\nhello\r\n"))
	f.Add([]byte("Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Transfer-Encoding: base64\r\nContent-Disposition: attachment; filename=a\r\n\r\nAAEC\r\n--b--\r\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := parseMail(bytes.NewReader(data), true)
		if err == nil && p == nil {
			t.Fatal("nil result without an error")
		}
	})
}

// Subjects are cut on a rune boundary: a cut inside "ü" would make the
// metadata invalid UTF-8.
func TestTrimTo(t *testing.T) {
	for _, c := range []struct {
		in   string
		n    int
		want string
	}{{"Grüße", 3, "Gr..."}, {"Grüße", 4, "Grü..."}, {"abc", 3, "abc"}} {
		if got := trimTo(c.in, c.n); got != c.want {
			t.Errorf("trimTo(%q, %d) = %q, want %q", c.in, c.n, got, c.want)
		}
	}
}
