package api

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/faxd/faxd/archive"
	"github.com/faxd/faxd/internal/audit"
	"github.com/faxd/faxd/internal/docstore"
	"github.com/faxd/faxd/queue"
)

// goneProblem is the 410 answer for a deleted fax: who deleted it and when.
func goneProblem(id int64, t queue.Tombstone) *Problem {
	p := newProblem(http.StatusGone, "gone", "fax %d was deleted by %s at %s", id, t.By, t.At.UTC().Format(time.RFC3339))
	if t.Reason != "" {
		p.Detail += " (" + t.Reason + ")"
	}
	return p
}

// gone answers 410 for a fax whose documents were deleted.
func (a *API) gone(ctx context.Context, id int64) error {
	ts, err := a.queue.Tombstones(ctx, []int64{id})
	if err != nil {
		return err
	}
	if t, ok := ts[id]; ok {
		return goneProblem(id, t)
	}
	return nil
}

// deleteFax deletes a finished fax's documents and leaves a tombstone:
// 204, then 410 for every later request naming the fax, this one included.
func (a *API) deleteFax(w http.ResponseWriter, r *http.Request, c *caller) error {
	j, err := a.job(r, c) // 404 for others' faxes, 410 once deleted
	if err != nil {
		return err
	}
	reason := r.URL.Query().Get("reason")
	if len(reason) > 500 {
		return newProblem(http.StatusBadRequest, "invalid-request", "reason: at most 500 characters")
	}
	var doc string
	err = a.audited(r, c, func(tx pgx.Tx) (audit.Change, error) {
		old, err := a.queue.Delete(r.Context(), tx, j.ID, c.Name, reason)
		if err != nil {
			return audit.Change{}, err
		}
		doc = old.Document
		return audit.Change{Action: "delete", ObjectType: audit.Fax, ObjectID: strconv.FormatInt(j.ID, 10),
			Before: map[string]any{"state": old.State, "destination": old.Destination, "submitter": old.Submitter, "document": old.Document},
			Detail: reason}, nil
	})
	var te *queue.TombstoneError
	switch {
	case errors.As(err, &te):
		return goneProblem(j.ID, te.Tombstone)
	case errors.Is(err, queue.ErrInvalidTransition):
		return newProblem(http.StatusConflict, "state-conflict", "fax %d is %s; only sent, failed or cancelled faxes can be deleted", j.ID, j.State)
	case errors.Is(err, queue.ErrNotFound):
		return notFound("there is no fax %d (or it was purged)", j.ID)
	case err != nil:
		return err
	}
	// After the commit: the set is no longer named by the job. Another job
	// (a resend) may still name it; it is then kept for that job, and the
	// document store's GC removes it once nothing names it.
	if doc != "" {
		if err := a.docs.Delete(r.Context(), doc); err != nil && !errors.Is(err, docstore.ErrNotFound) {
			a.log.Warn("fax deleted; its document set is kept for now", "fax", j.ID, "document", doc, "err", err)
		}
	}
	a.log.Info("fax deleted", "fax", j.ID, "by", c.Name)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// goneReceived is the 410 answer for a received fax deleted for good.
func goneReceived(rec archive.Record) *Problem {
	p := newProblem(http.StatusGone, "gone", "received fax %d was deleted by %s at %s", rec.ID, rec.DeletedBy, rec.DeletedAt.UTC().Format(time.RFC3339))
	if rec.DeleteReason != "" {
		p.Detail += " (" + rec.DeleteReason + ")"
	}
	return p
}

// deletedAt is a record's deletion time for the API's views.
func deletedAt(r archive.Record) *time.Time {
	if r.DeletedAt.IsZero() {
		return nil
	}
	t := r.DeletedAt
	return &t
}

// deleteReceived deletes a received fax's pages for good (a privacy
// request): from the archive, the relay's object store and this server's
// document store. The archive record stays as the tombstone, listed with
// who deleted it and when; everything naming the fax answers 410 after.
// An operator action: a mailbox grant lets a user read faxes, not erase
// the organisation's record of them.
//
// The deletion is written to the outbox with its audit entry, in one
// transaction, so that it reaches the archive even if the archive database
// is down now; it is also applied at once, so the answer is final.
func (a *API) deleteReceived(w http.ResponseWriter, r *http.Request, c *caller) error {
	rec, err := a.received(r) // 404, or 410 once deleted
	if err != nil {
		return err
	}
	reason := r.URL.Query().Get("reason")
	if len(reason) > 500 {
		return newProblem(http.StatusBadRequest, "invalid-request", "reason: at most 500 characters")
	}
	d := archive.Deletion{At: time.Now().UTC().Truncate(time.Microsecond), By: c.Name, Reason: reason,
		DocumentSHA256: rec.DocumentSHA256}
	id := strconv.FormatInt(rec.ID, 10)
	err = a.audited(r, c, func(tx pgx.Tx) (audit.Change, error) {
		if err := archive.EmitDeletion(r.Context(), tx, rec.Key, d); err != nil {
			return audit.Change{}, err
		}
		return audit.Change{Action: "delete", ObjectType: audit.ReceivedFax, ObjectID: id,
			Before: map[string]any{"result": rec.Result, "did": rec.LocalNumber, "caller": rec.RemoteNumber,
				"remote_station_id": rec.RemoteStationID, "pages": rec.Pages, "routed_to": rec.RoutedTo},
			Detail: reason}, nil
	})
	if err != nil {
		return err
	}
	if err := a.archive.DeleteRecord(r.Context(), rec.Key, d); err != nil {
		// The outbox row applies it once the archive answers again.
		a.log.Warn("received fax deletion waits for the archive", "fax", rec.ID, "err", err)
	}
	// The copy the receiving server kept of the pages (its document
	// store); a fax received at another site leaves it to that site's
	// collection of unused sets.
	if rec.Document != "" {
		if err := a.docs.Delete(r.Context(), rec.Document); err != nil && !errors.Is(err, docstore.ErrNotFound) {
			a.log.Warn("received fax deleted; the server's copy of its pages is kept for now", "fax", rec.ID, "document", rec.Document, "err", err)
		}
	}
	a.log.Info("received fax deleted", "fax", rec.ID, "by", c.Name)
	w.WriteHeader(http.StatusNoContent)
	return nil
}
