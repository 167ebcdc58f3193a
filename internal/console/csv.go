package console

import (
	"encoding/csv"
	"net/http"
	"strconv"
	"time"

	"github.com/faxd/faxd/client"
)

// csvMaxRows bounds one export; a narrower search gets the rest.
const csvMaxRows = 100000

// archiveCSV exports every record the search matches (following the
// API's cursor), one row per fax.
func (c *Console) archiveCSV(w http.ResponseWriter, r *http.Request, s *session, p client.ArchiveParams) {
	p.Limit, p.Cursor = 500, ""
	first, err := s.api.SearchArchive(r.Context(), p)
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="faxd-archive.csv"`)
	cw := csv.NewWriter(w)
	_ = cw.Write([]string{"id", "direction", "result", "reason", "local_number", "remote_number", "remote_station_id",
		"pages", "attempts", "gateway", "node", "submitter", "fax_id", "started_at", "finished_at", "duration_ms", "routing", "routed_to"})
	page, rows := first, 0
	ts := func(t *time.Time) string {
		if t == nil {
			return ""
		}
		return t.UTC().Format(time.RFC3339)
	}
	for {
		for _, f := range page.Faxes {
			fin := f.FinishedAt
			_ = cw.Write([]string{strconv.FormatInt(f.ID, 10), f.Direction, f.Result, f.Reason, f.LocalNumber, f.RemoteNumber,
				f.RemoteStationID, strconv.Itoa(f.Pages), strconv.Itoa(f.Attempts), f.Gateway, f.Node, f.Submitter,
				strconv.FormatInt(f.FaxID, 10), ts(f.StartedAt), ts(&fin), strconv.FormatInt(f.DurationMS, 10), f.Routing, f.RoutedTo})
			rows++
		}
		if page.NextCursor == "" || rows >= csvMaxRows {
			break
		}
		p.Cursor = page.NextCursor
		if page, err = s.api.SearchArchive(r.Context(), p); err != nil {
			// Headers are gone; the truncated file ends with the reason.
			_ = cw.Write([]string{"# export stopped: " + err.Error()})
			break
		}
	}
	cw.Flush()
}
