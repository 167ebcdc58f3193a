package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/faxd/faxd/client"
)

type metaFlag map[string]any

func (m metaFlag) String() string { return "" }
func (m metaFlag) Set(s string) error {
	k, v, ok := strings.Cut(s, "=")
	if !ok || k == "" {
		return fmt.Errorf("want key=value")
	}
	m[k] = v
	return nil
}

func (a *app) send(ctx context.Context, path string, args []string) (int, error) {
	fs := a.flags(path, "FILE|URL... -to NUMBER [flags]",
		"Submit a fax of one or more documents (PDF, PostScript, TIFF, PNG, JPEG, GIF, plain text; HTML, DOCX,\nXLSX, ODT, ODS and RTF where the server has LibreOffice). An http(s):// URL is fetched by the server\n(only where its outbound URL policy allows). Prints the new fax's id; 'faxctl wait ID' waits for its outcome.")
	var req client.FaxRequest
	var cover client.Cover
	fs.StringVar(&req.To, "to", "", "destination fax `number` (required)")
	fs.StringVar(&req.From, "from", "", "our fax `number` (station id)")
	fs.StringVar(&req.Header, "header", "", "sender `name` for the header line")
	fs.IntVar(&req.Priority, "priority", 0, "`priority` -1000..1000, higher first")
	sendAfter := fs.String("send-after", "", "send no earlier than `TIME` (RFC 3339) or after a duration such as 2h")
	fs.IntVar(&req.MaxAttempts, "max-attempts", 0, "attempts before the fax fails (default: the server's)")
	fs.StringVar(&req.CallbackURL, "callback", "", "`URL` notified when the fax completes or fails")
	fs.StringVar(&req.Resolution, "resolution", "", "standard, fine or superfine (default: the server's)")
	key := fs.String("key", "", "idempotency `key` (default: a random one, so failover retries never send twice)")
	meta := metaFlag{}
	fs.Var(meta, "meta", "metadata `key=value` (repeatable)")
	withCover := fs.Bool("cover", false, "put a cover page first (implied by any -cover-* flag)")
	fs.StringVar(&cover.ToName, "cover-to", "", "cover page: recipient's `name`")
	fs.StringVar(&cover.FromName, "cover-from", "", "cover page: sender's `name`")
	fs.StringVar(&cover.Subject, "cover-subject", "", "cover page: `subject`")
	fs.StringVar(&cover.Comment, "cover-comment", "", "cover page: `text`")
	deadline := fs.String("deadline", "", "give the fax up if still unsent at `TIME` (RFC 3339)")
	fs.StringVar(&req.KillAfter, "kill-after", "", "give the fax up if still unsent this `long` after submission (90m, 36h)")
	fs.BoolVar(&req.Report, "report", false, "attach the confirmation report to the completion callback and notice mail")
	files, code, ok := a.parse(fs, args, 0, -1)
	if !ok {
		return code, nil
	}
	if req.Deadline, ok = a.optTime(fs, "deadline", *deadline); !ok {
		return exitUsage, nil
	}
	if req.To == "" {
		return a.usageErr(fs, "-to is required"), nil
	}
	if len(files) == 0 {
		return a.usageErr(fs, "at least one FILE is required"), nil
	}
	if *sendAfter != "" {
		t, err := time.Parse(time.RFC3339, *sendAfter)
		if err != nil {
			d, derr := time.ParseDuration(*sendAfter)
			if derr != nil {
				return a.usageErr(fs, fmt.Sprintf("-send-after %q: want an RFC 3339 time (2030-01-02T15:04:05Z) or a duration (90m)", *sendAfter)), nil
			}
			t = time.Now().Add(d)
		}
		req.SendAfter = &t
	}
	if len(meta) > 0 {
		req.Metadata = meta
	}
	if *withCover || cover != (client.Cover{}) {
		req.Cover = &cover
	}
	var docs []client.Document
	for _, name := range files {
		if strings.HasPrefix(name, "https://") || strings.HasPrefix(name, "http://") {
			docs = append(docs, client.Document{URL: name})
			continue
		}
		f, err := os.Open(name)
		if err != nil {
			return exitFailed, err
		}
		defer f.Close()
		docs = append(docs, client.Document{Name: name, Body: f})
	}
	fax, existed, err := a.c.SubmitFax(ctx, req, docs, *key)
	if err != nil {
		return exitFailed, err
	}
	if a.json {
		a.printJSON(fax)
		return exitOK, nil
	}
	verb := "queued"
	if existed {
		verb = "already submitted with this key"
	}
	fmt.Fprintf(a.stdout, "fax %d %s: %d page(s) to %s, %s\n", fax.ID, verb, fax.PagesTotal, fax.To, fax.State)
	return exitOK, nil
}

