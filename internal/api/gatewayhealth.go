package api

import (
	"net/http"
	"time"

	"github.com/faxd/faxd/routing"
)

// GatewayHealth is this node's live view of the gateways it routes
// through (*routing.Router); internal/server passes it. Health is judged
// by each node on its own, so the answer names the node.
type GatewayHealth interface {
	Status() []routing.GatewayStatus
}

// GatewayHealthJSON is one gateway's state on the answering node.
type GatewayHealthJSON struct {
	Name        string `json:"name"`
	Address     string `json:"address"`
	Up          bool   `json:"up"`
	InUse       int    `json:"in_use"`
	MaxChannels int    `json:"max_channels"`
	// Since: when it last went down or came back (or was first loaded).
	Since          time.Time  `json:"since"`
	Reason         string     `json:"reason,omitempty"`
	Probe          string     `json:"probe"` // options or off
	LastProbe      *time.Time `json:"last_probe,omitempty"`
	LastProbeError string     `json:"last_probe_error,omitempty"`
	IgnoresProbes  bool       `json:"ignores_probes"`
}

func (a *API) gatewayHealthRoutes() []route {
	return []route{{"GET", "/v1/gateway-health", needOperator, a.getGatewayHealth}}
}

func (a *API) getGatewayHealth(w http.ResponseWriter, r *http.Request, c *caller) error {
	if a.health == nil {
		return newProblem(http.StatusServiceUnavailable, "unavailable", "this node runs no fax channels, so it routes through no gateway")
	}
	out := []GatewayHealthJSON{}
	for _, s := range a.health.Status() {
		g := GatewayHealthJSON{
			Name: s.Name, Address: s.Address, Up: s.Up, InUse: s.InUse, MaxChannels: s.MaxChannels,
			Since: s.Since.UTC(), Reason: s.Reason, Probe: string(routing.ProbeOptions),
			LastProbeError: s.LastProbeError, IgnoresProbes: s.IgnoresProbes,
		}
		if !s.Probing {
			g.Probe = string(routing.ProbeOff)
		}
		if !s.LastProbe.IsZero() {
			t := s.LastProbe.UTC()
			g.LastProbe = &t
		}
		out = append(out, g)
	}
	node := ""
	if a.cluster != nil {
		node = a.cluster.Node()
	}
	writeJSON(w, http.StatusOK, map[string]any{"node": node, "gateways": out})
	return nil
}
