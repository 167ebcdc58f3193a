package console

import (
	"context"
	"errors"
	"fmt"
	"html/template"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/faxd/faxd/client"
)

var funcs = template.FuncMap{
	// when renders a time for the browser to localise (console.js); the
	// UTC text is what a browser without script shows.
	"when": func(v any) template.HTML {
		var t time.Time
		switch x := v.(type) {
		case time.Time:
			t = x
		case *time.Time:
			if x == nil {
				return ""
			}
			t = *x
		}
		if t.IsZero() {
			return ""
		}
		u := t.UTC()
		return template.HTML(fmt.Sprintf(`<time datetime="%s">%s</time>`, u.Format(time.RFC3339), u.Format("2006-01-02 15:04:05 UTC")))
	},
	"since": func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return time.Since(t).Round(time.Second).String()
	},
	"call":       callOf,
	"future":     func(t *time.Time) bool { return t != nil && t.After(time.Now()) },
	"query":      urlQueryEscape,
	"fieldError": fieldError,
	"seq": func(n int) []int {
		s := make([]int, n)
		for i := range s {
			s[i] = i + 1
		}
		return s
	},
	"list": func(v ...string) []string { return v },
	"dict": func(kv ...any) map[string]any {
		m := map[string]any{}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i].(string)] = kv[i+1]
		}
		return m
	},
	"deref":       func(b *bool) bool { return b != nil && *b },
	"add":         func(a, b int) int { return a + b },
	"now":         func() time.Time { return time.Now() },
	"otherErrors": otherErrors,
	"final": func(state string) bool {
		return state == "sent" || state == "failed" || state == "cancelled"
	},
}

func urlQueryEscape(s string) string { return url.QueryEscape(s) }

// fieldError picks, from the API's problem errors, the ones about field
// (they start with the field's name), for showing beside that field.
func fieldError(errs []string, field string) string {
	var out []string
	for _, e := range errs {
		name, _, _ := strings.Cut(e, " ")
		name = strings.TrimSuffix(name, ":")
		if name == field {
			out = append(out, e)
		}
	}
	return strings.Join(out, "; ")
}

// otherErrors are the errors about none of the form's fields.
func otherErrors(errs []string, fields ...string) []string {
	var out []string
	for _, e := range errs {
		mine := false
		for _, f := range fields {
			if fieldError([]string{e}, f) != "" {
				mine = true
			}
		}
		if !mine {
			out = append(out, e)
		}
	}
	return out
}

func (c *Console) pageRoutes(mux *http.ServeMux) {
	mux.Handle("GET /console/{$}", c.auth(c.dashboard))
	mux.Handle("GET /console/events/dashboard", c.auth(c.dashboardEvents))
	mux.Handle("GET /console/outbound", c.auth(c.outbound))
	mux.Handle("GET /console/outbound/{id}", c.auth(c.outboundDetail))
	mux.Handle("GET /console/outbound/{id}/document", c.auth(c.outboundDocument))
	mux.Handle("GET /console/outbound/{id}/trace/{n}", c.auth(c.outboundTrace))
	mux.Handle("POST /console/outbound/{id}/cancel", c.auth(c.outboundCancel))
	mux.Handle("POST /console/outbound/{id}/resend", c.auth(c.outboundResend))
	mux.Handle("POST /console/outbound/{id}/retry", c.auth(c.outboundRetry))
	mux.Handle("GET /console/outbound/{id}/thumbnail/{n}", c.auth(c.thumbnail((*client.Client).GetFaxThumbnail)))
	mux.Handle("GET /console/events/outbound/{id}", c.auth(c.outboundEvents))
	mux.Handle("GET /console/send", c.auth(c.sendPage))
	mux.Handle("POST /console/send", c.auth(c.send))
	mux.Handle("GET /console/received", c.auth(c.received))
	mux.Handle("GET /console/received/{id}", c.auth(c.receivedDetail))
	mux.Handle("GET /console/received/{id}/page/{n}", c.auth(c.receivedPage))
	mux.Handle("GET /console/received/{id}/thumbnail/{n}", c.auth(c.thumbnail((*client.Client).GetReceivedThumbnail)))
	mux.Handle("GET /console/received/{id}/document", c.auth(c.receivedDocument))
	mux.Handle("POST /console/received/{id}/reroute", c.auth(c.receivedReroute))
	mux.Handle("POST /console/received/{id}/read", c.auth(c.receivedRead))
	mux.Handle("GET /console/archive", c.auth(c.archive))
	mux.Handle("GET /console/config/gateways", c.auth(c.gateways))
	mux.Handle("POST /console/config/gateways", c.auth(c.createGateway))
	c.configRoutes(mux) // config.go
	mux.Handle("GET /console/cluster", c.auth(c.cluster))
	mux.Handle("GET /console/cluster/{op}", c.auth(c.clusterConfirm))
	mux.Handle("POST /console/cluster/{op}", c.auth(c.clusterControl))
	mux.Handle("GET /console/audit", c.auth(c.audit))
	mux.Handle("GET /console/deliveries", c.auth(c.deliveries))
	mux.Handle("POST /console/deliveries/{id}/retry", c.auth(c.deliveryRetry))
}

