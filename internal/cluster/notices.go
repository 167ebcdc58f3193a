package cluster

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/faxd/faxd/internal/notify"
)

// EventSteppedDown names the notice of a promoted standby going back to
// standby (notify has no event for it yet; it rides the same admin
// deliveries).
const EventSteppedDown = "node.standby"

// StepDownEvent is a promoted standby returning to standby.
type StepDownEvent struct {
	Node    string    `json:"node"`
	Primary string    `json:"primary,omitempty"` // the primary that is back
	Reason  string    `json:"reason"`
	At      time.Time `json:"at"`
}

// AdminNotices sends the standby's notices to the administrators
// (notify.admin_emails, notify.admin_webhooks) through the notifier's
// durable deliveries.
type AdminNotices struct{ N *notify.Notifier }

// BecamePrimary implements Notifier.
func (a AdminNotices) BecamePrimary(ctx context.Context, e notify.PrimaryEvent) error {
	return a.N.BecamePrimary(ctx, e)
}

// Failure implements Notifier.
func (a AdminNotices) Failure(ctx context.Context, e notify.FailureEvent) error {
	return a.N.Failure(ctx, e)
}

// SyncCompleted sends the optional sync notice (notify.sync_completed).
func (a AdminNotices) SyncCompleted(ctx context.Context, e notify.SyncEvent) error {
	return a.N.SyncCompleted(ctx, e)
}

// SteppedDown implements Notifier.
func (a AdminNotices) SteppedDown(ctx context.Context, e StepDownEvent) error {
	cfg := a.N.Config()
	subject := fmt.Sprintf("faxd %s: back to standby", e.Node)
	text := fmt.Sprintf("Server %s stepped down to standby at %s; %s is the primary again.\n\nReason: %s\n",
		e.Node, e.At.UTC().Format(time.RFC3339), e.Primary, e.Reason)
	key := fmt.Sprintf("standby:%s:%d", e.Node, e.At.UnixNano())
	var errs []error
	for _, addr := range cfg.AdminEmails {
		_, err := a.N.Enqueue(ctx, nil, notify.Request{Kind: notify.KindEmail, Event: EventSteppedDown,
			Targets: []string{addr}, Subject: subject, Text: text, Data: e, Key: key})
		errs = append(errs, err)
	}
	for _, w := range cfg.AdminWebhooks {
		_, err := a.N.Enqueue(ctx, nil, notify.Request{Kind: notify.KindWebhook, Event: EventSteppedDown,
			Targets: []string{w.URL}, Data: e, Secret: w.Secret, Key: key})
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
