package archive

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/faxd/faxd/t38/faxpdf"
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
