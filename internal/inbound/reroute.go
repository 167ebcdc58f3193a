package inbound

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/faxd/faxd/internal/notify"
)

// Reroute is one entry of the reroute audit trail.
type Reroute struct {
	ID         int64        `json:"id"`
	FaxRef     string       `json:"fax_ref"`
	Actor      string       `json:"actor"`
	Reason     string       `json:"reason,omitempty"` // why the person rerouted it
	From       string       `json:"from"`             // the fax's destination before
	To         string       `json:"to"`
	DeliveryID int64        `json:"delivery_id,omitempty"`
	Outcome    notify.State `json:"outcome"` // pending, delivered, failed
	Error      string       `json:"error,omitempty"`
	CreatedAt  time.Time    `json:"created_at"`
	FinishedAt time.Time    `json:"finished_at,omitzero"`
}

const rerouteCols = `id, fax_ref, actor, reason, from_destination, to_destination, delivery_id, outcome, error, created_at, finished_at`

func scanReroute(row pgx.Row) (Reroute, error) {
	var rr Reroute
	var delivery *int64
	var finished *time.Time
	err := row.Scan(&rr.ID, &rr.FaxRef, &rr.Actor, &rr.Reason, &rr.From, &rr.To, &delivery, &rr.Outcome, &rr.Error, &rr.CreatedAt, &finished)
	if delivery != nil {
		rr.DeliveryID = *delivery
	}
	if finished != nil {
		rr.FinishedAt = *finished
	}
	return rr, err
}

// MaxActor caps the actor name recorded in the audit trail.
const MaxActor = 200

// Reroute sends a received fax (unrouted or already delivered) to another
// destination on an administrator's behalf and records who did it, when,
// from where and to where. The audit row's outcome follows the delivery:
// a mailbox is delivered at once; an email or webhook is pending until the
// notify workers finish it, and the row is updated in the same transaction
// (a trigger on the deliveries table).
func (r *Router) Reroute(ctx context.Context, faxRef string, to Destination, actor string) (Reroute, error) {
	return r.RerouteAudited(ctx, faxRef, to, actor, "", nil)
}

// AuditHook writes the audit log entry of a reroute inside its
// transaction and returns the entry's id, which the reroute row links to.
type AuditHook func(ctx context.Context, tx pgx.Tx, rr Reroute) (int64, error)

// RerouteAudited is Reroute that also records the change through audit
// (nil: no entry) in the same transaction.
func (r *Router) RerouteAudited(ctx context.Context, faxRef string, to Destination, actor, reason string, audit AuditHook) (Reroute, error) {
	to = Rule{Destination: to}.normalize().Destination
	if err := to.Validate(); err != nil {
		return Reroute{}, err
	}
	actor = strings.TrimSpace(actor)
	if actor == "" || len(actor) > MaxActor {
		return Reroute{}, invalid("actor", "name who reroutes, in 1 to %d characters", MaxActor)
	}
	fax, err := r.source.Fax(ctx, faxRef)
	if err != nil {
		return Reroute{}, fmt.Errorf("inbound: reroute %s: %w", faxRef, err)
	}
	fax.Ref = faxRef
	var rr Reroute
	err = pgx.BeginFunc(ctx, r.pool, func(tx pgx.Tx) error {
		// The row lock orders concurrent reroutes of one fax, so each
		// one's "from" is the previous one's "to".
		from := Unrouted
		err := tx.QueryRow(ctx, `SELECT destination FROM inbound_dispositions WHERE fax_ref = $1 FOR UPDATE`, faxRef).Scan(&from)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		rr, err = scanReroute(tx.QueryRow(ctx, `INSERT INTO reroutes (fax_ref, actor, reason, from_destination, to_destination)
			VALUES ($1, $2, $3, $4, $5) RETURNING `+rerouteCols, faxRef, actor, strings.TrimSpace(reason), from, to.String()))
		if err != nil {
			return err
		}
		id, err := r.deliver(ctx, tx, fax, to, notify.EventFaxRerouted, "reroute:"+strconv.FormatInt(rr.ID, 10),
			delivered{Reroute: &rr})
		if err != nil {
			return err
		}
		if to.Kind == DestMailbox {
			rr, err = scanReroute(tx.QueryRow(ctx, `UPDATE reroutes SET outcome = 'delivered', finished_at = now()
				WHERE id = $1 RETURNING `+rerouteCols, rr.ID))
		} else {
			rr, err = scanReroute(tx.QueryRow(ctx, `UPDATE reroutes SET delivery_id = $2
				WHERE id = $1 RETURNING `+rerouteCols, rr.ID, id))
		}
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `INSERT INTO inbound_dispositions (fax_ref, rule_id, destination) VALUES ($1, NULL, $2)
			ON CONFLICT (fax_ref) DO UPDATE SET rule_id = NULL, destination = EXCLUDED.destination, updated_at = now()`,
			faxRef, to.String())
		if err != nil || audit == nil {
			return err
		}
		auditID, err := audit(ctx, tx, rr)
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `UPDATE reroutes SET audit_id = $2 WHERE id = $1`, rr.ID, auditID)
		return err
	})
	if err != nil {
		return Reroute{}, fmt.Errorf("inbound: reroute %s: %w", faxRef, err)
	}
	r.notify.Wake()
	r.log.Info("received fax rerouted", "fax", faxRef, "actor", actor, "from", rr.From, "to", rr.To, "reroute", rr.ID)
	return rr, nil
}