func (a *app) status(ctx context.Context, path string, args []string) (int, error) {
	fs := a.flags(path, "ID", "Show one fax with its history.")
	id, code, ok := a.parseID(fs, args, "fax")
	if !ok {
		return code, nil
	}
	f, err := a.c.GetFax(ctx, id)
	if err != nil {
		return exitFailed, err
	}
	if a.json {
		a.printJSON(f)
		return exitOK, nil
	}
	a.printFax(f)
	return exitOK, nil
}

func (a *app) printFax(f *client.Fax) {
	tw := a.table()
	fmt.Fprintf(tw, "Fax:\t%d\n", f.ID)
	fmt.Fprintf(tw, "State:\t%s\n", f.State)
	fmt.Fprintf(tw, "To:\t%s\n", f.To)
	fmt.Fprintf(tw, "Pages:\t%d of %d confirmed\n", f.PagesConfirmed, f.PagesTotal)
	fmt.Fprintf(tw, "Attempts:\t%d of %d\n", f.Attempts, f.MaxAttempts)
	if f.LastReason != "" {
		fmt.Fprintf(tw, "Last result:\t%s %s\n", f.LastClass, f.LastReason)
	}
	if f.NextAttemptAt != nil {
		fmt.Fprintf(tw, "Next attempt:\t%s\n", when(f.NextAttemptAt))
	}
	fmt.Fprintf(tw, "Submitted:\t%s by %s\n", when(&f.CreatedAt), f.Submitter)
	if f.FinishedAt != nil {
		fmt.Fprintf(tw, "Finished:\t%s\n", when(f.FinishedAt))
	}
	printControls(tw, f)
	tw.Flush()
	fmt.Fprintln(a.stdout, "History:")
	tw = a.table()
	for _, h := range f.History {
		fmt.Fprintf(tw, "  %s\t%s -> %s\t%s\t%s\n", when(&h.At), dash(h.From), h.To, h.Node, strings.TrimSpace(h.Class+" "+h.Reason))
	}
	tw.Flush()
}

func (a *app) list(ctx context.Context, path string, args []string) (int, error) {
	fs := a.flags(path, "[flags]", "List faxes, newest first. Submitters see their own, admins all.")
	state := fs.String("state", "", "`states`, comma-separated (pending, sending, sent, failed, cancelled)")
	to := fs.String("to", "", "destination `number`")
	submitter := fs.String("submitter", "", "submitter `name` (admins)")
	after := fs.String("created-after", "", "RFC 3339 `time`")
	before := fs.String("created-before", "", "RFC 3339 `time`")
	limit := fs.Int("limit", 50, "faxes per page")
	cursor := fs.String("cursor", "", "continue from a previous page")
	if _, code, ok := a.parse(fs, args, 0, 0); !ok {
		return code, nil
	}
	p := client.ListFaxesParams{To: *to, Submitter: *submitter, Limit: *limit, Cursor: *cursor}
	if *state != "" {
		p.States = strings.Split(*state, ",")
	}
	var ok bool
	if p.CreatedAfter, ok = a.timeFlag(fs, "created-after", *after); !ok {
		return exitUsage, nil
	}
	if p.CreatedBefore, ok = a.timeFlag(fs, "created-before", *before); !ok {
		return exitUsage, nil
	}
	l, err := a.c.ListFaxes(ctx, p)
	if err != nil {
		return exitFailed, err
	}
	if a.json {
		a.printJSON(l)
		return exitOK, nil
	}
	tw := a.table()
	fmt.Fprintln(tw, "ID\tSTATE\tTO\tPAGES\tATTEMPTS\tSUBMITTER\tCREATED\tREASON")
	for _, f := range l.Faxes {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%d/%d\t%d/%d\t%s\t%s\t%s\n", f.ID, f.State+deleted(f.DeletedAt, f.DeletedBy), f.To, f.PagesConfirmed, f.PagesTotal,
			f.Attempts, f.MaxAttempts, f.Submitter, when(&f.CreatedAt), f.LastReason)
	}
	tw.Flush()
	if l.NextCursor != "" {
		fmt.Fprintf(a.stdout, "more: faxctl list -cursor %s\n", l.NextCursor)
	}
	return exitOK, nil
}

