package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/faxd/faxd/internal/api/tokens"
	"github.com/faxd/faxd/internal/docstore"
	"github.com/faxd/faxd/internal/render"
	"github.com/faxd/faxd/queue"
)

// BroadcastRequest is the JSON part "broadcast" of a broadcast: a fax's
// fields (all but to) shared by every recipient, and the recipients.
// callback_url is called once, when every recipient's fax is final.
type BroadcastRequest struct {
	FaxRequest
	Recipients []Recipient `json:"recipients"`
}

// Recipient is one number of a broadcast, with what its cover page shows.
type Recipient struct {
	To      string            `json:"to"`
	Name    string            `json:"name,omitempty"`
	Company string            `json:"company,omitempty"`
	Vars    map[string]string `json:"vars,omitempty"`
}

// Broadcast is a broadcast as the API shows it.
type Broadcast struct {
	ID             int64          `json:"id"`
	Submitter      string         `json:"submitter"`
	IdempotencyKey string         `json:"idempotency_key,omitempty"`
	Recipients     int            `json:"recipients"`
	Counts         map[string]int `json:"counts"`
	Done           bool           `json:"done"`
	CallbackURL    string         `json:"callback_url,omitempty"`
	Metadata       map[string]any `json:"metadata"`
	CreatedAt      time.Time      `json:"created_at"`
	DoneAt         *time.Time     `json:"done_at,omitempty"`
}

// BroadcastList is a page of broadcasts; NextCursor continues it.
type BroadcastList struct {
	Broadcasts []Broadcast `json:"broadcasts"`
	NextCursor string      `json:"next_cursor,omitempty"`
}

func (a *API) broadcastRoutes() []route {
	return []route{
		{"POST", "/v1/broadcasts", tokens.Submitter, a.submitBroadcast},
		{"GET", "/v1/broadcasts", tokens.Submitter, a.listBroadcasts},
		{"GET", "/v1/broadcasts/{id}", tokens.Submitter, a.getBroadcast},
		{"GET", "/v1/broadcasts/{id}/faxes", tokens.Submitter, a.broadcastFaxes},
		{"POST", "/v1/broadcasts/{id}/cancel", tokens.Submitter, a.cancelBroadcast},
	}
}

func broadcastFrom(b queue.Broadcast) Broadcast {
	out := Broadcast{ID: b.ID, Submitter: b.Submitter, Recipients: b.Recipients, Counts: map[string]int{},
		CallbackURL: b.CallbackURL, Metadata: b.Metadata, CreatedAt: b.CreatedAt, Done: !b.DoneAt.IsZero()}
	if _, key, ok := strings.Cut(b.IdempotencyKey, keySep); ok {
		out.IdempotencyKey = key
	}
	for st, n := range b.Counts {
		out.Counts[string(st)] = n
	}
	if out.Metadata == nil {
		out.Metadata = map[string]any{}
	}
	if out.Done {
		t := b.DoneAt
		out.DoneAt = &t
	}
	return out
}

// validateRecipients normalises the numbers and names every bad field
// as recipients[i].field.
func (b *BroadcastRequest) validateRecipients(limit int) error {
	var errs []string
	bad := func(format string, a ...any) { errs = append(errs, fmt.Sprintf(format, a...)) }
	if b.To != "" {
		bad("to: a broadcast goes to recipients[].to; leave out to")
	}
	switch {
	case len(b.Recipients) == 0:
		bad("recipients: at least one recipient is required")
	case len(b.Recipients) > limit:
		bad("recipients: %d recipients, more than this server's limit of %d (api.max_broadcast_recipients)", len(b.Recipients), limit)
	}
	seen := map[string]int{}
	for i := range b.Recipients {
		rc := &b.Recipients[i]
		if rc.To == "" {
			bad("recipients[%d].to: the destination fax number is required", i)
		} else if n, err := normalizeNumber(rc.To); err != nil {
			bad("recipients[%d].to: %v", i, err)
		} else if j, dup := seen[n]; dup {
			bad("recipients[%d].to: %s is recipients[%d] already", i, n, j)
		} else {
			rc.To, seen[n] = n, i
		}
		if b.Cover == nil && (rc.Name != "" || rc.Company != "" || len(rc.Vars) > 0) {
			bad("recipients[%d]: name, company and vars are shown on the cover page; add a cover object or leave them out", i)
		}
		for name, v := range map[string]string{"name": rc.Name, "company": rc.Company} {
			if len(v) > 100 {
				bad("recipients[%d].%s: at most 100 characters", i, name)
			}
			if strings.ContainsFunc(v, func(r rune) bool { return r < ' ' || r == 0x7f }) {
				bad("recipients[%d].%s: control characters are not allowed", i, name)
			}
		}
		if len(rc.Vars) > 50 {
			bad("recipients[%d].vars: at most 50 variables", i)
		}
		for k, v := range rc.Vars {
			if len(k) > 64 || len(v) > 1000 {
				bad("recipients[%d].vars.%s: names at most 64 and values at most 1000 characters", i, k)
			}
		}
	}
	if len(errs) > 0 {
		p := newProblem(http.StatusBadRequest, "invalid-request", strings.Join(errs, "; "))
		p.Errors = errs
		return p
	}
	return nil
}

