package channel

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/faxd/faxd/routing"
)

// A gateway that goes down and comes back is logged at INFO with the
// reason and counted by direction and cause.
func TestGatewayTransitionLoggedAndCounted(t *testing.T) {
	reg := prometheus.NewRegistry()
	r, err := routing.New([]routing.Gateway{{Name: "gw1", Address: "192.0.2.1"}}, []routing.Route{{Gateway: "gw1"}}, routing.HealthPolicy{})
	if err != nil {
		t.Fatal(err)
	}
	m := NewMetrics(reg, r)
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo}))
	r.OnTransition(func(tr routing.Transition) { m.GatewayTransition(log, tr) })

	r.Report("gw1", routing.GatewayDown, "503 Service Unavailable")
	r.Report("gw1", routing.GatewayDown, "503 Service Unavailable") // already down: nothing new
	r.Report("gw1", routing.OK, "")

	if got := testutil.ToFloat64(m.GatewayTransitions.WithLabelValues("gw1", "down", routing.CauseCall)); got != 1 {
		t.Errorf("down transitions = %v, want 1", got)
	}
	if got := testutil.ToFloat64(m.GatewayTransitions.WithLabelValues("gw1", "up", routing.CauseCall)); got != 1 {
		t.Errorf("up transitions = %v, want 1", got)
	}
	out := buf.String()
	down := strings.Index(out, `level=INFO msg="gateway out of rotation" gateway=gw1 cause=call reason="503 Service Unavailable"`)
	up := strings.Index(out, `level=INFO msg="gateway back in rotation" gateway=gw1 cause=call`)
	if down < 0 || up < down {
		t.Errorf("log lines missing or out of order:\n%s", out)
	}
	if n := strings.Count(out, "gateway out of rotation"); n != 1 {
		t.Errorf("%d down lines, want 1:\n%s", n, out)
	}
}
