package channel

import (
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
	}
	for _, d := range []string{Outbound, Inbound} {
		m.Busy.WithLabelValues(d)
		m.Pages.WithLabelValues(d)
	}
	if reg == nil {
		return m
	}
	reg.MustRegister(m.Busy, m.Calls, m.Pages)
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
