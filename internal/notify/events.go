package notify

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/faxd/faxd/queue"
)

// Event names, in webhook bodies, the X-Faxd-Event header and the log.
const (
	EventFaxReceived   = "fax.received"   // a received fax routed by an inbound rule
	EventFaxRerouted   = "fax.rerouted"   // an administrator sent a received fax on
	EventFaxCompleted  = "fax.completed"  // a submitted fax was sent
	EventFaxFailed     = "fax.failed"     // a submitted fax failed for good
	EventFaxCancelled  = "fax.cancelled"  // a submitted fax was cancelled
	EventSyncCompleted = "sync.completed" // the standby copied the primary's configuration
	EventFailure       = "failure"        // a sync, line, network or database failure
	EventBecamePrimary = "node.primary"   // this server promoted itself
	EventServerDown    = "server.down"    // a server stopped heartbeating
	EventServerUp      = "server.up"      // a server is back
	// EventBroadcastCompleted: every fax of a broadcast is final.
	EventBroadcastCompleted = "broadcast.completed"
)

// NotifyEmailKey is the job metadata key holding the submitter's notice
// address(es): a string (comma-separated) or a list of strings.
const NotifyEmailKey = "notify_email"

// ReportKey is the job metadata key asking for the confirmation report
// with the completion notices.
const ReportKey = "report"

// ReportRefPrefix starts the fax reference of a sent fax's confirmation
// report; the Documents source tells it from a received fax's.
const ReportRefPrefix = "report:"

// ReportRef is the fax reference of job id's confirmation report.
func ReportRef(id int64) string { return fmt.Sprintf("%s%d", ReportRefPrefix, id) }

// JobNotice is what a submitter is told when a fax finishes.
type JobNotice struct {
	JobID          int64     `json:"job_id"`
	State          string    `json:"state"` // sent, failed or cancelled
	Reason         string    `json:"reason,omitempty"`
	Destination    string    `json:"destination"`
	PagesTotal     int       `json:"pages_total"`
	PagesConfirmed int       `json:"pages_confirmed"`
	Attempts       int       `json:"attempts"`
	Submitter      string    `json:"submitter,omitempty"`
	IdempotencyKey string    `json:"idempotency_key,omitempty"`
	CreatedAt      time.Time `json:"created_at"`
	FinishedAt     time.Time `json:"finished_at,omitzero"`
	CallbackURL    string    `json:"-"`
	NotifyEmails   []string  `json:"-"`
	// Report attaches the fax's confirmation report (job metadata
	// "report": true) to the callback and the mail, through the
	// Documents source under the reference ReportRef(JobID).
	Report bool `json:"-"`
	// Key makes the notice's deliveries idempotent: the archive record key
	// of the finished job, unique across queue databases. Empty: the job
	// id (unique in one queue database only).
	Key string `json:"-"`
}

// JobNoticeFrom reads a finished job.
func JobNoticeFrom(j queue.Job) JobNotice {
	n := JobNotice{JobID: j.ID, State: string(j.State), Reason: j.LastReason, Destination: j.Destination,
		PagesTotal: j.PagesTotal, PagesConfirmed: j.PagesConfirmed, Attempts: j.Attempts, Submitter: j.Submitter,
		IdempotencyKey: j.IdempotencyKey, CreatedAt: j.CreatedAt, FinishedAt: j.FinishedAt, CallbackURL: j.CallbackURL}
	n.Report, _ = j.Metadata[ReportKey].(bool)
	switch v := j.Metadata[NotifyEmailKey].(type) {
	case string:
		n.NotifyEmails = splitList(v)
	case []any:
		for _, e := range v {
			if s, ok := e.(string); ok {
				n.NotifyEmails = append(n.NotifyEmails, splitList(s)...)
			}
		}
	case []string:
		for _, s := range v {
			n.NotifyEmails = append(n.NotifyEmails, splitList(s)...)
		}
	}
	return n
}