func pathID(r *http.Request) (int64, bool) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	return id, err == nil && id > 0
}

func (c *Console) badID(w http.ResponseWriter, r *http.Request, s *session) {
	c.render(w, r, s, http.StatusNotFound, "error", errorPage{Title: "Not found", Message: fmt.Sprintf("%q is not a fax number of this server.", r.PathValue("id"))})
}

// ---- dashboard

type dashboardData struct {
	Stats *client.QueueStats
	// ReceivedToday counts received faxes since the start of the UTC day;
	// ReceivedMore says there are more than counted.
	ReceivedToday int
	ReceivedMore  bool
	Cluster       *client.Cluster
	Health        *client.GatewayHealthReport
	Calls         []client.Fax
	Problems      []string
}

func (c *Console) dashboardData(r *http.Request, s *session) (dashboardData, error) {
	var d dashboardData
	ctx := r.Context()
	calls, err := s.api.ListFaxes(ctx, client.ListFaxesParams{States: []string{"sending"}, Limit: 100})
	if err != nil {
		return d, err
	}
	d.Calls = calls.Faxes
	if s.Admin() {
		if d.Stats, err = s.api.GetQueueStats(ctx, time.Time{}); err != nil {
			d.Problems = append(d.Problems, "Queue: "+err.Error())
		} else {
			rec, err := s.api.ListReceived(ctx, client.ListReceivedParams{ReceivedAfter: d.Stats.Since, Limit: 500})
			if err != nil {
				d.Problems = append(d.Problems, "Received: "+err.Error())
			} else {
				d.ReceivedToday, d.ReceivedMore = len(rec.Received), rec.NextCursor != ""
			}
		}
		if d.Cluster, err = s.api.GetCluster(ctx); err != nil {
			d.Problems = append(d.Problems, "Cluster: "+err.Error())
		}
		if d.Health, err = s.api.GetGatewayHealth(ctx); err != nil {
			d.Problems = append(d.Problems, "Gateway health: "+err.Error())
		}
	}
	return d, nil
}

func (c *Console) dashboard(w http.ResponseWriter, r *http.Request, s *session) {
	d, err := c.dashboardData(r, s)
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	c.render(w, r, s, http.StatusOK, "dashboard", d)
}

// sse streams fragment every LiveInterval until the client goes or done
// reports true.
func (c *Console) sse(w http.ResponseWriter, r *http.Request, event string, next func() (html string, done bool, err error)) {
	fl, ok := w.(http.Flusher)
	if !ok {
		http.Error(w, "streaming unsupported", http.StatusInternalServerError)
		return
	}
	rc := http.NewResponseController(w)
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	tick := time.NewTicker(c.live)
	defer tick.Stop()
	last := ""
	for {
		html, done, err := next()
		if err != nil {
			c.log.Info("console live update stopped", "path", r.URL.Path, "err", err)
			return
		}
		// The server's write timeout is for ordinary answers; a stream
		// extends its deadline at every event.
		_ = rc.SetWriteDeadline(time.Now().Add(c.live + 30*time.Second))
		if html == last && !done {
			// Nothing changed: a comment keeps the stream alive (and
			// finds a gone browser) without replacing the region, so a
			// button being pressed is not swapped under the pointer.
			fmt.Fprint(w, ":\n\n")
		} else {
			fmt.Fprintf(w, "event: %s\n", event)
			for _, line := range strings.Split(html, "\n") {
				fmt.Fprintf(w, "data: %s\n", line)
			}
			fmt.Fprint(w, "\n")
			last = html
		}
		if done {
			// EventSource reconnects after a stream ends; "done" tells
			// console.js to close it instead.
			fmt.Fprint(w, "event: done\ndata: \n\n")
		}
		fl.Flush()
		if done {
			return
		}
		select {
		case <-r.Context().Done():
			return
		case <-tick.C:
		}
	}
}