func (a *API) submitBroadcast(w http.ResponseWriter, r *http.Request, c *caller) error {
	key := r.Header.Get("Idempotency-Key")
	if key != "" && !validKey(key) {
		return newProblem(http.StatusBadRequest, "invalid-request", "Idempotency-Key must be 1-128 printable ASCII characters without spaces")
	}
	var br BroadcastRequest
	s := &submission{}
	if isJSONBody(r) { // the JSON body of POST /v1/faxes, with recipients
		var jb JSONBroadcast
		if err := a.decodeJSONBody(w, r, &jb, "broadcast"); err != nil {
			return err
		}
		br = jb.BroadcastRequest
		var err error
		if s, err = a.jsonSubmission(jb.FaxRequest, jb.Documents); err != nil {
			return err
		}
	} else if err := a.parseParts(w, r, s, "broadcast", &br); err != nil {
		return err
	}
	if err := br.validateRecipients(a.cfg.MaxBroadcastRecipients); err != nil {
		return err
	}
	// The shared fields are checked as one fax's (to: the first recipient).
	s.fax = br.FaxRequest
	s.fax.To = br.Recipients[0].To
	if err := s.fax.validate(); err != nil {
		return err
	}
	if err := a.checkOutbound("callback_url", s.fax.CallbackURL); err != nil {
		return err
	}
	if err := a.fetchURLs(r.Context(), s); err != nil { // documents given by URL
		return err
	}
	resName := s.fax.Resolution
	if resName == "" {
		resName = a.cfg.Resolution
	}
	opt := a.renderOptions(resolutions[resName])
	body, err := a.renderBody(r.Context(), s, opt)
	if err != nil {
		return err
	}
	recipe := "render v1 " + resName + " " + a.cfg.PageSize
	// Without a cover every recipient's job names the same stored pages;
	// with one, each recipient gets its own cover before the shared body
	// (rendered once) and so its own stored set.
	var refs []string
	defer func() {
		for _, ref := range refs {
			if err := a.docs.Release(r.Context(), ref); err != nil {
				a.log.Error("releasing a document set", "ref", ref, "err", err)
			}
		}
	}()
	put := func(cover *render.CoverData, recipe string) (string, int, error) {
		data, n, err := a.assemble(body, cover, opt)
		if err != nil {
			return "", 0, err
		}
		ref, err := a.docs.Put(r.Context(), docstore.NewSet{Recipe: recipe, Sources: s.sources, Pages: data, PageCount: n})
		if errors.Is(err, docstore.ErrTooLarge) {
			return "", 0, newProblem(http.StatusRequestEntityTooLarge, "too-large", "%v", strings.TrimPrefix(err.Error(), "docstore: put "))
		}
		if err != nil {
			return "", 0, err
		}
		refs = append(refs, ref)
		return ref, n, nil
	}
	qr := queue.BroadcastRequest{Submitter: c.Name, CallbackURL: s.fax.CallbackURL, Metadata: s.fax.Metadata}
	if key != "" {
		qr.IdempotencyKey = c.Name + keySep + key
	}
	var shared string
	var sharedPages int
	if s.fax.Cover == nil {
		if shared, sharedPages, err = put(nil, recipe); err != nil {
			return err
		}
	}
	deadline, killAfter := deadlineOf(s.fax.Deadline, s.fax.KillAfter)
	for _, rc := range br.Recipients {
		ref, n := shared, sharedPages
		if cv := s.fax.Cover; cv != nil {
			cd := &render.CoverData{To: cv.ToName, ToNumber: rc.To, From: cv.FromName, FromNumber: s.fax.From,
				Subject: cv.Subject, Comment: cv.Comment, Company: rc.Company, Vars: rc.Vars}
			if rc.Name != "" {
				cd.To = rc.Name
			}
			rb, _ := json.Marshal(rc)
			if ref, n, err = put(cd, recipe+s.fax.coverRecipe()+" to "+string(rb)); err != nil {
				return err
			}
		}
		jr := queue.Request{
			Destination: rc.To, CallerID: s.fax.From, Header: s.fax.Header, Document: ref, PagesTotal: n,
			Submitter: c.Name, Metadata: withReport(s.fax.Metadata, s.fax.Report), Priority: s.fax.Priority, MaxAttempts: s.fax.MaxAttempts,
			Deadline: deadline, KillAfter: killAfter,
		}
		if s.fax.SendAfter != nil {
			jr.SendAfter = *s.fax.SendAfter
		}
		if s.fax.CheapWindow {
			if jr.SendAfter, err = a.cheapWindow(rc.To); err != nil {
				return err
			}
		}
		qr.Jobs = append(qr.Jobs, jr)
	}
	b, created, qerr := a.queue.EnqueueBroadcast(r.Context(), qr)
	var ce *queue.ConflictError
	switch {
	case errors.As(qerr, &ce):
		return newProblem(http.StatusConflict, "idempotency-conflict",
			"Idempotency-Key %q was used for broadcast %d with different content; use a new key for a new broadcast", key, ce.Existing)
	case errors.Is(qerr, queue.ErrInvalidRequest):
		return newProblem(http.StatusBadRequest, "invalid-request", "%s", strings.Replace(qerr.Error(), "queue: invalid request: ", "", 1))
	case qerr != nil:
		return qerr
	}
	w.Header().Set("Location", "/v1/broadcasts/"+strconv.FormatInt(b.ID, 10))
	status := http.StatusCreated
	if !created {
		status = http.StatusOK
	}
	a.log.Info("broadcast submitted", "broadcast", b.ID, "created", created, "recipients", b.Recipients, "token_name", c.Name)
	writeJSON(w, status, broadcastFrom(b))
	return nil
}

