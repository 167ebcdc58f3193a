package queue

import (
	"context"
	"strconv"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// Waiter wakes idle workers when work arrives (LISTEN/NOTIFY on one
// dedicated connection), with polling as the fall-back when notifications
// are lost or the connection is down. It also delivers cancel requests to
// the holders of sending jobs.
type Waiter struct {
	q    *Queue
	poll time.Duration

	mu      sync.Mutex
	seq     uint64        // notifications seen
	wake    chan struct{} // closed and replaced at each notification
	cancels map[int64][]chan struct{}
	up      bool

	stop context.CancelFunc
	done chan struct{}
}

// NewWaiter starts a waiter; poll bounds how long Wait blocks without a
// notification (default 1s). Close it when done.
func (q *Queue) NewWaiter(poll time.Duration) *Waiter {
	if poll <= 0 {
		poll = time.Second
	}
	ctx, cancel := context.WithCancel(context.Background())
	w := &Waiter{q: q, poll: poll, wake: make(chan struct{}), cancels: map[int64][]chan struct{}{},
		stop: cancel, done: make(chan struct{})}
	go w.run(ctx)
	return w
}

// Close stops the waiter and its connection.
func (w *Waiter) Close() {
	w.stop()
	<-w.done
}

// Listening reports whether the notification connection is up.
func (w *Waiter) Listening() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.up
}

// Mark returns a position to wait from: take it before looking for work,
// and WaitSince(mark) returns at once if work was announced in between.
func (w *Waiter) Mark() uint64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.seq
}

// Wait blocks until work is announced, the poll interval passes, or ctx
// ends.
func (w *Waiter) Wait(ctx context.Context) error { return w.WaitSince(ctx, w.Mark()) }

// WaitSince is Wait, returning at once if work was announced after mark.
func (w *Waiter) WaitSince(ctx context.Context, mark uint64) error {
	w.mu.Lock()
	if w.seq != mark {
		w.mu.Unlock()
		return nil
	}
	ch := w.wake
	w.mu.Unlock()
	t := time.NewTimer(w.poll)
	defer t.Stop()
	select {
	case <-ch:
		return nil
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// CancelRequested returns a channel closed when a cancel of job id is
// announced. Call release when no longer interested. Notifications can be
// lost: holders also learn of a cancel from Progress.
func (w *Waiter) CancelRequested(id int64) (ch <-chan struct{}, release func()) {
	c := make(chan struct{})
	w.mu.Lock()
	w.cancels[id] = append(w.cancels[id], c)
	w.mu.Unlock()
	return c, func() {
		w.mu.Lock()
		defer w.mu.Unlock()
		list := w.cancels[id]
		for i, x := range list {
			if x == c {
				list = append(list[:i], list[i+1:]...)
				break
			}
		}
		if len(list) == 0 {
			delete(w.cancels, id)
		} else {
			w.cancels[id] = list
		}
	}
}

func (w *Waiter) broadcast() {
	w.mu.Lock()
	w.seq++
	close(w.wake)
	w.wake = make(chan struct{})
	w.mu.Unlock()
}

func (w *Waiter) cancelled(id int64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, c := range w.cancels[id] {
		close(c)
	}
	delete(w.cancels, id)
}

func (w *Waiter) setUp(up bool) {
	w.mu.Lock()
	w.up = up
	w.mu.Unlock()
}

func (w *Waiter) run(ctx context.Context) {
	defer close(w.done)
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		err := w.listen(ctx)
		w.setUp(false)
		if ctx.Err() != nil {
			return
		}
		w.q.log.Warn("queue: notification connection lost, polling", "err", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 5*time.Second)
	}
}

func (w *Waiter) listen(ctx context.Context) error {
	conn, err := pgx.ConnectConfig(ctx, w.q.pool.Config().ConnConfig.Copy())
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	for _, ch := range []string{channelReady, channelCancel} {
		if _, err := conn.Exec(ctx, "LISTEN "+ch); err != nil {
			return err
		}
	}
	w.setUp(true)
	// Notifications may have been missed while down.
	w.broadcast()
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return err
		}
		switch n.Channel {
		case channelReady:
			w.broadcast()
		case channelCancel:
			if id, err := strconv.ParseInt(n.Payload, 10, 64); err == nil {
				w.cancelled(id)
			}
		}
	}
}
