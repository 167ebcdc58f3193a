package notify

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"net/smtp"
	"net/textproto"
	"strconv"
	"strings"
	"time"
)

// Message is one email as faxd writes it.
type Message struct {
	From      string
	To        []string
	Subject   string
	Text      string
	Event     string
	MessageID string // without the angle brackets
	Date      time.Time
	// Attachment, when set, makes the message multipart/mixed.
	Filename string
	PDF      []byte
}

// Bytes renders the message: headers, then a quoted-printable text part and
// a base64 PDF part. The MIME boundary is derived from the message id, so
// the same message renders to the same bytes.
func (m Message) Bytes() []byte {
	var buf bytes.Buffer
	h := func(k, v string) { buf.WriteString(k + ": " + v + "\r\n") }
	h("From", (&mail.Address{Address: m.From}).String())
	to := make([]string, len(m.To))
	for i, a := range m.To {
		to[i] = (&mail.Address{Address: a}).String()
	}
	h("To", strings.Join(to, ", "))
	h("Subject", mime.QEncoding.Encode("utf-8", oneLine(m.Subject)))
	h("Date", m.Date.Format(time.RFC1123Z))
	h("Message-ID", "<"+m.MessageID+">")
	h("MIME-Version", "1.0")
	if m.Event != "" {
		h("X-Faxd-Event", oneLine(m.Event))
	}
	text := func(w *bytes.Buffer) {
		qp := quotedprintable.NewWriter(w)
		_, _ = qp.Write([]byte(strings.ReplaceAll(m.Text, "\n", "\r\n")))
		_ = qp.Close()
	}
	if m.PDF == nil {
		h("Content-Type", "text/plain; charset=utf-8")
		h("Content-Transfer-Encoding", "quoted-printable")
		buf.WriteString("\r\n")
		text(&buf)
		return buf.Bytes()
	}
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	_ = mw.SetBoundary("faxd-" + strings.NewReplacer("@", "-", ".", "-").Replace(m.MessageID))
	h("Content-Type", "multipart/mixed; boundary=\""+mw.Boundary()+"\"")
	buf.WriteString("\r\n")
	tp, _ := mw.CreatePart(textproto.MIMEHeader{
		"Content-Type":              {"text/plain; charset=utf-8"},
		"Content-Transfer-Encoding": {"quoted-printable"},
	})
	var tb bytes.Buffer
	text(&tb)
	_, _ = tp.Write(tb.Bytes())
	ap, _ := mw.CreatePart(textproto.MIMEHeader{
		"Content-Type":              {mime.FormatMediaType("application/pdf", map[string]string{"name": m.Filename})},
		"Content-Disposition":       {mime.FormatMediaType("attachment", map[string]string{"filename": m.Filename})},
		"Content-Transfer-Encoding": {"base64"},
	})
	// Base64 in lines of 76 characters (57 input bytes), as MIME wants.
	enc := make([]byte, 0, base64.StdEncoding.EncodedLen(len(m.PDF))+len(m.PDF)/57*2+2)
	for pdf := m.PDF; len(pdf) > 0; {
		n := min(57, len(pdf))
		enc = base64.StdEncoding.AppendEncode(enc, pdf[:n])
		enc = append(enc, '\r', '\n')
		pdf = pdf[n:]
	}
	_, _ = ap.Write(enc)
	_ = mw.Close()
	buf.Write(body.Bytes())
	return buf.Bytes()
}

func (n *Notifier) sendEmail(ctx context.Context, d Delivery, pdf []byte) error {
	c := n.cfg.SMTP
	if c.Host == "" {
		return permanent(errors.New("email: notify.smtp.host is not configured"))
	}
	m := Message{From: c.From, To: d.Targets(), Subject: d.Subject, Text: d.Body, Event: d.Event,
		MessageID: d.IdempotencyKey + "@faxd", Date: time.Now()}
	if d.Attach {
		m.Filename, m.PDF = pdfName(d.FaxRef), pdf
	}
	if err := n.smtpSend(ctx, m.From, m.To, m.Bytes()); err != nil {
		return classifySMTP(err)
	}
	return nil
}

// classifySMTP makes 5xx replies permanent; 4xx replies and network
// errors are retried.
func classifySMTP(err error) error {
	var tp *textproto.Error
	if errors.As(err, &tp) && tp.Code >= 500 {
		return permanent(fmt.Errorf("email: %w", err))
	}
	return fmt.Errorf("email: %w", err)
}

// smtpSend runs one SMTP session. Credentials go only into AUTH PLAIN,
// which net/smtp refuses over an unencrypted link to anything but
// localhost; they never reach an error or a log line.
func (n *Notifier) smtpSend(ctx context.Context, from string, to []string, msg []byte) error {
	c := n.cfg.SMTP
	deadline := time.Now().Add(c.Timeout)
	if dl, ok := ctx.Deadline(); ok && dl.Before(deadline) {
		deadline = dl
	}
	dialer := net.Dialer{Deadline: deadline}
	conn, err := dialer.DialContext(ctx, "tcp", net.JoinHostPort(c.Host, strconv.Itoa(c.Port)))
	if err != nil {
		return err
	}
	defer conn.Close()
	_ = conn.SetDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Now()) })
	defer stop()
	cl, err := smtp.NewClient(conn, c.Host)
	if err != nil {
		return err
	}
	defer cl.Close()
	if err := cl.Hello(c.HelloName); err != nil {
		return err
	}
	if c.StartTLS != StartTLSNever {
		if ok, _ := cl.Extension("STARTTLS"); ok {
			if err := cl.StartTLS(&tls.Config{ServerName: c.Host, RootCAs: n.roots, MinVersion: tls.VersionTLS12}); err != nil {
				return fmt.Errorf("STARTTLS: %w", err)
			}
		} else if c.StartTLS == StartTLSAlways {
			return errors.New("server does not offer STARTTLS (notify.smtp.starttls is always)")
		}
	}
	if c.Username != "" {
		if err := cl.Auth(smtp.PlainAuth("", c.Username, c.Password, c.Host)); err != nil {
			return fmt.Errorf("AUTH as %s: %w", c.Username, err)
		}
	}
	if err := cl.Mail(from); err != nil {
		return err
	}
	for _, a := range to {
		if err := cl.Rcpt(a); err != nil {
			return fmt.Errorf("RCPT %s: %w", a, err)
		}
	}
	w, err := cl.Data()
	if err != nil {
		return err
	}
	if _, err := w.Write(msg); err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	return cl.Quit()
}
