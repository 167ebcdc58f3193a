package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/faxd/faxd/queue"
)

// maxDeadline is how far ahead a deadline may be, as for send_after.
const maxDeadline = 366 * 24 * time.Hour

// validateDeadline checks deadline and kill_after, returning every
// problem as a sentence naming its field.
func validateDeadline(deadline *time.Time, killAfter string, sendAfter *time.Time) []string {
	var errs []string
	if deadline != nil && killAfter != "" {
		errs = append(errs, "deadline, kill_after: give one of them, not both")
	}
	if deadline != nil {
		switch {
		case !deadline.After(time.Now()):
			errs = append(errs, "deadline: must be in the future")
		case deadline.Sub(time.Now()) > maxDeadline:
			errs = append(errs, "deadline: at most one year ahead")
		case sendAfter != nil && !deadline.After(*sendAfter):
			errs = append(errs, "deadline: must be after send_after")
		}
	}
	if killAfter != "" {
		d, err := time.ParseDuration(killAfter)
		switch {
		case err != nil:
			errs = append(errs, fmt.Sprintf("kill_after %q: must be a duration such as 90m or 36h", killAfter))
		case d < time.Minute || d > maxDeadline:
			errs = append(errs, fmt.Sprintf("kill_after %q: must be from 1m to 8784h (a year)", killAfter))
		case sendAfter != nil && time.Now().Add(d).Before(*sendAfter):
			errs = append(errs, "kill_after: ends before send_after")
		}
	}
	return errs
}

// deadlineOf turns validated fields into the queue's.
func deadlineOf(deadline *time.Time, killAfter string) (time.Time, time.Duration) {
	if deadline != nil {
		return *deadline, 0
	}
	d, _ := time.ParseDuration(killAfter)
	return time.Time{}, d
}

// addControls fills a fax's deadline and resend links.
func (a *API) addControls(ctx context.Context, f *Fax) error {
	return a.addControlsList(ctx, []Fax{*f}, f)
}

// addControlsList fills the controls of faxes in place (or into into[i]
// when given), in one query.
func (a *API) addControlsList(ctx context.Context, faxes []Fax, into ...*Fax) error {
	if len(faxes) == 0 {
		return nil
	}
	ids := make([]int64, len(faxes))
	for i, f := range faxes {
		ids[i] = f.ID
	}
	cs, err := a.queue.Controls(ctx, ids)
	if err != nil {
		return err
	}
	// Deleted faxes stay listed, marked (tombstone.go).
	ts, err := a.queue.Tombstones(ctx, ids)
	if err != nil {
		return err
	}
	for i := range faxes {
		f := &faxes[i]
		if i < len(into) {
			f = into[i]
		}
		c := cs[f.ID]
		if !c.Deadline.IsZero() {
			t := c.Deadline
			f.Deadline = &t
		}
		f.ResentFrom, f.Resends = c.ResentFrom, c.Resends
		if t, ok := ts[f.ID]; ok {
			at := t.At
			f.DeletedAt, f.DeletedBy, f.DeleteReason = &at, t.By, t.Reason
		}
	}
	return nil
}

// ResendRequest is the optional body of POST /v1/faxes/{id}/resend.
type ResendRequest struct {
	To        string     `json:"to,omitempty"`
	Deadline  *time.Time `json:"deadline,omitempty"`
	KillAfter string     `json:"kill_after,omitempty"`
}

// resendFax sends a finished fax again as a new fax (same pages and
// settings, optionally another number) that names the old one.
func (a *API) resendFax(w http.ResponseWriter, r *http.Request, c *caller) error {
	key := r.Header.Get("Idempotency-Key")
	if key != "" && !validKey(key) {
		return newProblem(http.StatusBadRequest, "invalid-request", "Idempotency-Key must be 1-128 printable ASCII characters without spaces")
	}
	old, err := a.job(r, c)
	if err != nil {
		return err
	}
	var body ResendRequest
	dec := json.NewDecoder(io.LimitReader(r.Body, 16<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&body); err != nil && !errors.Is(err, io.EOF) {
		if strings.HasPrefix(err.Error(), "json: unknown field") {
			return newProblem(http.StatusBadRequest, "invalid-request", "%s (known: to, deadline, kill_after)", strings.TrimPrefix(err.Error(), "json: "))
		}
		return newProblem(http.StatusBadRequest, "invalid-request", "the body is not valid JSON for a resend: %s", jsonErr(err))
	}
	var errs []string
	if body.To != "" {
		n, err := normalizeNumber(body.To)
		if err != nil {
			return &Problem{Type: problemPrefix + "invalid-number", Title: titles["invalid-number"],
				Status: http.StatusBadRequest, Detail: "to: " + err.Error()}
		}
		body.To = n
	}
	errs = append(errs, validateDeadline(body.Deadline, body.KillAfter, nil)...)
	if len(errs) > 0 {
		p := newProblem(http.StatusBadRequest, "invalid-request", "%s", strings.Join(errs, "; "))
		p.Errors = errs
		return p
	}
	o := queue.ResendOptions{Destination: body.To}
	o.Deadline, o.KillAfter = deadlineOf(body.Deadline, body.KillAfter)
	if key != "" {
		o.IdempotencyKey = old.Submitter + keySep + key
	}
	job, created, err := a.queue.Resend(r.Context(), old.ID, o)
	var ce *queue.ConflictError
	switch {
	case errors.Is(err, queue.ErrInvalidTransition):
		return newProblem(http.StatusConflict, "state-conflict", "fax %d is %s; only a finished fax (sent, failed or cancelled) can be resent", old.ID, old.State)
	case errors.Is(err, queue.ErrNotFound):
		return notFound("there is no fax %d (or it was purged)", old.ID)
	case errors.As(err, &ce):
		return newProblem(http.StatusConflict, "idempotency-conflict",
			"Idempotency-Key %q was used for fax %d with different content; use a new key for a new fax", key, ce.Existing)
	case err != nil:
		return err
	}
	f := faxFromJob(job)
	if err := a.addControls(r.Context(), &f); err != nil {
		return err
	}
	w.Header().Set("Location", "/v1/faxes/"+strconv.FormatInt(job.ID, 10))
	status := http.StatusCreated
	if !created {
		status = http.StatusOK
	}
	a.log.Info("fax resent", "fax", job.ID, "resent_from", old.ID, "created", created, "token_name", c.Name)
	writeJSON(w, status, f)
	return nil
}
