package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"mime"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/faxd/faxd/internal/api"
	"github.com/faxd/faxd/internal/api/tokens"
)

// contentTypes by file extension; the server decides by content anyway
// and refuses a declared type the content contradicts.
var contentTypes = map[string]string{
	".pdf": "application/pdf", ".ps": "application/postscript", ".tif": "image/tiff", ".tiff": "image/tiff",
	".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".gif": "image/gif", ".txt": "text/plain",
}

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

func (a *app) send(ctx context.Context, args []string) (int, error) {
	fs := subFlags("send", a.stderr)
	var req api.FaxRequest
	fs.StringVar(&req.To, "to", "", "destination fax `number` (required)")
	fs.StringVar(&req.From, "from", "", "our fax `number` (station id)")
	fs.StringVar(&req.Header, "header", "", "sender `name` for the header line")
	fs.IntVar(&req.Priority, "priority", 0, "priority -1000..1000, higher first")
	sendAfter := fs.String("send-after", "", "send no earlier than `TIME` (RFC 3339) or after a duration such as 2h")
	fs.IntVar(&req.MaxAttempts, "max-attempts", 0, "attempts before the fax fails (default: the server's)")
	fs.StringVar(&req.CallbackURL, "callback", "", "`URL` notified when the fax completes or fails")
	fs.StringVar(&req.Resolution, "resolution", "", "standard, fine or superfine (default: the server's)")
	key := fs.String("key", "", "idempotency `key` (default: a random one, so failover retries never send twice)")
	meta := metaFlag{}
	fs.Var(meta, "meta", "metadata `key=value` (repeatable)")
	files, err := parseInterleaved(fs, args)
	if err != nil {
		return 2, nil
	}
	if len(files) == 0 || req.To == "" {
		fmt.Fprintln(a.stderr, "usage: faxctl send FILE... -to NUMBER [-from N] [-header NAME] [-priority P] [-send-after T] [-key K]")
		return 2, nil
	}
	if *sendAfter != "" {
		t, err := time.Parse(time.RFC3339, *sendAfter)
		if err != nil {
			d, derr := time.ParseDuration(*sendAfter)
			if derr != nil {
				return 2, fmt.Errorf("-send-after %q: want an RFC 3339 time (2030-01-02T15:04:05Z) or a duration (90m)", *sendAfter)
			}
			t = time.Now().Add(d)
		}
		req.SendAfter = &t
	}
	if len(meta) > 0 {
		req.Metadata = meta
	}
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", `form-data; name="fax"`)
	h.Set("Content-Type", "application/json")
	w, _ := mw.CreatePart(h)
	if err := json.NewEncoder(w).Encode(req); err != nil {
		return 1, err
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return 1, err
		}
		h := textproto.MIMEHeader{}
		h.Set("Content-Disposition", mime.FormatMediaType("form-data", map[string]string{"name": "document", "filename": filepath.Base(f)}))
		ct := contentTypes[strings.ToLower(filepath.Ext(f))]
		if ct == "" {
			ct = "application/octet-stream"
		}
		h.Set("Content-Type", ct)
		pw, _ := mw.CreatePart(h)
		pw.Write(data)
	}
	mw.Close()
	if *key == "" {
		*key = newKey()
	}
	r, err := a.c.do(ctx, http.MethodPost, "/v1/faxes", body.Bytes(), mw.FormDataContentType(), map[string]string{"Idempotency-Key": *key})
	if err != nil {
		return 1, err
	}
	if a.json {
		a.printJSON(r.body)
		return 0, nil
	}
	var f api.Fax
	if err := json.Unmarshal(r.body, &f); err != nil {
		return 1, err
	}
	verb := "queued"
	if r.status == http.StatusOK {
		verb = "already submitted with this key"
	}
	fmt.Fprintf(a.stdout, "fax %d %s: %d page(s) to %s, %s\n", f.ID, verb, f.PagesTotal, f.To, f.State)
	return 0, nil
}

