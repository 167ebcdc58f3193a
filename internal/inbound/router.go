// Package inbound routes received faxes by the number that was dialled
// (DID), optionally narrowed by the caller's number, the sender's station
// id (TSI) and whether pages arrived, to a mailbox, email
// addresses or a webhook; it keeps where each fax went and the audit trail
// of administrators' reroutes.
//
// Rules live in the queue database (inbound_rules). Route is a pure
// decision; Dispatch routes a newly received fax and performs the delivery
// in one transaction: a mailbox row, or a delivery in notify's durable log
// that the notify workers send. A fax no rule matches is recorded as
// unrouted and stays in the archive for an administrator to Reroute.
package inbound

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/faxd/faxd/internal/notify"
)

// Config is the inbound section of faxd's configuration.
type Config struct {
	// Leave the PDF out of webhook bodies (receivers then fetch it
	// through the API); by default it is embedded as base64.
	WebhookOmitPDF bool `yaml:"webhook_omit_pdf"`
	// Attempts for one routed or rerouted delivery; 0: notify's
	// retry.max_attempts.
	MaxAttempts int `yaml:"max_attempts"`
}

// Validate names every bad key, under the inbound. prefix.
func (c Config) Validate() []error {
	if c.MaxAttempts < 0 || c.MaxAttempts > 100 {
		return []error{fmt.Errorf("inbound.max_attempts: %d: must be from 0 (notify.retry.max_attempts) to 100", c.MaxAttempts)}
	}
	return nil
}

// Fax is a received fax as routing and delivery see it. Ref is the
// archive's opaque key for it.
type Fax struct {
	Ref        string    `json:"ref"`
	DID        string    `json:"did"`       // the dialled number
	Caller     string    `json:"caller"`    // the calling number, "" if withheld
	RemoteID   string    `json:"remote_id"` // the sender's CSI/TSI
	Pages      int       `json:"pages"`
	Result     string    `json:"result"` // e.g. received, partial
	Reason     string    `json:"reason,omitempty"`
	Gateway    string    `json:"gateway,omitempty"`
	Node       string    `json:"node,omitempty"`
	StartedAt  time.Time `json:"started_at"`
	FinishedAt time.Time `json:"finished_at"`
}

// FaxSource is how inbound reads received faxes; the archive implements
// it. Fax wraps ErrNotFound for an unknown reference; PDF wraps
// notify.ErrNoDocument when the document is gone for good (deliveries then
// fail at once instead of retrying). Only the PDF is ever sent out, so the
// TIFF is not part of the interface.
type FaxSource interface {
	Fax(ctx context.Context, ref string) (Fax, error)
	PDF(ctx context.Context, ref string) ([]byte, error)
}

// Router applies the rules and delivers.
type Router struct {
	pool   *pgxpool.Pool
	store  *Store
	notify *notify.Notifier
	source FaxSource
	cfg    Config
	log    *slog.Logger
}

// NewRouter returns a Router on the queue database. The Notifier should
// have been built with source as its Documents, so attachments can be
// fetched.
func NewRouter(pool *pgxpool.Pool, n *notify.Notifier, source FaxSource, cfg Config, log *slog.Logger) *Router {
	if log == nil {
		log = slog.Default()
	}
	store := NewStore(pool)
	if n != nil {
		store.WithSecrets(n.Secrets()) // rules' webhook secrets share the deliveries' keyring
	}
	return &Router{pool: pool, store: store, notify: n, source: source, cfg: cfg, log: log.With("component", "inbound")}
}

// Store returns the rule store.
func (r *Router) Store() *Store { return r.store }

// Decision is the outcome of routing one fax.
type Decision struct {
	Rule *Rule // nil: unrouted
	// Destination is Unrouted or the rule's Destination.String().
	Destination string
	// DeliveryID is the notify delivery made for it (email, webhook);
	// 0 for a mailbox, an unrouted fax or a repeated Dispatch.
	DeliveryID int64
	// Repeat is set when the fax had already been dispatched: nothing
	// new was delivered.
	Repeat bool
}

