package api

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/faxd/faxd/archive"
	"github.com/faxd/faxd/internal/audit"
	"github.com/faxd/faxd/internal/inbound"
	"github.com/faxd/faxd/internal/thumbnail"
	"github.com/faxd/faxd/t38/tiff"
)

// Received faxes live in the archive (archive.Store); where each went, the
// reroute audit and the mailboxes live with inbound routing
// (inbound.Router). The API names a received fax by its archive id;
// inbound knows it by its archive record key.

// ReceivedFax is a received fax as the API shows it.
type ReceivedFax struct {
	ID              int64      `json:"id"`
	DID             string     `json:"did"`
	Caller          string     `json:"caller"`
	RemoteStationID string     `json:"remote_station_id"`
	Result          string     `json:"result"`
	Reason          string     `json:"reason,omitempty"`
	Pages           int        `json:"pages"`
	Gateway         string     `json:"gateway,omitempty"`
	Node            string     `json:"node,omitempty"`
	StartedAt       *time.Time `json:"started_at,omitempty"`
	FinishedAt      time.Time  `json:"finished_at"`
	DurationMS      int64      `json:"duration_ms"`
	Routing         string     `json:"routing"`
	RoutedTo        string     `json:"routed_to,omitempty"`
	HasDocument     bool       `json:"has_document"`
	ArchivedAt      time.Time  `json:"archived_at"`
	// Read says whether the caller marked the fax read (per token name);
	// only on GET /v1/received/{id}.
	Read     *bool         `json:"read,omitempty"`
	Reroutes []RerouteView `json:"reroutes,omitempty"`
	// DeletedAt, DeletedBy and DeleteReason mark a fax whose pages were
	// deleted for good (DELETE /v1/received/{id}); lists keep showing it.
	DeletedAt    *time.Time `json:"deleted_at,omitempty"`
	DeletedBy    string     `json:"deleted_by,omitempty"`
	DeleteReason string     `json:"delete_reason,omitempty"`
}

func viewReceived(r archive.Record) ReceivedFax {
	f := ReceivedFax{ID: r.ID, DID: r.LocalNumber, Caller: r.RemoteNumber, RemoteStationID: r.RemoteStationID,
		Result: r.Result, Reason: r.Reason, Pages: r.Pages, Gateway: r.Gateway, Node: r.NodeID,
		FinishedAt: r.FinishedAt, DurationMS: r.DurationMS, Routing: r.Routing, RoutedTo: r.RoutedTo,
		HasDocument: r.DocumentSHA256 != "", ArchivedAt: r.ArchivedAt,
		DeletedAt: deletedAt(r), DeletedBy: r.DeletedBy, DeleteReason: r.DeleteReason}
	if f.Routing == "" {
		f.Routing = archive.Unrouted
	}
	if !r.StartedAt.IsZero() {
		t := r.StartedAt
		f.StartedAt = &t
	}
	return f
}

// RerouteView is one entry of a received fax's reroute audit trail.
type RerouteView struct {
	ID         int64      `json:"id"`
	Actor      string     `json:"actor"`
	Reason     string     `json:"reason,omitempty"`
	From       string     `json:"from"`
	To         string     `json:"to"`
	Outcome    string     `json:"outcome"`
	Error      string     `json:"error,omitempty"`
	DeliveryID int64      `json:"delivery_id,omitempty"`
	CreatedAt  time.Time  `json:"created_at"`
	FinishedAt *time.Time `json:"finished_at,omitempty"`
}

func viewReroute(rr inbound.Reroute) RerouteView {
	v := RerouteView{ID: rr.ID, Actor: rr.Actor, Reason: rr.Reason, From: rr.From, To: rr.To, Outcome: string(rr.Outcome),
		Error: rr.Error, DeliveryID: rr.DeliveryID, CreatedAt: rr.CreatedAt}
	if !rr.FinishedAt.IsZero() {
		t := rr.FinishedAt
		v.FinishedAt = &t
	}
	return v
}

// ReceivedList is a page of received faxes; NextCursor continues it.
type ReceivedList struct {
	Received   []ReceivedFax `json:"received"`
	NextCursor string        `json:"next_cursor,omitempty"`
}

// RerouteInput is the body of a reroute.
type RerouteInput struct {
	Destination DestinationInput `json:"destination"`
	// Reason says why the fax is rerouted; required, kept in the
	// reroute record and the audit log.
	Reason string `json:"reason"`
}

// maxRerouteReason caps a reroute's reason.
const maxRerouteReason = 500

