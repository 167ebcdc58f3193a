package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/faxd/faxd/client"
)

func (a *app) clusterStatus(ctx context.Context, path string, args []string) (int, error) {
	fs := a.flags(path, "[-json]", "Show the servers, their roles and leases, and the answering standby's failover state.")
	if _, code, ok := a.parse(fs, args, 0, 0); !ok {
		return code, nil
	}
	c, err := a.c.GetCluster(ctx)
	if err != nil {
		return exitFailed, err
	}
	if a.json {
		a.printJSON(c)
		return exitOK, nil
	}
	tw := a.table()
	fmt.Fprintln(tw, "NODE\tSITE\tROLE\tLIVE\tFREE/CHANNELS\tLAST HEARTBEAT\tLEASE EXPIRES\tADDRESS")
	for _, n := range c.Nodes {
		live := "down"
		if n.Live {
			live = "live"
		}
		site := n.Site
		if site == "" {
			site = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d/%d\t%s\t%s\t%s\n", n.ID, site, n.Role, live, n.FreeChannels, n.Capacity,
			stamp(n.LastHeartbeat), stamp(n.LeaseExpiresAt), n.Address)
	}
	tw.Flush()
	if c.Standby != nil {
		fmt.Fprintln(a.stdout)
		a.printStandby(c.Standby)
	} else if c.Node != "" {
		fmt.Fprintf(a.stdout, "\n%s is not a standby.\n", c.Node)
	}
	return exitOK, nil
}

func (a *app) printStandby(s *client.Standby) {
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
	tw := a.table()
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

// standbyControl runs promote, demote, enable, disable or sync on the
// server that answers: point -server at the standby itself.
func (a *app) standbyControl(ctx context.Context, path string, args []string) (int, error) {
	op := path[strings.LastIndexByte(path, ' ')+1:]
	fs := a.flags(path, "", "Standby control '"+op+"' on the server that answers: point -server at the standby itself.")
	if _, code, ok := a.parse(fs, args, 0, 0); !ok {
		return code, nil
	}
	do := map[string]func(context.Context) (*client.Standby, error){
		"promote": a.c.PromoteStandby, "demote": a.c.DemoteStandby, "enable": a.c.EnableStandby,
		"disable": a.c.DisableStandby, "sync": a.c.SyncStandby,
	}[op]
	s, err := do(ctx)
	if err != nil {
		return exitFailed, err
	}
	if a.json {
		a.printJSON(map[string]any{"standby": s})
		return exitOK, nil
	}
	fmt.Fprintf(a.stdout, "%s (%s): %s done\n\n", s.Node, a.c.Server(), op)
	a.printStandby(s)
	return exitOK, nil
}