// fragment renders a named template of a page's set (no layout).
func (c *Console) fragment(pageName, name string, data any) (string, error) {
	var b strings.Builder
	err := c.pages[pageName].ExecuteTemplate(&b, name, data)
	return b.String(), err
}

func (c *Console) dashboardEvents(w http.ResponseWriter, r *http.Request, s *session) {
	c.sse(w, r, "dashboard", func() (string, bool, error) {
		d, err := c.dashboardData(r, s)
		if err != nil {
			return "", true, err
		}
		html, err := c.fragment("dashboard", "live", page{S: s, Data: d})
		return html, false, err
	})
}

// ---- outbound

type outboundData struct {
	Q          url.Values
	Faxes      []client.Fax
	NextCursor string
	Error      string
}

func parseDate(v string, endOfDay bool) time.Time {
	t, err := time.Parse("2006-01-02", v)
	if err != nil {
		return time.Time{}
	}
	if endOfDay {
		t = t.Add(24 * time.Hour)
	}
	return t
}

func (c *Console) outbound(w http.ResponseWriter, r *http.Request, s *session) {
	q := r.URL.Query()
	p := client.ListFaxesParams{To: q.Get("to"), Submitter: q.Get("submitter"), Cursor: q.Get("cursor"), Limit: 50,
		CreatedAfter: parseDate(q.Get("from"), false), CreatedBefore: parseDate(q.Get("until"), true)}
	if st := q.Get("state"); st != "" {
		p.States = []string{st}
	}
	d := outboundData{Q: q}
	list, err := s.api.ListFaxes(r.Context(), p)
	var ae *client.Error
	if errors.As(err, &ae) && ae.Status == http.StatusBadRequest {
		d.Error = ae.Detail
		c.render(w, r, s, http.StatusBadRequest, "outbound", d)
		return
	}
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	d.Faxes, d.NextCursor = list.Faxes, list.NextCursor
	next := url.Values{}
	for k, v := range q {
		next[k] = v
	}
	if d.NextCursor != "" {
		next.Set("cursor", d.NextCursor)
		d.NextCursor = next.Encode()
	}
	c.render(w, r, s, http.StatusOK, "outbound", d)
}

type faxData struct {
	Fax    *client.Fax
	Notice string
	// Nonce makes the resend form's idempotency key: a second press of
	// the same form resends once.
	Nonce string
}

func (c *Console) outboundDetail(w http.ResponseWriter, r *http.Request, s *session) {
	id, ok := pathID(r)
	if !ok {
		c.badID(w, r, s)
		return
	}
	f, err := s.api.GetFax(r.Context(), id)
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	c.render(w, r, s, http.StatusOK, "fax", faxData{Fax: f, Notice: r.URL.Query().Get("notice"), Nonce: client.NewIdempotencyKey()})
}

// outboundRetry makes a fax that waits for its next attempt due now.
func (c *Console) outboundRetry(w http.ResponseWriter, r *http.Request, s *session) {
	id, ok := pathID(r)
	if !ok {
		c.badID(w, r, s)
		return
	}
	if _, err := s.api.RetryFax(r.Context(), id); err != nil {
		c.fail(w, r, s, err)
		return
	}
	http.Redirect(w, r, fmt.Sprintf("/console/outbound/%d?notice=%s", id, url.QueryEscape("The fax is due now; the next free channel sends it.")), http.StatusSeeOther)
}

