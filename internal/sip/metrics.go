package sip

import "github.com/prometheus/client_golang/prometheus"

// Metrics are the SIP user agent's Prometheus counters. The UA always
// counts; RegisterMetrics exports them.
type Metrics struct {
	// Malformed counts messages refused before any handler saw them:
	// kind "request" (answered 400), "response" (dropped) or "stream"
	// (a TCP/TLS connection closed because no message boundary was left).
	Malformed *prometheus.CounterVec // faxd_sip_malformed_total{kind}
	// Refused counts requests refused for policy: reason "allow_from",
	// "too_many_media", "too_large", "digest_replay", "digest_stale".
	Refused *prometheus.CounterVec // faxd_sip_refused_total{reason}
	// Panics counts panics recovered in SIP handlers and call goroutines.
	Panics *prometheus.CounterVec // faxd_sip_panics_total{where}
	// Redirected counts INVITEs answered 302 towards another node, by why
	// this node could not take them: "busy", "standby", "draining".
	Redirected *prometheus.CounterVec // faxd_sip_overflow_redirects_total{why}
}

func newMetrics() *Metrics {
	m := &Metrics{
		Malformed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "faxd", Subsystem: "sip", Name: "malformed_total",
			Help: "SIP messages refused before any handler: requests answered 400, responses dropped, streams closed.",
		}, []string{"kind"}),
		Refused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "faxd", Subsystem: "sip", Name: "refused_total",
			Help: "SIP requests refused by policy (allow_from, too_many_media, too_large, digest_replay, digest_stale).",
		}, []string{"reason"}),
		Panics: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "faxd", Subsystem: "sip", Name: "panics_total",
			Help: "Panics recovered inside the SIP user agent, by where they happened; each is logged with its Call-ID.",
		}, []string{"where"}),
		Redirected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "faxd", Subsystem: "sip", Name: "overflow_redirects_total",
			Help: "INVITEs answered 302 with another node's Contact (sip.overflow_redirect), by why this node could not take them: busy, standby, draining.",
		}, []string{"why"}),
	}
	for _, w := range []string{"busy", "standby", "draining"} {
		m.Redirected.WithLabelValues(w)
	}
	for _, k := range []string{"request", "response", "stream"} {
		m.Malformed.WithLabelValues(k)
	}
	for _, r := range []string{"allow_from", "too_many_media", "too_large", "digest_replay", "digest_stale"} {
		m.Refused.WithLabelValues(r)
	}
	return m
}

// Metrics are the UA's counters.
func (u *UA) Metrics() *Metrics { return u.metrics }

// RegisterMetrics exports the UA's counters on reg.
func (u *UA) RegisterMetrics(reg prometheus.Registerer) error {
	for _, c := range []prometheus.Collector{u.metrics.Malformed, u.metrics.Refused, u.metrics.Panics, u.metrics.Redirected} {
		if err := reg.Register(c); err != nil {
			return err
		}
	}
	return nil
}