// Unrouted reports that no rule matched.
func (d Decision) Unrouted() bool { return d.Rule == nil }

// Route picks the first enabled rule, in priority order, whose number,
// caller, station id and pages conditions match the fax. It delivers
// nothing.
func (r *Router) Route(ctx context.Context, fax Fax) (Decision, error) {
	rules, err := r.store.list(ctx, r.pool, true)
	if err != nil {
		return Decision{}, err
	}
	return route(rules, fax, r.log), nil
}

func route(rules []Rule, fax Fax, log *slog.Logger) Decision {
	did, caller := NormalizeNumber(fax.DID), NormalizeNumber(fax.Caller)
	tsi := NormalizeTSI(fax.RemoteID)
	for i := range rules {
		rule := &rules[i]
		if !rule.Pages.match(fax.Pages) {
			continue
		}
		num, err := rule.Number.compile()
		if err != nil {
			log.Warn("inbound rule skipped", "rule", rule.ID, "err", err)
			continue
		}
		call, err := rule.Caller.compile()
		if err != nil {
			log.Warn("inbound rule skipped", "rule", rule.ID, "err", err)
			continue
		}
		station, err := rule.TSI.matchTSI(tsi)
		if err != nil {
			log.Warn("inbound rule skipped", "rule", rule.ID, "err", err)
			continue
		}
		if station && num(did) && call(caller) {
			return Decision{Rule: rule, Destination: rule.Destination.String()}
		}
	}
	return Decision{Destination: Unrouted}
}

// Dispatch routes a newly received fax and delivers it, recording where it
// went. It is idempotent per fax reference: calling it again (a retry
// after a crash) delivers nothing more and reports the first decision.
func (r *Router) Dispatch(ctx context.Context, fax Fax) (Decision, error) {
	if fax.Ref == "" {
		return Decision{}, fmt.Errorf("%w: fax without a reference", ErrInvalid)
	}
	d, err := r.Route(ctx, fax)
	if err != nil {
		return Decision{}, err
	}
	var ruleID *int64
	if d.Rule != nil {
		ruleID = &d.Rule.ID
	}
	err = pgx.BeginFunc(ctx, r.pool, func(tx pgx.Tx) error {
		prev, err := scanDisposition(tx.QueryRow(ctx, `INSERT INTO inbound_dispositions (fax_ref, rule_id, destination)
			VALUES ($1, $2, $3) ON CONFLICT (fax_ref) DO NOTHING
			RETURNING fax_ref, rule_id, destination, created_at, updated_at`, fax.Ref, ruleID, d.Destination))
		if errors.Is(err, pgx.ErrNoRows) {
			prev, err = scanDisposition(tx.QueryRow(ctx, `SELECT fax_ref, rule_id, destination, created_at, updated_at
				FROM inbound_dispositions WHERE fax_ref = $1`, fax.Ref))
			if err != nil {
				return err
			}
			d = Decision{Destination: prev.Destination, Repeat: true}
			if prev.RuleID != 0 {
				if rule, err := r.store.Get(ctx, prev.RuleID); err == nil {
					d.Rule = &rule
				}
			}
			return nil
		}
		if err != nil || d.Rule == nil {
			return err
		}
		d.DeliveryID, err = r.deliver(ctx, tx, fax, d.Rule.Destination, notify.EventFaxReceived,
			"inbound:"+fax.Ref, delivered{RuleID: d.Rule.ID})
		return err
	})
	if err != nil {
		return Decision{}, fmt.Errorf("inbound: dispatch %s: %w", fax.Ref, err)
	}
	r.notify.Wake()
	r.log.Info("received fax routed", "fax", fax.Ref, "did", fax.DID, "destination", d.Destination, "repeat", d.Repeat)
	return d, nil
}

