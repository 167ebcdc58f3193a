package queue

import (
	"context"
	"runtime"
	"sync"
	"time"
)

// batcher merges concurrent calls into one database statement (group
// commit). A caller that finds no statement in flight leads: it runs the
// statement for every call queued so far, then hands the lead to the first
// call queued meanwhile. A lone caller runs at once; under load, one
// statement serves many channels. Each call keeps its own result and, for
// holder writes, its own fencing check.
//
// Before taking the queue, a leader yields a few times to the Go scheduler:
// the callers that the previous statement just released (a channel that
// completed a job and wants the next) get to queue up, so batches stay
// whole instead of alternating between two halves of the callers. One
// statement in flight beats two: measured, two smaller concurrent
// statements were slower than one bigger one on the same cores.
type batcher[C any] struct {
	mu      sync.Mutex
	pending []*batchCall[C]
	busy    bool
	gather  int // scheduler yields before a leader takes the queue
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
	leader := !b.busy
	if leader {
		b.busy = true
	} else {
		b.pending = append(b.pending, call)
	}
	b.mu.Unlock()
	if !leader {
		select {
		case <-call.done:
			return
		case <-call.lead: // handed the lead; no longer in pending
		}
	}
	for range b.gather {
		runtime.Gosched()
	}
	b.mu.Lock()
	batch := append([]*batchCall[C]{call}, b.pending...)
	b.pending = nil
	b.mu.Unlock()
	cs := make([]C, len(batch))
	for i, x := range batch {
		cs[i] = x.c
	}
	b.run(cs)
	for _, x := range batch[1:] {
		close(x.done)
	}
	b.mu.Lock()
	if len(b.pending) > 0 {
		close(b.pending[0].lead)
		b.pending = b.pending[1:]
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
	gap     time.Duration // at least this long between two notifications
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
			time.Sleep(n.gap)
		}
	}()
}
