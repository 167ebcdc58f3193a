package archive

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/faxd/faxd/internal/faxpdf"
	"github.com/faxd/faxd/internal/inbound"
	"github.com/faxd/faxd/internal/notify"
	"github.com/faxd/faxd/t38/tiff"
)

// Routing states of a received fax, in Record.Routing.
const (
	Unrouted = "unrouted" // no rule matched (or not routed yet): an administrator routes it by hand
	Routed   = "routed"   // a rule's destination has it
	Rerouted = "rerouted" // an administrator sent it on
)

// GetByKey returns the archived fax with the given record key.
func (s *Store) GetByKey(ctx context.Context, key string) (Record, error) {
	rows, err := s.pool.Query(ctx, sqlSelect+" WHERE record_key = $1", key)
	if err != nil {
		return Record{}, fmt.Errorf("archive: get %s: %w", key, err)
	}
	rec, err := pgx.CollectExactlyOneRow(rows, scanRecord)
	if errors.Is(err, pgx.ErrNoRows) {
		return Record{}, fmt.Errorf("%w: %s", ErrNotFound, key)
	}
	if err != nil {
		return Record{}, fmt.Errorf("archive: get %s: %w", key, err)
	}
	return rec, nil
}

// SetRouting records where inbound routing (or an administrator's
// reroute) sent a received fax, so the archive lists it as routed or
// unrouted.
func (s *Store) SetRouting(ctx context.Context, key, routing, routedTo string) error {
	tag, err := s.pool.Exec(ctx, sqlSetRouting, key, routing, routedTo)
	if err != nil {
		return fmt.Errorf("archive: routing of %s: %w", key, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("%w: %s", ErrNotFound, key)
	}
	return nil
}

// FaxOf is the received fax a record describes, as inbound routing sees
// it; its reference is the record key.
func FaxOf(r Record) inbound.Fax {
	return inbound.Fax{Ref: r.Key, DID: r.LocalNumber, Caller: r.RemoteNumber, RemoteID: r.RemoteStationID,
		Pages: r.Pages, Result: r.Result, Reason: r.Reason, Gateway: r.Gateway, Node: r.NodeID,
		StartedAt: r.StartedAt, FinishedAt: r.FinishedAt}
}

// Fax implements inbound.FaxSource: the received fax archived under the
// record key ref.
func (s *Store) Fax(ctx context.Context, ref string) (inbound.Fax, error) {
	r, err := s.GetByKey(ctx, ref)
	if errors.Is(err, ErrNotFound) {
		return inbound.Fax{}, fmt.Errorf("%w: received fax %s", inbound.ErrNotFound, ref)
	}
	if err != nil {
		return inbound.Fax{}, err
	}
	if r.Direction != Inbound {
		return inbound.Fax{}, fmt.Errorf("%w: %s is not a received fax", inbound.ErrNotFound, ref)
	}
	return FaxOf(r), nil
}

// PDF implements inbound.FaxSource and notify.Documents: the fax's
// document as PDF. A fax or document that is gone (purged, or a fax that
// arrived without pages) wraps notify.ErrNoDocument.
func (s *Store) PDF(ctx context.Context, ref string) ([]byte, error) {
	r, err := s.GetByKey(ctx, ref)
	if errors.Is(err, ErrNotFound) {
		return nil, fmt.Errorf("%w: fax %s is not in the archive", notify.ErrNoDocument, ref)
	}
	if err != nil {
		return nil, err
	}
	data, err := s.RecordPDF(ctx, r)
	if errors.Is(err, ErrNotFound) {
		return nil, fmt.Errorf("%w: %v", notify.ErrNoDocument, err)
	}
	return data, err
}

// RecordDocument returns an archived fax's document as stored (the TIFF
// Class F pages the relay copied, or a PDF), and its content type; a
// fax without one wraps ErrNotFound.
func (s *Store) RecordDocument(ctx context.Context, r Record) (contentType string, data []byte, err error) {
	if r.DocumentSHA256 == "" {
		return "", nil, fmt.Errorf("%w: fax %d has no archived document", ErrNotFound, r.ID)
	}
	return s.Document(ctx, r.DocumentSHA256)
}

// RecordPDF returns an archived fax's document as PDF: a stored PDF as
// is, stored TIFF pages converted (the same bytes every time).
func (s *Store) RecordPDF(ctx context.Context, r Record) ([]byte, error) {
	ct, data, err := s.RecordDocument(ctx, r)
	if err != nil {
		return nil, err
	}
	if ct == "application/pdf" {
		return data, nil
	}
	title := "Fax " + r.RemoteNumber
	if r.Direction == Inbound {
		title = "Fax from " + orUnknown(r.RemoteNumber, r.RemoteStationID)
	}
	return TIFFToPDF(data, faxpdf.Info{Title: title, Author: r.RemoteStationID})
}

func orUnknown(a, b string) string {
	if a != "" {
		return a
	}
	if b != "" {
		return b
	}
	return "unknown sender"
}

// TIFFToPDF converts fax pages in TIFF to a PDF, page for page at each
// page's resolution (the bits are re-coded as MMR, never re-rasterised).
// The output depends only on the input: Info.Created is left zero.
func TIFFToPDF(data []byte, info faxpdf.Info) ([]byte, error) {
	pages, err := tiff.Decode(data)
	if err != nil {
		return nil, fmt.Errorf("archive: fax pages: %w", err)
	}
	fp := make([]faxpdf.Page, len(pages))
	for i, p := range pages {
		fp[i] = faxpdf.Page{Image: p.Fax(0, 0), XDPI: int(p.XDPI), YDPI: int(p.YDPI)}
	}
	var buf bytes.Buffer
	if err := faxpdf.Write(&buf, fp, info); err != nil {
		return nil, fmt.Errorf("archive: pdf: %w", err)
	}
	return buf.Bytes(), nil
}

// Dispatcher is what RouteReceived needs of inbound routing
// (inbound.Router).
type Dispatcher interface {
	Dispatch(ctx context.Context, fax inbound.Fax) (inbound.Decision, error)
}

// RouteReceived routes an archived received fax once (Dispatch is
// idempotent per fax) and records the outcome in the archive: routed with
// its destination, or unrouted for an administrator. rec is the record as
// it came off the stream: until the archive holds that version of it the
// answer wraps ErrNotFound, so a follower of the stream retries (and a
// record archived again cannot undo the routing it records). A fax
// without pages is not routed (there is nothing to deliver).
func (s *Store) RouteReceived(ctx context.Context, d Dispatcher, rec Record) (inbound.Decision, error) {
	key := rec.Key
	r, err := s.GetByKey(ctx, key)
	if err != nil {
		return inbound.Decision{}, err
	}
	if r.Version < rec.Version {
		return inbound.Decision{}, fmt.Errorf("%w: version %d of %s not archived yet", ErrNotFound, rec.Version, key)
	}
	if r.Direction != Inbound || r.DocumentSHA256 == "" {
		return inbound.Decision{Destination: Unrouted}, nil
	}
	dec, err := d.Dispatch(ctx, FaxOf(r))
	if err != nil {
		return inbound.Decision{}, err
	}
	routing, to := Routed, dec.Destination
	switch {
	case dec.Destination == inbound.Unrouted:
		routing, to = Unrouted, ""
	case dec.Rule == nil:
		routing = Rerouted // a repeat after an administrator moved it
	}
	if r.Routing != routing || r.RoutedTo != to {
		if err := s.SetRouting(ctx, key, routing, to); err != nil {
			return inbound.Decision{}, err
		}
	}
	return dec, nil
}
