package inbound

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/faxd/faxd/internal/notify"
)

// MatchKind is how a rule compares a number.
type MatchKind string

// Match kinds. MatchAny (the empty kind) is only valid for the caller
// condition, where it means every caller.
const (
	MatchAny     MatchKind = ""
	MatchExact   MatchKind = "exact"   // the whole number
	MatchPrefix  MatchKind = "prefix"  // the number starts with Value ("" matches all)
	MatchPattern MatchKind = "pattern" // a dial pattern, see Pattern
	// MatchContains is for the TSI only: the station id contains Value,
	// ignoring case.
	MatchContains MatchKind = "contains"
)

// PagesCond says which receptions a rule applies to: faxes that brought
// at least one page, calls that brought none, or both.
type PagesCond string

// Pages conditions. The empty value is PagesSome, what every rule did
// before the condition existed.
const (
	PagesSome PagesCond = "some"
	PagesNone PagesCond = "none"
	PagesAny  PagesCond = "any"
)

func (p PagesCond) match(pages int) bool {
	switch p {
	case PagesNone:
		return pages == 0
	case PagesAny:
		return true
	}
	return pages > 0
}

// Match is a condition on one number.
type Match struct {
	Kind  MatchKind `json:"kind"`
	Value string    `json:"value"`
}

// DestKind is where a routed fax goes.
type DestKind string

// Destination kinds.
const (
	DestMailbox DestKind = "mailbox"
	DestEmail   DestKind = "email"
	DestWebhook DestKind = "webhook"
)

// Destination is where a routed or rerouted fax is delivered: one mailbox,
// one mail to one or more addresses, or one webhook.
type Destination struct {
	Kind    DestKind `json:"kind"`
	Mailbox string   `json:"mailbox,omitempty"`
	Emails  []string `json:"emails,omitempty"`
	URL     string   `json:"url,omitempty"`
	// Secret signs webhook requests; it is never returned by the API or
	// written to the audit trail.
	Secret string `json:"-"`
}

// String names the destination for the audit trail and the dispositions:
// mailbox:sales, email:a@example.com,b@example.com, webhook:https://...
// It never includes the secret.
func (d Destination) String() string {
	switch d.Kind {
	case DestMailbox:
		return "mailbox:" + d.Mailbox
	case DestEmail:
		return "email:" + strings.Join(d.Emails, ",")
	case DestWebhook:
		return "webhook:" + d.URL
	}
	return string(d.Kind)
}

// Rule routes received faxes whose dialled number (and, when set, caller
// number and station id) match, and whose page count fits Pages, to one
// destination. Rules run by Priority, lower first, ties by ID; the first
// match wins.
type Rule struct {
	ID       int64 `json:"id"`
	Priority int   `json:"priority"`
	Number   Match `json:"number"`
	Caller   Match `json:"caller"` // Kind "" matches every caller
	// TSI is a condition on the sender's station id (exact, prefix or
	// contains, ignoring case); Kind "" matches every sender.
	TSI         Match       `json:"tsi"`
	Pages       PagesCond   `json:"pages"` // "" is PagesSome
	Destination Destination `json:"destination"`
	Description string      `json:"description,omitempty"`
	// Disabled rules are kept but skipped; the zero value is enabled.
	Disabled  bool      `json:"disabled"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Limits on rule fields.
const (
	MinPriority       = 0
	MaxPriority       = 1_000_000
	MaxDescription    = 500
	MaxEmails         = 20
	MinWebhookSecret  = 16
	maxNumberValueLen = 32
	// MaxTSI is T.30's limit on a station id (20 characters).
	MaxTSI = 20
)

// Errors. ValidationError wraps ErrInvalid.
var (
	ErrInvalid  = errors.New("inbound: invalid rule")
	ErrNotFound = errors.New("inbound: not found")
)

// ValidationError names the field at fault and says what is wrong in
// words an administrator can act on.
type ValidationError struct {
	Field   string // JSON path: number.value, destination.url, ...
	Message string
}

func (e *ValidationError) Error() string { return "inbound: " + e.Field + ": " + e.Message }

// Unwrap makes errors.Is(err, ErrInvalid) hold.
func (e *ValidationError) Unwrap() error { return ErrInvalid }

func invalid(field, format string, a ...any) error {
	return &ValidationError{Field: field, Message: fmt.Sprintf(format, a...)}
}

var (
	numberValue = regexp.MustCompile(`^\+?[0-9*#]*$`)
	mailboxName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)
)