// broadcast loads a broadcast the caller may see: submitters only their
// own (others' are "not found"), operators and admins every one.
func (a *API) broadcast(r *http.Request, c *caller) (queue.Broadcast, error) {
	id, err := pathID(r, "id", "broadcast")
	if err != nil {
		return queue.Broadcast{}, err
	}
	b, err := a.queue.GetBroadcast(r.Context(), id)
	if errors.Is(err, queue.ErrNotFound) || (err == nil && !c.operator() && b.Submitter != c.Name) {
		return queue.Broadcast{}, notFound("there is no broadcast %d", id)
	}
	return b, err
}

func (a *API) getBroadcast(w http.ResponseWriter, r *http.Request, c *caller) error {
	b, err := a.broadcast(r, c)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, broadcastFrom(b))
	return nil
}

func (a *API) cancelBroadcast(w http.ResponseWriter, r *http.Request, c *caller) error {
	b, err := a.broadcast(r, c)
	if err != nil {
		return err
	}
	n, err := a.queue.CancelBroadcast(r.Context(), b.ID, "cancelled by "+c.Name)
	if err != nil {
		return err
	}
	if b, err = a.queue.GetBroadcast(r.Context(), b.ID); err != nil {
		return err
	}
	a.log.Info("broadcast cancelled", "broadcast", b.ID, "jobs", n, "token_name", c.Name)
	// Sending faxes stop once their channels hang up: 202 until then.
	status := http.StatusOK
	if b.Counts[queue.Sending] > 0 {
		status = http.StatusAccepted
	}
	writeJSON(w, status, broadcastFrom(b))
	return nil
}

func (a *API) broadcastFaxes(w http.ResponseWriter, r *http.Request, c *caller) error {
	b, err := a.broadcast(r, c)
	if err != nil {
		return err
	}
	q := newQuery(r)
	limit := q.int("limit", 1, 1000, 50)
	var after int64
	if s := q.str("cursor"); s != "" {
		if after, err = strconv.ParseInt(s, 10, 64); err != nil || after <= 0 {
			q.bad("cursor: not a cursor this server handed out (use next_cursor as is)")
		}
	}
	if err := q.err("limit", "cursor"); err != nil {
		return err
	}
	jobs, err := a.queue.BroadcastJobs(r.Context(), b.ID, after, limit)
	if err != nil {
		return err
	}
	out := FaxList{Faxes: []Fax{}}
	for _, j := range jobs {
		out.Faxes = append(out.Faxes, faxFromJob(j))
	}
	if err := a.addControlsList(r.Context(), out.Faxes); err != nil {
		return err
	}
	if len(jobs) == limit {
		out.NextCursor = strconv.FormatInt(jobs[len(jobs)-1].ID, 10)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (a *API) listBroadcasts(w http.ResponseWriter, r *http.Request, c *caller) error {
	q := newQuery(r)
	f := queue.BroadcastFilter{Submitter: q.str("submitter"), Limit: q.int("limit", 1, 1000, 50)}
	if !c.operator() {
		if f.Submitter != "" && f.Submitter != c.Name {
			return newProblem(http.StatusForbidden, "forbidden", "a submitter token lists only its own broadcasts; leave out submitter or use %q", c.Name)
		}
		f.Submitter = c.Name
	}
	if s := q.str("cursor"); s != "" {
		id, err := strconv.ParseInt(s, 10, 64)
		if err != nil || id <= 0 {
			q.bad("cursor: not a cursor this server handed out (use next_cursor as is)")
		}
		f.BeforeID = id
	}
	if err := q.err("submitter", "limit", "cursor"); err != nil {
		return err
	}
	list, err := a.queue.ListBroadcasts(r.Context(), f)
	if err != nil {
		return err
	}
	out := BroadcastList{Broadcasts: []Broadcast{}}
	for _, b := range list {
		out.Broadcasts = append(out.Broadcasts, broadcastFrom(b))
	}
	if len(list) == f.Limit {
		out.NextCursor = strconv.FormatInt(list[len(list)-1].ID, 10)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}
