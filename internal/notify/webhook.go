package notify

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/faxd/faxd/internal/netguard"
)

// WebhookBody is the JSON every webhook request carries. ID is the
// delivery's idempotency key (also in the Idempotency-Key header); it and
// every other member are the same on each retry.
type WebhookBody struct {
	ID        string          `json:"id"`
	Event     string          `json:"event"`
	CreatedAt time.Time       `json:"created_at"`
	Data      json.RawMessage `json:"data"`
	Document  *Document       `json:"document,omitempty"`
}

// Document is a fax's PDF inside a webhook body.
type Document struct {
	ContentType string `json:"content_type"`
	Filename    string `json:"filename"`
	Size        int    `json:"size"`
	SHA256      string `json:"sha256"`
	Data        []byte `json:"data_base64"` // base64 in JSON
}

func newDocument(faxRef string, pdf []byte) *Document {
	sum := sha256.Sum256(pdf)
	return &Document{ContentType: "application/pdf", Filename: pdfName(faxRef), Size: len(pdf),
		SHA256: hex.EncodeToString(sum[:]), Data: pdf}
}

// pdfName makes a file name from a fax reference, keeping only the
// characters that are safe in headers and on every file system.
func pdfName(ref string) string {
	var b strings.Builder
	for _, r := range ref {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == '.':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
		if b.Len() >= 64 {
			break
		}
	}
	return "fax-" + b.String() + ".pdf"
}

func (n *Notifier) sendWebhook(ctx context.Context, d Delivery, pdf []byte) error {
	wb := WebhookBody{ID: d.IdempotencyKey, Event: d.Event, CreatedAt: d.CreatedAt.UTC(), Data: d.Payload}
	if d.Attach {
		wb.Document = newDocument(d.FaxRef, pdf)
	}
	if err := n.guard.CheckURL(d.Target); err != nil {
		return permanent(fmt.Errorf("webhook: %w", err))
	}
	body, err := json.Marshal(wb)
	if err != nil {
		return permanent(err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.Target, bytes.NewReader(body))
	if err != nil {
		return permanent(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "faxd-notify/1")
	req.Header.Set(IdempotencyHeader, d.IdempotencyKey)
	req.Header.Set(EventHeader, d.Event)
	if d.Secret != "" {
		secret, err := n.opts.Secrets.Open(d.Secret)
		if err != nil {
			// Retried: the operator may restore the missing key.
			return fmt.Errorf("webhook: signing secret: %w", err)
		}
		req.Header.Set(SignatureHeader, Sign([]byte(secret), time.Now(), body))
	}
	resp, err := n.http.Do(req)
	if errors.Is(err, netguard.ErrRefused) {
		// What the name resolved to is internal: not a passing fault.
		return permanent(fmt.Errorf("webhook: %w", err))
	}
	if err != nil {
		// Network errors and timeouts: the receiver may be back later.
		return fmt.Errorf("webhook: %w", err)
	}
	defer resp.Body.Close()
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return nil
	}
	err = fmt.Errorf("webhook: %s: %s", resp.Status, strings.TrimSpace(strings.ToValidUTF8(string(snippet), "")))
	switch {
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500:
		return &attemptError{err: err, retryAfter: retryAfter(resp.Header.Get("Retry-After"), time.Now())}
	default:
		// Other 4xx (the receiver refuses this request) and redirects,
		// which are not followed: sending again cannot help.
		return permanent(err)
	}
}

// retryAfter parses a Retry-After header: seconds or an HTTP date.
func retryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(v); err == nil && s > 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}
