package notify

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// attemptError classifies a failed attempt.
type attemptError struct {
	err        error
	permanent  bool          // retrying cannot help: give up now
	retryAfter time.Duration // the receiver asked for at least this wait
}

func (e *attemptError) Error() string { return e.err.Error() }
func (e *attemptError) Unwrap() error { return e.err }

func permanent(err error) error { return &attemptError{err: err, permanent: true} }

// Run works deliveries until ctx ends: cfg.Workers loops on this node,
// woken by Wake, by NOTIFY from any node's Enqueue, or by the poll timer.
func (n *Notifier) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	wg.Go(func() { n.listen(ctx) })
	for range n.cfg.Workers {
		wg.Go(func() { n.loop(ctx) })
	}
	wg.Wait()
	return nil
}

func (n *Notifier) loop(ctx context.Context) {
	t := time.NewTimer(0)
	defer t.Stop()
	for ctx.Err() == nil {
		worked, err := n.ProcessOne(ctx)
		if err != nil && ctx.Err() == nil {
			n.log.Warn("delivery worker", "err", err)
		}
		if worked {
			// Pass the baton: there may be more due rows than this
			// worker can take.
			n.Wake()
			continue
		}
		t.Reset(n.cfg.PollInterval)
		select {
		case <-ctx.Done():
		case <-n.wake:
		case <-t.C:
		}
	}
}

// listen turns NOTIFY faxd_deliveries (sent by Enqueue on any node) into
// Wake, so a delivery enqueued elsewhere does not wait for the poll.
func (n *Notifier) listen(ctx context.Context) {
	for ctx.Err() == nil {
		conn, err := n.pool.Acquire(ctx)
		if err == nil {
			_, err = conn.Exec(ctx, "LISTEN faxd_deliveries")
			for err == nil {
				if _, err = conn.Conn().WaitForNotification(ctx); err == nil {
					n.Wake()
				}
			}
			// The connection is still LISTENing: do not return it.
			_ = conn.Hijack().Close(context.WithoutCancel(ctx))
		}
		select {
		case <-ctx.Done():
		case <-time.After(n.cfg.PollInterval):
		}
	}
}

// ProcessOne claims one due delivery, makes one attempt and records the
// outcome. It reports whether there was one. The row stays locked for the
// attempt, so no other worker on any node can take it meanwhile.
func (n *Notifier) ProcessOne(ctx context.Context) (bool, error) {
	tx, err := n.pool.Begin(ctx)
	if err != nil {
		return false, fmt.Errorf("notify: begin: %w", err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	d, err := scanDelivery(tx.QueryRow(ctx, `SELECT `+deliveryCols+` FROM deliveries
		WHERE state = 'pending' AND next_attempt_at <= now()
		ORDER BY next_attempt_at, id LIMIT 1 FOR UPDATE SKIP LOCKED`))
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("notify: claim: %w", err)
	}
	// Bound the whole attempt, document fetch included: the row lock and
	// its connection are held meanwhile.
	limit := n.cfg.WebhookTimeout
	if d.Kind == KindEmail {
		limit = n.cfg.SMTP.Timeout
	}
	actx, cancel := context.WithTimeout(ctx, limit+30*time.Second)
	aerr := n.send(actx, d)
	cancel()
	if ctx.Err() != nil {
		// Shutting down: the attempt does not count; the rollback makes
		// the row due again for another node.
		return true, ctx.Err()
	}
	// Record the outcome even if ctx ends now: losing it would resend.
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	attempts := d.Attempts + 1
	log := n.log.With("delivery", d.ID, "event", d.Event, "kind", d.Kind, "target", d.Target, "attempt", attempts)
	var ae *attemptError
	switch {
	case aerr == nil:
		_, err = tx.Exec(wctx, `UPDATE deliveries SET state = 'delivered', attempts = $2, last_error = '',
			node_id = $3, finished_at = now(), updated_at = now() WHERE id = $1`, d.ID, attempts, n.opts.NodeID)
		log.Info("delivered")
	case (errors.As(aerr, &ae) && ae.permanent) || attempts >= d.MaxAttempts:
		_, err = tx.Exec(wctx, `UPDATE deliveries SET state = 'failed', attempts = $2, last_error = $3,
			node_id = $4, finished_at = now(), updated_at = now() WHERE id = $1`,
			d.ID, attempts, truncate(aerr.Error(), 1000), n.opts.NodeID)
		log.Warn("delivery failed for good", "err", aerr)
	default:
		delay := n.cfg.Retry.Delay(attempts)
		delay += rand.N(delay/10 + 1)
		if ae != nil && ae.retryAfter > delay {
			delay = min(ae.retryAfter, n.cfg.Retry.Max)
		}
		_, err = tx.Exec(wctx, `UPDATE deliveries SET attempts = $2, last_error = $3, node_id = $4,
			next_attempt_at = now() + $5 * interval '1 microsecond', updated_at = now() WHERE id = $1`,
			d.ID, attempts, truncate(aerr.Error(), 1000), n.opts.NodeID, delay.Microseconds())
		log.Info("delivery attempt failed, will retry", "err", aerr, "in", delay)
	}
	if err != nil {
		return true, fmt.Errorf("notify: record delivery %d: %w", d.ID, err)
	}
	if err := tx.Commit(wctx); err != nil {
		return true, fmt.Errorf("notify: record delivery %d: %w", d.ID, err)
	}
	return true, nil
}

func (n *Notifier) send(ctx context.Context, d Delivery) error {
	var pdf []byte
	if d.Attach {
		if n.opts.Documents == nil {
			return permanent(errors.New("no document source configured for attachments"))
		}
		var err error
		if pdf, err = n.opts.Documents.PDF(ctx, d.FaxRef); err != nil {
			if errors.Is(err, ErrNoDocument) {
				return permanent(fmt.Errorf("fax %s: %w", d.FaxRef, err))
			}
			return fmt.Errorf("fax %s document: %w", d.FaxRef, err)
		}
	}
	switch d.Kind {
	case KindEmail:
		return n.sendEmail(ctx, d, pdf)
	case KindWebhook:
		return n.sendWebhook(ctx, d, pdf)
	}
	return permanent(fmt.Errorf("unknown delivery kind %q", d.Kind))
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "") + "…"
}