// outboundResend sends a finished fax again as a new fax and opens it.
func (c *Console) outboundResend(w http.ResponseWriter, r *http.Request, s *session) {
	id, ok := pathID(r)
	if !ok {
		c.badID(w, r, s)
		return
	}
	nonce := r.FormValue("nonce")
	if nonce == "" {
		nonce = client.NewIdempotencyKey()
	}
	f, _, err := s.api.ResendFax(r.Context(), id, client.ResendRequest{To: strings.TrimSpace(r.FormValue("to"))}, "console-resend-"+nonce)
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	http.Redirect(w, r, fmt.Sprintf("/console/outbound/%d?notice=%s", f.ID, url.QueryEscape(fmt.Sprintf("Fax %d resent as this new fax.", id))), http.StatusSeeOther)
}

func (c *Console) outboundEvents(w http.ResponseWriter, r *http.Request, s *session) {
	id, ok := pathID(r)
	if !ok {
		c.badID(w, r, s)
		return
	}
	c.sse(w, r, "fax", func() (string, bool, error) {
		f, err := s.api.GetFax(r.Context(), id)
		if err != nil {
			return "", true, err
		}
		html, err := c.fragment("fax", "live", page{S: s, Data: faxData{Fax: f, Nonce: client.NewIdempotencyKey()}})
		final := f.State == "sent" || f.State == "failed" || f.State == "cancelled"
		return html, final, err
	})
}

func (c *Console) outboundCancel(w http.ResponseWriter, r *http.Request, s *session) {
	id, ok := pathID(r)
	if !ok {
		c.badID(w, r, s)
		return
	}
	if _, _, err := s.api.CancelFax(r.Context(), id); err != nil {
		c.fail(w, r, s, err)
		return
	}
	http.Redirect(w, r, fmt.Sprintf("/console/outbound/%d?notice=%s", id, url.QueryEscape("Cancel requested.")), http.StatusSeeOther)
}

func (c *Console) download(w http.ResponseWriter, r *http.Request, s *session, d *client.Download, err error) {
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	defer d.Close()
	if d.ContentType != "" {
		w.Header().Set("Content-Type", d.ContentType)
	}
	if d.Filename != "" && r.URL.Query().Get("inline") == "" {
		w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", d.Filename))
	}
	w.Header().Set("Cache-Control", "private, no-store")
	_, _ = io.Copy(w, d)
}

func (c *Console) outboundDocument(w http.ResponseWriter, r *http.Request, s *session) {
	id, ok := pathID(r)
	if !ok {
		c.badID(w, r, s)
		return
	}
	d, err := s.api.GetFaxDocument(r.Context(), id, r.URL.Query().Get("format"), 0)
	c.download(w, r, s, d, err)
}

type traceData struct {
	FaxID int64
	Trace *client.CallTrace
}

func (c *Console) outboundTrace(w http.ResponseWriter, r *http.Request, s *session) {
	id, ok := pathID(r)
	n, err := strconv.Atoi(r.PathValue("n"))
	if !ok || err != nil || n < 1 {
		c.badID(w, r, s)
		return
	}
	tr, err := s.api.GetAttemptTrace(r.Context(), id, n)
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	c.render(w, r, s, http.StatusOK, "trace", traceData{FaxID: id, Trace: tr})
}

// ---- send

type sendData struct {
	Form   url.Values
	Errors []string
	Error  string
}

func (c *Console) sendPage(w http.ResponseWriter, r *http.Request, s *session) {
	c.render(w, r, s, http.StatusOK, "send", sendData{Form: url.Values{}})
}

