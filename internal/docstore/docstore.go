// Package docstore keeps the documents of submitted faxes in the queue
// database: content-addressed blobs (SHA-256, stored once however many
// faxes use them) grouped into sets. A set holds the prepared fax pages
// (TIFF Class F) and the documents they were rendered from; its reference
// is what a queue job's Document names, so any server of the cluster can
// fetch the pages it has to send.
//
// A set's reference is derived from its sources and the rendering recipe,
// not from the rendered bytes, so a resubmission names the same set and
// the queue's idempotency check sees the same request.
//
// Between storing a set and queueing its job the set is pinned; Release
// drops the pin and deletes the set at once if no job names it (the job
// was refused), so a failed submission leaves nothing behind. GC removes
// what purged jobs no longer name.
package docstore

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// RefPrefix starts every set reference.
const RefPrefix = "docstore:"

// DefaultMaxBytes is the default size limit of one blob.
const DefaultMaxBytes = 64 << 20

// DefaultStalePin is how long a pin protects a set whose submitter never
// released it (the server died between storing and queueing).
const DefaultStalePin = time.Hour

var (
	// ErrNotFound: no such set or blob.
	ErrNotFound = errors.New("docstore: not found")
	// ErrTooLarge: a blob exceeds the configured limit.
	ErrTooLarge = errors.New("docstore: document too large")
	// ErrInvalid: a malformed reference or set.
	ErrInvalid = errors.New("docstore: invalid")
)

// Config tunes a Store; zero fields take defaults.
type Config struct {
	MaxBytes int64         // per blob
	StalePin time.Duration // see DefaultStalePin
}

// Store is the document store on the queue database.
type Store struct {
	pool *pgxpool.Pool
	cfg  Config
}

// New returns a store on pool, whose database has schemas.Queue applied.
func New(pool *pgxpool.Pool, cfg Config) *Store {
	if cfg.MaxBytes <= 0 {
		cfg.MaxBytes = DefaultMaxBytes
	}
	if cfg.StalePin <= 0 {
		cfg.StalePin = DefaultStalePin
	}
	return &Store{pool: pool, cfg: cfg}
}

// Hash is a blob's SHA-256.
type Hash [32]byte

func (h Hash) String() string { return hex.EncodeToString(h[:]) }

// Source is one submitted document.
type Source struct {
	Filename    string
	ContentType string
	Data        []byte
}

// NewSet is a set to store.
type NewSet struct {
	// Recipe names everything besides the sources that decided the pages
	// (resolution, page size, renderer version): part of the reference.
	Recipe    string
	Sources   []Source
	Pages     []byte // TIFF Class F
	PageCount int
}

// SourceInfo describes a stored source document.
type SourceInfo struct {
	Filename    string
	ContentType string
	SHA256      Hash
	Size        int64
}

// Set is a stored set.
type Set struct {
	Ref       string
	Pages     Hash
	PagesSize int64
	PageCount int
	Sources   []SourceInfo
	CreatedAt time.Time
}

// Ref computes the reference of a set from its recipe and sources.
func Ref(recipe string, sources []Source) string {
	h := sha256.New()
	fmt.Fprintf(h, "faxd docstore set v1\n%q\n", recipe)
	for _, s := range sources {
		sum := sha256.Sum256(s.Data)
		fmt.Fprintf(h, "%x %q\n", sum, s.ContentType)
	}
	return RefPrefix + hex.EncodeToString(h.Sum(nil))
}

// ValidRef reports whether ref looks like a set reference.
func ValidRef(ref string) bool {
	hexPart, ok := strings.CutPrefix(ref, RefPrefix)
	if !ok || len(hexPart) != 64 {
		return false
	}
	_, err := hex.DecodeString(hexPart)
	return err == nil
}

