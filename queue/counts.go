package queue

import (
	"context"
	"fmt"
	"time"
)

// Counts is the queue at a glance: how many jobs are in each state, and
// how many reached each final state since a given time.
type Counts struct {
	ByState       map[State]int
	FinishedSince map[State]int
}

// Counts counts the jobs. Every state appears in both maps, zero or not.
func (q *Queue) Counts(ctx context.Context, since time.Time) (Counts, error) {
	c := Counts{ByState: map[State]int{}, FinishedSince: map[State]int{}}
	for _, s := range []State{Pending, Sending, Sent, Failed, Cancelled} {
		c.ByState[s] = 0
		if s.Final() {
			c.FinishedSince[s] = 0
		}
	}
	rows, err := q.pool.Query(ctx, sqlCounts, since)
	if err != nil {
		return Counts{}, fmt.Errorf("queue: counts: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var s State
		var all, since int64
		if err := rows.Scan(&s, &all, &since); err != nil {
			return Counts{}, fmt.Errorf("queue: counts: %w", err)
		}
		c.ByState[s] = int(all)
		if s.Final() {
			c.FinishedSince[s] = int(since)
		}
	}
	return c, rows.Err()
}