// needInbound answers 503 on a server built without the archive.
func (a *API) needInbound() error {
	if a.archive == nil || a.inbound == nil {
		return newProblem(http.StatusServiceUnavailable, "unavailable", "received faxes are not served by this server (no archive configured)")
	}
	return nil
}

// archiveErr maps the archive's errors to problems.
func archiveErr(err error) error {
	if errors.Is(err, archive.ErrBadCursor) {
		p := newProblem(http.StatusBadRequest, "invalid-request", "cursor: not a cursor this server handed out (use next_cursor as is)")
		p.Errors = []string{p.Detail}
		return p
	}
	return err
}

func (a *API) listReceived(w http.ResponseWriter, r *http.Request, c *caller) error {
	if err := a.needInbound(); err != nil {
		return err
	}
	if c.restricted() {
		return newProblem(http.StatusForbidden, "forbidden", "%s sees received faxes through the mailboxes granted to them: GET /v1/mailboxes, then /v1/mailboxes/{name}", c.who())
	}
	q := newQuery(r)
	f := archive.Filter{Direction: archive.Inbound, Cursor: q.str("cursor"), Result: q.oneOf("result", "received", "receive_failed"),
		LocalNumber: inbound.NormalizeNumber(q.str("did")), RemoteNumber: inbound.NormalizeNumber(q.str("caller")),
		From: q.time("received_after"), To: q.time("received_before"), Limit: q.int("limit", 1, 500, 50)}
	if q.bool("unrouted") {
		f.Routing = archive.Unrouted
	}
	if err := q.err("unrouted", "did", "caller", "result", "received_after", "received_before", "limit", "cursor"); err != nil {
		return err
	}
	recs, next, err := a.archive.Search(r.Context(), f)
	if err != nil {
		return archiveErr(err)
	}
	out := ReceivedList{Received: make([]ReceivedFax, 0, len(recs)), NextCursor: next}
	for _, rec := range recs {
		out.Received = append(out.Received, viewReceived(rec))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// received loads the received fax named by the path.
func (a *API) received(r *http.Request) (archive.Record, error) {
	if err := a.needInbound(); err != nil {
		return archive.Record{}, err
	}
	id, err := pathID(r, "id", "received fax")
	if err != nil {
		return archive.Record{}, err
	}
	rec, err := a.archive.Get(r.Context(), id)
	if errors.Is(err, archive.ErrNotFound) || (err == nil && rec.Direction != archive.Inbound) {
		return archive.Record{}, notFound("there is no received fax %d (or it was purged from the archive)", id)
	}
	if err == nil {
		err = a.mayReadFax(r, id, rec.Key) // users.go: a user sees granted mailboxes only
	}
	if err == nil && !rec.DeletedAt.IsZero() {
		err = goneReceived(rec) // tombstone.go
	}
	return rec, err
}

func (a *API) getReceived(w http.ResponseWriter, r *http.Request, c *caller) error {
	rec, err := a.received(r)
	if err != nil {
		return err
	}
	f := viewReceived(rec)
	rrs, err := a.inbound.Reroutes(r.Context(), rec.Key)
	if err != nil {
		return err
	}
	for _, rr := range rrs {
		f.Reroutes = append(f.Reroutes, viewReroute(rr))
	}
	read, err := a.inbound.IsRead(r.Context(), rec.Key, c.reader())
	if err != nil {
		return err
	}
	f.Read = &read
	writeJSON(w, http.StatusOK, f)
	return nil
}

// ReadMark answers a read or unread mark.
type ReadMark struct {
	ID     int64  `json:"id"`
	Reader string `json:"reader"`
	Read   bool   `json:"read"`
}

func (a *API) readRoutes() []route {
	return []route{
		{"POST", "/v1/received/{id}/read", needReceived, a.markRead(true)},
		{"DELETE", "/v1/received/{id}/read", needReceived, a.markRead(false)},
	}
}

// markRead marks a received fax read or unread for the caller: read
// marks are kept per caller (c.reader: the token's name, or the user's),
// so each caller's mailbox unread filter and counts are their own.
// Marking twice answers the same.
func (a *API) markRead(read bool) func(http.ResponseWriter, *http.Request, *caller) error {
	return func(w http.ResponseWriter, r *http.Request, c *caller) error {
		rec, err := a.received(r)
		if err != nil {
			return err
		}
		if err := a.inbound.MarkRead(r.Context(), rec.Key, c.reader(), read); err != nil {
			return inboundErr(err)
		}
		writeJSON(w, http.StatusOK, ReadMark{ID: rec.ID, Reader: c.reader(), Read: read})
		return nil
	}
}

func (a *API) receivedDocument(w http.ResponseWriter, r *http.Request, c *caller) error {
	rec, err := a.received(r)
	if err != nil {
		return err
	}
	q := newQuery(r)
	format := q.oneOf("format", "pdf", "tiff")
	if err := q.err("format"); err != nil {
		return err
	}
	if format == "" {
		format = "pdf"
	}
	ct, data, err := a.archive.RecordDocument(r.Context(), rec)
	if errors.Is(err, archive.ErrNotFound) {
		return notFound("received fax %d has no document (no page arrived, or it was purged)", rec.ID)
	}
	if err != nil {
		return err
	}
	name := fmt.Sprintf("received-%d", rec.ID)
	switch {
	case format == "pdf":
		// The same bytes the email and webhook deliveries attach.
		pdf, err := a.archive.RecordPDF(r.Context(), rec)
		if err != nil {
			return fmt.Errorf("received fax %d: %w", rec.ID, err)
		}
		return sendFile(w, "application/pdf", name+".pdf", pdf)
	case ct == "image/tiff":
		return sendFile(w, ct, name+".tif", data)
	}
	return newProblem(http.StatusNotAcceptable, "not-acceptable-format", "received fax %d is archived as %s; ask for format=pdf", rec.ID, ct)
}

// receivedThumbnail is a grey PNG preview of one page of a received fax,
// for consoles and lists: every pixel the average of the page area it
// covers, the height following the physical page.
func (a *API) receivedThumbnail(w http.ResponseWriter, r *http.Request, c *caller) error {
	rec, err := a.received(r)
	if err != nil {
		return err
	}
	page, width, err := thumbnailParams(r)
	if err != nil {
		return err
	}
	ct, data, err := a.archive.RecordDocument(r.Context(), rec)
	if errors.Is(err, archive.ErrNotFound) {
		return notFound("received fax %d has no document (no page arrived, or it was purged)", rec.ID)
	}
	if err != nil {
		return err
	}
	if ct != "image/tiff" {
		return newProblem(http.StatusNotAcceptable, "not-acceptable-format", "received fax %d is archived as %s; thumbnails are made from TIFF pages", rec.ID, ct)
	}
	return sendThumbnail(w, fmt.Sprintf("received fax %d", rec.ID), fmt.Sprintf("received-%d", rec.ID), data, page, width)
}

// thumbnailParams reads a thumbnail's page (from 1) and width in pixels.
func thumbnailParams(r *http.Request) (page, width int, err error) {
	q := newQuery(r)
	page = q.int("page", 1, 10000, 1)
	width = q.int("width", 50, 800, thumbnail.DefaultWidth)
	return page, width, q.err("page", "width")
}

// sendThumbnail answers with a PNG preview of page (from 1) of the TIFF
// pages in data; what names the fax in errors, name the file.
func sendThumbnail(w http.ResponseWriter, what, name string, data []byte, page, width int) error {
	f, err := tiff.Open(data, tiff.Limits{})
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if page > f.NumPages() {
		return notFound("%s has %d page(s); there is no page %d", what, f.NumPages(), page)
	}
	p, err := f.Page(page - 1)
	if err != nil {
		return fmt.Errorf("%s page %d: %w", what, page, err)
	}
	img := p.Bilevel
	if img == nil {
		img = p.Fax(1728, 0)
	}
	var buf bytes.Buffer
	if err := thumbnail.PNG(&buf, img, width); err != nil {
		return fmt.Errorf("%s page %d: %w", what, page, err)
	}
	return sendFile(w, "image/png", fmt.Sprintf("%s-page-%d.png", name, page), buf.Bytes())
}

func (a *API) reroute(w http.ResponseWriter, r *http.Request, c *caller) error {
	rec, err := a.received(r)
	if err != nil {
		return err
	}
	var in RerouteInput
	if err := decodeBody(r, &in); err != nil {
		return err
	}
	if in.Reason = strings.TrimSpace(in.Reason); in.Reason == "" || len(in.Reason) > maxRerouteReason {
		p := newProblem(http.StatusBadRequest, "invalid-request", "reason: say why the fax is rerouted, in 1 to %d characters", maxRerouteReason)
		p.Errors = []string{p.Detail}
		return p
	}
	if err := checkNotSealed("destination.secret", &in.Destination.Secret); err != nil {
		return err
	}
	if err := a.checkDestination(in.Destination); err != nil {
		return err
	}
	if rec.DocumentSHA256 == "" {
		return newProblem(http.StatusConflict, "state-conflict", "received fax %d has no pages (%s: %s); there is nothing to send on", rec.ID, rec.Result, rec.Reason)
	}
	rr, err := a.inbound.RerouteAudited(r.Context(), rec.Key, in.Destination.destination(), c.Name, in.Reason,
		func(ctx context.Context, tx pgx.Tx, rr inbound.Reroute) (int64, error) {
			ch := audit.Change{Action: "reroute", ObjectType: audit.ReceivedFax, ObjectID: strconv.FormatInt(rec.ID, 10),
				Before: map[string]string{"destination": rr.From}, After: viewReroute(rr),
				Detail: fmt.Sprintf("reroute %d: %s", rr.ID, rr.Reason)}
			a.stamp(&ch, r, c)
			return audit.Record(ctx, tx, ch)
		})
	if err != nil {
		return inboundErr(err)
	}
	// The archive lists the fax as rerouted; the audit trail is the record.
	if err := a.archive.SetRouting(r.Context(), rec.Key, archive.Rerouted, rr.To); err != nil {
		a.log.Warn("reroute not marked in the archive", "fax", rec.ID, "err", err)
	}
	a.log.Info("received fax rerouted", "fax", rec.ID, "reroute", rr.ID, "to", rr.To, "by", c.Name)
	w.Header().Set("Location", fmt.Sprintf("/v1/received/%d/reroutes", rec.ID))
	writeJSON(w, http.StatusCreated, viewReroute(rr))
	return nil
}

func (a *API) listReroutes(w http.ResponseWriter, r *http.Request, c *caller) error {
	rec, err := a.received(r)
	if err != nil {
		return err
	}
	rrs, err := a.inbound.Reroutes(r.Context(), rec.Key)
	if err != nil {
		return err
	}
	out := make([]RerouteView, 0, len(rrs))
	for _, rr := range rrs {
		out = append(out, viewReroute(rr))
	}
	writeJSON(w, http.StatusOK, map[string]any{"reroutes": out})
	return nil
}

// MailboxEntry is a received fax filed in a mailbox. Read is the
// caller's own mark (POST /v1/received/{id}/read). Fax is absent when the
// archive no longer holds it.
type MailboxEntry struct {
	ID        int64        `json:"id"`
	Read      bool         `json:"read"`
	CreatedAt time.Time    `json:"created_at"`
	Fax       *ReceivedFax `json:"fax,omitempty"`
}

func (a *API) listMailboxes(w http.ResponseWriter, r *http.Request, c *caller) error {
	if err := a.needInbound(); err != nil {
		return err
	}
	ms, err := a.inbound.Mailboxes(r.Context(), c.reader())
	if err != nil {
		return err
	}
	if c.restricted() {
		g, err := a.users.Grants(r.Context(), c.user.ID)
		if err != nil {
			return err
		}
		ms = grantedOnly(ms, func(m inbound.MailboxSummary) string { return m.Mailbox }, g)
	}
	if ms == nil {
		ms = []inbound.MailboxSummary{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"mailboxes": ms})
	return nil
}

func (a *API) getMailbox(w http.ResponseWriter, r *http.Request, c *caller) error {
	if err := a.needInbound(); err != nil {
		return err
	}
	name := r.PathValue("name")
	if err := (inbound.Destination{Kind: inbound.DestMailbox, Mailbox: name}).Validate(); err != nil {
		return notFound("%q is not a mailbox name", name)
	}
	q := newQuery(r)
	unread, limit := q.bool("unread"), q.int("limit", 1, 1000, 100)
	if err := q.err("unread", "limit"); err != nil {
		return err
	}
	if err := a.mayReadMailbox(r, c, name); err != nil {
		return err
	}
	es, err := a.inbound.Mailbox(r.Context(), name, c.reader(), unread, limit)
	if err != nil {
		return err
	}
	out := make([]MailboxEntry, 0, len(es))
	for _, e := range es {
		me := MailboxEntry{ID: e.ID, Read: e.Read, CreatedAt: e.CreatedAt}
		rec, err := a.archive.GetByKey(r.Context(), e.FaxRef)
		switch {
		case err == nil:
			f := viewReceived(rec)
			me.Fax = &f
		case !errors.Is(err, archive.ErrNotFound):
			return err
		}
		out = append(out, me)
	}
	writeJSON(w, http.StatusOK, map[string]any{"mailbox": name, "entries": out})
	return nil
}

// ArchivedFax is an archived fax, sent or received, as the archive
// search shows it.
type ArchivedFax struct {
	ID              int64          `json:"id"`
	Direction       string         `json:"direction"`
	Result          string         `json:"result"`
	Reason          string         `json:"reason,omitempty"`
	Class           string         `json:"class,omitempty"`
	LocalNumber     string         `json:"local_number"`
	RemoteNumber    string         `json:"remote_number"`
	RemoteStationID string         `json:"remote_station_id"`
	Pages           int            `json:"pages"`
	PagesTotal      int            `json:"pages_total"`
	Attempts        int            `json:"attempts"`
	Gateway         string         `json:"gateway,omitempty"`
	Node            string         `json:"node,omitempty"`
	Submitter       string         `json:"submitter,omitempty"`
	FaxID           int64          `json:"fax_id,omitempty"`
	StartedAt       *time.Time     `json:"started_at,omitempty"`
	FinishedAt      time.Time      `json:"finished_at"`
	DurationMS      int64          `json:"duration_ms"`
	Routing         string         `json:"routing,omitempty"`
	RoutedTo        string         `json:"routed_to,omitempty"`
	HasDocument     bool           `json:"has_document"`
	Metadata        map[string]any `json:"metadata"`
	ArchivedAt      time.Time      `json:"archived_at"`
	// Set for a fax whose documents were deleted for good.
	DeletedAt    *time.Time `json:"deleted_at,omitempty"`
	DeletedBy    string     `json:"deleted_by,omitempty"`
	DeleteReason string     `json:"delete_reason,omitempty"`
}

func viewArchived(r archive.Record) ArchivedFax {
	f := ArchivedFax{ID: r.ID, Direction: string(r.Direction), Result: r.Result, Reason: r.Reason, Class: r.Class,
		LocalNumber: r.LocalNumber, RemoteNumber: r.RemoteNumber, RemoteStationID: r.RemoteStationID,
		Pages: r.Pages, PagesTotal: r.PagesTotal, Attempts: r.Attempts, Gateway: r.Gateway, Node: r.NodeID,
		Submitter: r.Submitter, FaxID: r.JobID, FinishedAt: r.FinishedAt, DurationMS: r.DurationMS,
		Routing: r.Routing, RoutedTo: r.RoutedTo, HasDocument: r.DocumentSHA256 != "", Metadata: r.Metadata,
		ArchivedAt: r.ArchivedAt, DeletedAt: deletedAt(r), DeletedBy: r.DeletedBy, DeleteReason: r.DeleteReason}
	if f.Metadata == nil {
		f.Metadata = map[string]any{}
	}
	if !r.StartedAt.IsZero() {
		t := r.StartedAt
		f.StartedAt = &t
	}
	return f
}

// ArchiveList is a page of the archive search; NextCursor continues it.
type ArchiveList struct {
	Faxes      []ArchivedFax `json:"faxes"`
	NextCursor string        `json:"next_cursor,omitempty"`
}

// searchArchive lists archived faxes, newest first. Submitters see their
// own sent faxes only; received faxes belong to no submitter.
func (a *API) searchArchive(w http.ResponseWriter, r *http.Request, c *caller) error {
	if a.archive == nil {
		return newProblem(http.StatusServiceUnavailable, "unavailable", "the archive is not served by this server")
	}
	q := newQuery(r)
	f := archive.Filter{Direction: archive.Direction(q.oneOf("direction", "outbound", "inbound")),
		Result:    q.oneOf("result", "sent", "failed", "cancelled", "received", "receive_failed"),
		Number:    inbound.NormalizeNumber(q.str("number")),
		Submitter: q.str("submitter"), Routing: q.oneOf("routing", archive.Routed, archive.Unrouted, archive.Rerouted),
		From: q.time("finished_after"), To: q.time("finished_before"), Cursor: q.str("cursor"),
		Limit: q.int("limit", 1, 500, 50)}
	if err := q.err("direction", "result", "number", "submitter", "routing", "finished_after", "finished_before", "limit", "cursor"); err != nil {
		return err
	}
	if !c.operator() {
		if f.Submitter != "" && f.Submitter != c.Name {
			return newProblem(http.StatusForbidden, "forbidden", "a submitter token searches only its own faxes; leave out submitter or use %q", c.Name)
		}
		if f.Direction == archive.Inbound {
			return newProblem(http.StatusForbidden, "forbidden", "received faxes need an admin token")
		}
		f.Submitter, f.Direction = c.Name, archive.Outbound
	}
	recs, next, err := a.archive.Search(r.Context(), f)
	if err != nil {
		return archiveErr(err)
	}
	out := ArchiveList{Faxes: make([]ArchivedFax, 0, len(recs)), NextCursor: next}
	for _, rec := range recs {
		out.Faxes = append(out.Faxes, viewArchived(rec))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}
