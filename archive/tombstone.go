package archive

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// TopicJobDeleted is what the queue writes when a finished job's
// documents are deleted: the archive removes its copy and keeps who
// deleted it, when and why.
const TopicJobDeleted = "queue.job.deleted"

// TopicRecordDeleted carries the deletion of a record named by its full
// archive key (a received fax): EmitDeletion writes it.
const TopicRecordDeleted = "archive.record.deleted"

// Deletion is a deleted fax's tombstone.
type Deletion struct {
	At     time.Time `json:"deleted_at"`
	By     string    `json:"deleted_by"`
	Reason string    `json:"delete_reason"`
	// DocumentSHA256, in a record's deletion (EmitDeletion), names the
	// pages the archiver also removes from the stream's object store.
	DocumentSHA256 string `json:"document_sha256,omitempty"`
}

// EmitDeletion writes the deletion of the record with the full archive
// key to the outbox inside the caller's transaction (with its audit
// entry, say). The archiver applies it once it arrives, even when the
// archive database was down when it was written; DeleteRecord applies it
// at once, and applying it twice changes nothing.
func EmitDeletion(ctx context.Context, tx interface {
	Exec(context.Context, string, ...any) (pgconn.CommandTag, error)
}, key string, d Deletion) error {
	if key == "" || d.At.IsZero() || d.By == "" {
		return errors.New("archive: emit deletion: key, time and deleter are required")
	}
	payload := struct {
		Key string `json:"key"`
		Deletion
	}{key, d}
	if _, err := tx.Exec(ctx, sqlOutboxInsert, TopicRecordDeleted, key, payload); err != nil {
		return fmt.Errorf("archive: emit deletion of %s: %w", key, err)
	}
	return nil
}

// DeleteRecord removes the document of the record with key (when no
// other record uses it) and records the deletion, in one transaction. The
// first deletion stays: a second one changes nothing. A record the
// archive does not hold wraps ErrTerminal and ErrNotFound.
func (s *Store) DeleteRecord(ctx context.Context, key string, d Deletion) error {
	return s.tombstone(ctx, key, sqlTombstoneRecord, key, d.At, d.By, d.Reason)
}

func decodeDeletion(payload []byte) (*Deletion, error) {
	var d Deletion
	if err := json.Unmarshal(payload, &d); err != nil {
		return nil, fmt.Errorf("job deletion: %w", err)
	}
	if d.At.IsZero() {
		return nil, errors.New("job deletion without deleted_at")
	}
	return &d, nil
}

// Tombstone removes the document of record key (when no other record uses
// it) and records the deletion, in one transaction. version is the
// deletion's outbox id: a redelivery, or the record's own older versions
// arriving late, change nothing. A record the archive does not hold is
// ErrTerminal (purged, or never archived): nothing is left to delete.
func (s *Store) Tombstone(ctx context.Context, key string, version int64, d Deletion) error {
	return s.tombstone(ctx, key, sqlTombstone, key, version, d.At, d.By, d.Reason)
}

// tombstone runs one of the tombstone statements, which return the
// document hash the record had, then deletes that document if unused.
func (s *Store) tombstone(ctx context.Context, key, stmt string, args ...any) error {
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var sha string
		err := tx.QueryRow(ctx, stmt, args...).Scan(&sha)
		if errors.Is(err, pgx.ErrNoRows) {
			var exists bool
			if err := tx.QueryRow(ctx, sqlRecordExists, key).Scan(&exists); err != nil {
				return err
			}
			if !exists {
				return fmt.Errorf("%w: no record %s to delete (%w)", ErrTerminal, key, ErrNotFound)
			}
			return nil // already deleted, or a newer version is there
		}
		if err != nil || sha == "" {
			return err
		}
		_, err = tx.Exec(ctx, sqlDeleteDocumentIfUnused, sha)
		return err
	})
	if err != nil {
		return fmt.Errorf("archive: delete %s: %w", key, err)
	}
	return nil
}
