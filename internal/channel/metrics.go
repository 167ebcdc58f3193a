package channel

import (
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/faxd/faxd/routing"
)

// Directions label the metrics.
const (
	Outbound = "outbound"
	Inbound  = "inbound"
)

// Metrics are the channels' Prometheus metrics.
type Metrics struct {
	Busy  *prometheus.GaugeVec   // faxd_channels_busy{direction}
	Calls *prometheus.CounterVec // faxd_calls_total{direction,result}
	Pages *prometheus.CounterVec // faxd_pages_total{direction}
	// Media: faxd_call_media_total{direction,media}, each call that got
	// its media, by what it ran on (t38, audio_PCMU, audio_PCMA).
	Media *prometheus.CounterVec
	// GatewayTransitions: faxd_gateway_transitions_total{gateway,to,cause}.
	GatewayTransitions *prometheus.CounterVec
}

// NewMetrics registers the channel metrics on reg. router, when set,
// backs faxd_gateway_up{gateway}.
func NewMetrics(reg prometheus.Registerer, router *routing.Router) *Metrics {
	m := &Metrics{
		Busy: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: "faxd", Name: "channels_busy",
			Help: "Fax channels in a call, by direction.",
		}, []string{"direction"}),
		Calls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "faxd", Name: "calls_total",
			Help: "Fax calls by direction and result (sent, a failure class, cancelled, received, receive_failed, busy, unavailable).",
		}, []string{"direction", "result"}),
		Pages: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "faxd", Name: "pages_total",
			Help: "Fax pages confirmed by the far end (outbound) or accepted (inbound).",
		}, []string{"direction"}),
		Media: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "faxd", Name: "call_media_total",
			Help: "Fax calls that reached their media, by direction and media (t38, audio_PCMU, audio_PCMA).",
		}, []string{"direction", "media"}),
		GatewayTransitions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "faxd", Name: "gateway_transitions_total",
			Help: "Gateways going out of rotation (to=down) or coming back (to=up), by what decided it (cause: probe, call, hold_down).",
		}, []string{"gateway", "to", "cause"}),
	}
	for _, d := range []string{Outbound, Inbound} {
		m.Busy.WithLabelValues(d)
		m.Pages.WithLabelValues(d)
	}
	if reg == nil {
		return m
	}
	reg.MustRegister(m.Busy, m.Calls, m.Pages, m.Media, m.GatewayTransitions)
	if router != nil {
		reg.MustRegister(gatewayUp{router})
	}
	return m
}

// gatewayUp reads the router's live state at scrape time, so gateways an
// administrator adds or removes appear and vanish with no bookkeeping.
type gatewayUp struct{ r *routing.Router }

var gatewayUpDesc = prometheus.NewDesc("faxd_gateway_up",
	"1 while the gateway is in rotation, 0 while it is excluded (down until probes succeed).", []string{"gateway"}, nil)

func (g gatewayUp) Describe(ch chan<- *prometheus.Desc) { ch <- gatewayUpDesc }

func (g gatewayUp) Collect(ch chan<- prometheus.Metric) {
	for _, s := range g.r.Status() {
		v := 0.0
		if s.Up {
			v = 1
		}
		ch <- prometheus.MustNewConstMetric(gatewayUpDesc, prometheus.GaugeValue, v, s.Name)
	}
}

// GatewayTransition logs a gateway going down or coming back, at INFO with
// the reason, and counts it.
func (m *Metrics) GatewayTransition(log *slog.Logger, t routing.Transition) {
	to := "down"
	if t.Up {
		to = "up"
	}
	m.GatewayTransitions.WithLabelValues(t.Gateway, to, t.Cause).Inc()
	if t.Up {
		log.Info("gateway back in rotation", "gateway", t.Gateway, "cause", t.Cause, "reason", t.Reason)
		return
	}
	log.Info("gateway out of rotation", "gateway", t.Gateway, "cause", t.Cause, "reason", t.Reason)
}
