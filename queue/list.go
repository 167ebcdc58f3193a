package queue

import (
	"context"
	"fmt"
	"time"
)

// ListFilter selects jobs for List. Zero fields do not filter.
type ListFilter struct {
	States        []State
	Destination   string
	Submitter     string
	CreatedAfter  time.Time // exclusive
	CreatedBefore time.Time // exclusive
	// BeforeID continues a listing: only jobs with a smaller id (keyset
	// pagination, newest first, stable while jobs are added).
	BeforeID int64
	Limit    int // default 50, at most 1000
}

// sqlList: newest first. Each filter is skipped when its parameter is
// NULL, so one statement serves every combination.
const sqlList = `
SELECT ` + jobCols + ` FROM jobs
WHERE ($1::text[] IS NULL OR state = ANY ($1))
  AND ($2::text IS NULL OR destination = $2)
  AND ($3::text IS NULL OR submitter = $3)
  AND ($4::timestamptz IS NULL OR created_at > $4)
  AND ($5::timestamptz IS NULL OR created_at < $5)
  AND ($6::bigint IS NULL OR id < $6)
ORDER BY id DESC
LIMIT $7`

// List returns jobs matching f, newest first.
func (q *Queue) List(ctx context.Context, f ListFilter) ([]Job, error) {
	if f.Limit <= 0 {
		f.Limit = 50
	}
	if f.Limit > 1000 {
		return nil, fmt.Errorf("%w: limit %d above 1000", ErrInvalidRequest, f.Limit)
	}
	var states []string
	for _, s := range f.States {
		states = append(states, string(s))
	}
	opt := func(s string) *string {
		if s == "" {
			return nil
		}
		return &s
	}
	optTime := func(t time.Time) *time.Time {
		if t.IsZero() {
			return nil
		}
		return &t
	}
	var before *int64
	if f.BeforeID > 0 {
		before = &f.BeforeID
	}
	rows, err := q.pool.Query(ctx, sqlList, states, opt(f.Destination), opt(f.Submitter),
		optTime(f.CreatedAfter), optTime(f.CreatedBefore), before, f.Limit)
	if err != nil {
		return nil, fmt.Errorf("queue: list: %w", err)
	}
	jobs, err := collectJobs(rows)
	if err != nil {
		return nil, fmt.Errorf("queue: list: %w", err)
	}
	return jobs, nil
}