func (c *Console) send(w http.ResponseWriter, r *http.Request, s *session) {
	f := r.MultipartForm
	form := url.Values{}
	if f != nil {
		form = f.Value
	}
	d := sendData{Form: form}
	req := client.FaxRequest{To: r.FormValue("to"), Header: r.FormValue("header"), Resolution: r.FormValue("resolution")}
	if p := r.FormValue("priority"); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil {
			d.Errors = append(d.Errors, "priority must be a whole number")
		}
		req.Priority = n
	}
	if v := r.FormValue("send_after"); v != "" {
		// datetime-local has no zone; the browser adds its offset in a
		// hidden field (console.js), else it is read as UTC.
		t, err := time.Parse("2006-01-02T15:04", v)
		if err != nil {
			d.Errors = append(d.Errors, "send_after must be a date and time")
		} else {
			if off, err := strconv.Atoi(r.FormValue("tz_offset")); err == nil {
				t = t.Add(time.Duration(off) * time.Minute)
			}
			req.SendAfter = &t
		}
	}
	if r.FormValue("cover") != "" {
		req.Cover = &client.Cover{ToName: r.FormValue("cover_to"), FromName: r.FormValue("cover_from"),
			Subject: r.FormValue("cover_subject"), Comment: r.FormValue("cover_comment")}
	}
	var docs []client.Document
	if f != nil {
		for _, fh := range f.File["document"] {
			fd, err := fh.Open()
			if err != nil {
				c.fail(w, r, s, err)
				return
			}
			defer fd.Close()
			docs = append(docs, client.Document{Name: fh.Filename, ContentType: fh.Header.Get("Content-Type"), Body: fd})
		}
	}
	if len(docs) == 0 {
		d.Errors = append(d.Errors, "document: choose at least one file to send")
	}
	if len(d.Errors) > 0 {
		c.render(w, r, s, http.StatusBadRequest, "send", d)
		return
	}
	fax, _, err := s.api.SubmitFax(r.Context(), req, docs, r.FormValue("idempotency_key"))
	var ae *client.Error
	if errors.As(err, &ae) && ae.Status < 500 && ae.Status != http.StatusForbidden && ae.Status != http.StatusUnauthorized {
		d.Error, d.Errors = ae.Detail, ae.Errors
		if len(d.Errors) == 0 {
			d.Errors = []string{ae.Detail}
		}
		c.render(w, r, s, ae.Status, "send", d)
		return
	}
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	http.Redirect(w, r, fmt.Sprintf("/console/outbound/%d?notice=%s", fax.ID, url.QueryEscape("Fax queued.")), http.StatusSeeOther)
}

// ---- received

type receivedData struct {
	// Unread: the person's unread faxes of the mailboxes they see, first
	// on the first page.
	Unread     []unreadFax
	UnreadIDs  map[int64]bool
	Received   []client.ReceivedFax
	NextCursor string
}

type unreadFax struct {
	Mailbox string
	Fax     client.ReceivedFax
}

func (c *Console) received(w http.ResponseWriter, r *http.Request, s *session) {
	if !s.Operator() {
		// Users see received faxes through their mailboxes only.
		d, err := mailboxFaxes(r.Context(), s.api, false)
		if err != nil {
			c.fail(w, r, s, err)
			return
		}
		c.render(w, r, s, http.StatusOK, "received", d)
		return
	}
	cursor := r.URL.Query().Get("cursor")
	list, err := s.api.ListReceived(r.Context(), client.ListReceivedParams{Cursor: cursor, Limit: 50})
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	d := receivedData{Received: list.Received, NextCursor: list.NextCursor, UnreadIDs: map[int64]bool{}}
	if cursor == "" {
		u, err := mailboxFaxes(r.Context(), s.api, true)
		if err != nil {
			c.fail(w, r, s, err)
			return
		}
		d.Unread, d.UnreadIDs = u.Unread, u.UnreadIDs
	}
	c.render(w, r, s, http.StatusOK, "received", d)
}

// mailboxFaxes collects the faxes of the mailboxes the person may see:
// the unread ones (read marks are per person) in Unread, the others in
// Received (unless unreadOnly), newest first, each once.
func mailboxFaxes(ctx context.Context, api *client.Client, unreadOnly bool) (receivedData, error) {
	d := receivedData{UnreadIDs: map[int64]bool{}}
	boxes, err := api.ListMailboxes(ctx)
	if err != nil {
		return d, err
	}
	seen := map[int64]bool{}
	for _, b := range boxes {
		if unreadOnly && b.Unread == 0 {
			continue
		}
		m, err := api.GetMailbox(ctx, b.Mailbox, unreadOnly, 100)
		if err != nil {
			return d, err
		}
		for _, e := range m.Entries {
			if e.Fax == nil || seen[e.Fax.ID] {
				continue
			}
			seen[e.Fax.ID] = true
			if !e.Read {
				d.Unread = append(d.Unread, unreadFax{Mailbox: b.Mailbox, Fax: *e.Fax})
				d.UnreadIDs[e.Fax.ID] = true
			} else {
				d.Received = append(d.Received, *e.Fax)
			}
		}
	}
	slices.SortFunc(d.Unread, func(a, b unreadFax) int { return b.Fax.FinishedAt.Compare(a.Fax.FinishedAt) })
	slices.SortFunc(d.Received, func(a, b client.ReceivedFax) int { return b.FinishedAt.Compare(a.FinishedAt) })
	return d, nil
}

