package queue

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// ListFilter selects jobs for List. Zero fields do not filter.
type ListFilter struct {
	States        []State
	Destination   string
	Submitter     string
	CreatedAfter  time.Time // exclusive
	CreatedBefore time.Time // exclusive
	// BeforeCreated and BeforeID continue a listing: only jobs before
	// that position in the order (keyset pagination, newest first, stable
	// while jobs are added). Both come from the last job of the previous
	// page; BeforeID alone is not a position.
	BeforeCreated time.Time
	BeforeID      int64
	Limit         int // default 50, at most 1000
}

// listSQL builds the statement for f. The listing is ordered by
// (created_at, id), newest first, and every filter has an index with that
// order behind its equality column (migration 0140), so a page costs the
// same with a million jobs as with a hundred. Each combination of filters
// is its own statement: a catch-all "$1 IS NULL OR ..." statement gets a
// generic plan that cannot use those indexes. Several states are one
// branch each, merged: an index scan over a list of values does not come
// out in order.
func listSQL(f ListFilter) (string, []any) {
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	var common []string
	if f.Destination != "" {
		common = append(common, "destination = "+arg(f.Destination))
	}
	if f.Submitter != "" {
		common = append(common, "submitter = "+arg(f.Submitter))
	}
	if !f.CreatedAfter.IsZero() {
		common = append(common, "created_at > "+arg(f.CreatedAfter))
	}
	if !f.CreatedBefore.IsZero() {
		common = append(common, "created_at < "+arg(f.CreatedBefore))
	}
	if f.BeforeID > 0 {
		common = append(common, "(created_at, id) < ("+arg(f.BeforeCreated)+", "+arg(f.BeforeID)+")")
	}
	limit := arg(f.Limit)
	const order = " ORDER BY created_at DESC, id DESC LIMIT "
	branch := func(extra string) string {
		conds := common
		if extra != "" {
			conds = append([]string{extra}, common...)
		}
		q := "SELECT " + jobCols + " FROM jobs"
		if len(conds) > 0 {
			q += " WHERE " + strings.Join(conds, " AND ")
		}
		return q + order + limit
	}
	var states []string
	for _, s := range f.States {
		if !slices.Contains(states, string(s)) {
			states = append(states, string(s))
		}
	}
	switch len(states) {
	case 0:
		return branch(""), args
	case 1:
		return branch("state = " + arg(states[0])), args
	}
	parts := make([]string, len(states))
	for i, s := range states {
		parts[i] = "(" + branch("state = "+arg(s)) + ")"
	}
	return "SELECT * FROM (" + strings.Join(parts, " UNION ALL ") + ") b" + order + limit, args
}

// List returns jobs matching f, newest first.
func (q *Queue) List(ctx context.Context, f ListFilter) ([]Job, error) {
	if f.Limit <= 0 {
		f.Limit = 50
	}
	if f.Limit > 1000 {
		return nil, fmt.Errorf("%w: limit %d above 1000", ErrInvalidRequest, f.Limit)
	}
	if f.BeforeID > 0 && f.BeforeCreated.IsZero() {
		return nil, fmt.Errorf("%w: BeforeID without BeforeCreated", ErrInvalidRequest)
	}
	sql, args := listSQL(f)
	// Planned for its values every time (an unnamed statement): a cached
	// generic plan judges "state = $1" by the average state and may walk
	// the newest-first index past a million pending jobs for a rare one.
	rows, err := q.pool.Query(ctx, sql, append([]any{pgx.QueryExecModeExec}, args...)...)
	if err != nil {
		return nil, fmt.Errorf("queue: list: %w", err)
	}
	jobs, err := collectJobs(rows)
	if err != nil {
		return nil, fmt.Errorf("queue: list: %w", err)
	}
	return jobs, nil
}
