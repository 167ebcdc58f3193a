package main

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/faxd/faxd/client"
)

// optTime parses an optional RFC 3339 flag into a pointer (nil: absent).
func (a *app) optTime(fs *flagSet, name, v string) (*time.Time, bool) {
	t, ok := a.timeFlag(fs, name, v)
	if !ok || t.IsZero() {
		return nil, ok
	}
	return &t, true
}

// printControls adds a fax's deadline and resend links to its table.
func printControls(w io.Writer, f *client.Fax) {
	if f.Deadline != nil {
		fmt.Fprintf(w, "Deadline:\t%s\n", when(f.Deadline))
	}
	if f.ResentFrom != 0 {
		fmt.Fprintf(w, "Resent from:\tfax %d\n", f.ResentFrom)
	}
	if len(f.Resends) > 0 {
		ids := make([]string, len(f.Resends))
		for i, id := range f.Resends {
			ids[i] = strconv.FormatInt(id, 10)
		}
		fmt.Fprintf(w, "Resent as:\tfax %s\n", strings.Join(ids, ", "))
	}
}

func (a *app) resend(ctx context.Context, path string, args []string) (int, error) {
	fs := a.flags(path, "ID [-to NUMBER] [-deadline TIME | -kill-after DURATION] [-key KEY]",
		"Send a finished fax (sent, failed or cancelled) again as a new fax with the same pages\nand settings, to the same number or another. Prints the new fax's id.")
	var req client.ResendRequest
	fs.StringVar(&req.To, "to", "", "send to this `number` instead of the old fax's")
	deadline := fs.String("deadline", "", "give the new fax up if still unsent at `TIME` (RFC 3339)")
	fs.StringVar(&req.KillAfter, "kill-after", "", "give the new fax up if still unsent this `long` after now (90m, 36h)")
	key := fs.String("key", "", "idempotency `key` (default: a random one, so failover retries never send twice)")
	id, code, ok := a.parseID(fs, args, "fax")
	if !ok {
		return code, nil
	}
	if req.Deadline, ok = a.optTime(fs, "deadline", *deadline); !ok {
		return exitUsage, nil
	}
	f, existed, err := a.c.ResendFax(ctx, id, req, *key)
	if err != nil {
		return exitFailed, err
	}
	if a.json {
		a.printJSON(f)
		return exitOK, nil
	}
	verb := "queued"
	if existed {
		verb = "already resent with this key"
	}
	fmt.Fprintf(a.stdout, "fax %d %s: fax %d again, %d page(s) to %s, %s\n", f.ID, verb, id, f.PagesTotal, f.To, f.State)
	return exitOK, nil
}

func (a *app) deleteFax(ctx context.Context, path string, args []string) (int, error) {
	fs := a.flags(path, "ID [-reason TEXT]",
		"Delete the documents of a finished fax (sent, failed or cancelled). The fax stays\nlisted as deleted: status and download then answer that it was deleted, by whom and when.")
	reason := fs.String("reason", "", "why, kept with the tombstone and in the audit log")
	id, code, ok := a.parseID(fs, args, "fax")
	if !ok {
		return code, nil
	}
	if err := a.c.DeleteFax(ctx, id, *reason); err != nil {
		return exitFailed, err
	}
	fmt.Fprintf(a.stdout, "fax %d deleted\n", id)
	return exitOK, nil
}
