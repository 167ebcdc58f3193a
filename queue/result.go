package queue

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// sqlSetResult: $1 id, $2 token, $3 the call details as JSON. It touches
// only metadata.result, so the submitter's metadata is kept.
const sqlSetResult = `
UPDATE jobs SET metadata = jsonb_set(metadata, '{result}', $3::jsonb), updated_at = now()
WHERE id = $1 AND token = $2 AND state = 'sending'
RETURNING 1`

// SetResult records the details of the holder's current call attempt under
// the job's metadata "result" (gateway, remote_station_id, duration_ms,
// bit_rate, ecm, coding, ...). The channel calls it before Complete or Fail
// so that the final record in the outbox, and so the archive, carries them.
// A token that no longer holds the job gets ErrStaleToken.
func (q *Queue) SetResult(ctx context.Context, id, token int64, result map[string]any) error {
	b, err := json.Marshal(result)
	if err != nil {
		return fmt.Errorf("%w: result: %v", ErrInvalidRequest, err)
	}
	var one int
	err = q.pool.QueryRow(ctx, sqlSetResult, id, token, b).Scan(&one)
	if errors.Is(err, pgx.ErrNoRows) {
		return q.diagnose(ctx, "set result", id, token)
	}
	if err != nil {
		return fmt.Errorf("queue: set result of job %d: %w", id, err)
	}
	return nil
}
