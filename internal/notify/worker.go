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
	"github.com/jackc/pgx/v5/pgconn"
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

// The worker's statements. Each runs alone, as its own short transaction:
// no row lock or connection is held while a webhook or SMTP server is
// talked to. Times come from clock_timestamp(), the statement's own time,
// never now(), which is the transaction's start.
const (
	// sqlClaim takes the oldest due delivery and leases it: next_attempt_at
	// moves to the lease's end, so no worker on any node takes it meanwhile,
	// and if this node dies mid-attempt the row is due again when the lease
	// runs out. The new next_attempt_at is the claim's fencing token.
	sqlClaim = `UPDATE deliveries SET node_id = $1, updated_at = clock_timestamp(),
		next_attempt_at = clock_timestamp() + (CASE kind WHEN 'email' THEN $2::bigint ELSE $3::bigint END) * interval '1 microsecond'
	WHERE id = (SELECT id FROM deliveries WHERE state = 'pending' AND next_attempt_at <= clock_timestamp()
		ORDER BY next_attempt_at, id LIMIT 1 FOR UPDATE SKIP LOCKED)
	RETURNING ` + deliveryCols
	// The outcomes; each applies only while the claim ($2) still holds.
	sqlDelivered = `UPDATE deliveries SET state = 'delivered', attempts = $3, last_error = '', node_id = $4,
		finished_at = clock_timestamp(), updated_at = clock_timestamp()
	WHERE id = $1 AND state = 'pending' AND next_attempt_at = $2`
	sqlFailed = `UPDATE deliveries SET state = 'failed', attempts = $3, last_error = $5, node_id = $4,
		finished_at = clock_timestamp(), updated_at = clock_timestamp()
	WHERE id = $1 AND state = 'pending' AND next_attempt_at = $2`
	sqlRetryLater = `UPDATE deliveries SET attempts = $3, last_error = $5, node_id = $4,
		next_attempt_at = clock_timestamp() + $6 * interval '1 microsecond', updated_at = clock_timestamp()
	WHERE id = $1 AND state = 'pending' AND next_attempt_at = $2`
	// sqlRelease gives a claim back unattempted (shutdown): due at once.
	sqlRelease = `UPDATE deliveries SET next_attempt_at = clock_timestamp(), updated_at = clock_timestamp()
	WHERE id = $1 AND state = 'pending' AND next_attempt_at = $2`
)

// leaseSlack is how much longer a claim lasts than its attempt can: the
// attempt's bound is its timeout plus 30 s (document fetch), and the
// outcome still has to be written.
const leaseSlack = time.Minute

// attemptLimit bounds one attempt of a delivery of kind k.
func (n *Notifier) attemptLimit(k Kind) time.Duration {
	if k == KindEmail {
		return n.cfg.SMTP.Timeout + 30*time.Second
	}
	return n.cfg.WebhookTimeout + 30*time.Second
}

// ProcessOne claims one due delivery, makes one attempt and records the
// outcome. It reports whether there was one. Claim, attempt and record are
// three steps: the claim is a lease in the row (committed at once), the
// attempt runs with no transaction open, and the outcome is written only
// if the lease still holds, so a worker that overran its lease cannot
// overwrite what the node that took over recorded.
func (n *Notifier) ProcessOne(ctx context.Context) (bool, error) {
	d, err := scanDelivery(n.pool.QueryRow(ctx, sqlClaim, n.opts.NodeID,
		(n.attemptLimit(KindEmail) + leaseSlack).Microseconds(), (n.attemptLimit(KindWebhook) + leaseSlack).Microseconds()))
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("notify: claim: %w", err)
	}
	claim := d.NextAttemptAt
	actx, cancel := context.WithTimeout(ctx, n.attemptLimit(d.Kind))
	aerr := n.send(actx, d)
	cancel()
	// Record the outcome even if ctx ends now: losing it would resend.
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if ctx.Err() != nil {
		// Shutting down: the attempt does not count, and the row is due
		// again at once for another node rather than after the lease.
		if _, err := n.pool.Exec(wctx, sqlRelease, d.ID, claim); err != nil {
			n.log.Warn("releasing a delivery at shutdown; it waits for its lease", "delivery", d.ID, "err", err)
		}
		return true, ctx.Err()
	}
	attempts := d.Attempts + 1
	log := n.log.With("delivery", d.ID, "event", d.Event, "kind", d.Kind, "target", d.Target, "attempt", attempts)
	var ae *attemptError
	var res pgconn.CommandTag
	switch {
	case aerr == nil:
		res, err = n.pool.Exec(wctx, sqlDelivered, d.ID, claim, attempts, n.opts.NodeID)
		log.Info("delivered")
	case (errors.As(aerr, &ae) && ae.permanent) || attempts >= d.MaxAttempts:
		res, err = n.pool.Exec(wctx, sqlFailed, d.ID, claim, attempts, n.opts.NodeID, truncate(aerr.Error(), 1000))
		log.Warn("delivery failed for good", "err", aerr)
	default:
		delay := n.cfg.Retry.Delay(attempts)
		delay += rand.N(delay/10 + 1)
		if ae != nil && ae.retryAfter > delay {
			delay = min(ae.retryAfter, n.cfg.Retry.Max)
		}
		res, err = n.pool.Exec(wctx, sqlRetryLater, d.ID, claim, attempts, n.opts.NodeID, truncate(aerr.Error(), 1000), delay.Microseconds())
		log.Info("delivery attempt failed, will retry", "err", aerr, "in", delay)
	}
	if err != nil {
		// The lease runs out and the delivery is attempted again.
		return true, fmt.Errorf("notify: record delivery %d: %w", d.ID, err)
	}
	if res.RowsAffected() == 0 {
		log.Warn("delivery outcome not recorded: its lease ran out or it was changed meanwhile")
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
