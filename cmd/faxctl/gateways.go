package main

import (
	"context"
	"fmt"
	"text/tabwriter"

	"github.com/faxd/faxd/internal/api"
)

const gatewaysUsage = `usage: faxctl gateways health    every gateway the answering server routes through: up or down, since when and why (admin)`

// gatewaysCmd shows gateway health as one server judges it.
func (a *app) gatewaysCmd(ctx context.Context, args []string) (int, error) {
	if len(args) != 1 || args[0] != "health" {
		return 2, fmt.Errorf("%s", gatewaysUsage)
	}
	var h struct {
		Node     string                  `json:"node"`
		Gateways []api.GatewayHealthJSON `json:"gateways"`
	}
	if printed, err := a.show(ctx, "/v1/gateway-health", &h); err != nil || printed {
		return exitCode(err), err
	}
	if h.Node != "" {
		fmt.Fprintf(a.stdout, "as seen by %s\n", h.Node)
	}
	tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "GATEWAY\tSTATE\tSINCE\tCALLS\tPROBE\tLAST PROBE\tREASON")
	for _, g := range h.Gateways {
		state := "up"
		if !g.Up {
			state = "DOWN"
		}
		calls := fmt.Sprint(g.InUse)
		if g.MaxChannels > 0 {
			calls += fmt.Sprintf("/%d", g.MaxChannels)
		}
		probe := g.Probe
		if g.IgnoresProbes {
			probe += " (ignored: calls decide)"
		}
		last := "-"
		if g.LastProbe != nil {
			last = stamp(*g.LastProbe)
			if g.LastProbeError != "" {
				last += " " + g.LastProbeError
			}
		}
		reason := g.Reason
		if reason == "" {
			reason = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", g.Name, state, stamp(g.Since), calls, probe, last, reason)
	}
	tw.Flush()
	return 0, nil
}
