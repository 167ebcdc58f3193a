package archive

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// TopicJobDeleted is what the queue writes when a finished job's
// documents are deleted: the archive removes its copy and keeps who
// deleted it, when and why.
const TopicJobDeleted = "queue.job.deleted"

// Deletion is a deleted fax's tombstone.
type Deletion struct {
	At     time.Time `json:"deleted_at"`
	By     string    `json:"deleted_by"`
	Reason string    `json:"delete_reason"`
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
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var sha string
		err := tx.QueryRow(ctx, sqlTombstone, key, version, d.At, d.By, d.Reason).Scan(&sha)
		if errors.Is(err, pgx.ErrNoRows) {
			var exists bool
			if err := tx.QueryRow(ctx, sqlRecordExists, key).Scan(&exists); err != nil {
				return err
			}
			if !exists {
				return fmt.Errorf("%w: no record %s to delete", ErrTerminal, key)
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
