package api

import (
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/faxd/faxd/internal/api/tokens"
	"github.com/faxd/faxd/internal/calltrace"
)

// Call traces: each attempt's SIP steps and T.30 frames (internal/calltrace).
func (a *API) traceRoutes() []route {
	return []route{
		{"GET", "/v1/faxes/{id}/attempts/{n}/trace", tokens.Submitter, a.attemptTrace},
		{"GET", "/v1/received/{id}/trace", needOperator, a.receivedTrace},
	}
}

func (a *API) attemptTrace(w http.ResponseWriter, r *http.Request, c *caller) error {
	j, err := a.job(r, c) // a submitter sees only its own faxes
	if err != nil {
		return err
	}
	n, err := strconv.Atoi(r.PathValue("n"))
	if err != nil || n < 1 {
		return newProblem(http.StatusBadRequest, "invalid-request", "attempt %q: want an attempt number from 1", r.PathValue("n"))
	}
	t, err := a.traces.ForAttempt(r.Context(), j.ID, n)
	if errors.Is(err, calltrace.ErrNotFound) {
		return newProblem(http.StatusNotFound, "not-found", "fax %d has no call trace for attempt %d (attempts so far: %d; an attempt that placed no call, or that ended with its server, has none)", j.ID, n, j.Attempts)
	}
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, t)
	return nil
}

func (a *API) receivedTrace(w http.ResponseWriter, r *http.Request, c *caller) error {
	rec, err := a.received(r)
	if err != nil {
		return err
	}
	// The channel names the call by its key before the archive adds the
	// source database's prefix.
	t, err := a.traces.ForReceived(r.Context(), strings.TrimPrefix(rec.Key, rec.Source+"/"))
	if errors.Is(err, calltrace.ErrNotFound) {
		return newProblem(http.StatusNotFound, "not-found", "received fax %d has no call trace (traces are kept for queue.purge_after)", rec.ID)
	}
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, t)
	return nil
}