// wait polls a fax until it is final: exit 0 when sent, 1 when it failed,
// was cancelled, or -timeout passed first.
func (a *app) wait(ctx context.Context, path string, args []string) (int, error) {
	fs := a.flags(path, "ID [-timeout D] [-interval D]",
		"Wait until a fax is final and print its state: exit 0 when sent, 1 when failed or cancelled (or still not final after -timeout).")
	timeout := fs.Duration("timeout", 10*time.Minute, "give up after this `duration`")
	interval := fs.Duration("interval", 2*time.Second, "poll every `duration`")
	id, code, ok := a.parseID(fs, args, "fax")
	if !ok {
		return code, nil
	}
	if *interval <= 0 || *timeout <= 0 {
		return a.usageErr(fs, "-timeout and -interval must be positive"), nil
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	tick := time.NewTicker(*interval)
	defer tick.Stop()
	var last string
	late := func() error {
		if last == "" {
			return fmt.Errorf("fax %d not final after %s", id, *timeout)
		}
		return fmt.Errorf("fax %d not final after %s: still %s", id, *timeout, last)
	}
	for {
		f, err := a.c.GetFax(ctx, id)
		if errors.Is(err, context.DeadlineExceeded) && ctx.Err() != nil {
			return exitFailed, late()
		}
		if err != nil {
			return exitFailed, err
		}
		last = f.State
		if f.Final() {
			if a.json {
				a.printJSON(f)
			} else {
				line := fmt.Sprintf("fax %d %s: %d of %d page(s) to %s", f.ID, f.State, f.PagesConfirmed, f.PagesTotal, f.To)
				if f.State != client.StateSent && f.LastReason != "" {
					line += " (" + strings.TrimSpace(f.LastClass+" "+f.LastReason) + ")"
				}
				fmt.Fprintln(a.stdout, line)
			}
			if f.State == client.StateSent {
				return exitOK, nil
			}
			return exitFailed, nil
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			return exitFailed, late()
		}
	}
}

func (a *app) cancel(ctx context.Context, path string, args []string) (int, error) {
	fs := a.flags(path, "ID", "Cancel a fax: a pending one at once, a sending one when its call is hung up.")
	id, code, ok := a.parseID(fs, args, "fax")
	if !ok {
		return code, nil
	}
	f, hangingUp, err := a.c.CancelFax(ctx, id)
	if err != nil {
		return exitFailed, err
	}
	if a.json {
		a.printJSON(f)
		return exitOK, nil
	}
	if hangingUp {
		fmt.Fprintf(a.stdout, "fax %d: cancel requested; the call in progress is being hung up\n", id)
	} else {
		fmt.Fprintf(a.stdout, "fax %d cancelled\n", id)
	}
	return exitOK, nil
}

func (a *app) retry(ctx context.Context, path string, args []string) (int, error) {
	fs := a.flags(path, "ID", "Make a pending fax, waiting for its next attempt or its scheduled time, due now.")
	id, code, ok := a.parseID(fs, args, "fax")
	if !ok {
		return code, nil
	}
	f, err := a.c.RetryFax(ctx, id)
	if err != nil {
		return exitFailed, err
	}
	if a.json {
		a.printJSON(f)
		return exitOK, nil
	}
	fmt.Fprintf(a.stdout, "fax %d is due now\n", id)
	return exitOK, nil
}

func (a *app) download(ctx context.Context, path string, args []string) (int, error) {
	fs := a.flags(path, "ID [-format pdf|tiff|original] [-part N] [-o FILE]",
		"Download a fax's pages or one of its submitted documents.")
	format := fs.String("format", client.FormatPDF, "pdf, tiff or original")
	part := fs.Int("part", 0, "with -format original: which submitted document, from 0")
	out := fs.String("o", "", "output `file` (default: the server's file name; - for standard output)")
	id, code, ok := a.parseID(fs, args, "fax")
	if !ok {
		return code, nil
	}
	switch *format {
	case client.FormatPDF, client.FormatTIFF, client.FormatOriginal:
	default:
		return a.usageErr(fs, fmt.Sprintf("-format %q: want pdf, tiff or original", *format)), nil
	}
	d, err := a.c.GetFaxDocument(ctx, id, *format, *part)
	if err != nil {
		return exitFailed, err
	}
	ext := map[string]string{client.FormatPDF: ".pdf", client.FormatTIFF: ".tif"}[*format]
	return a.save(d, *out, fmt.Sprintf("fax-%d%s", id, ext))
}

func (a *app) faxReport(ctx context.Context, path string, args []string) (int, error) {
	fs := a.flags(path, "ID [-o FILE]",
		"Download the confirmation report (PDF) of a sent, failed or cancelled fax.")
	out := fs.String("o", "", "output `file` (default: the server's file name; - for standard output)")
	id, code, ok := a.parseID(fs, args, "fax")
	if !ok {
		return code, nil
	}
	d, err := a.c.GetFaxReport(ctx, id)
	if err != nil {
		return exitFailed, err
	}
	return a.save(d, *out, fmt.Sprintf("fax-%d-report.pdf", id))
}

// save writes a download to out: the server's file name when out is
// empty (fallback when it gives none), standard output for "-".
func (a *app) save(d *client.Download, out, fallback string) (int, error) {
	defer d.Close()
	name := out
	if name == "" {
		name = filepath.Base(d.Filename)
		if d.Filename == "" || name == "." || name == "/" {
			name = fallback
		}
	}
	if name == "-" {
		if _, err := io.Copy(a.stdout, d); err != nil {
			return exitFailed, err
		}
		return exitOK, nil
	}
	f, err := os.Create(name)
	if err != nil {
		return exitFailed, err
	}
	n, err := io.Copy(f, d)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(name) // no truncated file left behind
		return exitFailed, err
	}
	fmt.Fprintf(a.stderr, "wrote %s (%d bytes)\n", name, n)
	return exitOK, nil
}

