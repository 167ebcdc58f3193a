package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/faxd/faxd/client"
)

func (a *app) inboundList(ctx context.Context, path string, args []string) (int, error) {
	fs := a.flags(path, "[flags]", "List received faxes, newest first.")
	unrouted := fs.Bool("unrouted", false, "only faxes no rule matched and nobody rerouted yet")
	did := fs.String("did", "", "dialled `number`")
	caller := fs.String("caller", "", "caller's `number`")
	result := fs.String("result", "", "received or receive_failed")
	after := fs.String("received-after", "", "RFC 3339 `time`")
	before := fs.String("received-before", "", "RFC 3339 `time`")
	limit := fs.Int("limit", 50, "faxes per page")
	cursor := fs.String("cursor", "", "continue from a previous page")
	if _, code, ok := a.parse(fs, args, 0, 0); !ok {
		return code, nil
	}
	p := client.ListReceivedParams{Unrouted: *unrouted, DID: *did, Caller: *caller, Result: *result, Limit: *limit, Cursor: *cursor}
	var ok bool
	if p.ReceivedAfter, ok = a.timeFlag(fs, "received-after", *after); !ok {
		return exitUsage, nil
	}
	if p.ReceivedBefore, ok = a.timeFlag(fs, "received-before", *before); !ok {
		return exitUsage, nil
	}
	l, err := a.c.ListReceived(ctx, p)
	if err != nil {
		return exitFailed, err
	}
	if a.json {
		a.printJSON(l)
		return exitOK, nil
	}
	a.printReceived(l.Received)
	if l.NextCursor != "" {
		fmt.Fprintf(a.stdout, "more: faxctl inbound list -cursor %s\n", l.NextCursor)
	}
	return exitOK, nil
}

func (a *app) printReceived(fs []client.ReceivedFax) {
	tw := a.table()
	fmt.Fprintln(tw, "ID\tRECEIVED\tDID\tCALLER\tSTATION\tPAGES\tRESULT\tROUTING")
	for _, f := range fs {
		routing := f.Routing
		if f.RoutedTo != "" {
			routing += " → " + f.RoutedTo
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%d\t%s\t%s\n", f.ID, when(&f.FinishedAt), f.DID, dash(f.Caller),
			f.RemoteStationID, f.Pages, f.Result+deleted(f.DeletedAt, f.DeletedBy), routing)
	}
	tw.Flush()
}

// deleted marks a fax whose documents were deleted in a table cell.
func deleted(at *time.Time, by string) string {
	if at == nil {
		return ""
	}
	return " (deleted by " + by + ")"
}

func (a *app) inboundDelete(ctx context.Context, path string, args []string) (int, error) {
	fs := a.flags(path, "ID [-reason TEXT]",
		"Delete a received fax's pages for good (a privacy request; operators and admins).\nThe fax stays listed as deleted: show and download then answer that it was\ndeleted, by whom and when.")
	reason := fs.String("reason", "", "why, kept with the tombstone and in the audit log")
	id, code, ok := a.parseID(fs, args, "received fax")
	if !ok {
		return code, nil
	}
	if err := a.c.DeleteReceived(ctx, id, *reason); err != nil {
		return exitFailed, err
	}
	fmt.Fprintf(a.stdout, "received fax %d deleted\n", id)
	return exitOK, nil
}

