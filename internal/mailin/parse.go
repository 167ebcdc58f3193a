package mailin

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"strings"

	"github.com/emersion/go-smtp"

	"github.com/faxd/faxd/internal/docstore"
)

// parsed is what a mail gives a fax.
type parsed struct {
	messageID, subject string
	docs               []docstore.Source
	digest             []byte // of the documents, for the idempotency key
}

func isTooLarge(err error) bool {
	var se *smtp.SMTPError
	return errors.As(err, &se) && se.Code == 552
}

var wordDecoder = mime.WordDecoder{CharsetReader: func(charset string, r io.Reader) (io.Reader, error) {
	if strings.EqualFold(charset, "iso-8859-1") || strings.EqualFold(charset, "us-ascii") {
		b, err := io.ReadAll(r)
		if err != nil {
			return nil, err
		}
		rs := make([]rune, len(b))
		for i, c := range b {
			rs[i] = rune(c)
		}
		return strings.NewReader(string(rs)), nil
	}
	return nil, fmt.Errorf("charset %s", charset)
}}

func decodeHeader(s string) string {
	if d, err := wordDecoder.DecodeHeader(s); err == nil {
		return d
	}
	return s
}

// maxDepth bounds nested multiparts: a mail of parts in parts in parts
// must not exhaust the stack.
const maxDepth = 10

// parseMail reads a mail: every attachment becomes a document; the first
// text part that is not an attachment is the body, which becomes the
// first document when bodyAsCover.
func parseMail(r io.Reader, bodyAsCover bool) (*parsed, error) {
	msg, err := mail.ReadMessage(bufio.NewReader(r))
	if err != nil {
		if isTooLarge(err) {
			return nil, err
		}
		return nil, fmt.Errorf("the header: %w", err)
	}
	p := &parsed{messageID: strings.TrimSpace(msg.Header.Get("Message-Id")), subject: oneLine(decodeHeader(msg.Header.Get("Subject")))}
	var body *docstore.Source
	var walk func(h mail.Header, hdr func(string) string, r io.Reader, depth int) error
	walk = func(_ mail.Header, hdr func(string) string, r io.Reader, depth int) error {
		ct := hdr("Content-Type")
		if ct == "" {
			ct = "text/plain; charset=us-ascii"
		}
		mt, params, err := mime.ParseMediaType(ct)
		if err != nil {
			mt, params = "application/octet-stream", nil
		}
		if strings.HasPrefix(mt, "multipart/") {
			if depth >= maxDepth {
				return errors.New("multipart nested too deeply")
			}
			mr := multipart.NewReader(r, params["boundary"])
			for {
				part, err := mr.NextRawPart() // we decode the transfer encoding ourselves
				if err == io.EOF {
					return nil
				}
				if err != nil {
					return err
				}
				if err := walk(nil, part.Header.Get, part, depth+1); err != nil {
					return err
				}
			}
		}
		data, err := io.ReadAll(transferDecoder(hdr("Content-Transfer-Encoding"), r))
		if err != nil {
			return err
		}
		disp, dparams, _ := mime.ParseMediaType(hdr("Content-Disposition"))
		name := decodeHeader(dparams["filename"])
		if name == "" {
			name = decodeHeader(params["name"])
		}
		inline := disp != "attachment" && name == ""
		if inline && (mt == "text/plain" || mt == "text/html") {
			if body == nil || (body.ContentType != "text/plain" && mt == "text/plain") {
				ctp := mt
				if cs := params["charset"]; cs != "" {
					ctp = mime.FormatMediaType(mt, map[string]string{"charset": cs})
				}
				body = &docstore.Source{Filename: "message.txt", ContentType: ctp, Data: data}
				if mt == "text/html" {
					body.Filename = "message.html"
				}
			}
			return nil
		}
		if len(bytes.TrimSpace(data)) == 0 {
			return nil
		}
		if mt == "application/pkcs7-signature" || mt == "application/pgp-signature" {
			return nil // a signature is not a page
		}
		ctp := mt
		if cs := params["charset"]; cs != "" && strings.HasPrefix(mt, "text/") {
			ctp = mime.FormatMediaType(mt, map[string]string{"charset": cs})
		}
		p.docs = append(p.docs, docstore.Source{Filename: name, ContentType: ctp, Data: data})
		return nil
	}
	hdr := func(k string) string { return msg.Header.Get(k) }
	if err := walk(msg.Header, hdr, msg.Body, 0); err != nil {
		if isTooLarge(err) {
			return nil, err
		}
		return nil, err
	}
	if bodyAsCover && body != nil && len(bytes.TrimSpace(body.Data)) > 0 {
		p.docs = append([]docstore.Source{*body}, p.docs...)
	}
	h := sha256.New()
	for _, d := range p.docs {
		s := sha256.Sum256(d.Data)
		h.Write(s[:])
	}
	p.digest = h.Sum(nil)
	return p, nil
}

func transferDecoder(enc string, r io.Reader) io.Reader {
	switch strings.ToLower(strings.TrimSpace(enc)) {
	case "base64":
		return base64.NewDecoder(base64.StdEncoding, &newlineSkipper{r: r})
	case "quoted-printable":
		return quotedprintable.NewReader(r)
	}
	return r
}

// newlineSkipper drops CR, LF and spaces, which base64 in mail has
// between lines but encoding/base64 tolerates only as \r and \n.
type newlineSkipper struct{ r io.Reader }

func (n *newlineSkipper) Read(p []byte) (int, error) {
	for {
		c, err := n.r.Read(p)
		k := 0
		for _, b := range p[:c] {
			if b != '\r' && b != '\n' && b != ' ' && b != '\t' {
				p[k] = b
				k++
			}
		}
		if k > 0 || err != nil {
			return k, err
		}
	}
}
