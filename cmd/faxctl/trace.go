package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"text/tabwriter"

	"github.com/faxd/faxd/internal/api"
	"github.com/faxd/faxd/internal/calltrace"
)

const traceUsage = `usage: faxctl trace ID [-attempt N]    the SIP steps and T.30 frames of a fax's attempt (default: the latest)
       faxctl inbound trace ID             the same for a received fax (admin)`

// trace prints an outbound attempt's call trace.
func (a *app) trace(ctx context.Context, args []string) (int, error) {
	fs := subFlags("trace", a.stderr)
	attempt := fs.Int("attempt", 0, "attempt `number` (1 is the first; default the latest)")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return 2, nil
	}
	id, err := idArg(pos, "trace")
	if err != nil {
		return 2, fmt.Errorf("%s", traceUsage)
	}
	n := *attempt
	if n == 0 {
		var f api.Fax
		r, err := a.c.do(ctx, "GET", "/v1/faxes/"+id, nil, "", nil)
		if err != nil {
			return 1, err
		}
		if err := json.Unmarshal(r.body, &f); err != nil {
			return 1, fmt.Errorf("unexpected answer from %s: %w", r.server, err)
		}
		if f.Attempts == 0 {
			return 1, fmt.Errorf("fax %s has not been attempted yet", id)
		}
		n = f.Attempts
	}
	return a.printTrace(ctx, "/v1/faxes/"+id+"/attempts/"+strconv.Itoa(n)+"/trace")
}

func (a *app) printTrace(ctx context.Context, path string) (int, error) {
	var t calltrace.Trace
	if printed, err := a.show(ctx, path, &t); err != nil || printed {
		return exitCode(err), err
	}
	head := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
	if t.Direction == calltrace.Outbound {
		fmt.Fprintf(head, "fax\t%d, attempt %d\n", t.JobID, t.Attempt)
	}
	fmt.Fprintf(head, "node\t%s\n", t.Node)
	fmt.Fprintf(head, "gateway\t%s\n", t.Gateway)
	fmt.Fprintf(head, "call id\t%s\n", t.CallID)
	fmt.Fprintf(head, "started\t%s (%.1f s)\n", stamp(t.StartedAt), t.EndedAt.Sub(t.StartedAt).Seconds())
	fmt.Fprintf(head, "result\t%s\n", t.Result)
	head.Flush()
	fmt.Fprintln(a.stdout)
	tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "T (s)\tKIND\tFRAME\tDETAIL")
	for _, ev := range t.Events {
		detail := ev.Detail
		if ev.FIF != "" {
			detail = "fif " + ev.FIF
		}
		if ev.FCSBad {
			detail += " (bad FCS)"
		}
		fmt.Fprintf(tw, "%8.3f\t%s\t%s\t%s\n", ev.T/1000, ev.Kind, ev.Frame, detail)
	}
	tw.Flush()
	if t.Dropped > 0 {
		fmt.Fprintf(a.stdout, "(%d later events were not kept)\n", t.Dropped)
	}
	return 0, nil
}