// NormalizeNumber strips the visual separators people and gateways put in
// numbers (spaces, dashes, dots, parentheses) before matching.
func NormalizeNumber(s string) string {
	return strings.Map(func(r rune) rune {
		switch r {
		case ' ', '-', '.', '(', ')', '\t':
			return -1
		}
		return r
	}, s)
}

// NormalizeTSI puts a station id in the form TSI conditions compare:
// surrounding spaces dropped and inner runs of spaces made one (senders
// pad their 20 characters in different ways).
func NormalizeTSI(s string) string { return strings.Join(strings.Fields(s), " ") }

// ValidateTSI checks a condition on the station id; field prefixes the
// error's field.
func (m Match) ValidateTSI(field string) error {
	switch m.Kind {
	case MatchAny:
		if m.Value != "" {
			return invalid(field+".value", "must be empty when the kind is empty (any sender)")
		}
		return nil
	case MatchExact, MatchPrefix, MatchContains:
	default:
		return invalid(field+".kind", "%q is not exact, prefix or contains (leave it empty to accept every sender)", m.Kind)
	}
	if m.Value == "" {
		return invalid(field+".value", "a %s match needs a station id; leave the kind empty to accept every sender", m.Kind)
	}
	if len(m.Value) > MaxTSI {
		return invalid(field+".value", "%q is longer than a station id (at most %d characters)", m.Value, MaxTSI)
	}
	for _, c := range m.Value {
		if c < 0x20 || c > 0x7e {
			return invalid(field+".value", "%q: a station id has only printable ASCII characters", m.Value)
		}
	}
	return nil
}

// matchTSI reports whether the station id tsi (already NormalizeTSI'd)
// meets the condition, ignoring case. Stored values are normalized when a
// rule is saved; comparing with EqualFold allocates nothing, which matters
// when every rule of a long list is tried.
func (m Match) matchTSI(tsi string) (bool, error) {
	v := m.Value
	switch m.Kind {
	case MatchAny:
		return true, nil
	case MatchExact:
		return strings.EqualFold(tsi, v), nil
	case MatchPrefix:
		return len(tsi) >= len(v) && strings.EqualFold(tsi[:len(v)], v), nil
	case MatchContains:
		for i := 0; i+len(v) <= len(tsi); i++ {
			if strings.EqualFold(tsi[i:i+len(v)], v) {
				return true, nil
			}
		}
		return false, nil
	}
	return false, fmt.Errorf("%w: tsi match kind %q", ErrInvalid, m.Kind)
}

// Validate checks a match condition; field prefixes the error's field.
func (m Match) Validate(field string, allowAny bool) error {
	switch m.Kind {
	case MatchAny:
		if !allowAny {
			return invalid(field+".kind", "is required: exact, prefix or pattern")
		}
		if m.Value != "" {
			return invalid(field+".value", "must be empty when the kind is empty (any number)")
		}
	case MatchExact, MatchPrefix:
		if len(m.Value) > maxNumberValueLen || !numberValue.MatchString(m.Value) {
			return invalid(field+".value", "%q is not a number: use digits, *, # and a leading +, at most %d characters", m.Value, maxNumberValueLen)
		}
		if m.Kind == MatchExact && m.Value == "" {
			return invalid(field+".value", "an exact match needs a number")
		}
	case MatchPattern:
		if _, err := CompilePattern(m.Value); err != nil {
			return invalid(field+".value", "%s", strings.TrimPrefix(err.Error(), "inbound: "))
		}
	default:
		return invalid(field+".kind", "%q is not exact, prefix or pattern", m.Kind)
	}
	return nil
}