type receivedDetailData struct {
	Fax       *client.ReceivedFax
	Mailboxes []client.Mailbox
	Notice    string
	Errors    []string
	Form      url.Values
}

func (c *Console) receivedDetailRender(w http.ResponseWriter, r *http.Request, s *session, status int, d receivedDetailData) {
	id, ok := pathID(r)
	if !ok {
		c.badID(w, r, s)
		return
	}
	f, err := s.api.GetReceived(r.Context(), id)
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	d.Fax = f
	if d.Mailboxes, err = s.api.ListMailboxes(r.Context()); err != nil {
		c.fail(w, r, s, err)
		return
	}
	if d.Form == nil {
		d.Form = url.Values{}
	}
	c.render(w, r, s, status, "receivedfax", d)
}

func (c *Console) receivedDetail(w http.ResponseWriter, r *http.Request, s *session) {
	c.receivedDetailRender(w, r, s, http.StatusOK, receivedDetailData{Notice: r.URL.Query().Get("notice")})
}

type pageViewData struct {
	Fax  *client.ReceivedFax
	Page int
}

func (c *Console) receivedPage(w http.ResponseWriter, r *http.Request, s *session) {
	id, ok := pathID(r)
	n, err := strconv.Atoi(r.PathValue("n"))
	if !ok || err != nil || n < 1 {
		c.badID(w, r, s)
		return
	}
	f, err := s.api.GetReceived(r.Context(), id)
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	if n > f.Pages {
		c.render(w, r, s, http.StatusNotFound, "error", errorPage{Title: "Not found", Message: fmt.Sprintf("Fax %d has %d pages.", id, f.Pages)})
		return
	}
	c.render(w, r, s, http.StatusOK, "pageview", pageViewData{Fax: f, Page: n})
}

// thumbnail serves page {n} of fax {id} as a PNG preview, fetched by get
// (the API's thumbnail of a sent or of a received fax).
func (c *Console) thumbnail(get func(*client.Client, context.Context, int64, int, int) (*client.Download, error)) func(http.ResponseWriter, *http.Request, *session) {
	return func(w http.ResponseWriter, r *http.Request, s *session) {
		id, ok := pathID(r)
		n, err := strconv.Atoi(r.PathValue("n"))
		if !ok || err != nil || n < 1 {
			c.badID(w, r, s)
			return
		}
		width, _ := strconv.Atoi(r.URL.Query().Get("width"))
		d, err := get(s.api, r.Context(), id, n, width)
		r.URL.RawQuery = "inline=1"
		c.download(w, r, s, d, err)
	}
}

func (c *Console) receivedDocument(w http.ResponseWriter, r *http.Request, s *session) {
	id, ok := pathID(r)
	if !ok {
		c.badID(w, r, s)
		return
	}
	d, err := s.api.GetReceivedDocument(r.Context(), id, r.URL.Query().Get("format"))
	c.download(w, r, s, d, err)
}

func (c *Console) receivedReroute(w http.ResponseWriter, r *http.Request, s *session) {
	id, ok := pathID(r)
	if !ok {
		c.badID(w, r, s)
		return
	}
	dest := client.DestinationInput{Kind: r.FormValue("kind"), Mailbox: r.FormValue("mailbox"), URL: r.FormValue("url")}
	for _, e := range strings.FieldsFunc(r.FormValue("emails"), func(r rune) bool { return r == ',' || r == ' ' || r == '\n' }) {
		dest.Emails = append(dest.Emails, e)
	}
	_, err := s.api.RerouteReceived(r.Context(), id, dest, r.FormValue("reason"))
	var ae *client.Error
	if errors.As(err, &ae) && (ae.Status == http.StatusBadRequest || ae.Status == http.StatusUnprocessableEntity || ae.Status == http.StatusConflict) {
		errs := ae.Errors
		if len(errs) == 0 {
			errs = []string{ae.Detail}
		}
		c.receivedDetailRender(w, r, s, ae.Status, receivedDetailData{Errors: errs, Form: r.PostForm})
		return
	}
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	http.Redirect(w, r, fmt.Sprintf("/console/received/%d?notice=%s", id, url.QueryEscape("Rerouted.")), http.StatusSeeOther)
}

