package server

import (
	"bytes"
	"context"
	"net"
	"net/smtp"
	"strings"
	"testing"
	"time"

	"github.com/faxd/faxd/internal/config"
	"github.com/faxd/faxd/internal/notify/notifytest"
	"github.com/faxd/faxd/internal/users"
	"github.com/faxd/faxd/queue"
)

// With smtp_intake on, the server takes a mail from an allowed sender as a
// fax in its queue and mails the sender a confirmation through
// notify.smtp; a sender not on the list is refused.
func TestServerEmailToFax(t *testing.T) {
	t.Parallel()
	sink := notifytest.StartSMTP(t, notifytest.SMTPOptions{})
	s := startServer(t, func(c *config.Config) {
		fastNotify(c)
		c.Notify.SMTP = sink.Config("fax@example.com")
		c.SMTPIntake.Listen = "127.0.0.1:0"
		c.SMTPIntake.Domains = []string{"fax.example.com"}
		c.SMTPIntake.AllowSenders = []string{"@acme.example"}
	})
	msg := "From: clerk@acme.example\r\nSubject: hello\r\nMessage-ID: <t1@acme.example>\r\n" +
		"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nbody\r\n" +
		"--b\r\nContent-Type: text/plain\r\nContent-Disposition: attachment; filename=letter.txt\r\n\r\nHello by mail.\r\n--b--\r\n"
	if err := smtp.SendMail(s.MailInAddr(), nil, "eve@evil.example", []string{"+4940123456@fax.example.com"}, []byte(msg)); err == nil ||
		!strings.Contains(err.Error(), "550") {
		t.Fatalf("refused sender: %v, want 550", err)
	}
	if err := smtp.SendMail(s.MailInAddr(), nil, "clerk@acme.example", []string{"+4940123456@fax.example.com"}, []byte(msg)); err != nil {
		t.Fatalf("send: %v", err)
	}
	jobs, err := s.Queue.List(context.Background(), queue.ListFilter{Limit: 10})
	if err != nil || len(jobs) != 1 || jobs[0].Destination != "+4940123456" || jobs[0].PagesTotal != 1 || jobs[0].Submitter != "mail:clerk@acme.example" {
		t.Fatalf("jobs %+v %v", jobs, err)
	}
	mails := sink.Wait(t, 1, 60*time.Second)
	if mails[0].To[0] != "clerk@acme.example" || !bytes.Contains(mails[0].Data, []byte("queued (1 page)")) {
		t.Fatalf("confirmation to %v:\n%s", mails[0].To, mails[0].Data)
	}

	// A user account logs in with its name and password, from a sender
	// not on the list: the fax is the user's; a wrong password is 535.
	if _, err := s.Users.Create(context.Background(), "alice", "correct horse battery", users.RoleUser); err != nil {
		t.Fatal(err)
	}
	host, _, _ := net.SplitHostPort(s.MailInAddr())
	msg2 := strings.Replace(msg, "<t1@acme.example>", "<t2@elsewhere.example>", 1)
	if err := smtp.SendMail(s.MailInAddr(), smtp.PlainAuth("", "alice", "wrong password here", host), "alice@elsewhere.example",
		[]string{"+4940123457@fax.example.com"}, []byte(msg2)); err == nil || !strings.Contains(err.Error(), "535") {
		t.Fatalf("wrong password: %v, want 535", err)
	}
	if err := smtp.SendMail(s.MailInAddr(), smtp.PlainAuth("", "alice", "correct horse battery", host), "alice@elsewhere.example",
		[]string{"+4940123457@fax.example.com"}, []byte(msg2)); err != nil {
		t.Fatalf("send as a user: %v", err)
	}
	jobs, err = s.Queue.List(context.Background(), queue.ListFilter{Limit: 10, Submitter: "alice"})
	if err != nil || len(jobs) != 1 || jobs[0].Destination != "+4940123457" {
		t.Fatalf("the user's fax: %+v %v", jobs, err)
	}
}
