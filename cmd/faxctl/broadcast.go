package main

import (
	"context"
	"encoding/csv"
	"fmt"
	"os"
	"strings"

	"github.com/faxd/faxd/client"
)

// listFlag collects a repeatable flag whose values may be comma lists.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }
func (l *listFlag) Set(s string) error {
	for v := range strings.SplitSeq(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			*l = append(*l, v)
		}
	}
	return nil
}

func (a *app) broadcastSend(ctx context.Context, path string, args []string) (int, error) {
	fs := a.flags(path, "FILE... (-to NUMBER... | -recipients CSV) [flags]",
		"Send the documents to many numbers, a fax each, rendered once. Prints the broadcast's id;\n'faxctl broadcast status ID' shows its faxes counted by state.")
	var req client.BroadcastRequest
	var cover client.Cover
	var to listFlag
	fs.Var(&to, "to", "destination `numbers` (repeatable, or comma-separated)")
	recipients := fs.String("recipients", "", "CSV `file` of recipients: number[,name[,company]] per line; or, with a header line\n"+
		"such as 'number,name,company,account', any further column is a cover page variable\n"+
		"({{.Vars.account}} in api.cover_template); lines starting with # are skipped")
	fs.StringVar(&req.From, "from", "", "our fax `number` (station id)")
	fs.StringVar(&req.Header, "header", "", "sender `name` for the header line")
	fs.IntVar(&req.Priority, "priority", 0, "`priority` -1000..1000, higher first")
	fs.IntVar(&req.MaxAttempts, "max-attempts", 0, "attempts before a fax fails (default: the server's)")
	fs.StringVar(&req.CallbackURL, "callback", "", "`URL` notified once, when every fax of the broadcast is final")
	fs.StringVar(&req.Resolution, "resolution", "", "standard, fine or superfine (default: the server's)")
	fs.StringVar(&req.KillAfter, "kill-after", "", "give a fax up if still unsent this `long` after submission (90m, 36h)")
	key := fs.String("key", "", "idempotency `key` (default: a random one, so failover retries never send twice)")
	meta := metaFlag{}
	fs.Var(meta, "meta", "metadata `key=value` for every fax (repeatable)")
	withCover := fs.Bool("cover", false, "put a cover page first (implied by any -cover-* flag)")
	fs.StringVar(&cover.ToName, "cover-to", "", "cover page: recipient's `name` for recipients without one")
	fs.StringVar(&cover.FromName, "cover-from", "", "cover page: sender's `name`")
	fs.StringVar(&cover.Subject, "cover-subject", "", "cover page: `subject`")
	fs.StringVar(&cover.Comment, "cover-comment", "", "cover page: `text`")
	files, code, ok := a.parse(fs, args, 0, -1)
	if !ok {
		return code, nil
	}
	for _, n := range to {
		req.Recipients = append(req.Recipients, client.Recipient{To: n})
	}
	if *recipients != "" {
		rcs, err := readRecipients(*recipients)
		if err != nil {
			return a.usageErr(fs, fmt.Sprintf("-recipients %s: %v", *recipients, err)), nil
		}
		req.Recipients = append(req.Recipients, rcs...)
	}
	if len(req.Recipients) == 0 {
		return a.usageErr(fs, "-to or -recipients is required"), nil
	}
	if len(files) == 0 {
		return a.usageErr(fs, "at least one FILE is required"), nil
	}
	if len(meta) > 0 {
		req.Metadata = meta
	}
	if *withCover || cover != (client.Cover{}) {
		req.Cover = &cover
	}
	var docs []client.Document
	for _, name := range files {
		f, err := os.Open(name)
		if err != nil {
			return exitFailed, err
		}
		defer f.Close()
		docs = append(docs, client.Document{Name: name, Body: f})
	}
	b, existed, err := a.c.SubmitBroadcast(ctx, req, docs, *key)
	if err != nil {
		return exitFailed, err
	}
	if a.json {
		a.printJSON(b)
		return exitOK, nil
	}
	verb := "queued"
	if existed {
		verb = "already submitted with this key"
	}
	fmt.Fprintf(a.stdout, "broadcast %d %s: %d fax(es)\n", b.ID, verb, b.Recipients)
	return exitOK, nil
}

// readRecipients reads a recipients CSV file. Without a header line the
// columns are number, name, company. A first line whose first column is
// "number" (or "to") is a header: it names the columns, number, name and
// company as such, every other one (written "account" or "var.account")
// a cover page variable of that name; empty cells set nothing.
func readRecipients(path string) ([]client.Recipient, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.FieldsPerRecord = -1
	r.Comment = '#'
	r.TrimLeadingSpace = true
	rows, err := r.ReadAll()
	if err != nil {
		return nil, err
	}
	cols := []string{"number", "name", "company"}
	header := len(rows) > 0 && (strings.EqualFold(strings.TrimSpace(rows[0][0]), "number") || strings.EqualFold(strings.TrimSpace(rows[0][0]), "to"))
	if header {
		cols = nil
		seen := map[string]bool{}
		for i, c := range rows[0] {
			c = strings.ToLower(strings.TrimSpace(c))
			switch c {
			case "to":
				c = "number"
			case "number", "name", "company":
			default:
				c = "var." + strings.TrimPrefix(c, "var.")
				if c == "var." {
					return nil, fmt.Errorf("line 1: column %d has no name", i+1)
				}
			}
			if seen[c] {
				return nil, fmt.Errorf("line 1: column %q twice", c)
			}
			seen[c] = true
			cols = append(cols, c)
		}
		rows = rows[1:]
	}
	var out []client.Recipient
	for i, row := range rows {
		line := i + 1
		if header {
			line++
		}
		if len(row) > len(cols) {
			return nil, fmt.Errorf("line %d: %d columns, more than the %d named (%s); add a header line naming the variables", line, len(row), len(cols), strings.Join(cols, ","))
		}
		var rc client.Recipient
		for j, v := range row {
			v = strings.TrimSpace(v)
			switch c := cols[j]; {
			case v == "":
			case c == "number":
				rc.To = v
			case c == "name":
				rc.Name = v
			case c == "company":
				rc.Company = v
			default:
				if rc.Vars == nil {
					rc.Vars = map[string]string{}
				}
				rc.Vars[strings.TrimPrefix(c, "var.")] = v
			}
		}
		if rc.To == "" {
			return nil, fmt.Errorf("line %d: no number", line)
		}
		out = append(out, rc)
	}
	return out, nil
}

