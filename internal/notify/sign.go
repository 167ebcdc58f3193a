package notify

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// SignatureHeader carries a webhook's signature:
//
//	X-Faxd-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>
//
// The timestamp is signed with the body so a captured request cannot be
// replayed later than the receiver's tolerance.
const SignatureHeader = "X-Faxd-Signature"

// IdempotencyHeader carries the delivery's key, the same on every retry.
const IdempotencyHeader = "Idempotency-Key"

// EventHeader names the event of a webhook request.
const EventHeader = "X-Faxd-Event"

// DefaultTolerance is how far a signature's timestamp may be from the
// receiver's clock.
const DefaultTolerance = 5 * time.Minute

// Signature verification failures.
var (
	ErrSignatureMissing   = errors.New("notify: signature header missing or malformed")
	ErrSignatureMismatch  = errors.New("notify: signature does not match the body")
	ErrSignatureTimestamp = errors.New("notify: signature timestamp outside the tolerance")
)

// Sign returns the X-Faxd-Signature value for body at time t.
func Sign(secret []byte, t time.Time, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	return "t=" + ts + ",v1=" + hex.EncodeToString(mac(secret, ts, body))
}

func mac(secret []byte, ts string, body []byte) []byte {
	h := hmac.New(sha256.New, secret)
	h.Write([]byte(ts))
	h.Write([]byte{'.'})
	h.Write(body)
	return h.Sum(nil)
}

// Verify checks a received X-Faxd-Signature header against the raw request
// body, for receivers of faxd's webhooks. It accepts any v1 entry that
// matches (several appear while a secret is being rotated) and rejects a
// timestamp more than tolerance from now (tolerance <= 0: DefaultTolerance).
// The comparison is constant-time.
func Verify(secret []byte, header string, body []byte, tolerance time.Duration, now time.Time) error {
	if tolerance <= 0 {
		tolerance = DefaultTolerance
	}
	var ts string
	var sigs [][]byte
	for part := range strings.SplitSeq(header, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			continue
		}
		switch k {
		case "t":
			ts = v
		case "v1":
			if b, err := hex.DecodeString(v); err == nil && len(b) == sha256.Size {
				sigs = append(sigs, b)
			}
		}
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || len(sigs) == 0 {
		return ErrSignatureMissing
	}
	want := mac(secret, ts, body)
	ok := false
	for _, s := range sigs {
		if hmac.Equal(s, want) {
			ok = true
		}
	}
	if !ok {
		return ErrSignatureMismatch
	}
	if d := now.Sub(time.Unix(sec, 0)); d > tolerance || d < -tolerance {
		return fmt.Errorf("%w: %s off", ErrSignatureTimestamp, d.Round(time.Second))
	}
	return nil
}