func idArg(args []string, what string) (string, error) {
	if len(args) != 1 {
		return "", fmt.Errorf("usage: faxctl %s ID", what)
	}
	if n, err := strconv.ParseInt(args[0], 10, 64); err != nil || n <= 0 {
		return "", fmt.Errorf("%q is not a fax id", args[0])
	}
	return args[0], nil
}

func when(t *time.Time) string {
	if t == nil || t.IsZero() {
		return "-"
	}
	return t.Local().Format("2006-01-02 15:04:05")
}

func (a *app) status(ctx context.Context, args []string) (int, error) {
	id, err := idArg(args, "status")
	if err != nil {
		return 2, err
	}
	var f api.Fax
	if printed, err := a.show(ctx, "/v1/faxes/"+id, &f); err != nil || printed {
		return exitCode(err), err
	}
	tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
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
	tw.Flush()
	fmt.Fprintln(a.stdout, "History:")
	tw = tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
	for _, h := range f.History {
		from := h.From
		if from == "" {
			from = "-"
		}
		fmt.Fprintf(tw, "  %s\t%s -> %s\t%s\t%s\n", when(&h.At), from, h.To, h.Node, strings.TrimSpace(h.Class+" "+h.Reason))
	}
	tw.Flush()
	return 0, nil
}

func (a *app) list(ctx context.Context, args []string) (int, error) {
	fs := subFlags("list", a.stderr)
	state := fs.String("state", "", "states, comma-separated (pending, sending, sent, failed, cancelled)")
	to := fs.String("to", "", "destination number")
	submitter := fs.String("submitter", "", "submitter (admins)")
	after := fs.String("created-after", "", "RFC 3339 time")
	before := fs.String("created-before", "", "RFC 3339 time")
	limit := fs.Int("limit", 50, "faxes per page")
	cursor := fs.String("cursor", "", "continue from a previous page")
	if pos, err := parseInterleaved(fs, args); err != nil || len(pos) > 0 {
		return 2, nil
	}
	q := url.Values{}
	for k, v := range map[string]string{"state": *state, "to": *to, "submitter": *submitter,
		"created_after": *after, "created_before": *before, "cursor": *cursor} {
		if v != "" {
			q.Set(k, v)
		}
	}
	q.Set("limit", strconv.Itoa(*limit))
	var l api.FaxList
	if printed, err := a.show(ctx, "/v1/faxes?"+q.Encode(), &l); err != nil || printed {
		return exitCode(err), err
	}
	tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSTATE\tTO\tPAGES\tATTEMPTS\tSUBMITTER\tCREATED\tREASON")
	for _, f := range l.Faxes {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%d/%d\t%d/%d\t%s\t%s\t%s\n", f.ID, f.State, f.To, f.PagesConfirmed, f.PagesTotal,
			f.Attempts, f.MaxAttempts, f.Submitter, when(&f.CreatedAt), f.LastReason)
	}
	tw.Flush()
	if l.NextCursor != "" {
		fmt.Fprintf(a.stdout, "more: faxctl list -cursor %s\n", l.NextCursor)
	}
	return 0, nil
}

func (a *app) cancel(ctx context.Context, args []string) (int, error) {
	id, err := idArg(args, "cancel")
	if err != nil {
		return 2, err
	}
	r, err := a.c.do(ctx, http.MethodPost, "/v1/faxes/"+id+"/cancel", nil, "", nil)
	if err != nil {
		return 1, err
	}
	if a.json {
		a.printJSON(r.body)
		return 0, nil
	}
	if r.status == http.StatusAccepted {
		fmt.Fprintf(a.stdout, "fax %s: cancel requested; the call in progress is being hung up\n", id)
	} else {
		fmt.Fprintf(a.stdout, "fax %s cancelled\n", id)
	}
	return 0, nil
}

