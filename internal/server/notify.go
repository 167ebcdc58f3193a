package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/faxd/faxd/archive"
	"github.com/faxd/faxd/internal/api"
	"github.com/faxd/faxd/internal/inbound"
	"github.com/faxd/faxd/internal/notify"
	"github.com/faxd/faxd/queue"
)

// noticesConsumer is the durable consumer, shared by every node, that
// turns finished jobs into submitters' completion notices.
const noticesConsumer = "notifier"

// notifyParts are this node's delivery workers and the completion-notice
// follower.
type notifyParts struct {
	notifier *notify.Notifier
	notices  *archive.Follower
}

// openNotify builds the notifier (a worker on every node sends the
// deliveries of the queue database) and the follower of finished jobs.
//
// Completion notices come from the stream, not from the queue transition:
// a job's final record reaches the stream through the outbox exactly when
// the job's final state commits, and the follower enqueues the notice with
// the record key as its idempotency key before acknowledging. A crash
// between the two redelivers the record and the enqueue is a no-op, so a
// submitter gets one notice per finished job, whichever node handles it.
func (s *Server) openNotify(ctx context.Context) error {
	n, err := notify.New(s.DB.Queue, s.cfg.Notify, notify.Options{
		NodeID: s.cfg.Node.ID, Documents: noticeDocuments{received: inbound.Archived{Store: s.Archive}, s: s}, Logger: s.log, Secrets: s.secrets,
	})
	if err != nil {
		return err
	}
	s.notify = &notifyParts{notifier: n}
	return nil
}

// openNotices makes the follower of finished jobs; it needs JetStream
// (natsstart.go).
func (s *Server) openNotices(ctx context.Context) (err error) {
	s.notify.notices, err = archive.NewFollower(ctx, s.Bus.JetStream, archive.FollowerOptions{
		Name: noticesConsumer, Topics: []string{archive.TopicJobFinished}, FromNow: true,
		Logger: s.log.With("component", "notices"), Stream: archive.StreamConfig{Replicas: s.cfg.NATS.StreamReplicas},
	}, s.jobNotice)
	return err
}

// jobNotice enqueues the completion notice of one finished job, if its
// submitter asked for one (callback_url, or notify_email in metadata).
func (s *Server) jobNotice(ctx context.Context, m archive.Message) error {
	var j queue.Job
	if err := json.Unmarshal(m.Payload, &j); err != nil {
		return fmt.Errorf("%w: job record %s: %v", archive.ErrTerminal, m.Record.Key, err)
	}
	if err := s.broadcastNotice(ctx, j); err != nil {
		return err
	}
	n := notify.JobNoticeFrom(j)
	if n.CallbackURL == "" && len(n.NotifyEmails) == 0 {
		return nil
	}
	n.Key = m.Record.Key
	err := s.notify.notifier.FaxFinished(ctx, nil, n)
	if errors.Is(err, notify.ErrInvalid) {
		return fmt.Errorf("%w: %v", archive.ErrTerminal, err)
	}
	return err
}

// broadcastNotice sends the callback of the broadcast that job j was the
// last to finish, if any. The queue database decided which job that is
// when it went final; the job's creation time guards against a record of
// another queue database with the same id.
func (s *Server) broadcastNotice(ctx context.Context, j queue.Job) error {
	b, closed, err := s.Queue.BroadcastClosedBy(ctx, j.ID)
	if err != nil || !closed {
		return err
	}
	jj, err := s.Queue.Get(ctx, j.ID)
	if errors.Is(err, queue.ErrNotFound) || (err == nil && !jj.CreatedAt.Equal(j.CreatedAt)) {
		return nil
	}
	if err != nil {
		return err
	}
	return s.notify.notifier.BroadcastFinished(ctx, nil, notify.BroadcastNoticeFrom(b))
}

// runNotify sends deliveries until ctx ends; the follower of finished
// jobs runs once NATS answers (natsstart.go).
func (s *Server) runNotify(ctx context.Context) { _ = s.notify.notifier.Run(ctx) }

// noticeDocuments serves the notices' attachments: received faxes from
// the archive, and the confirmation reports of sent faxes (asked for with
// `report: true`) from the API, which writes them.
type noticeDocuments struct {
	received inbound.Archived
	s        *Server
}

func (d noticeDocuments) PDF(ctx context.Context, ref string) ([]byte, error) {
	rest, ok := strings.CutPrefix(ref, notify.ReportRefPrefix)
	if !ok {
		return d.received.PDF(ctx, ref)
	}
	id, err := strconv.ParseInt(rest, 10, 64)
	if err != nil {
		return nil, fmt.Errorf("%w: bad report reference %q", notify.ErrNoDocument, ref)
	}
	if d.s.api == nil { // deliveries started before the API: try again later
		return nil, errors.New("report: the API is not running yet")
	}
	pdf, err := d.s.api.ReportPDF(ctx, id)
	if errors.Is(err, queue.ErrNotFound) || errors.Is(err, queue.ErrDeleted) || errors.Is(err, api.ErrReportNotFinal) {
		return nil, fmt.Errorf("%w: %w", notify.ErrNoDocument, err)
	}
	return pdf, err
}