func (a *app) inboundShow(ctx context.Context, path string, args []string) (int, error) {
	fs := a.flags(path, "ID", "Show one received fax with its reroutes.")
	id, code, ok := a.parseID(fs, args, "received fax")
	if !ok {
		return code, nil
	}
	f, err := a.c.GetReceived(ctx, id)
	if err != nil {
		return exitFailed, err
	}
	if a.json {
		a.printJSON(f)
		return exitOK, nil
	}
	tw := a.table()
	fmt.Fprintf(tw, "Received fax:\t%d\n", f.ID)
	fmt.Fprintf(tw, "Dialled:\t%s\n", f.DID)
	fmt.Fprintf(tw, "Caller:\t%s (station %q)\n", f.Caller, f.RemoteStationID)
	fmt.Fprintf(tw, "Result:\t%s %s\n", f.Result, f.Reason)
	fmt.Fprintf(tw, "Pages:\t%d\n", f.Pages)
	fmt.Fprintf(tw, "Finished:\t%s (%d ms) on %s via %s\n", when(&f.FinishedAt), f.DurationMS, f.Node, f.Gateway)
	fmt.Fprintf(tw, "Routing:\t%s %s\n", f.Routing, f.RoutedTo)
	if f.Read != nil {
		fmt.Fprintf(tw, "Read:\t%v\n", *f.Read)
	}
	tw.Flush()
	if len(f.Reroutes) > 0 {
		fmt.Fprintln(a.stdout, "Reroutes:")
		for _, rr := range f.Reroutes {
			fmt.Fprintf(a.stdout, "  %s  %s: %s -> %s  %s %s\n", when(&rr.CreatedAt), rr.Actor, rr.From, rr.To, rr.Outcome, rr.Error)
		}
	}
	return exitOK, nil
}

func (a *app) inboundDownload(ctx context.Context, path string, args []string) (int, error) {
	fs := a.flags(path, "ID [-format pdf|tiff] [-o FILE]", "Download a received fax.")
	format := fs.String("format", client.FormatPDF, "pdf or tiff (as received)")
	out := fs.String("o", "", "output `file` (default: the server's file name; - for standard output)")
	id, code, ok := a.parseID(fs, args, "received fax")
	if !ok {
		return code, nil
	}
	if *format != client.FormatPDF && *format != client.FormatTIFF {
		return a.usageErr(fs, fmt.Sprintf("-format %q: want pdf or tiff", *format)), nil
	}
	d, err := a.c.GetReceivedDocument(ctx, id, *format)
	if err != nil {
		return exitFailed, err
	}
	ext := map[string]string{client.FormatPDF: ".pdf", client.FormatTIFF: ".tif"}[*format]
	return a.save(d, *out, fmt.Sprintf("received-%d%s", id, ext))
}

func (a *app) inboundReroute(ctx context.Context, path string, args []string) (int, error) {
	fs := a.flags(path, "ID (-mailbox NAME | -email ADDR[,ADDR] | -webhook URL [-secret S])", "Send a received fax to another destination.")
	mailbox := fs.String("mailbox", "", "deliver to this mailbox `name`")
	email := fs.String("email", "", "email `addresses`, comma-separated")
	webhook := fs.String("webhook", "", "webhook `URL`")
	secret := fs.String("secret", "", "HMAC `key` for the webhook's signature")
	reason := fs.String("reason", "", "why the fax is rerouted (required; kept in the audit log)")
	id, code, ok := a.parseID(fs, args, "received fax")
	if !ok {
		return code, nil
	}
	var dest client.DestinationInput
	set := 0
	if *mailbox != "" {
		dest = client.DestinationInput{Kind: "mailbox", Mailbox: *mailbox}
		set++
	}
	if *email != "" {
		dest = client.DestinationInput{Kind: "email", Emails: splitList(*email)}
		set++
	}
	if *webhook != "" {
		dest = client.DestinationInput{Kind: "webhook", URL: *webhook, Secret: *secret}
		set++
	}
	if set != 1 {
		return a.usageErr(fs, "give exactly one of -mailbox, -email, -webhook"), nil
	}
	if strings.TrimSpace(*reason) == "" {
		return a.usageErr(fs, "give -reason: why the fax is rerouted"), nil
	}
	rr, err := a.c.RerouteReceived(ctx, id, dest, *reason)
	if err != nil {
		return exitFailed, err
	}
	if a.json {
		a.printJSON(rr)
		return exitOK, nil
	}
	fmt.Fprintf(a.stdout, "received fax %d rerouted to %s: %s\n", id, rr.To, strings.TrimSpace(rr.Outcome+" "+rr.Error))
	return exitOK, nil
}

