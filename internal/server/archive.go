package server

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/faxd/faxd/archive"
	"github.com/faxd/faxd/internal/docstore"
)

// openArchive prepares the relay (outbox of this node's queue database to
// JetStream); the archiver (JetStream to the archive database) is made
// once NATS answers (natsstart.go). Both run on every node; the outbox's
// SKIP LOCKED and the shared durable consumer split the work between them.
func (s *Server) openArchive(ctx context.Context) error {
	sc := archive.StreamConfig{Replicas: s.cfg.NATS.StreamReplicas}
	s.Archive = archive.NewStore(s.DB.Archive)
	var err error
	if s.relay, err = archive.NewRelay(ctx, s.DB.Queue, s.Bus.JetStream, archive.RelayOptions{
		Logger: s.log.With("component", "archive-relay"), Poll: s.cfg.Queue.PollInterval.D(), Stream: sc,
		Docs: archiveDocs{s.docs},
	}); err != nil {
		return err
	}
	s.Metrics.Registry.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Namespace: "faxd", Name: "archive_outbox_pending",
		Help: "Finished faxes written to the outbox and not yet published to NATS; grows while NATS is down.",
	}, func() float64 {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		n, err := s.relay.Pending(ctx)
		if err != nil {
			return -1
		}
		return float64(n)
	}))
	return nil
}

// archiveDocs lets the archive relay copy a job's prepared pages (what was
// actually sent) from the document store.
type archiveDocs struct{ store *docstore.Store }

func (d archiveDocs) Document(ctx context.Context, ref string) (string, string, []byte, error) {
	if !docstore.ValidRef(ref) {
		return "", "", nil, fmt.Errorf("%w: %q is not a document store reference", archive.ErrNoDocument, ref)
	}
	set, err := d.store.Get(ctx, ref)
	if errors.Is(err, docstore.ErrNotFound) {
		return "", "", nil, fmt.Errorf("%w: %v", archive.ErrNoDocument, err)
	}
	if err != nil {
		return "", "", nil, err
	}
	data, ctype, err := d.store.Blob(ctx, set.Pages)
	if err != nil {
		return "", "", nil, err
	}
	return set.Pages.String(), ctype, data, nil
}