// matcher is a compiled Match.
type matcher func(number string) bool

func (m Match) compile() (matcher, error) {
	switch m.Kind {
	case MatchAny:
		return func(string) bool { return true }, nil
	case MatchExact:
		return func(n string) bool { return n == m.Value }, nil
	case MatchPrefix:
		return func(n string) bool { return strings.HasPrefix(n, m.Value) }, nil
	case MatchPattern:
		p, err := CompilePattern(m.Value)
		if err != nil {
			return nil, err
		}
		return p.Match, nil
	}
	return nil, fmt.Errorf("%w: match kind %q", ErrInvalid, m.Kind)
}

// Validate checks a destination.
func (d Destination) Validate() error {
	switch d.Kind {
	case DestMailbox:
		if !mailboxName.MatchString(d.Mailbox) {
			return invalid("destination.mailbox", "%q is not a mailbox name: 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit", d.Mailbox)
		}
	case DestEmail:
		if len(d.Emails) == 0 {
			return invalid("destination.emails", "give at least one address")
		}
		if len(d.Emails) > MaxEmails {
			return invalid("destination.emails", "at most %d addresses", MaxEmails)
		}
		for i, a := range d.Emails {
			if err := notify.CheckEmail(a); err != nil {
				return invalid(fmt.Sprintf("destination.emails[%d]", i), "%v", err)
			}
		}
	case DestWebhook:
		if err := notify.CheckURL(d.URL); err != nil {
			return invalid("destination.url", "%v", err)
		}
		if len(d.Secret) < MinWebhookSecret {
			return invalid("destination.secret", "a webhook needs a signing secret of at least %d characters", MinWebhookSecret)
		}
	default:
		return invalid("destination.kind", "%q is not mailbox, email or webhook", d.Kind)
	}
	if d.Kind != DestMailbox && d.Mailbox != "" || d.Kind != DestEmail && len(d.Emails) > 0 || d.Kind != DestWebhook && (d.URL != "" || d.Secret != "") {
		return invalid("destination", "give only the fields of a %s destination", d.Kind)
	}
	return nil
}

// Validate checks a rule before it is stored.
func (r Rule) Validate() error {
	if r.Priority < MinPriority || r.Priority > MaxPriority {
		return invalid("priority", "must be %d to %d, not %d", MinPriority, MaxPriority, r.Priority)
	}
	if err := r.Number.Validate("number", false); err != nil {
		return err
	}
	if err := r.Caller.Validate("caller", true); err != nil {
		return err
	}
	if err := r.TSI.ValidateTSI("tsi"); err != nil {
		return err
	}
	switch r.Pages {
	case PagesSome, PagesNone, PagesAny:
	default:
		return invalid("pages", "%q is not some (at least one page), none (no page arrived) or any", r.Pages)
	}
	if err := r.Destination.Validate(); err != nil {
		return err
	}
	if len(r.Description) > MaxDescription {
		return invalid("description", "at most %d characters", MaxDescription)
	}
	return nil
}

// normalize puts a rule in its stored form.
func (r Rule) normalize() Rule {
	if r.Number.Kind != MatchPattern {
		r.Number.Value = NormalizeNumber(r.Number.Value)
	}
	if r.Caller.Kind != MatchPattern {
		r.Caller.Value = NormalizeNumber(r.Caller.Value)
	}
	r.TSI.Value = NormalizeTSI(r.TSI.Value)
	if r.Pages == "" {
		r.Pages = PagesSome
	}
	r.Destination.Emails = append([]string(nil), r.Destination.Emails...)
	for i, a := range r.Destination.Emails {
		r.Destination.Emails[i] = strings.TrimSpace(a)
	}
	r.Description = strings.TrimSpace(r.Description)
	return r
}