// inboundRead marks a received fax read (or unread) for this token.
func inboundRead(read bool) func(*app, context.Context, string, []string) (int, error) {
	return func(a *app, ctx context.Context, path string, args []string) (int, error) {
		what := "Mark a received fax read for this token (read marks are per token name; see mailboxes show -unread)."
		if !read {
			what = "Mark a received fax unread again for this token."
		}
		fs := a.flags(path, "ID", what)
		id, code, ok := a.parseID(fs, args, "received fax")
		if !ok {
			return code, nil
		}
		mark := a.c.MarkReceivedRead
		if !read {
			mark = a.c.MarkReceivedUnread
		}
		m, err := mark(ctx, id)
		if err != nil {
			return exitFailed, err
		}
		if a.json {
			a.printJSON(m)
			return exitOK, nil
		}
		state := "read"
		if !m.Read {
			state = "unread"
		}
		fmt.Fprintf(a.stdout, "received fax %d marked %s for %s\n", m.ID, state, m.Reader)
		return exitOK, nil
	}
}

func (a *app) inboundTrace(ctx context.Context, path string, args []string) (int, error) {
	fs := a.flags(path, "ID", "Show the SIP steps and T.30 frames of the call that brought a received fax.")
	id, code, ok := a.parseID(fs, args, "received fax")
	if !ok {
		return code, nil
	}
	t, err := a.c.GetReceivedTrace(ctx, id)
	if err != nil {
		return exitFailed, err
	}
	a.printTrace(t)
	return exitOK, nil
}

func (a *app) inboundReroutes(ctx context.Context, path string, args []string) (int, error) {
	fs := a.flags(path, "ID", "List a received fax's reroutes, oldest first: who sent it where, and how the delivery went.")
	id, code, ok := a.parseID(fs, args, "received fax")
	if !ok {
		return code, nil
	}
	rrs, err := a.c.ListReroutes(ctx, id)
	if err != nil {
		return exitFailed, err
	}
	if a.json {
		a.printJSON(map[string]any{"reroutes": rrs})
		return exitOK, nil
	}
	tw := a.table()
	fmt.Fprintln(tw, "ID\tAT\tACTOR\tFROM\tTO\tOUTCOME\tERROR")
	for _, rr := range rrs {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\n", rr.ID, when(&rr.CreatedAt), rr.Actor, rr.From, rr.To, rr.Outcome, dash(rr.Error))
	}
	tw.Flush()
	return exitOK, nil
}

func (a *app) inboundThumbnail(ctx context.Context, path string, args []string) (int, error) {
	fs := a.flags(path, "ID [-page N] [-width W] [-o FILE]", "Save a grey PNG preview of one page of a received fax.")
	page := fs.Int("page", 1, "page `number`, from 1")
	width := fs.Int("width", 200, "width in `pixels`, 50-800")
	out := fs.String("o", "", "output `file` (default received-ID-pN.png; - for standard output)")
	id, code, ok := a.parseID(fs, args, "received fax")
	if !ok {
		return code, nil
	}
	d, err := a.c.GetReceivedThumbnail(ctx, id, *page, *width)
	if err != nil {
		return exitFailed, err
	}
	name := *out
	if name == "" {
		name = fmt.Sprintf("received-%d-p%d.png", id, *page)
	}
	return a.save(d, name, name)
}

func (a *app) mailboxesList(ctx context.Context, path string, args []string) (int, error) {
	fs := a.flags(path, "[-json]", "List the mailboxes that hold faxes, with counts.")
	if _, code, ok := a.parse(fs, args, 0, 0); !ok {
		return code, nil
	}
	ms, err := a.c.ListMailboxes(ctx)
	if err != nil {
		return exitFailed, err
	}
	if a.json {
		a.printJSON(map[string]any{"mailboxes": ms})
		return exitOK, nil
	}
	tw := a.table()
	fmt.Fprintln(tw, "MAILBOX\tTOTAL\tUNREAD")
	for _, m := range ms {
		fmt.Fprintf(tw, "%s\t%d\t%d\n", m.Mailbox, m.Total, m.Unread)
	}
	tw.Flush()
	return exitOK, nil
}

