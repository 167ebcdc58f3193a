// Package archive is faxd's shared archive: every completed outbound fax
// and every received fax, in a database of its own that outlives any fax
// server.
//
// Records reach it through a transactional outbox. A queue transition
// writes an outbox row in its own transaction; the Relay publishes outbox
// rows to a JetStream stream (with the row's identity as the message id, so
// a row published twice is stored once); the Archiver, a durable consumer
// running on every node, upserts each record idempotently and only then
// acknowledges it. While NATS is down the rows wait in the outbox; while the
// archive database is down the messages wait in the stream. Nothing is lost
// and nothing is written twice.
package archive

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Direction of a fax.
type Direction string

const (
	Outbound Direction = "outbound"
	Inbound  Direction = "inbound"
)

// Record is one archived fax.
type Record struct {
	ID              int64          `json:"id,omitempty"`
	Key             string         `json:"key"`     // unique across sources: source/key
	Source          string         `json:"source"`  // the queue database it came from
	Version         int64          `json:"version"` // outbox id: a higher version replaces a lower one
	Direction       Direction      `json:"direction"`
	Result          string         `json:"result"` // sent, failed, cancelled, received, receive_failed
	Reason          string         `json:"reason,omitempty"`
	Class           string         `json:"class,omitempty"`
	LocalNumber     string         `json:"local_number,omitempty"`  // outbound: caller id; inbound: dialled number
	RemoteNumber    string         `json:"remote_number,omitempty"` // outbound: destination; inbound: caller
	RemoteStationID string         `json:"remote_station_id,omitempty"`
	Header          string         `json:"header,omitempty"`
	Pages           int            `json:"pages"`
	PagesTotal      int            `json:"pages_total"`
	Attempts        int            `json:"attempts"`
	Gateway         string         `json:"gateway,omitempty"`
	NodeID          string         `json:"node_id,omitempty"`
	Submitter       string         `json:"submitter,omitempty"`
	JobID           int64          `json:"job_id,omitempty"`
	SubmittedAt     time.Time      `json:"submitted_at,omitzero"`
	StartedAt       time.Time      `json:"started_at,omitzero"`
	FinishedAt      time.Time      `json:"finished_at"`
	DurationMS      int64          `json:"duration_ms"`
	Document        string         `json:"document,omitempty"`
	DocumentSHA256  string         `json:"document_sha256,omitempty"`
	Routing         string         `json:"routing,omitempty"` // inbound: routed or unrouted
	RoutedTo        string         `json:"routed_to,omitempty"`
	Metadata        map[string]any `json:"metadata,omitempty"`
	ArchivedAt      time.Time      `json:"archived_at,omitzero"`
	// DeletedAt is set once the fax's document was deleted for good;
	// the record stays as its tombstone (who, when, why).
	DeletedAt    time.Time `json:"deleted_at,omitzero"`
	DeletedBy    string    `json:"deleted_by,omitempty"`
	DeleteReason string    `json:"delete_reason,omitempty"`
}

// ErrNotFound means no archived fax has that id.
var ErrNotFound = errors.New("archive: fax not found")

// Store reads and writes the archive database.
type Store struct {
	pool *pgxpool.Pool
}

// NewStore uses pool, whose database has schemas.Archive applied.
func NewStore(pool *pgxpool.Pool) *Store { return &Store{pool: pool} }

// Upsert writes r unless the archive already holds the same or a newer
// version of it. It reports whether a row was written.
func (s *Store) Upsert(ctx context.Context, r Record) (bool, error) {
	if r.Key == "" || r.Source == "" {
		return false, errors.New("archive: record without key or source")
	}
	full, err := json.Marshal(r)
	if err != nil {
		return false, err
	}
	meta := r.Metadata
	if meta == nil {
		meta = map[string]any{}
	}
	tag, err := s.pool.Exec(ctx, sqlUpsert,
		r.Key, r.Source, r.Version, r.Direction, r.Result, r.Reason, r.Class,
		r.LocalNumber, r.RemoteNumber, r.RemoteStationID, r.Header, r.Pages, r.PagesTotal, r.Attempts,
		r.Gateway, r.NodeID, r.Submitter, nullInt(r.JobID), nullTime(r.SubmittedAt), nullTime(r.StartedAt),
		r.FinishedAt, r.DurationMS, r.Document, r.DocumentSHA256, r.Routing, r.RoutedTo, meta, full)
	if err != nil {
		return false, fmt.Errorf("archive: upsert %s: %w", r.Key, err)
	}
	return tag.RowsAffected() == 1, nil
}