func (a *app) broadcastStatus(ctx context.Context, path string, args []string) (int, error) {
	fs := a.flags(path, "ID", "Show a broadcast's faxes counted by state, then the faxes.")
	id, code, ok := a.parseID(fs, args, "broadcast")
	if !ok {
		return code, nil
	}
	b, err := a.c.GetBroadcast(ctx, id)
	if err != nil {
		return exitFailed, err
	}
	var faxes []client.Fax
	cursor := ""
	for {
		l, err := a.c.ListBroadcastFaxes(ctx, id, 1000, cursor)
		if err != nil {
			return exitFailed, err
		}
		faxes = append(faxes, l.Faxes...)
		if cursor = l.NextCursor; cursor == "" {
			break
		}
	}
	if a.json {
		a.printJSON(struct {
			*client.Broadcast
			Faxes []client.Fax `json:"faxes"`
		}{b, faxes})
		return exitOK, nil
	}
	a.printBroadcastHead(b)
	tw := a.table()
	fmt.Fprintln(tw, "ID\tSTATE\tTO\tPAGES\tATTEMPTS\tREASON")
	for _, f := range faxes {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%d/%d\t%d/%d\t%s\n", f.ID, f.State, f.To, f.PagesConfirmed, f.PagesTotal, f.Attempts, f.MaxAttempts, f.LastReason)
	}
	tw.Flush()
	return exitOK, nil
}

func (a *app) printBroadcastHead(b *client.Broadcast) {
	tw := a.table()
	fmt.Fprintf(tw, "Broadcast:\t%d\n", b.ID)
	fmt.Fprintf(tw, "Faxes:\t%s\n", broadcastCounts(b))
	fmt.Fprintf(tw, "Submitted:\t%s by %s\n", when(&b.CreatedAt), b.Submitter)
	if b.DoneAt != nil {
		fmt.Fprintf(tw, "Done:\t%s\n", when(b.DoneAt))
	}
	tw.Flush()
}

func broadcastCounts(b *client.Broadcast) string {
	var parts []string
	for _, st := range []string{client.StatePending, client.StateSending, client.StateSent, client.StateFailed, client.StateCancelled} {
		parts = append(parts, fmt.Sprintf("%d %s", b.Counts[st], st))
	}
	return fmt.Sprintf("%d: %s", b.Recipients, strings.Join(parts, ", "))
}

func (a *app) broadcastList(ctx context.Context, path string, args []string) (int, error) {
	fs := a.flags(path, "[flags]", "List broadcasts, newest first. Submitters see their own; operators and admins all.")
	submitter := fs.String("submitter", "", "submitter `name` (operators and admins)")
	limit := fs.Int("limit", 50, "broadcasts per page")
	cursor := fs.String("cursor", "", "continue from a previous page")
	if _, code, ok := a.parse(fs, args, 0, 0); !ok {
		return code, nil
	}
	l, err := a.c.ListBroadcasts(ctx, client.ListBroadcastsParams{Submitter: *submitter, Limit: *limit, Cursor: *cursor})
	if err != nil {
		return exitFailed, err
	}
	if a.json {
		a.printJSON(l)
		return exitOK, nil
	}
	tw := a.table()
	fmt.Fprintln(tw, "ID\tDONE\tFAXES\tSUBMITTER\tCREATED")
	for _, b := range l.Broadcasts {
		fmt.Fprintf(tw, "%d\t%v\t%s\t%s\t%s\n", b.ID, b.Done, broadcastCounts(&b), b.Submitter, when(&b.CreatedAt))
	}
	tw.Flush()
	if l.NextCursor != "" {
		fmt.Fprintf(a.stdout, "more: faxctl broadcast list -cursor %s\n", l.NextCursor)
	}
	return exitOK, nil
}

func (a *app) broadcastCancel(ctx context.Context, path string, args []string) (int, error) {
	fs := a.flags(path, "ID", "Cancel every unfinished fax of a broadcast (sending ones when their calls hang up).")
	id, code, ok := a.parseID(fs, args, "broadcast")
	if !ok {
		return code, nil
	}
	b, hangingUp, err := a.c.CancelBroadcast(ctx, id)
	if err != nil {
		return exitFailed, err
	}
	if a.json {
		a.printJSON(b)
		return exitOK, nil
	}
	a.printBroadcastHead(b)
	if hangingUp {
		fmt.Fprintln(a.stdout, "some faxes are being hung up; they become cancelled when their calls end")
	}
	return exitOK, nil
}