func (a *app) trace(ctx context.Context, path string, args []string) (int, error) {
	fs := a.flags(path, "ID [-attempt N]", "Show the SIP steps and T.30 frames of a fax's attempt (default: the latest).\n'faxctl inbound trace ID' does the same for a received fax.")
	attempt := fs.Int("attempt", 0, "attempt `number` (1 is the first; default the latest)")
	id, code, ok := a.parseID(fs, args, "fax")
	if !ok {
		return code, nil
	}
	n := *attempt
	if n == 0 {
		f, err := a.c.GetFax(ctx, id)
		if err != nil {
			return exitFailed, err
		}
		if f.Attempts == 0 {
			return exitFailed, fmt.Errorf("fax %d has not been attempted yet", id)
		}
		n = f.Attempts
	}
	t, err := a.c.GetAttemptTrace(ctx, id, n)
	if err != nil {
		return exitFailed, err
	}
	a.printTrace(t)
	return exitOK, nil
}

func (a *app) printTrace(t *client.CallTrace) {
	if a.json {
		a.printJSON(t)
		return
	}
	head := a.table()
	if t.Direction == "outbound" {
		fmt.Fprintf(head, "fax\t%d, attempt %d\n", t.JobID, t.Attempt)
	}
	fmt.Fprintf(head, "node\t%s\n", t.Node)
	fmt.Fprintf(head, "gateway\t%s\n", t.Gateway)
	fmt.Fprintf(head, "call id\t%s\n", t.CallID)
	fmt.Fprintf(head, "started\t%s (%.1f s)\n", stamp(t.StartedAt), t.EndedAt.Sub(t.StartedAt).Seconds())
	fmt.Fprintf(head, "result\t%s\n", t.Result)
	head.Flush()
	fmt.Fprintln(a.stdout)
	tw := a.table()
	fmt.Fprintln(tw, "T (s)\tKIND\tFRAME\tDETAIL")
	for _, ev := range t.Events {
		detail := ev.Detail
		if ev.FIF != "" {
			detail = "fif " + ev.FIF
		}
		if ev.FCSBad {
			detail += " (bad FCS)"
		}
		fmt.Fprintf(tw, "%8.3f\t%s\t%s\t%s\n", ev.TMillis/1000, ev.Kind, ev.Frame, detail)
	}
	tw.Flush()
	if t.Dropped > 0 {
		fmt.Fprintf(a.stdout, "(%d later events were not kept)\n", t.Dropped)
	}
}

func (a *app) whoami(ctx context.Context, path string, args []string) (int, error) {
	fs := a.flags(path, "", "Show the token in use: its id, name and role.")
	if _, code, ok := a.parse(fs, args, 0, 0); !ok {
		return code, nil
	}
	t, err := a.c.WhoAmI(ctx)
	if err != nil {
		return exitFailed, err
	}
	if a.json {
		a.printJSON(t)
		return exitOK, nil
	}
	fmt.Fprintf(a.stdout, "token %d %s (%s) on %s\n", t.ID, t.Name, t.Role, a.c.Server())
	return exitOK, nil
}