func (c *Console) receivedRead(w http.ResponseWriter, r *http.Request, s *session) {
	id, ok := pathID(r)
	if !ok {
		c.badID(w, r, s)
		return
	}
	var err error
	if r.FormValue("read") == "false" {
		_, err = s.api.MarkReceivedUnread(r.Context(), id)
	} else {
		_, err = s.api.MarkReceivedRead(r.Context(), id)
	}
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	http.Redirect(w, r, fmt.Sprintf("/console/received/%d", id), http.StatusSeeOther)
}

// ---- archive

type archiveData struct {
	Q          url.Values
	Faxes      []client.ArchivedFax
	NextCursor string
	Error      string
}

func (c *Console) archive(w http.ResponseWriter, r *http.Request, s *session) {
	q := r.URL.Query()
	p := client.ArchiveParams{Direction: q.Get("direction"), Result: q.Get("result"), Number: q.Get("number"),
		Submitter: q.Get("submitter"), FinishedAfter: parseDate(q.Get("from"), false), FinishedBefore: parseDate(q.Get("until"), true),
		Cursor: q.Get("cursor"), Limit: 100}
	if q.Get("format") == "csv" {
		c.archiveCSV(w, r, s, p)
		return
	}
	d := archiveData{Q: q}
	res, err := s.api.SearchArchive(r.Context(), p)
	var ae *client.Error
	if errors.As(err, &ae) && ae.Status == http.StatusBadRequest {
		d.Error = ae.Detail
		c.render(w, r, s, http.StatusBadRequest, "archive", d)
		return
	}
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	d.Faxes = res.Faxes
	if res.NextCursor != "" {
		next := url.Values{}
		for k, v := range q {
			next[k] = v
		}
		next.Set("cursor", res.NextCursor)
		d.NextCursor = next.Encode()
	}
	c.render(w, r, s, http.StatusOK, "archive", d)
}

// ---- configuration

type gatewaysData struct {
	Gateways []client.Gateway
	Health   map[string]client.GatewayHealth
	Form     url.Values
	Errors   []string
	Notice   string
}

func (c *Console) gatewaysRender(w http.ResponseWriter, r *http.Request, s *session, status int, d gatewaysData) {
	gws, err := s.api.ListGateways(r.Context())
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	d.Gateways = gws
	d.Health = map[string]client.GatewayHealth{}
	if h, err := s.api.GetGatewayHealth(r.Context()); err == nil {
		for _, g := range h.Gateways {
			d.Health[g.Name] = g
		}
	}
	if d.Form == nil {
		d.Form = url.Values{}
	}
	c.render(w, r, s, status, "gateways", d)
}

func (c *Console) gateways(w http.ResponseWriter, r *http.Request, s *session) {
	c.gatewaysRender(w, r, s, http.StatusOK, gatewaysData{Notice: r.URL.Query().Get("notice")})
}

func (c *Console) createGateway(w http.ResponseWriter, r *http.Request, s *session) {
	in := client.GatewayInput{Name: r.FormValue("name"), Address: r.FormValue("address"), Username: r.FormValue("username")}
	var formErrs []string
	if v := r.FormValue("max_channels"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			formErrs = append(formErrs, "max_channels must be a whole number")
		}
		in.MaxChannels = n
	}
	if p := r.FormValue("password"); p != "" {
		in.Password = &p
	}
	enabled := r.FormValue("enabled") != ""
	in.Enabled = &enabled
	if len(formErrs) == 0 {
		_, err := s.api.CreateGateway(r.Context(), in)
		var ae *client.Error
		if errors.As(err, &ae) && ae.Status != http.StatusForbidden && ae.Status != http.StatusUnauthorized && ae.Status < 500 {
			formErrs = ae.Errors
			if len(formErrs) == 0 {
				formErrs = []string{ae.Detail}
			}
		} else if err != nil {
			c.fail(w, r, s, err)
			return
		}
	}
	if len(formErrs) > 0 {
		c.gatewaysRender(w, r, s, http.StatusBadRequest, gatewaysData{Form: r.PostForm, Errors: formErrs})
		return
	}
	http.Redirect(w, r, "/console/config/gateways?notice="+url.QueryEscape("Gateway "+in.Name+" created."), http.StatusSeeOther)
}

