package server

import (
	"context"
	"fmt"
	"time"

	"github.com/faxd/faxd/archive"
	"github.com/faxd/faxd/internal/inbound"
)

// dispatchConsumer is the durable consumer, shared by every node, that
// routes received faxes once they are archived.
const dispatchConsumer = "inbound-dispatch"

// inboundPurgeLockKey: one node at a time purges routing history.
const inboundPurgeLockKey = 0x66617864_696e6264 // "faxdinbd"

// inboundParts are inbound routing and the follower that feeds it.
type inboundParts struct {
	router   *inbound.Router
	dispatch *archive.Follower
}

// openInbound builds inbound routing and the follower of received-fax
// records: an inbound channel writes its record with archive.Emit, the
// archiver stores it, and this follower then routes it (Router.Dispatch,
// idempotent per record key) and marks the archive routed or unrouted. A
// record not archived yet is retried shortly, so deliveries always find
// the fax's document in the archive. Unrouted faxes stay listed
// (GET /v1/received?unrouted=true) for an administrator to reroute.
func (s *Server) openInbound(ctx context.Context) error {
	s.inbound = &inboundParts{router: inbound.NewRouter(s.DB.Queue, s.notify.notifier, inbound.Archived{Store: s.Archive}, s.cfg.Inbound, s.log)}
	// Routing history (where each fax went, reroutes, mailbox entries,
	// finished deliveries) goes with the archive's faxes.
	s.tasks = append(s.tasks, s.newTask("inbound_purged_rows", s.DB.Queue, inboundPurgeLockKey,
		min(time.Hour, s.cfg.Archive.PurgeAfter.D()/10),
		"Routing history rows (dispositions, reroutes, mailbox entries, finished deliveries) deleted after archive.purge_after.",
		func(ctx context.Context) (int64, error) {
			n, err := s.inbound.router.Purge(ctx, s.cfg.Archive.PurgeAfter.D())
			if err != nil {
				return n, err
			}
			d, err := s.notify.notifier.Purge(ctx, s.cfg.Archive.PurgeAfter.D())
			return n + d, err
		}))
	return nil
}

// openDispatch makes the follower of received-fax records; it needs
// JetStream (natsstart.go).
func (s *Server) openDispatch(ctx context.Context) (err error) {
	s.inbound.dispatch, err = archive.NewFollower(ctx, s.Bus.JetStream, archive.FollowerOptions{
		Name: dispatchConsumer, Topics: []string{archive.TopicRecord}, FromNow: true, Retry: 500 * time.Millisecond,
		Logger: s.log.With("component", "inbound-dispatch"), Stream: archive.StreamConfig{Replicas: s.cfg.NATS.StreamReplicas},
	}, s.dispatchReceived)
	return err
}

// dispatchReceived routes one received fax's record.
func (s *Server) dispatchReceived(ctx context.Context, m archive.Message) error {
	if m.Record.Direction != archive.Inbound {
		return nil
	}
	if _, err := inbound.RouteArchived(ctx, s.Archive, s.inbound.router, m.Record); err != nil {
		return fmt.Errorf("route %s: %w", m.Record.Key, err) // not archived yet, or a database down: retried
	}
	return nil
}
