package queue

import (
	"context"
	"fmt"
	"time"
)

// Depth is how much work the queue holds now, for monitoring.
type Depth struct {
	Due       int64         // pending and due: waiting for a free channel
	Scheduled int64         // pending with run_at ahead: send_after or backing off
	Sending   int64         // claimed by a node
	OldestDue time.Duration // how long the oldest due job has waited past its run_at; 0 when none
}

// Depth counts the jobs that are not final.
func (q *Queue) Depth(ctx context.Context) (Depth, error) {
	var d Depth
	var oldest float64
	if err := q.pool.QueryRow(ctx, sqlDepth).Scan(&d.Due, &d.Scheduled, &d.Sending, &oldest); err != nil {
		return Depth{}, fmt.Errorf("queue depth: %w", err)
	}
	d.OldestDue = time.Duration(oldest * float64(time.Second))
	return d, nil
}
