package queue

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// sqlSetResult: $1 id, $2 token, $3 the call details as JSON. It touches
// only metadata.result (and drops metadata.call, the attempt being over),
// so the submitter's metadata is kept.
const sqlSetResult = `
UPDATE jobs SET metadata = jsonb_set(metadata - 'call', '{result}', $3::jsonb), updated_at = now()
WHERE id = $1 AND token = $2 AND state = 'sending'
RETURNING 1`

// sqlSetCall: $1 id, $2 token, $3 the call in progress as JSON, under
// metadata.call.
const sqlSetCall = `
UPDATE jobs SET metadata = jsonb_set(metadata, '{call}', $3::jsonb), updated_at = now()
WHERE id = $1 AND token = $2 AND state = 'sending'
RETURNING 1`

// SetResult records the details of the holder's current call attempt under
// the job's metadata "result" (gateway, remote_station_id, duration_ms,
// bit_rate, ecm, coding, ...). The channel calls it before Complete or Fail
// so that the final record in the outbox, and so the archive, carries them.
// It removes the "call" that SetCall left. A token that no longer holds the
// job gets ErrStaleToken.
func (q *Queue) SetResult(ctx context.Context, id, token int64, result map[string]any) error {
	return q.setMetadata(ctx, "set result", sqlSetResult, id, token, result)
}

// SetCall records the holder's call in progress under the job's metadata
// "call" (gateway, started_at, bit_rate once known), for the people
// watching the queue; SetResult removes it. A token that no longer holds
// the job gets ErrStaleToken.
func (q *Queue) SetCall(ctx context.Context, id, token int64, call map[string]any) error {
	return q.setMetadata(ctx, "set call", sqlSetCall, id, token, call)
}

func (q *Queue) setMetadata(ctx context.Context, op, sql string, id, token int64, v map[string]any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("%w: %s: %v", ErrInvalidRequest, op, err)
	}
	var one int
	err = q.pool.QueryRow(ctx, sql, id, token, b).Scan(&one)
	if errors.Is(err, pgx.ErrNoRows) {
		return q.diagnose(ctx, op, id, token)
	}
	if err != nil {
		return fmt.Errorf("queue: %s of job %d: %w", op, id, err)
	}
	return nil
}