// PutDocument stores a document under its SHA-256; storing it again is a
// no-op.
func (s *Store) PutDocument(ctx context.Context, sha256, contentType string, data []byte) error {
	_, err := s.pool.Exec(ctx, sqlPutDocument, sha256, contentType, int64(len(data)), data)
	if err != nil {
		return fmt.Errorf("archive: store document %s: %w", sha256, err)
	}
	return nil
}

// Document returns a stored document.
func (s *Store) Document(ctx context.Context, sha256 string) (contentType string, data []byte, err error) {
	err = s.pool.QueryRow(ctx, sqlGetDocument, sha256).Scan(&contentType, &data)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", nil, fmt.Errorf("%w: document %s", ErrNotFound, sha256)
	}
	return contentType, data, err
}

// Get returns the archived fax with the given id.
func (s *Store) Get(ctx context.Context, id int64) (Record, error) {
	rows, err := s.pool.Query(ctx, sqlSelect+" WHERE id = $1", id)
	if err != nil {
		return Record{}, err
	}
	recs, err := pgx.CollectRows(rows, scanRecord)
	if err != nil {
		return Record{}, err
	}
	if len(recs) == 0 {
		return Record{}, fmt.Errorf("%w: %d", ErrNotFound, id)
	}
	return recs[0], nil
}

// Filter selects archived faxes; zero fields match everything.
type Filter struct {
	Direction Direction
	Result    string
	Number    string // matches the local or the remote number
	// LocalNumber is our side (a received fax's dialled number, an
	// outbound fax's caller id); RemoteNumber the other (a received
	// fax's caller, an outbound fax's destination).
	LocalNumber, RemoteNumber string
	Submitter                 string
	Routing                   string // "unrouted" lists what administrators must route by hand
	From, To                  time.Time
	// Cursor continues a listing where the previous page ended.
	Cursor string
	Limit  int // default 50, at most 500
}

// Search lists archived faxes, newest first, and the cursor of the next
// page ("" at the end).
func (s *Store) Search(ctx context.Context, f Filter) ([]Record, string, error) {
	limit := f.Limit
	if limit <= 0 {
		limit = 50
	}
	limit = min(limit, 500)
	q, args, err := searchSQL(f, limit+1)
	if err != nil {
		return nil, "", err
	}
	// Planned for its values every time (an unnamed statement): a cached
	// generic plan judges "result = $1" by the average result and may walk
	// the newest-first index past a million sent faxes for a rare one.
	rows, err := s.pool.Query(ctx, q, append([]any{pgx.QueryExecModeExec}, args...)...)
	if err != nil {
		return nil, "", fmt.Errorf("archive: search: %w", err)
	}
	recs, err := pgx.CollectRows(rows, scanRecord)
	if err != nil {
		return nil, "", fmt.Errorf("archive: search: %w", err)
	}
	next := ""
	if len(recs) > limit {
		recs = recs[:limit]
		last := recs[limit-1]
		next = encodeCursor(last.FinishedAt, last.ID)
	}
	return recs, next, nil
}

