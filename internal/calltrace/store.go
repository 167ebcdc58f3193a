package calltrace

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// ErrNotFound means no trace was kept for that call.
var ErrNotFound = errors.New("calltrace: no trace")

// Store keeps traces in the queue database (schemas.Queue applied).
type Store struct{ pool *pgxpool.Pool }

// NewStore returns a store on pool.
func NewStore(pool *pgxpool.Pool) *Store { return &Store{pool: pool} }

const sqlInsert = `
INSERT INTO call_traces (direction, job_id, attempt, received_key, node_id, call_id, gateway, started_at, ended_at, result, events, dropped)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING id`

const traceCols = `id, direction, coalesce(job_id, 0), coalesce(attempt, 0), coalesce(received_key, ''), node_id, call_id, gateway,
	started_at, ended_at, result, events, dropped`

// The newest trace of an attempt (a job may hold the same attempt number
// twice when a node died mid-call and another resumed it).
const sqlByAttempt = `SELECT ` + traceCols + ` FROM call_traces WHERE job_id = $1 AND attempt = $2 ORDER BY id DESC LIMIT 1`

const sqlByReceived = `SELECT ` + traceCols + ` FROM call_traces WHERE received_key = $1 ORDER BY id DESC LIMIT 1`

// Inbound traces go with age; outbound ones go with their job (ON DELETE
// CASCADE), and by age too in case a job outlives them.
const sqlPurge = `DELETE FROM call_traces WHERE ended_at < now() - $1::interval`

// Save stores a finished trace.
func (s *Store) Save(ctx context.Context, t Trace) (int64, error) {
	events, err := json.Marshal(t.Events)
	if err != nil {
		return 0, fmt.Errorf("calltrace: %w", err)
	}
	var job, attempt, key any
	switch t.Direction {
	case Outbound:
		job, attempt = t.JobID, t.Attempt
	case Inbound:
		if t.ReceivedKey == "" {
			return 0, errors.New("calltrace: an inbound trace needs the received fax's key")
		}
		key = t.ReceivedKey
	default:
		return 0, fmt.Errorf("calltrace: direction %q", t.Direction)
	}
	var id int64
	err = s.pool.QueryRow(ctx, sqlInsert, t.Direction, job, attempt, key, t.Node, t.CallID, t.Gateway,
		t.StartedAt, t.EndedAt, t.Result, events, t.Dropped).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("calltrace: save: %w", err)
	}
	return id, nil
}

// ForAttempt returns the trace of a job's attempt.
func (s *Store) ForAttempt(ctx context.Context, job int64, attempt int) (Trace, error) {
	return s.one(ctx, sqlByAttempt, job, attempt)
}

// ForReceived returns the trace of the call that brought a received fax.
func (s *Store) ForReceived(ctx context.Context, key string) (Trace, error) {
	return s.one(ctx, sqlByReceived, key)
}

func (s *Store) one(ctx context.Context, q string, args ...any) (Trace, error) {
	var t Trace
	var attempt int32
	var events []byte
	var dropped int32
	err := s.pool.QueryRow(ctx, q, args...).Scan(&t.ID, &t.Direction, &t.JobID, &attempt, &t.ReceivedKey, &t.Node, &t.CallID,
		&t.Gateway, &t.StartedAt, &t.EndedAt, &t.Result, &events, &dropped)
	if errors.Is(err, pgx.ErrNoRows) {
		return Trace{}, ErrNotFound
	}
	if err != nil {
		return Trace{}, fmt.Errorf("calltrace: %w", err)
	}
	t.Attempt, t.Dropped = int(attempt), int(dropped)
	if err := json.Unmarshal(events, &t.Events); err != nil {
		return Trace{}, fmt.Errorf("calltrace: trace %d: %w", t.ID, err)
	}
	return t, nil
}

// Purge deletes traces of calls that ended more than age ago.
func (s *Store) Purge(ctx context.Context, age time.Duration) (int64, error) {
	tag, err := s.pool.Exec(ctx, sqlPurge, fmt.Sprintf("%d milliseconds", age.Milliseconds()))
	if err != nil {
		return 0, fmt.Errorf("calltrace: purge: %w", err)
	}
	return tag.RowsAffected(), nil
}
