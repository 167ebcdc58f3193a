package server

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/faxd/faxd/archive"
)

// natsStart is the part of start-up that needs JetStream: the stream and
// the durable consumers. A node does not wait for it: it serves while
// NATS is unreachable or its cluster is still forming, finished jobs wait
// in the outbox as during an outage, and /readyz says nats is not ready.
type natsStart struct {
	ready   atomic.Bool
	mu      sync.Mutex
	lastErr error
}

// natsReady is the nats line of /readyz.
func (s *Server) natsReady() error {
	if err := s.Bus.Ready(); err != nil {
		return err
	}
	if s.nats.ready.Load() {
		return nil
	}
	s.nats.mu.Lock()
	defer s.nats.mu.Unlock()
	if s.nats.lastErr != nil {
		return fmt.Errorf("JetStream stream not ready yet: %w", s.nats.lastErr)
	}
	return errors.New("JetStream stream not ready yet")
}

// runNATS waits for JetStream, creates the stream and the consumers
// (archiver, completion notices, inbound dispatch), retrying until they
// exist, and then runs them and the outbox relay until ctx ends. The
// relay starts last: the notices and dispatch consumers only deliver what
// is published after they exist.
func (s *Server) runNATS(ctx context.Context) {
	log := s.log.With("component", "nats")
	for {
		if err := s.Bus.WaitJetStream(ctx, 5*time.Second); err != nil {
			return // ctx ended
		}
		err := s.openNATSParts(ctx)
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			return
		}
		s.nats.mu.Lock()
		s.nats.lastErr = err
		s.nats.mu.Unlock()
		log.Warn("JetStream stream or consumers not created yet; retrying", "err", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(2 * time.Second):
		}
	}
	s.nats.ready.Store(true)
	log.Info("JetStream stream and consumers ready")
	var wg sync.WaitGroup
	wg.Go(func() { s.archiver.Run(ctx) })
	wg.Go(func() { _ = s.notify.notices.Run(ctx) })
	wg.Go(func() { _ = s.inbound.dispatch.Run(ctx) })
	wg.Go(func() { s.relay.Run(ctx) })
	wg.Wait()
}

// openNATSParts creates the stream and consumers, each try bounded so a
// cluster without a JetStream leader yet is tried again.
func (s *Server) openNATSParts(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	var err error
	if s.archiver == nil {
		sc := archive.StreamConfig{Replicas: s.cfg.NATS.StreamReplicas}
		if s.archiver, err = archive.NewArchiver(ctx, s.Archive, s.Bus.JetStream, s.log.With("component", "archiver"), sc); err != nil {
			return err
		}
	}
	if s.notify.notices == nil {
		if err := s.openNotices(ctx); err != nil { // internal/server/notify.go
			return err
		}
	}
	if s.inbound.dispatch == nil {
		if err := s.openDispatch(ctx); err != nil { // internal/server/inbound.go
			return err
		}
	}
	return nil
}
