package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/faxd/faxd/internal/api"
	"github.com/faxd/faxd/internal/inbound"
)

const inboundUsage = `usage: faxctl inbound list [-unrouted] [-did N] [-caller N] [-limit N] [-cursor C]
       faxctl inbound show ID
       faxctl inbound download ID [-format pdf|tiff] [-o FILE]
       faxctl inbound reroute ID (-mailbox NAME | -email ADDR[,ADDR] | -webhook URL [-secret S])
       faxctl inbound trace ID`

// inboundCmd serves administrators' work on received faxes.
func (a *app) inboundCmd(ctx context.Context, args []string) (int, error) {
	if len(args) == 0 {
		return 2, fmt.Errorf("%s", inboundUsage)
	}
	switch args[0] {
	case "list":
		return a.inboundList(ctx, args[1:])
	case "show":
		id, err := idArg(args[1:], "inbound show")
		if err != nil {
			return 2, err
		}
		return a.inboundShow(ctx, id)
	case "download":
		fs := subFlags("inbound download", a.stderr)
		format := fs.String("format", "pdf", "pdf or tiff (as received)")
		out := fs.String("o", "", "output `file` (default received-ID.pdf/.tif; - for stdout)")
		pos, err := parseInterleaved(fs, args[1:])
		if err != nil {
			return 2, nil
		}
		id, err := idArg(pos, "inbound download")
		if err != nil {
			return 2, err
		}
		return a.save(ctx, "/v1/received/"+id+"/document?"+url.Values{"format": {*format}}.Encode(), *out, "received-"+id+"."+*format)
	case "reroute":
		return a.inboundReroute(ctx, args[1:])
	case "trace":
		id, err := idArg(args[1:], "inbound trace")
		if err != nil {
			return 2, err
		}
		return a.printTrace(ctx, "/v1/received/"+id+"/trace") // trace.go
	default:
		return 2, fmt.Errorf("%s", inboundUsage)
	}
}

func (a *app) inboundList(ctx context.Context, args []string) (int, error) {
	fs := subFlags("inbound list", a.stderr)
	unrouted := fs.Bool("unrouted", false, "only faxes no rule matched")
	did := fs.String("did", "", "dialled number")
	caller := fs.String("caller", "", "caller's number")
	limit := fs.Int("limit", 50, "faxes per page")
	cursor := fs.String("cursor", "", "continue from a previous page")
	if pos, err := parseInterleaved(fs, args); err != nil || len(pos) > 0 {
		return 2, nil
	}
	q := url.Values{"limit": {strconv.Itoa(*limit)}}
	for k, v := range map[string]string{"did": *did, "caller": *caller, "cursor": *cursor} {
		if v != "" {
			q.Set(k, v)
		}
	}
	if *unrouted {
		q.Set("unrouted", "true")
	}
	var l api.ReceivedList
	if printed, err := a.show(ctx, "/v1/received?"+q.Encode(), &l); err != nil || printed {
		return exitCode(err), err
	}
	tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tRECEIVED\tDID\tCALLER\tSTATION\tPAGES\tRESULT\tROUTING")
	for _, f := range l.Received {
		routing := f.Routing
		if f.RoutedTo != "" {
			routing += " → " + f.RoutedTo
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%d\t%s\t%s\n", f.ID, when(&f.FinishedAt), f.DID, f.Caller,
			f.RemoteStationID, f.Pages, f.Result, routing)
	}
	tw.Flush()
	if l.NextCursor != "" {
		fmt.Fprintf(a.stdout, "more: faxctl inbound list -cursor %s\n", l.NextCursor)
	}
	return 0, nil
}

func (a *app) inboundShow(ctx context.Context, id string) (int, error) {
	var f api.ReceivedFax
	if printed, err := a.show(ctx, "/v1/received/"+id, &f); err != nil || printed {
		return exitCode(err), err
	}
	tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "Received fax:\t%d\n", f.ID)
	fmt.Fprintf(tw, "Dialled:\t%s\n", f.DID)
	fmt.Fprintf(tw, "Caller:\t%s (station %q)\n", f.Caller, f.RemoteStationID)
	fmt.Fprintf(tw, "Result:\t%s %s\n", f.Result, f.Reason)
	fmt.Fprintf(tw, "Pages:\t%d\n", f.Pages)
	fmt.Fprintf(tw, "Finished:\t%s (%d ms) on %s via %s\n", when(&f.FinishedAt), f.DurationMS, f.Node, f.Gateway)
	fmt.Fprintf(tw, "Routing:\t%s %s\n", f.Routing, f.RoutedTo)
	tw.Flush()
	if len(f.Reroutes) > 0 {
		fmt.Fprintln(a.stdout, "Reroutes:")
		for _, rr := range f.Reroutes {
			fmt.Fprintf(a.stdout, "  %s  %s: %s -> %s  %s %s\n", when(&rr.CreatedAt), rr.Actor, rr.From, rr.To, rr.Outcome, rr.Error)
		}
	}
	return 0, nil
}

func (a *app) inboundReroute(ctx context.Context, args []string) (int, error) {
	fs := subFlags("inbound reroute", a.stderr)
	mailbox := fs.String("mailbox", "", "deliver to this mailbox")
	email := fs.String("email", "", "email `addresses`, comma-separated")
	webhook := fs.String("webhook", "", "webhook `URL`")
	secret := fs.String("secret", "", "HMAC key for the webhook's signature")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return 2, nil
	}
	id, err := idArg(pos, "inbound reroute")
	if err != nil {
		return 2, err
	}
	var in api.RerouteInput
	set := 0
	if *mailbox != "" {
		in.Destination = api.DestinationInput{Kind: inbound.DestMailbox, Mailbox: *mailbox}
		set++
	}
	if *email != "" {
		in.Destination = api.DestinationInput{Kind: inbound.DestEmail, Emails: splitList(*email)}
		set++
	}
	if *webhook != "" {
		in.Destination = api.DestinationInput{Kind: inbound.DestWebhook, URL: *webhook, Secret: *secret}
		set++
	}
	if set != 1 {
		return 2, fmt.Errorf("give exactly one of -mailbox, -email, -webhook\n%s", inboundUsage)
	}
	body, _ := json.Marshal(in)
	r, err := a.c.do(ctx, http.MethodPost, "/v1/received/"+id+"/reroute", body, "application/json", nil)
	if err != nil {
		return 1, err
	}
	if a.json {
		a.printJSON(r.body)
		return 0, nil
	}
	var rr api.RerouteView
	if err := json.Unmarshal(r.body, &rr); err == nil && rr.ID != 0 {
		fmt.Fprintf(a.stdout, "received fax %s rerouted to %s: %s\n", id, rr.To, strings.TrimSpace(rr.Outcome+" "+rr.Error))
		return 0, nil
	}
	fmt.Fprintf(a.stdout, "received fax %s rerouted\n", id)
	return 0, nil
}
