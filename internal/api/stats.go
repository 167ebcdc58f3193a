package api

import (
	"net/http"
	"time"
)

// QueueStatsJSON is GET /v1/queue-stats: the queue's depth by state and
// what finished since a time (by default the start of the UTC day).
type QueueStatsJSON struct {
	Since         time.Time      `json:"since"`
	States        map[string]int `json:"states"`
	FinishedSince map[string]int `json:"finished_since"`
}

func (a *API) statsRoutes() []route {
	return []route{{"GET", "/v1/queue-stats", needOperator, a.queueStats}}
}

func (a *API) queueStats(w http.ResponseWriter, r *http.Request, c *caller) error {
	q := newQuery(r)
	since := q.time("since")
	if err := q.err("since"); err != nil {
		return err
	}
	if since.IsZero() {
		since = time.Now().UTC().Truncate(24 * time.Hour)
	}
	n, err := a.queue.Counts(r.Context(), since)
	if err != nil {
		return err
	}
	out := QueueStatsJSON{Since: since, States: map[string]int{}, FinishedSince: map[string]int{}}
	for s, v := range n.ByState {
		out.States[string(s)] = v
	}
	for s, v := range n.FinishedSince {
		out.FinishedSince[string(s)] = v
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}
