package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"text/tabwriter"
	"time"

	"github.com/faxd/faxd/internal/api"
)

const clusterUsage = `usage: faxctl cluster status                              servers, roles, leases; the standby's failover state
       faxctl cluster promote|demote|enable|disable|sync  standby controls (admin)
Standby controls act on the server that answers: point -server at the standby itself.`

// clusterCmd shows the cluster and drives a standby (R17).
func (a *app) clusterCmd(ctx context.Context, args []string) (int, error) {
	if len(args) != 1 {
		return 2, fmt.Errorf("%s", clusterUsage)
	}
	switch args[0] {
	case "status":
		return a.clusterStatus(ctx)
	case "promote", "demote", "enable", "disable", "sync":
		return a.standbyControl(ctx, args[0])
	default:
		return 2, fmt.Errorf("%s", clusterUsage)
	}
}

func (a *app) clusterStatus(ctx context.Context) (int, error) {
	var c api.ClusterJSON
	if printed, err := a.show(ctx, "/v1/cluster", &c); err != nil || printed {
		return exitCode(err), err
	}
	tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NODE\tROLE\tLIVE\tFREE/CHANNELS\tLAST HEARTBEAT\tLEASE EXPIRES\tADDRESS")
	for _, n := range c.Nodes {
		live := "down"
		if n.Live {
			live = "live"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d/%d\t%s\t%s\t%s\n", n.ID, n.Role, live, n.FreeChannels, n.Capacity,
			stamp(n.LastHeartbeat), stamp(n.LeaseExpiresAt), n.Address)
	}
	tw.Flush()
	if c.Standby != nil {
		fmt.Fprintln(a.stdout)
		printStandby(a, c.Standby)
	} else if c.Node != "" {
		fmt.Fprintf(a.stdout, "\n%s is not a standby.\n", c.Node)
	}
	return 0, nil
}

func printStandby(a *app, s *api.StandbyJSON) {
	primary := s.PrimaryID
	if s.PrimaryURL != "" {
		if primary != "" {
			primary += ", "
		}
		primary += s.PrimaryURL
	}
	if primary == "" {
		primary = "(none: manual failover only)"
	}
	auto := "off"
	if s.Automatic {
		auto = "on (" + s.OnFailure + ")"
	}
	tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "standby\t%s\n", s.Node)
	fmt.Fprintf(tw, "state\t%s (role %s)\n", s.State, s.Role)
	fmt.Fprintf(tw, "primary\t%s\n", primary)
	fmt.Fprintf(tw, "automatic failover\t%s\n", auto)
	fmt.Fprintf(tw, "consecutive failures\t%d of %d\n", s.ConsecutiveFailures, s.Threshold)
	if s.LastCheck != nil {
		fmt.Fprintf(tw, "last check\t%s\n", stamp(*s.LastCheck))
	}
	if s.LastError != "" {
		fmt.Fprintf(tw, "last error\t%s\n", s.LastError)
	}
	if s.ChangedAt != nil {
		fmt.Fprintf(tw, "last change\t%s by %s: %s\n", stamp(*s.ChangedAt), s.ChangedBy, s.Reason)
	}
	if s.Sync {
		if s.NextSync != nil {
			fmt.Fprintf(tw, "next sync\t%s\n", stamp(*s.NextSync))
		}
		if s.LastSync != nil {
			res := "ok"
			if s.LastSyncError != "" {
				res = "failed: " + s.LastSyncError
			}
			fmt.Fprintf(tw, "last sync\t%s, %s\n", stamp(*s.LastSync), res)
		}
	} else {
		fmt.Fprintf(tw, "sync\tnone (shared queue database)\n")
	}
	tw.Flush()
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02 15:04:05Z")
}

func (a *app) standbyControl(ctx context.Context, op string) (int, error) {
	r, err := a.c.do(ctx, http.MethodPost, "/v1/cluster/standby/"+op, nil, "", nil)
	if err != nil {
		return 1, err
	}
	if a.json {
		a.printJSON(r.body)
		return 0, nil
	}
	var out struct {
		Standby *api.StandbyJSON `json:"standby"`
	}
	if err := json.Unmarshal(r.body, &out); err != nil || out.Standby == nil {
		return 1, fmt.Errorf("unexpected answer from %s", r.server)
	}
	fmt.Fprintf(a.stdout, "%s (%s): %s done\n\n", out.Standby.Node, r.server, op)
	printStandby(a, out.Standby)
	return 0, nil
}
