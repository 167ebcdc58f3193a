// Package metrics defines faxd's Prometheus metrics on one registry, so each
// process (and each test) exports exactly its own, plus the Go and process
// collectors.
package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Metrics holds every faxd metric. Packages take the ones they update.
type Metrics struct {
	Registry *prometheus.Registry

	Up        *prometheus.GaugeVec // 1 per component that is reachable (database, nats)
	Role      *prometheus.GaugeVec // 1 for this node's current role
	BuildInfo *prometheus.GaugeVec
}

// New registers faxd's metrics on a fresh registry.
func New(node, version string) *Metrics {
	r := prometheus.NewRegistry()
	r.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m := &Metrics{
		Registry: r,
		Up: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: "faxd", Name: "component_up",
			Help: "1 when the named dependency answered its last readiness check.",
		}, []string{"component"}),
		Role: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: "faxd", Name: "node_role",
			Help: "1 for the role this node has now (active, standby).",
		}, []string{"role"}),
		BuildInfo: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: "faxd", Name: "build_info",
			Help: "Always 1; labels carry the node id and version.",
		}, []string{"node", "version"}),
	}
	r.MustRegister(m.Up, m.Role, m.BuildInfo)
	m.BuildInfo.WithLabelValues(node, version).Set(1)
	return m
}
