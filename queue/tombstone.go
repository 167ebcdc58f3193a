package queue

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// ErrDeleted is returned for a job whose documents were deleted.
var ErrDeleted = errors.New("job deleted")

// Tombstone says who deleted a finished job's documents, when and why.
type Tombstone struct {
	At     time.Time
	By     string
	Reason string
}

// TombstoneError carries the tombstone of a deleted job; it matches
// ErrDeleted.
type TombstoneError struct {
	ID int64
	Tombstone
}

func (e *TombstoneError) Error() string {
	return fmt.Sprintf("queue: job %d deleted by %s at %s", e.ID, e.By, e.At.UTC().Format(time.RFC3339))
}

func (e *TombstoneError) Unwrap() error { return ErrDeleted }

// Tombstones returns the tombstones of those of the jobs ids that were
// deleted.
func (q *Queue) Tombstones(ctx context.Context, ids []int64) (map[int64]Tombstone, error) {
	rows, err := q.pool.Query(ctx, sqlTombstones, ids)
	if err != nil {
		return nil, fmt.Errorf("queue: tombstones: %w", err)
	}
	defer rows.Close()
	out := map[int64]Tombstone{}
	for rows.Next() {
		var id int64
		var t Tombstone
		if err := rows.Scan(&id, &t.At, &t.By, &t.Reason); err != nil {
			return nil, fmt.Errorf("queue: tombstones: %w", err)
		}
		out[id] = t
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("queue: tombstones: %w", err)
	}
	return out, nil
}

// Delete marks finished job id deleted inside tx (so that the caller can
// audit it in the same transaction) and returns the job as it was,
// document included: the caller then deletes that document set once tx
// has committed. A job not final is ErrInvalidTransition; a job already
// deleted is a *TombstoneError.
func (q *Queue) Delete(ctx context.Context, tx pgx.Tx, id int64, by, reason string) (Job, error) {
	j, err := scanJob(tx.QueryRow(ctx, sqlGetForDelete, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return Job{}, fmt.Errorf("queue: delete job %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return Job{}, fmt.Errorf("queue: delete job %d: %w", id, err)
	}
	var t Tombstone
	var at *time.Time
	if err := tx.QueryRow(ctx, sqlTombstone, id).Scan(&at, &t.By, &t.Reason); err != nil {
		return Job{}, fmt.Errorf("queue: delete job %d: %w", id, err)
	}
	if at != nil {
		t.At = *at
		return j, &TombstoneError{ID: id, Tombstone: t}
	}
	if !j.State.Final() {
		return j, fmt.Errorf("queue: delete job %d (%s): %w", id, j.State, ErrInvalidTransition)
	}
	if _, err := tx.Exec(ctx, sqlMarkDeleted, id, by, reason); err != nil {
		return Job{}, fmt.Errorf("queue: delete job %d: %w", id, err)
	}
	if _, err := tx.Exec(ctx, sqlOutboxDeleted, id); err != nil {
		return Job{}, fmt.Errorf("queue: delete job %d: %w", id, err)
	}
	return j, nil
}
