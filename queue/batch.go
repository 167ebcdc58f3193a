package queue

import (
	"context"
	"sync"
	"time"
)

// batcher merges concurrent calls into one database statement (group
// commit). The first caller leads: it runs the statement for every call
// queued so far, then hands the lead to the first call queued meanwhile. A
// lone caller runs at once, so there is no added latency; under load, one
// statement serves many channels. Each call keeps its own result and, for
// holder writes, its own fencing check.
type batcher[C any] struct {
	mu      sync.Mutex
	pending []*batchCall[C]
	busy    bool
	run     func(batch []C)
}

type batchCall[C any] struct {
	c    C
	done chan struct{}
	lead chan struct{}
}

func (b *batcher[C]) do(c C) {
	call := &batchCall[C]{c: c, done: make(chan struct{}), lead: make(chan struct{})}
	b.mu.Lock()
	b.pending = append(b.pending, call)
	leader := !b.busy
	b.busy = true
	b.mu.Unlock()
	if !leader {
		select {
		case <-call.done:
			return
		case <-call.lead:
		}
	}
	b.mu.Lock()
	batch := b.pending
	b.pending = nil
	b.mu.Unlock()
	cs := make([]C, len(batch))
	for i, x := range batch {
		cs[i] = x.c
	}
	b.run(cs)
	for _, x := range batch {
		if x != call {
			close(x.done)
		}
	}
	b.mu.Lock()
	if len(b.pending) > 0 {
		close(b.pending[0].lead)
	} else {
		b.busy = false
	}
	b.mu.Unlock()
}

// batchTimeout bounds a merged statement: it runs on behalf of several
// callers, so no single caller's context may cancel it.
const batchTimeout = 30 * time.Second

func batchContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), batchTimeout)
}

// notifier sends a notification after commits ("work is ready", "outbox
// rows committed"), merging bursts: while one NOTIFY is in flight, any
// number of further requests collapse into the next one. Done outside the
// writing transaction, so that transaction does not take PostgreSQL's
// notification lock at commit.
type notifier struct {
	q       *Queue
	sql     string
	mu      sync.Mutex
	pending bool
	running bool
}

func (n *notifier) wake() {
	n.mu.Lock()
	n.pending = true
	if n.running {
		n.mu.Unlock()
		return
	}
	n.running = true
	n.mu.Unlock()
	go func() {
		for {
			n.mu.Lock()
			if !n.pending {
				n.running = false
				n.mu.Unlock()
				return
			}
			n.pending = false
			n.mu.Unlock()
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			if _, err := n.q.pool.Exec(ctx, n.sql); err != nil {
				// Listeners still poll.
				n.q.log.Debug("queue: notify failed", "err", err)
			}
			cancel()
		}
	}()
}