// Put stores a set and pins it; the caller must Release it once the job
// that names it is queued, or was refused. Storing a set that exists
// keeps the stored pages and only adds a pin.
func (s *Store) Put(ctx context.Context, n NewSet) (string, error) {
	if n.PageCount <= 0 || len(n.Pages) == 0 {
		return "", fmt.Errorf("%w: a set needs pages", ErrInvalid)
	}
	if len(n.Sources) == 0 {
		return "", fmt.Errorf("%w: a set needs at least one source document", ErrInvalid)
	}
	if int64(len(n.Pages)) > s.cfg.MaxBytes {
		return "", fmt.Errorf("%w: prepared pages are %d bytes, the limit is %d", ErrTooLarge, len(n.Pages), s.cfg.MaxBytes)
	}
	for _, src := range n.Sources {
		if int64(len(src.Data)) > s.cfg.MaxBytes {
			return "", fmt.Errorf("%w: %q is %d bytes, the limit is %d", ErrTooLarge, src.Filename, len(src.Data), s.cfg.MaxBytes)
		}
	}
	ref := Ref(n.Recipe, n.Sources)
	var err error
	// A concurrent GC may delete a blob between our existence check and
	// the set's foreign key check; the transaction then fails with a
	// foreign key violation and is simply tried again.
	for range 3 {
		err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error { return s.put(ctx, tx, ref, n) })
		var pe *pgconn.PgError
		if !errors.As(err, &pe) || pe.Code != "23503" {
			break
		}
	}
	if err != nil {
		return "", fmt.Errorf("docstore: put %s: %w", ref, err)
	}
	return ref, nil
}

func (s *Store) put(ctx context.Context, tx pgx.Tx, ref string, n NewSet) error {
	var exists bool
	err := tx.QueryRow(ctx, sqlPinSet, ref).Scan(&exists)
	if err == nil {
		return nil // the set is there: pinned, pages kept
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return err
	}
	pages, err := putBlob(ctx, tx, n.Pages, "image/tiff")
	if err != nil {
		return err
	}
	tag, err := tx.Exec(ctx, sqlInsertSet, ref, pages[:], n.PageCount)
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		// Inserted concurrently by another submission: pin theirs.
		return tx.QueryRow(ctx, sqlPinSet, ref).Scan(&exists)
	}
	for i, src := range n.Sources {
		h, err := putBlob(ctx, tx, src.Data, src.ContentType)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, sqlInsertSource, ref, i, h[:], src.Filename, src.ContentType); err != nil {
			return err
		}
	}
	return nil
}

// putBlob stores data unless a blob with its hash exists, and locks the
// row against deletion until the transaction ends.
func putBlob(ctx context.Context, tx pgx.Tx, data []byte, contentType string) (Hash, error) {
	h := Hash(sha256.Sum256(data))
	var one int
	err := tx.QueryRow(ctx, sqlLockBlob, h[:]).Scan(&one)
	if err == nil {
		return h, nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return h, err
	}
	if contentType == "" {
		contentType = "application/octet-stream"
	}
	if _, err := tx.Exec(ctx, sqlInsertBlob, h[:], contentType, len(data), data); err != nil {
		return h, err
	}
	return h, tx.QueryRow(ctx, sqlLockBlob, h[:]).Scan(&one)
}

// Release drops a pin taken by Put. When no pin is left and no job names
// the set, the set and the blobs only it used are deleted at once.
func (s *Store) Release(ctx context.Context, ref string) error {
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var pins int32
		var referenced bool
		err := tx.QueryRow(ctx, sqlUnpin, ref).Scan(&pins, &referenced)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("%w: set %s", ErrNotFound, ref)
		}
		if err != nil || pins > 0 || referenced {
			return err
		}
		_, err = deleteSet(ctx, tx, ref)
		return err
	})
	if err != nil {
		return fmt.Errorf("docstore: release %s: %w", ref, err)
	}
	return nil
}

// deleteSet deletes a set and then the blobs no other set uses.
func deleteSet(ctx context.Context, tx pgx.Tx, ref string) (int64, error) {
	rows, err := tx.Query(ctx, sqlDeleteSet, ref)
	if err != nil {
		return 0, err
	}
	blobs, err := pgx.CollectRows(rows, pgx.RowTo[[]byte])
	if err != nil {
		return 0, err
	}
	var n int64
	for _, b := range blobs {
		tag, err := tx.Exec(ctx, sqlDeleteBlobIfUnused, b)
		if err != nil {
			return n, err
		}
		n += tag.RowsAffected()
	}
	return n, nil
}