// searchSQL builds the statement for f, reading at most n rows. Every
// filter has an index in the search's order, (finished_at, id) newest
// first, behind its equality columns (migration 0010), so a page is read
// from the front of an index however large the archive. Number (local or
// remote) is two branches, each on its own index, merged; a fax whose two
// numbers are the same is only in the first.
func searchSQL(f Filter, n int) (string, []any, error) {
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	var where []string
	if f.Direction != "" {
		where = append(where, "direction = "+arg(string(f.Direction)))
	}
	if f.Result != "" {
		where = append(where, "result = "+arg(f.Result))
	}
	if f.LocalNumber != "" {
		where = append(where, "local_number = "+arg(f.LocalNumber))
	}
	if f.RemoteNumber != "" {
		where = append(where, "remote_number = "+arg(f.RemoteNumber))
	}
	if f.Submitter != "" {
		where = append(where, "submitter = "+arg(f.Submitter))
	}
	if f.Routing != "" {
		where = append(where, "routing = "+arg(f.Routing))
	}
	if !f.From.IsZero() {
		where = append(where, "finished_at >= "+arg(f.From))
	}
	if !f.To.IsZero() {
		where = append(where, "finished_at < "+arg(f.To))
	}
	if f.Cursor != "" {
		at, id, err := decodeCursor(f.Cursor)
		if err != nil {
			return "", nil, err
		}
		where = append(where, "(finished_at, id) < ("+arg(at)+", "+arg(id)+")")
	}
	order := " ORDER BY finished_at DESC, id DESC LIMIT " + strconv.Itoa(n)
	branch := func(extra ...string) string {
		conds := append(extra, where...)
		q := sqlSelect
		if len(conds) > 0 {
			q += " WHERE " + strings.Join(conds, " AND ")
		}
		return q + order
	}
	if f.Number == "" {
		return branch(), args, nil
	}
	num := arg(f.Number)
	q := "SELECT * FROM ((" + branch("local_number = "+num) + ") UNION ALL (" +
		branch("remote_number = "+num, "local_number <> "+num) + ")) b" + order
	return q, args, nil
}

// ErrBadCursor means a listing cursor was not one Search returned.
var ErrBadCursor = errors.New("archive: invalid cursor")

func encodeCursor(at time.Time, id int64) string {
	return strconv.FormatInt(at.UnixMicro(), 36) + "." + strconv.FormatInt(id, 36)
}

func decodeCursor(c string) (time.Time, int64, error) {
	a, b, ok := strings.Cut(c, ".")
	us, err1 := strconv.ParseInt(a, 36, 64)
	id, err2 := strconv.ParseInt(b, 36, 64)
	if !ok || err1 != nil || err2 != nil {
		return time.Time{}, 0, ErrBadCursor
	}
	return time.UnixMicro(us), id, nil
}

// Purge deletes faxes finished more than age ago, and the documents no
// remaining fax refers to. It returns the number of faxes deleted.
func (s *Store) Purge(ctx context.Context, age time.Duration) (int64, error) {
	if age <= 0 {
		return 0, errors.New("archive: purge age must be positive")
	}
	var total int64
	for {
		tag, err := s.pool.Exec(ctx, sqlPurge, age.Seconds(), 1000)
		if err != nil {
			return total, fmt.Errorf("archive: purge: %w", err)
		}
		total += tag.RowsAffected()
		if tag.RowsAffected() < 1000 {
			break
		}
	}
	if _, err := s.pool.Exec(ctx, sqlPurgeDocuments); err != nil {
		return total, fmt.Errorf("archive: purge documents: %w", err)
	}
	return total, nil
}

func scanRecord(row pgx.CollectableRow) (Record, error) {
	var r Record
	var jobID *int64
	var sub, start, deleted *time.Time
	err := row.Scan(&r.ID, &r.Key, &r.Source, &r.Version, &r.Direction, &r.Result, &r.Reason, &r.Class,
		&r.LocalNumber, &r.RemoteNumber, &r.RemoteStationID, &r.Header, &r.Pages, &r.PagesTotal, &r.Attempts,
		&r.Gateway, &r.NodeID, &r.Submitter, &jobID, &sub, &start, &r.FinishedAt, &r.DurationMS,
		&r.Document, &r.DocumentSHA256, &r.Routing, &r.RoutedTo, &r.Metadata, &r.ArchivedAt,
		&deleted, &r.DeletedBy, &r.DeleteReason)
	if deleted != nil {
		r.DeletedAt = *deleted
	}
	if jobID != nil {
		r.JobID = *jobID
	}
	if sub != nil {
		r.SubmittedAt = *sub
	}
	if start != nil {
		r.StartedAt = *start
	}
	return r, err
}

func nullInt(v int64) *int64 {
	if v == 0 {
		return nil
	}
	return &v
}

func nullTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}