func splitList(s string) []string {
	var out []string
	for p := range strings.SplitSeq(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// FaxFinished tells a submitter that a fax finished: a signed POST to the
// job's callback URL and a mail to its notice addresses. q is the
// transaction that finished the job, or nil. A malformed target is logged
// and skipped: it must never hold up the job's completion.
func (n *Notifier) FaxFinished(ctx context.Context, q Querier, j JobNotice) error {
	event := EventFaxCompleted
	switch queue.State(j.State) {
	case queue.Sent:
	case queue.Failed:
		event = EventFaxFailed
	case queue.Cancelled:
		event = EventFaxCancelled
	default:
		return fmt.Errorf("%w: job %d is %s, not finished", ErrInvalid, j.JobID, j.State)
	}
	key := j.Key
	if key == "" {
		key = fmt.Sprintf("job:%d:finished", j.JobID)
	}
	var errs []error
	if j.CallbackURL != "" {
		if err := checkURL(j.CallbackURL); err != nil {
			n.log.Warn("job callback skipped", "job", j.JobID, "err", err)
		} else {
			r := Request{Kind: KindWebhook, Event: event, Targets: []string{j.CallbackURL},
				Data: j, Secret: n.cfg.CallbackSecret, Key: key}
			if j.Report {
				r.FaxRef, r.Attach = ReportRef(j.JobID), true
			}
			_, err := n.Enqueue(ctx, q, r)
			errs = append(errs, err)
		}
	}
	var to []string
	for _, a := range j.NotifyEmails {
		if err := checkEmail(a); err != nil {
			n.log.Warn("job notice address skipped", "job", j.JobID, "err", err)
			continue
		}
		to = append(to, a)
	}
	if len(to) > 0 {
		subject := fmt.Sprintf("Fax %d to %s: %s", j.JobID, j.Destination, j.State)
		var b strings.Builder
		fmt.Fprintf(&b, "Your fax %d to %s has finished: %s.\n\n", j.JobID, j.Destination, j.State)
		if j.Reason != "" {
			fmt.Fprintf(&b, "Reason:          %s\n", j.Reason)
		}
		fmt.Fprintf(&b, "Pages sent:      %d of %d\n", j.PagesConfirmed, j.PagesTotal)
		fmt.Fprintf(&b, "Attempts:        %d\n", j.Attempts)
		fmt.Fprintf(&b, "Submitted:       %s\n", j.CreatedAt.UTC().Format(time.RFC3339))
		if !j.FinishedAt.IsZero() {
			fmt.Fprintf(&b, "Finished:        %s\n", j.FinishedAt.UTC().Format(time.RFC3339))
		}
		r := Request{Kind: KindEmail, Event: event, Targets: to, Subject: subject,
			Text: b.String(), Data: j, Key: key}
		if j.Report {
			r.FaxRef, r.Attach = ReportRef(j.JobID), true
			b.WriteString("\nThe transmission report is attached.\n")
			r.Text = b.String()
		}
		_, err := n.Enqueue(ctx, q, r)
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// SyncEvent is a completed configuration sync on the standby.
type SyncEvent struct {
	Node       string         `json:"node"`
	Primary    string         `json:"primary,omitempty"`
	StartedAt  time.Time      `json:"started_at"`
	FinishedAt time.Time      `json:"finished_at"`
	Copied     map[string]int `json:"copied,omitempty"` // rows per table
}

// FailureEvent is something an administrator must look at now.
type FailureEvent struct {
	Node      string    `json:"node"`
	Component string    `json:"component"` // sync, line, network, database, gateway, ...
	Message   string    `json:"message"`
	At        time.Time `json:"at"`
}

// PrimaryEvent is this server promoting itself.
type PrimaryEvent struct {
	Node     string    `json:"node"`
	Previous string    `json:"previous,omitempty"` // the primary it replaces
	Reason   string    `json:"reason"`
	At       time.Time `json:"at"`
}

// ServerEvent is a server going down or coming back. Every node may see
// it: deliveries are keyed on the node and its LastHeartbeat, so the
// cluster sends one notice per transition however many nodes report it.
type ServerEvent struct {
	Node          string    `json:"node"`
	LastHeartbeat time.Time `json:"last_heartbeat"`
	Incarnation   int64     `json:"incarnation,omitempty"`
	// DownSince, on an up event, is the LastHeartbeat of the outage it
	// ends, which makes each recovery its own notice.
	DownSince  time.Time `json:"down_since,omitzero"`
	ReportedBy string    `json:"reported_by,omitempty"`
	At         time.Time `json:"at"`
}

// SyncCompleted notifies administrators of a finished sync, when
// notify.sync_completed is on.
func (n *Notifier) SyncCompleted(ctx context.Context, e SyncEvent) error {
	if !n.cfg.SyncCompleted {
		return nil
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Server %s copied the configuration of %s.\n\nStarted:  %s\nFinished: %s\n",
		e.Node, orDash(e.Primary), ts(e.StartedAt), ts(e.FinishedAt))
	for k, v := range e.Copied {
		fmt.Fprintf(&b, "%-16s %d\n", k+":", v)
	}
	return n.admins(ctx, EventSyncCompleted, fmt.Sprintf("faxd %s: sync completed", e.Node), b.String(), e,
		fmt.Sprintf("sync:%s:%d", e.Node, e.FinishedAt.UnixNano()))
}

// Failure notifies administrators of a failure.
func (n *Notifier) Failure(ctx context.Context, e FailureEvent) error {
	text := fmt.Sprintf("Server %s reports a %s failure at %s:\n\n%s\n", e.Node, e.Component, ts(e.At), e.Message)
	return n.admins(ctx, EventFailure, fmt.Sprintf("faxd %s: %s failure", e.Node, e.Component), text, e,
		fmt.Sprintf("failure:%s:%s:%d", e.Node, e.Component, e.At.UnixNano()))
}

// BecamePrimary notifies administrators that this server took over.
func (n *Notifier) BecamePrimary(ctx context.Context, e PrimaryEvent) error {
	text := fmt.Sprintf("Server %s became the primary at %s, replacing %s.\n\nReason: %s\n",
		e.Node, ts(e.At), orDash(e.Previous), e.Reason)
	return n.admins(ctx, EventBecamePrimary, fmt.Sprintf("faxd %s: became primary", e.Node), text, e,
		fmt.Sprintf("primary:%s:%d", e.Node, e.At.UnixNano()))
}

// ServerDown notifies administrators that a server stopped heartbeating.
func (n *Notifier) ServerDown(ctx context.Context, e ServerEvent) error {
	text := fmt.Sprintf("Server %s is down: its last heartbeat was at %s.\nNo new faxes go to it; the other servers take over its work.\n",
		e.Node, ts(e.LastHeartbeat))
	return n.admins(ctx, EventServerDown, fmt.Sprintf("faxd: server %s is down", e.Node), text, e,
		fmt.Sprintf("down:%s:%d:%d", e.Node, e.Incarnation, e.LastHeartbeat.UnixNano()))
}

// ServerUp notifies administrators that a server is back.
func (n *Notifier) ServerUp(ctx context.Context, e ServerEvent) error {
	text := fmt.Sprintf("Server %s is back: heartbeat at %s.\n", e.Node, ts(e.LastHeartbeat))
	return n.admins(ctx, EventServerUp, fmt.Sprintf("faxd: server %s is up", e.Node), text, e,
		fmt.Sprintf("up:%s:%d:%d", e.Node, e.Incarnation, e.DownSince.UnixNano()))
}

// admins enqueues one delivery per administrator address and webhook, so
// one bad receiver does not hold up the others.
func (n *Notifier) admins(ctx context.Context, event, subject, text string, data any, key string) error {
	var errs []error
	for _, a := range n.cfg.AdminEmails {
		_, err := n.Enqueue(ctx, nil, Request{Kind: KindEmail, Event: event, Targets: []string{a},
			Subject: subject, Text: text, Data: data, Key: key})
		errs = append(errs, err)
	}
	for _, w := range n.cfg.AdminWebhooks {
		_, err := n.Enqueue(ctx, nil, Request{Kind: KindWebhook, Event: event, Targets: []string{w.URL},
			Data: data, Secret: w.Secret, Key: key})
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

func ts(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// BroadcastNotice is what a submitter is told when the last fax of a
// broadcast is final: its faxes counted by state.
type BroadcastNotice struct {
	BroadcastID    int64          `json:"broadcast_id"`
	Recipients     int            `json:"recipients"`
	Counts         map[string]int `json:"counts"`
	Submitter      string         `json:"submitter,omitempty"`
	IdempotencyKey string         `json:"idempotency_key,omitempty"`
	Metadata       map[string]any `json:"metadata,omitempty"`
	CreatedAt      time.Time      `json:"created_at"`
	DoneAt         time.Time      `json:"done_at"`
	CallbackURL    string         `json:"-"`
}

// BroadcastNoticeFrom reads a finished broadcast.
func BroadcastNoticeFrom(b queue.Broadcast) BroadcastNotice {
	n := BroadcastNotice{BroadcastID: b.ID, Recipients: b.Recipients, Counts: map[string]int{}, Submitter: b.Submitter,
		IdempotencyKey: b.IdempotencyKey, Metadata: b.Metadata, CreatedAt: b.CreatedAt, DoneAt: b.DoneAt, CallbackURL: b.CallbackURL}
	if _, key, ok := strings.Cut(b.IdempotencyKey, "\x1f"); ok {
		n.IdempotencyKey = key // the submitter's own key, without its scope
	}
	for st, c := range b.Counts {
		n.Counts[string(st)] = c
	}
	return n
}

// BroadcastFinished sends a broadcast's signed callback, once: the
// delivery's key is the broadcast, so a second call (another node, a
// redelivered message) finds the first delivery.
func (n *Notifier) BroadcastFinished(ctx context.Context, q Querier, b BroadcastNotice) error {
	if b.CallbackURL == "" {
		return nil
	}
	if err := checkURL(b.CallbackURL); err != nil {
		n.log.Warn("broadcast callback skipped", "broadcast", b.BroadcastID, "err", err)
		return nil
	}
	_, err := n.Enqueue(ctx, q, Request{Kind: KindWebhook, Event: EventBroadcastCompleted, Targets: []string{b.CallbackURL},
		Data: b, Secret: n.cfg.CallbackSecret, Key: fmt.Sprintf("broadcast:%d:done", b.BroadcastID)})
	return err
}