// Get returns a set's description.
func (s *Store) Get(ctx context.Context, ref string) (Set, error) {
	if !ValidRef(ref) {
		return Set{}, fmt.Errorf("%w: reference %q", ErrInvalid, ref)
	}
	set := Set{Ref: ref}
	var pages []byte
	var count int32
	err := s.pool.QueryRow(ctx, sqlGetSet, ref).Scan(&pages, &count, &set.CreatedAt, &set.PagesSize)
	if errors.Is(err, pgx.ErrNoRows) {
		return Set{}, fmt.Errorf("%w: set %s", ErrNotFound, ref)
	}
	if err != nil {
		return Set{}, fmt.Errorf("docstore: get %s: %w", ref, err)
	}
	copy(set.Pages[:], pages)
	set.PageCount = int(count)
	rows, err := s.pool.Query(ctx, sqlGetSources, ref)
	if err != nil {
		return Set{}, fmt.Errorf("docstore: get %s: %w", ref, err)
	}
	set.Sources, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (SourceInfo, error) {
		var si SourceInfo
		var h []byte
		err := r.Scan(&si.Filename, &si.ContentType, &h, &si.Size)
		copy(si.SHA256[:], h)
		return si, err
	})
	if err != nil {
		return Set{}, fmt.Errorf("docstore: get %s: %w", ref, err)
	}
	return set, nil
}

// Pages returns the prepared pages (TIFF Class F) of a set and their count.
func (s *Store) Pages(ctx context.Context, ref string) ([]byte, int, error) {
	set, err := s.Get(ctx, ref)
	if err != nil {
		return nil, 0, err
	}
	data, _, err := s.Blob(ctx, set.Pages)
	return data, set.PageCount, err
}

// Blob returns a blob's bytes and content type.
func (s *Store) Blob(ctx context.Context, h Hash) ([]byte, string, error) {
	var data []byte
	var ct string
	err := s.pool.QueryRow(ctx, sqlGetBlob, h[:]).Scan(&data, &ct)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, "", fmt.Errorf("%w: blob %s", ErrNotFound, h)
	}
	if err != nil {
		return nil, "", fmt.Errorf("docstore: blob %s: %w", h, err)
	}
	return data, ct, nil
}

// Delete deletes a set no job names, pinned or not, and the blobs only it
// used. A set a job still names is refused with ErrInvalid.
func (s *Store) Delete(ctx context.Context, ref string) error {
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var referenced bool
		err := tx.QueryRow(ctx, sqlLockSet, ref).Scan(&referenced)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("%w: set %s", ErrNotFound, ref)
		}
		if err != nil {
			return err
		}
		if referenced {
			return fmt.Errorf("%w: set %s is still used by a job", ErrInvalid, ref)
		}
		_, err = deleteSet(ctx, tx, ref)
		return err
	})
	if err != nil {
		return fmt.Errorf("docstore: delete %s: %w", ref, err)
	}
	return nil
}

// GCResult counts what GC removed.
type GCResult struct {
	Sets, Blobs int64
}

// GC deletes the sets no job names (after the queue purged them) whose
// pins are released or stale, then the blobs no set uses. Any number of
// servers may run it at once.
func (s *Store) GC(ctx context.Context) (GCResult, error) {
	var res GCResult
	rows, err := s.pool.Query(ctx, sqlGCSets, s.cfg.StalePin.Seconds())
	if err != nil {
		return res, fmt.Errorf("docstore: gc: %w", err)
	}
	refs, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return res, fmt.Errorf("docstore: gc: %w", err)
	}
	for _, ref := range refs {
		err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
			// Re-check under the row lock: a submission may have pinned it.
			var pins int32
			var pinnedAt *time.Time
			var referenced bool
			err := tx.QueryRow(ctx, sqlGCLock, ref).Scan(&pins, &pinnedAt, &referenced)
			if errors.Is(err, pgx.ErrNoRows) {
				return nil
			}
			if err != nil {
				return err
			}
			stale := pinnedAt == nil || time.Since(*pinnedAt) > s.cfg.StalePin
			if referenced || (pins > 0 && !stale) {
				return nil
			}
			n, err := deleteSet(ctx, tx, ref)
			res.Sets++
			res.Blobs += n
			return err
		})
		if err != nil {
			return res, fmt.Errorf("docstore: gc %s: %w", ref, err)
		}
	}
	// Blobs left by an interrupted deletion.
	tag, err := s.pool.Exec(ctx, sqlGCBlobs)
	if err != nil {
		return res, fmt.Errorf("docstore: gc blobs: %w", err)
	}
	res.Blobs += tag.RowsAffected()
	return res, nil
}