// delivered is the routing context in a delivery's data.
type delivered struct {
	RuleID  int64    `json:"rule_id,omitempty"`
	Reroute *Reroute `json:"reroute,omitempty"`
}

// faxData is the data of fax.received and fax.rerouted deliveries.
type faxData struct {
	Fax
	delivered
}

// deliver performs the delivery of fax to dest inside tx: a mailbox row,
// or an email or webhook delivery in notify's log (returned).
func (r *Router) deliver(ctx context.Context, tx pgx.Tx, fax Fax, dest Destination, event, key string, ctxData delivered) (int64, error) {
	// A call that brought no page has no document: its mail and webhook
	// carry the details only, instead of failing on a missing PDF.
	hasDoc := fax.Pages > 0
	switch dest.Kind {
	case DestMailbox:
		_, err := tx.Exec(ctx, `INSERT INTO mailbox_entries (mailbox, fax_ref) VALUES ($1, $2)
			ON CONFLICT (mailbox, fax_ref) DO UPDATE SET read = false, updated_at = now()`, dest.Mailbox, fax.Ref)
		return 0, err
	case DestEmail:
		return r.notify.Enqueue(ctx, tx, notify.Request{Kind: notify.KindEmail, Event: event, Targets: dest.Emails,
			Subject: subject(fax), Text: mailText(fax, ctxData), Data: faxData{fax, ctxData},
			FaxRef: fax.Ref, Attach: hasDoc, Key: key, MaxAttempts: r.cfg.MaxAttempts})
	case DestWebhook:
		return r.notify.Enqueue(ctx, tx, notify.Request{Kind: notify.KindWebhook, Event: event, Targets: []string{dest.URL},
			Data: faxData{fax, ctxData}, FaxRef: fax.Ref, Attach: hasDoc && !r.cfg.WebhookOmitPDF, Secret: dest.Secret,
			Key: key, MaxAttempts: r.cfg.MaxAttempts})
	}
	return 0, fmt.Errorf("%w: destination kind %q", ErrInvalid, dest.Kind)
}

func subject(f Fax) string {
	from := f.Caller
	if from == "" {
		from = f.RemoteID
	}
	if from == "" {
		from = "unknown sender"
	}
	if f.Pages == 0 {
		return fmt.Sprintf("Fax call from %s to %s: no page received", from, f.DID)
	}
	unit := "pages"
	if f.Pages == 1 {
		unit = "page"
	}
	return fmt.Sprintf("Fax from %s to %s: %d %s", from, f.DID, f.Pages, unit)
}

func mailText(f Fax, c delivered) string {
	var b strings.Builder
	if f.Pages == 0 {
		b.WriteString("A fax call arrived but no page was received; there is no document.\n\n")
	} else {
		b.WriteString("A fax was received; the PDF is attached.\n\n")
	}
	row := func(k, v string) {
		if v != "" {
			fmt.Fprintf(&b, "%-17s %s\n", k+":", v)
		}
	}
	row("Dialled number", f.DID)
	row("Caller", f.Caller)
	row("Remote station", f.RemoteID)
	row("Pages", fmt.Sprint(f.Pages))
	row("Result", f.Result)
	row("Reason", f.Reason)
	if !f.StartedAt.IsZero() {
		row("Started", f.StartedAt.UTC().Format(time.RFC3339))
	}
	if !f.FinishedAt.IsZero() {
		row("Finished", f.FinishedAt.UTC().Format(time.RFC3339))
		if !f.StartedAt.IsZero() {
			row("Duration", f.FinishedAt.Sub(f.StartedAt).Round(time.Second).String())
		}
	}
	row("Reference", f.Ref)
	if c.Reroute != nil {
		fmt.Fprintf(&b, "\nRerouted by %s (previously: %s).\n", c.Reroute.Actor, c.Reroute.From)
	}
	return b.String()
}