func (a *app) download(ctx context.Context, args []string) (int, error) {
	fs := subFlags("download", a.stderr)
	format := fs.String("format", "pdf", "tiff, pdf or original")
	part := fs.Int("part", 0, "with -format original: which submitted document, from 0")
	out := fs.String("o", "", "output `file` (default fax-ID.pdf/.tif; - for stdout)")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return 2, nil
	}
	id, err := idArg(pos, "download")
	if err != nil {
		return 2, err
	}
	q := url.Values{"format": {*format}}
	if *format == "original" {
		q.Set("part", strconv.Itoa(*part))
	}
	return a.save(ctx, "/v1/faxes/"+id+"/document?"+q.Encode(), *out, "fax-"+id)
}

// save downloads path into out: the server's file name when out is empty
// (fallback when it gives none), standard output for "-".
func (a *app) save(ctx context.Context, path, out, fallback string) (int, error) {
	r, err := a.c.do(ctx, http.MethodGet, path, nil, "", nil)
	if err != nil {
		return 1, err
	}
	name := out
	if name == "" {
		_, params, _ := mime.ParseMediaType(r.header.Get("Content-Disposition"))
		name = filepath.Base(params["filename"])
		if name == "" || name == "." || name == "/" {
			name = fallback
		}
	}
	if name == "-" {
		_, err = a.stdout.Write(r.body)
		return 0, err
	}
	if err := os.WriteFile(name, r.body, 0o644); err != nil {
		return 1, err
	}
	fmt.Fprintf(a.stderr, "wrote %s (%d bytes)\n", name, len(r.body))
	return 0, nil
}

func (a *app) tokenCmd(ctx context.Context, args []string) (int, error) {
	if len(args) == 0 {
		return 2, fmt.Errorf("usage: faxctl token create -name NAME [-role submitter|admin] | token list | token revoke ID")
	}
	switch args[0] {
	case "create":
		fs := subFlags("token create", a.stderr)
		name := fs.String("name", "", "token `name`")
		role := fs.String("role", "submitter", "submitter or admin")
		expires := fs.String("expires", "", "lifetime such as 90d or 12h after which the token is refused; empty: never")
		if pos, err := parseInterleaved(fs, args[1:]); err != nil || len(pos) > 0 || *name == "" {
			return 2, fmt.Errorf("usage: faxctl token create -name NAME [-role submitter|admin] [-expires 90d]")
		}
		body, _ := json.Marshal(api.TokenInput{Name: *name, Role: tokens.Role(*role), ExpiresIn: *expires})
		r, err := a.c.do(ctx, http.MethodPost, "/v1/tokens", body, "application/json", nil)
		if err != nil {
			return 1, err
		}
		if a.json {
			a.printJSON(r.body)
			return 0, nil
		}
		var ct api.CreatedToken
		if err := json.Unmarshal(r.body, &ct); err != nil {
			return 1, err
		}
		fmt.Fprintln(a.stdout, ct.Secret)
		fmt.Fprintf(a.stderr, "token %d (%s, %s) created; the line above is shown only once: store it now\n", ct.ID, ct.Name, ct.Role)
		return 0, nil
	case "list":
		var l struct{ Tokens []tokens.Token }
		if printed, err := a.show(ctx, "/v1/tokens", &l); err != nil || printed {
			return exitCode(err), err
		}
		tokens.PrintTable(a.stdout, l.Tokens)
		return 0, nil
	case "revoke":
		if len(args) != 2 {
			return 2, fmt.Errorf("usage: faxctl token revoke ID")
		}
		if _, err := strconv.ParseInt(args[1], 10, 64); err != nil {
			return 2, fmt.Errorf("%q is not a token id (see faxctl token list)", args[1])
		}
		r, err := a.c.do(ctx, http.MethodDelete, "/v1/tokens/"+args[1], nil, "", nil)
		if err != nil {
			return 1, err
		}
		if a.json {
			a.printJSON(r.body)
			return 0, nil
		}
		fmt.Fprintf(a.stdout, "token %s revoked\n", args[1])
		return 0, nil
	}
	return 2, fmt.Errorf("unknown token command %q (create, list, revoke)", args[0])
}