// Reroutes lists a fax's reroutes, oldest first.
func (r *Router) Reroutes(ctx context.Context, faxRef string) ([]Reroute, error) {
	rows, err := r.pool.Query(ctx, `SELECT `+rerouteCols+` FROM reroutes WHERE fax_ref = $1 ORDER BY id`, faxRef)
	if err != nil {
		return nil, fmt.Errorf("inbound: reroutes of %s: %w", faxRef, err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (Reroute, error) { return scanReroute(row) })
	if err != nil {
		return nil, fmt.Errorf("inbound: reroutes of %s: %w", faxRef, err)
	}
	return out, nil
}

// Disposition returns where a fax went; ErrNotFound if it was never
// dispatched or rerouted.
func (r *Router) Disposition(ctx context.Context, faxRef string) (Disposition, error) {
	d, err := scanDisposition(r.pool.QueryRow(ctx, `SELECT fax_ref, rule_id, destination, created_at, updated_at
		FROM inbound_dispositions WHERE fax_ref = $1`, faxRef))
	if errors.Is(err, pgx.ErrNoRows) {
		return Disposition{}, fmt.Errorf("%w: fax %s", ErrNotFound, faxRef)
	}
	if err != nil {
		return Disposition{}, fmt.Errorf("inbound: disposition of %s: %w", faxRef, err)
	}
	return d, nil
}

// Unrouted lists faxes no rule matched and nobody has rerouted yet, oldest
// first.
func (r *Router) Unrouted(ctx context.Context, limit int) ([]Disposition, error) {
	if limit <= 0 || limit > 1000 {
		limit = 100
	}
	rows, err := r.pool.Query(ctx, `SELECT fax_ref, rule_id, destination, created_at, updated_at
		FROM inbound_dispositions WHERE destination = 'unrouted' ORDER BY created_at, fax_ref LIMIT $1`, limit)
	if err != nil {
		return nil, fmt.Errorf("inbound: unrouted: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (Disposition, error) { return scanDisposition(row) })
	if err != nil {
		return nil, fmt.Errorf("inbound: unrouted: %w", err)
	}
	return out, nil
}

// MailboxEntry is a fax filed in a mailbox.
type MailboxEntry struct {
	ID        int64     `json:"id"`
	Mailbox   string    `json:"mailbox"`
	FaxRef    string    `json:"fax_ref"`
	Read      bool      `json:"read"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// MailboxSummary counts a mailbox's faxes.
type MailboxSummary struct {
	Mailbox string `json:"mailbox"`
	Total   int    `json:"total"`
	Unread  int    `json:"unread"`
}

// Read marks are per reader (for now the API token's name): a mailbox
// entry is read for a reader who marked its fax read after it was filed,
// so a fax filed again (a reroute into the mailbox) is unread again.
const entryRead = `EXISTS (SELECT 1 FROM received_reads rr
	WHERE rr.fax_ref = e.fax_ref AND rr.reader = $1 AND rr.read_at >= e.updated_at)`

// Mailboxes lists the mailboxes that hold faxes, counting those reader
// has not read.
func (r *Router) Mailboxes(ctx context.Context, reader string) ([]MailboxSummary, error) {
	rows, err := r.pool.Query(ctx, `SELECT mailbox, count(*), count(*) FILTER (WHERE NOT `+entryRead+`)
		FROM mailbox_entries e GROUP BY mailbox ORDER BY mailbox`, reader)
	if err != nil {
		return nil, fmt.Errorf("inbound: mailboxes: %w", err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowToStructByPos[MailboxSummary])
	if err != nil {
		return nil, fmt.Errorf("inbound: mailboxes: %w", err)
	}
	return out, nil
}

// Mailbox lists a mailbox's faxes, newest first, with Read as reader sees
// it; unreadOnly drops those reader has read.
func (r *Router) Mailbox(ctx context.Context, mailbox, reader string, unreadOnly bool, limit int) ([]MailboxEntry, error) {
	if limit <= 0 || limit > 1000 {
		limit = 100
	}
	rows, err := r.pool.Query(ctx, `SELECT id, mailbox, fax_ref, `+entryRead+`, created_at, updated_at
		FROM mailbox_entries e
		WHERE mailbox = $2 AND (NOT $3 OR NOT `+entryRead+`) ORDER BY created_at DESC, id DESC LIMIT $4`,
		reader, mailbox, unreadOnly, limit)
	if err != nil {
		return nil, fmt.Errorf("inbound: mailbox %s: %w", mailbox, err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowToStructByPos[MailboxEntry])
	if err != nil {
		return nil, fmt.Errorf("inbound: mailbox %s: %w", mailbox, err)
	}
	return out, nil
}

// MarkRead marks the received fax faxRef read (or unread again) for
// reader. Marking twice is harmless; marking read again moves the mark to
// now.
func (r *Router) MarkRead(ctx context.Context, faxRef, reader string, read bool) error {
	if faxRef == "" || reader == "" {
		return fmt.Errorf("%w: a read mark needs a fax and a reader", ErrInvalid)
	}
	var err error
	if read {
		_, err = r.pool.Exec(ctx, `INSERT INTO received_reads (fax_ref, reader) VALUES ($1, $2)
			ON CONFLICT (fax_ref, reader) DO UPDATE SET read_at = now()`, faxRef, reader)
	} else {
		_, err = r.pool.Exec(ctx, `DELETE FROM received_reads WHERE fax_ref = $1 AND reader = $2`, faxRef, reader)
	}
	if err != nil {
		return fmt.Errorf("inbound: mark %s read=%t for %s: %w", faxRef, read, reader, err)
	}
	return nil
}

// IsRead reports whether reader has marked faxRef read.
func (r *Router) IsRead(ctx context.Context, faxRef, reader string) (bool, error) {
	var ok bool
	err := r.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM received_reads WHERE fax_ref = $1 AND reader = $2)`,
		faxRef, reader).Scan(&ok)
	if err != nil {
		return false, fmt.Errorf("inbound: read mark of %s: %w", faxRef, err)
	}
	return ok, nil
}

// Purge deletes routing history older than age: where faxes went,
// reroutes, mailbox entries and read marks, in batches. The archive keeps faxes for
// the same period, so nothing here outlives the fax it names. It returns
// the rows deleted.
func (r *Router) Purge(ctx context.Context, age time.Duration) (int64, error) {
	if age <= 0 {
		return 0, fmt.Errorf("%w: purge age must be positive", ErrInvalid)
	}
	var total int64
	for _, table := range []string{"reroutes", "mailbox_entries", "inbound_dispositions", "received_reads"} {
		col := "created_at"
		if table == "received_reads" {
			col = "read_at"
		}
		for {
			tag, err := r.pool.Exec(ctx, `DELETE FROM `+table+` WHERE ctid = ANY (ARRAY(
				SELECT ctid FROM `+table+` WHERE `+col+` < now() - $1 * interval '1 microsecond' LIMIT 1000))`,
				age.Microseconds())
			if err != nil {
				return total, fmt.Errorf("inbound: purge %s: %w", table, err)
			}
			total += tag.RowsAffected()
			if tag.RowsAffected() < 1000 {
				break
			}
		}
	}
	return total, nil
}
