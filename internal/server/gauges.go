package server

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/faxd/faxd/archive"
	"github.com/faxd/faxd/internal/natsbus"
)

// gaugeInterval spaces the refreshes of the gauges that cost a query.
// Every node refreshes its own: each exports the same queue depth, and
// dashboards take max() over instances.
const gaugeInterval = 15 * time.Second

// gauges are the queue depth, archive lag and NATS stream health, set by
// runGauges rather than on scrape so a scrape never waits on a database.
type gauges struct {
	queueJobs      *prometheus.GaugeVec
	queueOldest    prometheus.Gauge
	outboxOldest   prometheus.Gauge
	archivePending prometheus.Gauge
	streamReplicas *prometheus.GaugeVec
	streamCurrent  *prometheus.GaugeVec
}

func (s *Server) registerGauges() {
	g := &gauges{
		queueJobs: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: "faxd", Name: "queue_jobs",
			Help: "Jobs not yet final by state: pending (due now, waiting for a channel), scheduled (pending, send_after or back-off ahead), sending."},
			[]string{"state"}),
		queueOldest: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "faxd", Name: "queue_oldest_due_seconds",
			Help: "How long the oldest due pending job has waited past its run_at; 0 when none waits."}),
		outboxOldest: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "faxd", Name: "archive_outbox_oldest_seconds",
			Help: "Age of the oldest finished fax not yet published to NATS: the archive's lag behind the queue."}),
		archivePending: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "faxd", Name: "archive_consumer_pending",
			Help: "Messages in the archive stream not yet written to the archive database (delivered and unacknowledged included)."}),
		streamReplicas: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: "faxd", Name: "nats_stream_replicas",
			Help: "Copies the JetStream stream is configured to keep."}, []string{"stream"}),
		streamCurrent: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: "faxd", Name: "nats_stream_replicas_current",
			Help: "Copies of the JetStream stream that are up to date (the leader and current followers); 0 without a leader or when JetStream does not answer."},
			[]string{"stream"}),
	}
	s.Metrics.Registry.MustRegister(g.queueJobs, g.queueOldest, g.outboxOldest, g.archivePending, g.streamReplicas, g.streamCurrent)
	s.gauges = g
}

// runGauges refreshes the gauges at once and then every gaugeInterval.
func (s *Server) runGauges(ctx context.Context) {
	t := time.NewTicker(gaugeInterval)
	defer t.Stop()
	for {
		s.refreshGauges(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (s *Server) refreshGauges(ctx context.Context) {
	g := s.gauges
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	log := s.log.With("component", "gauges")
	if d, err := s.Queue.Depth(ctx); err != nil {
		log.Debug("queue depth", "err", err) // the queue_db readiness line says it louder
	} else {
		g.queueJobs.WithLabelValues("pending").Set(float64(d.Due))
		g.queueJobs.WithLabelValues("scheduled").Set(float64(d.Scheduled))
		g.queueJobs.WithLabelValues("sending").Set(float64(d.Sending))
		g.queueOldest.Set(d.OldestDue.Seconds())
	}
	if age, err := s.relay.OldestPending(ctx); err != nil {
		log.Debug("outbox age", "err", err)
	} else {
		g.outboxOldest.Set(age.Seconds())
	}
	if !s.nats.ready.Load() {
		// The stream may not exist yet; the nats readiness line covers it.
		g.streamCurrent.WithLabelValues(archive.StreamName).Set(0)
		return
	}
	h, err := natsbus.Health(ctx, s.Bus.JetStream, archive.StreamName)
	if err != nil {
		log.Warn("archive stream health", "err", err)
		g.streamCurrent.WithLabelValues(archive.StreamName).Set(0)
	} else {
		g.streamReplicas.WithLabelValues(archive.StreamName).Set(float64(h.Replicas))
		g.streamCurrent.WithLabelValues(archive.StreamName).Set(float64(h.Current))
	}
	if c, err := s.Bus.JetStream.Consumer(ctx, archive.StreamName, archive.ConsumerName); err == nil {
		if info, err := c.Info(ctx); err == nil {
			g.archivePending.Set(float64(info.NumPending) + float64(info.NumAckPending))
		}
	}
}