func (a *app) mailboxShow(ctx context.Context, path string, args []string) (int, error) {
	fs := a.flags(path, "NAME [-unread] [-limit N]", "List a mailbox's faxes, newest first.")
	unread := fs.Bool("unread", false, "only unread faxes")
	limit := fs.Int("limit", 100, "entries")
	pos, code, ok := a.parse(fs, args, 1, 1)
	if !ok {
		return code, nil
	}
	m, err := a.c.GetMailbox(ctx, pos[0], *unread, *limit)
	if err != nil {
		return exitFailed, err
	}
	if a.json {
		a.printJSON(m)
		return exitOK, nil
	}
	tw := a.table()
	fmt.Fprintln(tw, "ENTRY\tREAD\tFILED\tFAX\tDID\tCALLER\tPAGES\tRESULT")
	for _, e := range m.Entries {
		fax, did, caller, pages, result := "-", "-", "-", "-", "-"
		if f := e.Fax; f != nil {
			fax, did, caller, pages, result = fmt.Sprint(f.ID), f.DID, dash(f.Caller), fmt.Sprint(f.Pages), f.Result+deleted(f.DeletedAt, f.DeletedBy)
		}
		fmt.Fprintf(tw, "%d\t%v\t%s\t%s\t%s\t%s\t%s\t%s\n", e.ID, e.Read, when(&e.CreatedAt), fax, did, caller, pages, result)
	}
	tw.Flush()
	return exitOK, nil
}

func (a *app) archiveSearch(ctx context.Context, path string, args []string) (int, error) {
	fs := a.flags(path, "[flags]", "Search the archive of completed outbound and received faxes, newest first.\nSubmitters see only their own sent faxes; admins see everything.")
	direction := fs.String("direction", "", "outbound or inbound")
	result := fs.String("result", "", "sent, failed, cancelled, received or receive_failed")
	number := fs.String("number", "", "our `number` or the other side's")
	submitter := fs.String("submitter", "", "submitter `name`")
	routing := fs.String("routing", "", "routed, unrouted or rerouted")
	after := fs.String("finished-after", "", "RFC 3339 `time`")
	before := fs.String("finished-before", "", "RFC 3339 `time`")
	limit := fs.Int("limit", 50, "faxes per page")
	cursor := fs.String("cursor", "", "continue from a previous page")
	if _, code, ok := a.parse(fs, args, 0, 0); !ok {
		return code, nil
	}
	p := client.ArchiveParams{Direction: *direction, Result: *result, Number: *number, Submitter: *submitter,
		Routing: *routing, Limit: *limit, Cursor: *cursor}
	var ok bool
	if p.FinishedAfter, ok = a.timeFlag(fs, "finished-after", *after); !ok {
		return exitUsage, nil
	}
	if p.FinishedBefore, ok = a.timeFlag(fs, "finished-before", *before); !ok {
		return exitUsage, nil
	}
	pg, err := a.c.SearchArchive(ctx, p)
	if err != nil {
		return exitFailed, err
	}
	if a.json {
		a.printJSON(pg)
		return exitOK, nil
	}
	tw := a.table()
	fmt.Fprintln(tw, "ID\tFINISHED\tDIRECTION\tRESULT\tOURS\tTHEIRS\tPAGES\tSUBMITTER\tREASON")
	for _, f := range pg.Faxes {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\n", f.ID, when(&f.FinishedAt), f.Direction, f.Result+deleted(f.DeletedAt, f.DeletedBy),
			dash(f.LocalNumber), dash(f.RemoteNumber), f.Pages, dash(f.Submitter), f.Reason)
	}
	tw.Flush()
	if pg.NextCursor != "" {
		fmt.Fprintf(a.stdout, "more: faxctl archive search -cursor %s\n", pg.NextCursor)
	}
	return exitOK, nil
}