// ---- cluster

type clusterData struct {
	Cluster *client.Cluster
	Notice  string
}

func (c *Console) cluster(w http.ResponseWriter, r *http.Request, s *session) {
	cl, err := s.api.GetCluster(r.Context())
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	c.render(w, r, s, http.StatusOK, "cluster", clusterData{Cluster: cl, Notice: r.URL.Query().Get("notice")})
}

// controls says, for each standby control, what pressing it does.
var controls = map[string]string{
	"promote": "This standby becomes the primary now: it takes leases and starts sending and receiving faxes. If the old primary is still running, demote it first or both will work the queue.",
	"demote":  "This server stops being the primary and returns to standby: it stops taking jobs, lets calls in progress finish, and watches the primary again.",
	"enable":  "Automatic failover is switched on: after the configured number of failed checks of the primary, this standby promotes itself.",
	"disable": "Automatic failover is switched off: this standby keeps watching the primary but never promotes itself; only an administrator can promote it.",
	"sync":    "The configuration (gateways, routes, inbound rules, tokens) is copied from the primary now instead of at the next scheduled sync.",
}

type confirmData struct {
	Op, What string
}

func (c *Console) clusterConfirm(w http.ResponseWriter, r *http.Request, s *session) {
	op := r.PathValue("op")
	what, ok := controls[op]
	if !ok {
		c.render(w, r, s, http.StatusNotFound, "error", errorPage{Title: "Not found", Message: "There is no standby control " + op + "."})
		return
	}
	if _, err := s.api.GetCluster(r.Context()); err != nil { // the API judges who may
		c.fail(w, r, s, err)
		return
	}
	c.render(w, r, s, http.StatusOK, "confirm", confirmData{Op: op, What: what})
}

func (c *Console) clusterControl(w http.ResponseWriter, r *http.Request, s *session) {
	op := r.PathValue("op")
	var err error
	switch op {
	case "promote":
		_, err = s.api.PromoteStandby(r.Context())
	case "demote":
		_, err = s.api.DemoteStandby(r.Context())
	case "enable":
		_, err = s.api.EnableStandby(r.Context())
	case "disable":
		_, err = s.api.DisableStandby(r.Context())
	case "sync":
		_, err = s.api.SyncStandby(r.Context())
	default:
		c.render(w, r, s, http.StatusNotFound, "error", errorPage{Title: "Not found", Message: "There is no standby control " + op + "."})
		return
	}
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	http.Redirect(w, r, "/console/cluster?notice="+url.QueryEscape("Done: "+op+"."), http.StatusSeeOther)
}

// ---- audit

type auditData struct {
	Q          url.Values
	Entries    []client.AuditEntry
	NextCursor string
}

func (c *Console) audit(w http.ResponseWriter, r *http.Request, s *session) {
	q := r.URL.Query()
	list, err := s.api.ListAuditEntries(r.Context(), client.ListAuditParams{Actor: q.Get("actor"), ObjectType: q.Get("object_type"),
		ObjectID: q.Get("object_id"), Action: q.Get("action"), Cursor: q.Get("cursor"), Limit: 100})
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	d := auditData{Q: q, Entries: list.Entries}
	if list.NextCursor != "" {
		next := url.Values{}
		for k, v := range q {
			next[k] = v
		}
		next.Set("cursor", list.NextCursor)
		d.NextCursor = next.Encode()
	}
	c.render(w, r, s, http.StatusOK, "audit", d)
}

// callInfo is what the sending node records of a call in progress (the
// fax's metadata "call").
type callInfo struct {
	Gateway, Node string
	BitRate       int
	ECM           bool
	Started       time.Time
}

func callOf(metadata map[string]any) callInfo {
	m, _ := metadata["call"].(map[string]any)
	var c callInfo
	c.Gateway, _ = m["gateway"].(string)
	c.Node, _ = m["node"].(string)
	if br, ok := m["bit_rate"].(float64); ok {
		c.BitRate = int(br)
	}
	c.ECM, _ = m["ecm"].(bool)
	if st, ok := m["started_at"].(string); ok {
		c.Started, _ = time.Parse(time.RFC3339Nano, st)
	}
	return c
}
