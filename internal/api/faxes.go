package api

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/faxd/faxd/archive"
	"github.com/faxd/faxd/internal/docstore"
	"github.com/faxd/faxd/internal/render"
	"github.com/faxd/faxd/queue"
	"github.com/faxd/faxd/routing"
	"github.com/faxd/faxd/t38/bilevel"
	"github.com/faxd/faxd/t38/faxpdf"
	"github.com/faxd/faxd/t38/t4"
	"github.com/faxd/faxd/t38/tiff"
)

// FaxRequest is the JSON part "fax" of a submission.
type FaxRequest struct {
	To          string         `json:"to"`
	From        string         `json:"from,omitempty"`
	Header      string         `json:"header,omitempty"`
	Priority    int            `json:"priority,omitempty"`
	SendAfter   *time.Time     `json:"send_after,omitempty"`
	MaxAttempts int            `json:"max_attempts,omitempty"`
	CallbackURL string         `json:"callback_url,omitempty"`
	Metadata    map[string]any `json:"metadata,omitempty"`
	Resolution  string         `json:"resolution,omitempty"`
	// Cover asks for a cover page before the documents.
	Cover *CoverRequest `json:"cover,omitempty"`
	// CheapWindow schedules the fax for the next cheap-rate window of its
	// route (now when it is in one, or its route has none).
	CheapWindow bool `json:"cheap_window,omitempty"`
	// Deadline or KillAfter (from submission) is when an unsent fax is
	// given up.
	Deadline  *time.Time `json:"deadline,omitempty"`
	KillAfter string     `json:"kill_after,omitempty"`
	// Report attaches the confirmation report (report.go) to the
	// completion callback and notice mail.
	Report bool `json:"report,omitempty"`
}

// CoverRequest is what the cover page shows besides the numbers.
type CoverRequest struct {
	ToName   string `json:"to_name,omitempty"`
	FromName string `json:"from_name,omitempty"`
	Subject  string `json:"subject,omitempty"`
	Comment  string `json:"comment,omitempty"`
}

// coverRecipe makes the cover part of the document reference: the same
// documents with another cover (or another day's date on it) are another
// set of pages.
func (f *FaxRequest) coverRecipe() string {
	if f.Cover == nil {
		return ""
	}
	b, _ := json.Marshal(f.Cover)
	return " cover " + time.Now().UTC().Format(time.DateOnly) + " " + string(b)
}

// Fax is a fax as the API shows it.
type Fax struct {
	ID              int64          `json:"id"`
	State           queue.State    `json:"state"`
	To              string         `json:"to"`
	From            string         `json:"from"`
	Header          string         `json:"header"`
	Priority        int            `json:"priority"`
	Submitter       string         `json:"submitter"`
	IdempotencyKey  string         `json:"idempotency_key,omitempty"`
	Attempts        int            `json:"attempts"`
	MaxAttempts     int            `json:"max_attempts"`
	PagesTotal      int            `json:"pages_total"`
	PagesConfirmed  int            `json:"pages_confirmed"`
	NextAttemptAt   *time.Time     `json:"next_attempt_at,omitempty"`
	CancelRequested bool           `json:"cancel_requested"`
	LastClass       string         `json:"last_class,omitempty"`
	LastReason      string         `json:"last_reason,omitempty"`
	CallbackURL     string         `json:"callback_url,omitempty"`
	Metadata        map[string]any `json:"metadata"`
	CreatedAt       time.Time      `json:"created_at"`
	UpdatedAt       time.Time      `json:"updated_at"`
	FinishedAt      *time.Time     `json:"finished_at,omitempty"`
	History         []Transition   `json:"history,omitempty"`
	// Job controls (controls.go).
	Deadline   *time.Time `json:"deadline,omitempty"`
	ResentFrom int64      `json:"resent_from,omitempty"`
	Resends    []int64    `json:"resends,omitempty"`
	// Set on a fax whose documents were deleted (DELETE /v1/faxes/{id}):
	// GET of the fax answers 410, listings show it with these.
	DeletedAt    *time.Time `json:"deleted_at,omitempty"`
	DeletedBy    string     `json:"deleted_by,omitempty"`
	DeleteReason string     `json:"delete_reason,omitempty"`
}

// Transition is one entry of a fax's history.
type Transition struct {
	At     time.Time `json:"at"`
	From   string    `json:"from,omitempty"`
	To     string    `json:"to"`
	Node   string    `json:"node,omitempty"`
	Class  string    `json:"class,omitempty"`
	Reason string    `json:"reason,omitempty"`
	Pages  int       `json:"pages"`
}

// FaxList is a page of faxes; NextCursor continues it.
type FaxList struct {
	Faxes      []Fax  `json:"faxes"`
	NextCursor string `json:"next_cursor,omitempty"`
}

// keySep separates the submitter from the client's key in the queue's
// idempotency key: keys are scoped per submitter, so one application
// cannot collide with (or probe) another's.
const keySep = "\x1f"

func faxFromJob(j queue.Job) Fax {
	f := Fax{
		ID: j.ID, State: j.State, To: j.Destination, From: j.CallerID, Header: j.Header, Priority: j.Priority,
		Submitter: j.Submitter, Attempts: j.Attempts, MaxAttempts: j.MaxAttempts, PagesTotal: j.PagesTotal,
		PagesConfirmed: j.PagesConfirmed, CancelRequested: j.CancelRequested, LastClass: string(j.LastClass),
		LastReason: j.LastReason, CallbackURL: j.CallbackURL, Metadata: j.Metadata, CreatedAt: j.CreatedAt,
		UpdatedAt: j.UpdatedAt,
	}
	if _, key, ok := strings.Cut(j.IdempotencyKey, keySep); ok {
		f.IdempotencyKey = key
	}
	if f.Metadata == nil {
		f.Metadata = map[string]any{}
	}
	if j.State == queue.Pending {
		t := j.RunAt
		f.NextAttemptAt = &t
	}
	if !j.FinishedAt.IsZero() {
		t := j.FinishedAt
		f.FinishedAt = &t
	}
	return f
}

// submission is a parsed multipart request.
type submission struct {
	fax     FaxRequest
	hasFax  bool
	sources []docstore.Source
	// urls are documents given by URL (JSON bodies): sources[i] is
	// filled in by fetchURLs before rendering.
	urls []docURL
}

func (a *API) parseSubmission(w http.ResponseWriter, r *http.Request) (*submission, error) {
	s := &submission{}
	if err := a.parseParts(w, r, s, "fax", &s.fax); err != nil {
		return nil, err
	}
	return s, nil
}

// parseParts reads a multipart submission: one JSON part named jsonPart
// (fax or broadcast) decoded into into, and the 'document' parts into
// s.sources.
func (a *API) parseParts(w http.ResponseWriter, r *http.Request, s *submission, jsonPart string, into any) error {
	mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/form-data" || params["boundary"] == "" {
		return newProblem(http.StatusUnsupportedMediaType, "unsupported-media",
			"send the %s as multipart/form-data with a '%s' part (JSON) and one or more 'document' parts, or as application/json with a \"documents\" list", jsonPart, jsonPart)
	}
	if r.ContentLength > a.cfg.MaxUploadBytes {
		return a.tooLarge()
	}
	r.Body = http.MaxBytesReader(w, r.Body, a.cfg.MaxUploadBytes)
	mr, err := r.MultipartReader()
	if err != nil {
		return newProblem(http.StatusBadRequest, "invalid-request", "the multipart body cannot be read: %v", err)
	}
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return a.bodyErr(err)
		}
		switch p.FormName() {
		case jsonPart:
			if s.hasFax {
				return newProblem(http.StatusBadRequest, "invalid-request", "the request has two '%s' parts; send one", jsonPart)
			}
			s.hasFax = true
			dec := json.NewDecoder(io.LimitReader(p, 64<<10))
			dec.DisallowUnknownFields()
			if err := dec.Decode(into); err != nil {
				var mbe *http.MaxBytesError
				if errors.As(err, &mbe) {
					return a.tooLarge()
				}
				return newProblem(http.StatusBadRequest, "invalid-request", "the '%s' part is not valid JSON for a %s: %s", jsonPart, jsonPart, partJSONErr(jsonPart, err))
			}
		case "document":
			if len(s.sources) == a.cfg.MaxDocuments {
				return newProblem(http.StatusBadRequest, "invalid-request", "too many documents: at most %d per fax", a.cfg.MaxDocuments)
			}
			data, err := io.ReadAll(p)
			if err != nil {
				return a.bodyErr(err)
			}
			ct := p.Header.Get("Content-Type")
			if m, params, err := mime.ParseMediaType(ct); err == nil {
				ct = m
				// The charset goes with the type: render reads the text in it.
				if cs := params["charset"]; cs != "" {
					ct = mime.FormatMediaType(m, map[string]string{"charset": cs})
				}
			}
			s.sources = append(s.sources, docstore.Source{Filename: p.FileName(), ContentType: ct, Data: data})
		default:
			return newProblem(http.StatusBadRequest, "invalid-request",
				"unexpected part %q: a submission has one '%s' part and 'document' parts", p.FormName(), jsonPart)
		}
	}
	if !s.hasFax {
		return newProblem(http.StatusBadRequest, "invalid-request", "the '%s' part (JSON with at least %s) is missing", jsonPart, map[string]string{"fax": `"to"`, "broadcast": `"recipients"`}[jsonPart])
	}
	if len(s.sources) == 0 {
		return newProblem(http.StatusBadRequest, "invalid-request", "no document: add at least one 'document' part (PDF, PostScript, TIFF, PNG, JPEG, GIF or text)")
	}
	return nil
}

func (a *API) tooLarge() error {
	return newProblem(http.StatusRequestEntityTooLarge, "too-large", "the upload is larger than this server's limit of %d bytes", a.cfg.MaxUploadBytes)
}

func (a *API) bodyErr(err error) error {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return a.tooLarge()
	}
	return newProblem(http.StatusBadRequest, "invalid-request", "the multipart body is malformed: %v", err)
}

// partJSONErr is jsonErr for a submission's JSON part: a broadcast's
// known fields are a fax's without to, plus recipients.
func partJSONErr(part string, err error) string {
	msg := jsonErr(err)
	if part == "broadcast" {
		msg = strings.Replace(msg, "(known: to, ", "(known: recipients (to, name, company, vars), ", 1)
	}
	return msg
}

// jsonErr words a JSON decoding error for a person.
func jsonErr(err error) string {
	var te *json.UnmarshalTypeError
	var se *json.SyntaxError
	switch {
	case errors.As(err, &te):
		return fmt.Sprintf("field %q must be a %s", te.Field, te.Type.Kind())
	case errors.As(err, &se):
		return fmt.Sprintf("syntax error at byte %d", se.Offset)
	case strings.HasPrefix(err.Error(), "json: unknown field"):
		return strings.TrimPrefix(err.Error(), "json: ") + " (known: to, from, header, priority, send_after, max_attempts, callback_url, metadata, resolution, cover, cheap_window, deadline, kill_after, report)"
	case errors.Is(err, io.EOF):
		return "the part is empty"
	}
	var pe *time.ParseError
	if errors.As(err, &pe) {
		return "send_after and deadline must be RFC 3339 times such as 2030-01-02T15:04:05Z"
	}
	return err.Error()
}

// validate checks and normalises the fax description, reporting every
// bad field.
func (f *FaxRequest) validate() error {
	var errs []string
	bad := func(format string, a ...any) { errs = append(errs, fmt.Sprintf(format, a...)) }
	if f.To == "" {
		bad("to: the destination fax number is required")
	} else if n, err := normalizeNumber(f.To); err != nil {
		return &Problem{Type: problemPrefix + "invalid-number", Title: titles["invalid-number"],
			Status: http.StatusBadRequest, Detail: "to: " + err.Error()}
	} else {
		f.To = n
	}
	if f.From != "" {
		if n, err := normalizeNumber(f.From); err != nil {
			bad("from: %v", err)
		} else {
			f.From = n
		}
	}
	if len(f.Header) > 80 {
		bad("header: at most 80 characters (it is printed on one line)")
	}
	for _, r := range f.Header {
		if r < ' ' || r == 0x7f {
			bad("header: control characters are not allowed")
			break
		}
	}
	if f.Priority < -1000 || f.Priority > 1000 {
		bad("priority %d: must be from -1000 to 1000 (higher is sent first)", f.Priority)
	}
	if f.MaxAttempts < 0 || f.MaxAttempts > 100 {
		bad("max_attempts %d: must be from 1 to 100 (or omitted for the server's default)", f.MaxAttempts)
	}
	if f.SendAfter != nil && f.SendAfter.After(time.Now().AddDate(1, 0, 0)) {
		bad("send_after: at most one year ahead")
	}
	if f.CheapWindow && f.SendAfter != nil {
		bad("cheap_window: give either send_after or cheap_window, not both")
	}
	if f.CallbackURL != "" {
		u, err := url.Parse(f.CallbackURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || len(f.CallbackURL) > 2000 {
			bad("callback_url %q: must be an absolute http or https URL", f.CallbackURL)
		}
	}
	if f.Metadata != nil {
		b, _ := json.Marshal(f.Metadata)
		if len(b) > 16<<10 {
			bad("metadata: at most 16 KiB of JSON")
		}
	}
	if f.Resolution != "" {
		if _, ok := resolutions[f.Resolution]; !ok {
			bad("resolution %q: must be standard, fine or superfine", f.Resolution)
		}
	}
	errs = append(errs, validateDeadline(f.Deadline, f.KillAfter, f.SendAfter)...)
	if c := f.Cover; c != nil {
		for name, v := range map[string]string{"cover.to_name": c.ToName, "cover.from_name": c.FromName, "cover.subject": c.Subject} {
			if len(v) > 100 {
				bad("%s: at most 100 characters", name)
			}
			if strings.ContainsFunc(v, func(r rune) bool { return r < ' ' || r == 0x7f }) {
				bad("%s: control characters are not allowed", name)
			}
		}
		if len(c.Comment) > 2000 {
			bad("cover.comment: at most 2000 characters")
		}
		if strings.ContainsFunc(c.Comment, func(r rune) bool { return (r < ' ' && r != '\n') || r == 0x7f }) {
			bad("cover.comment: control characters other than line breaks are not allowed")
		}
	}
	if len(errs) > 0 {
		p := newProblem(http.StatusBadRequest, "invalid-request", strings.Join(errs, "; "))
		p.Errors = errs
		return p
	}
	return nil
}

func validKey(k string) bool {
	if len(k) == 0 || len(k) > 128 {
		return false
	}
	for _, r := range k {
		if r < 0x21 || r > 0x7e {
			return false
		}
	}
	return true
}

// renderError maps a render failure to the answer the submitter gets.
func renderError(i int, src docstore.Source, err error) error {
	name := fmt.Sprintf("document %d", i+1)
	if src.Filename != "" {
		name += fmt.Sprintf(" (%s)", src.Filename)
	}
	detail := err.Error()
	var re *render.Error
	if errors.As(err, &re) && re.Detail != "" {
		detail = re.Detail
	}
	switch {
	case errors.Is(err, render.ErrRenderer):
		return fmt.Errorf("rendering %s: %w", name, err) // a server fault: 500, logged
	case errors.Is(err, render.ErrUnknownType), errors.Is(err, render.ErrTypeMismatch):
		return newProblem(http.StatusUnsupportedMediaType, "unsupported-document",
			"%s: %s (faxd accepts PDF, PostScript, TIFF, PNG, JPEG, GIF, plain text, and with LibreOffice HTML, DOCX, XLSX, ODT, ODS and RTF)", name, detail)
	case errors.Is(err, render.ErrConverterMissing):
		return newProblem(http.StatusUnsupportedMediaType, "unsupported-document", "%s: %s", name, detail)
	case errors.Is(err, render.ErrTooLarge):
		return newProblem(http.StatusRequestEntityTooLarge, "too-large", "%s: %s", name, detail)
	default:
		return newProblem(http.StatusUnprocessableEntity, "unprocessable", "%s cannot be made into fax pages: %s", name, detail)
	}
}

// prepare renders every document into one TIFF Class F of fax pages.
func (a *API) prepare(ctx context.Context, s *submission, res render.Resolution) ([]byte, int, error) {
	opt := a.renderOptions(res)
	pages, err := a.renderBody(ctx, s, opt)
	if err != nil {
		return nil, 0, err
	}
	var cover *render.CoverData
	if c := s.fax.Cover; c != nil {
		cover = &render.CoverData{To: c.ToName, ToNumber: s.fax.To, From: c.FromName,
			FromNumber: s.fax.From, Subject: c.Subject, Comment: c.Comment}
	}
	return a.assemble(pages, cover, opt)
}

func (a *API) renderOptions(res render.Resolution) render.Options {
	return render.Options{
		PageSize: pageSizes[a.cfg.PageSize], Resolution: res, MaxBytes: a.cfg.MaxUploadBytes,
		MaxPages: a.cfg.MaxPages, Timeout: a.cfg.RenderTimeout,
		MaxPixels: a.cfg.MaxImagePixels, MaxImageBytes: a.cfg.MaxImageBytes,
		Names: render.LimitNames{MaxBytes: "api.max_upload_bytes", MaxPages: "api.max_pages",
			MaxPixels: "api.max_image_pixels", MaxImageBytes: "api.max_image_bytes", OfficeCommand: "api.office_command"},
		OfficeBin: a.cfg.OfficeCommand,
	}
}

// renderBody renders the submitted documents into pages, waiting for a
// render slot.
func (a *API) renderBody(ctx context.Context, s *submission, opt render.Options) ([]*bilevel.Image, error) {
	select {
	case a.renders <- struct{}{}:
		defer func() { <-a.renders }()
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	var pages []*bilevel.Image
	for i, src := range s.sources {
		p, err := render.Bytes(ctx, src.Data, src.ContentType, opt)
		if err != nil {
			return nil, renderError(i, src, err)
		}
		pages = append(pages, p...)
		if len(pages) > a.cfg.MaxPages {
			return nil, newProblem(http.StatusUnprocessableEntity, "unprocessable",
				"the documents have more than %d pages together, this server's limit for one fax", a.cfg.MaxPages)
		}
	}
	return pages, nil
}

// assemble puts a cover page (when cover is not nil) before the pages and
// encodes them as one TIFF Class F.
func (a *API) assemble(pages []*bilevel.Image, cover *render.CoverData, opt render.Options) ([]byte, int, error) {
	if cover != nil {
		cover.Pages, cover.Time = len(pages), time.Now()
		img, err := render.CoverPage(*cover, a.cover, opt)
		if err != nil {
			return nil, 0, fmt.Errorf("cover page: %w", err)
		}
		if len(pages)+1 > a.cfg.MaxPages {
			return nil, 0, newProblem(http.StatusUnprocessableEntity, "unprocessable",
				"the documents and the cover page have more than %d pages together, this server's limit for one fax", a.cfg.MaxPages)
		}
		pages = append([]*bilevel.Image{img}, pages...)
	}
	var buf bytes.Buffer
	if err := tiff.EncodeFax(&buf, pages, tiff.FaxOptions{Coding: t4.MMR, Software: "faxd"}); err != nil {
		return nil, 0, fmt.Errorf("encoding fax pages: %w", err)
	}
	return buf.Bytes(), len(pages), nil
}

func (a *API) submitFax(w http.ResponseWriter, r *http.Request, c *caller) error {
	key := r.Header.Get("Idempotency-Key")
	if key != "" && !validKey(key) {
		return newProblem(http.StatusBadRequest, "invalid-request", "Idempotency-Key must be 1-128 printable ASCII characters without spaces")
	}
	var s *submission
	var err error
	if isJSONBody(r) {
		s, err = a.parseJSONSubmission(w, r) // submit.go
	} else {
		s, err = a.parseSubmission(w, r)
	}
	if err != nil {
		return err
	}
	job, created, err := a.submit(r.Context(), c.Name, key, s)
	if err != nil {
		return err
	}
	f := faxFromJob(job)
	if err := a.addControls(r.Context(), &f); err != nil {
		return err
	}
	w.Header().Set("Location", "/v1/faxes/"+strconv.FormatInt(job.ID, 10))
	status := http.StatusCreated
	if !created {
		status = http.StatusOK
	}
	writeJSON(w, status, f)
	return nil
}

// submit validates, renders and enqueues a parsed submission: the one path
// every way of submitting (multipart, JSON, email) goes through.
func (a *API) submit(ctx context.Context, submitter, key string, s *submission) (queue.Job, bool, error) {
	if err := s.fax.validate(); err != nil {
		return queue.Job{}, false, err
	}
	if err := a.checkOutbound("callback_url", s.fax.CallbackURL); err != nil {
		return queue.Job{}, false, err
	}
	if err := a.fetchURLs(ctx, s); err != nil { // submit.go
		return queue.Job{}, false, err
	}
	resName := s.fax.Resolution
	if resName == "" {
		resName = a.cfg.Resolution
	}
	tiffData, n, err := a.prepare(ctx, s, resolutions[resName])
	if err != nil {
		return queue.Job{}, false, err
	}
	ref, err := a.docs.Put(ctx, docstore.NewSet{
		Recipe: "render v1 " + resName + " " + a.cfg.PageSize + s.fax.coverRecipe(), Sources: s.sources, Pages: tiffData, PageCount: n,
	})
	if errors.Is(err, docstore.ErrTooLarge) {
		return queue.Job{}, false, newProblem(http.StatusRequestEntityTooLarge, "too-large", "%v", strings.TrimPrefix(err.Error(), "docstore: put "))
	}
	if err != nil {
		return queue.Job{}, false, err
	}
	req := queue.Request{
		Destination: s.fax.To, CallerID: s.fax.From, Header: s.fax.Header, Document: ref, PagesTotal: n,
		CallbackURL: s.fax.CallbackURL, Submitter: submitter, Metadata: s.fax.Metadata, Priority: s.fax.Priority,
		MaxAttempts: s.fax.MaxAttempts,
	}
	if key != "" {
		req.IdempotencyKey = submitter + keySep + key
	}
	if s.fax.SendAfter != nil {
		req.SendAfter = *s.fax.SendAfter
	}
	if s.fax.CheapWindow {
		at, err := a.cheapWindow(s.fax.To)
		if err != nil {
			_ = a.docs.Release(ctx, ref)
			return queue.Job{}, false, err
		}
		req.SendAfter = at
	}
	req.Deadline, req.KillAfter = deadlineOf(s.fax.Deadline, s.fax.KillAfter)
	req.Metadata = withReport(req.Metadata, s.fax.Report)
	job, created, qerr := a.queue.Enqueue(ctx, req)
	// Whatever happened, drop the pin: a refused job leaves no document
	// behind, a queued one keeps it through the job's reference.
	if err := a.docs.Release(ctx, ref); err != nil {
		a.log.Error("releasing a document set", "ref", ref, "err", err)
	}
	var ce *queue.ConflictError
	switch {
	case errors.As(qerr, &ce):
		return queue.Job{}, false, newProblem(http.StatusConflict, "idempotency-conflict",
			"Idempotency-Key %q was used for fax %d with different content; use a new key for a new fax", key, ce.Existing)
	case errors.Is(qerr, queue.ErrInvalidRequest):
		return queue.Job{}, false, newProblem(http.StatusBadRequest, "invalid-request", "%s", strings.TrimPrefix(qerr.Error(), "queue: invalid request: "))
	case qerr != nil:
		return queue.Job{}, false, qerr
	}
	a.log.Info("fax submitted", "fax", job.ID, "created", created, "pages", n, "token_name", submitter)
	return job, created, nil
}

// job loads a fax the caller may see: submitters and users only their own
// (others' are "not found", so ids reveal nothing); operators and admins
// every fax.
func (a *API) job(r *http.Request, c *caller) (queue.Job, error) {
	id, err := pathID(r, "id", "fax")
	if err != nil {
		return queue.Job{}, err
	}
	j, err := a.queue.Get(r.Context(), id)
	if errors.Is(err, queue.ErrNotFound) || (err == nil && !c.operator() && j.Submitter != c.Name) {
		return queue.Job{}, notFound("there is no fax %d (or it was purged)", id)
	}
	if err != nil {
		return j, err
	}
	return j, a.gone(r.Context(), id)
}

func (a *API) getFax(w http.ResponseWriter, r *http.Request, c *caller) error {
	j, err := a.job(r, c)
	if err != nil {
		return err
	}
	hist, err := a.queue.History(r.Context(), j.ID)
	if err != nil {
		return err
	}
	f := faxFromJob(j)
	for _, t := range hist {
		f.History = append(f.History, Transition{At: t.At, From: string(t.From), To: string(t.To), Node: t.NodeID,
			Class: string(t.Class), Reason: t.Reason, Pages: t.Pages})
	}
	if err := a.addControls(r.Context(), &f); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, f)
	return nil
}

func (a *API) cancelFax(w http.ResponseWriter, r *http.Request, c *caller) error {
	j, err := a.job(r, c)
	if err != nil {
		return err
	}
	id := j.ID
	j, err = a.queue.Cancel(r.Context(), id, "cancelled by "+c.Name)
	if errors.Is(err, queue.ErrInvalidTransition) {
		cur, _ := a.queue.Get(r.Context(), id)
		return newProblem(http.StatusConflict, "state-conflict", "fax %d is already %s; only pending or sending faxes can be cancelled", id, cur.State)
	}
	if errors.Is(err, queue.ErrNotFound) {
		return notFound("there is no fax %d (or it was purged)", id)
	}
	if err != nil {
		return err
	}
	// A sending fax is cancelled once its channel hangs up: 202.
	status := http.StatusOK
	if j.State == queue.Sending {
		status = http.StatusAccepted
	}
	writeJSON(w, status, faxFromJob(j))
	return nil
}

// retryFax makes a fax that waits for its next attempt (or its scheduled
// time) due at once.
func (a *API) retryFax(w http.ResponseWriter, r *http.Request, c *caller) error {
	j, err := a.job(r, c)
	if err != nil {
		return err
	}
	id := j.ID
	j, err = a.queue.RetryNow(r.Context(), id, "retry now by "+c.who())
	if errors.Is(err, queue.ErrInvalidTransition) {
		cur, _ := a.queue.Get(r.Context(), id)
		return newProblem(http.StatusConflict, "state-conflict", "fax %d is %s; only a pending fax can be retried now", id, cur.State)
	}
	if errors.Is(err, queue.ErrNotFound) {
		return notFound("there is no fax %d (or it was purged)", id)
	}
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, faxFromJob(j))
	return nil
}

func (a *API) listFaxes(w http.ResponseWriter, r *http.Request, c *caller) error {
	q := newQuery(r)
	f := queue.ListFilter{}
	for _, s := range q.v["state"] {
		for _, st := range strings.Split(s, ",") {
			switch queue.State(st) {
			case queue.Pending, queue.Sending, queue.Sent, queue.Failed, queue.Cancelled:
				f.States = append(f.States, queue.State(st))
			default:
				q.bad("state %q: must be pending, sending, sent, failed or cancelled", st)
			}
		}
	}
	if to := q.str("to"); to != "" {
		n, err := normalizeNumber(to)
		if err != nil {
			q.bad("to: %v", err)
		}
		f.Destination = n
	}
	f.Submitter = q.str("submitter")
	if !c.operator() {
		if f.Submitter != "" && f.Submitter != c.Name {
			return newProblem(http.StatusForbidden, "forbidden", "a submitter token lists only its own faxes; leave out submitter or use %q", c.Name)
		}
		f.Submitter = c.Name
	}
	f.CreatedAfter, f.CreatedBefore = q.time("created_after"), q.time("created_before")
	f.Limit = q.int("limit", 1, 1000, 50)
	if s := q.str("cursor"); s != "" {
		at, id, ok := decodeFaxCursor(s)
		if !ok {
			q.bad("cursor: not a cursor this server handed out (use next_cursor as is)")
		}
		f.BeforeCreated, f.BeforeID = at, id
	}
	if err := q.err("state", "to", "submitter", "created_after", "created_before", "limit", "cursor"); err != nil {
		return err
	}
	jobs, err := a.queue.List(r.Context(), f)
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
	if len(jobs) == f.Limit {
		out.NextCursor = encodeFaxCursor(jobs[len(jobs)-1])
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// encodeFaxCursor names the position after j in the listing's order
// (created_at, id): microseconds, as PostgreSQL keeps them.
func encodeFaxCursor(j queue.Job) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(j.CreatedAt.UnixMicro(), 10) + "." + strconv.FormatInt(j.ID, 10)))
}

func decodeFaxCursor(s string) (time.Time, int64, bool) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return time.Time{}, 0, false
	}
	a, c, ok := strings.Cut(string(b), ".")
	us, err1 := strconv.ParseInt(a, 10, 64)
	id, err2 := strconv.ParseInt(c, 10, 64)
	if !ok || err1 != nil || err2 != nil || id <= 0 {
		return time.Time{}, 0, false
	}
	return time.UnixMicro(us), id, true
}

// faxThumbnail is a grey PNG preview of one page of a fax as it is (or
// was) sent.
func (a *API) faxThumbnail(w http.ResponseWriter, r *http.Request, c *caller) error {
	j, err := a.job(r, c)
	if err != nil {
		return err
	}
	page, width, err := thumbnailParams(r)
	if err != nil {
		return err
	}
	set, err := a.docs.Get(r.Context(), j.Document)
	if errors.Is(err, docstore.ErrNotFound) || errors.Is(err, docstore.ErrInvalid) {
		return notFound("fax %d has no stored document", j.ID)
	}
	if err != nil {
		return err
	}
	data, _, err := a.docs.Blob(r.Context(), set.Pages)
	if err != nil {
		return err
	}
	return sendThumbnail(w, fmt.Sprintf("fax %d", j.ID), fmt.Sprintf("fax-%d", j.ID), data, page, width)
}

// faxDocument returns a fax's pages as TIFF Class F or PDF, or one of the
// documents it was rendered from.
func (a *API) faxDocument(w http.ResponseWriter, r *http.Request, c *caller) error {
	j, err := a.job(r, c)
	if err != nil {
		return err
	}
	format := r.URL.Query().Get("format")
	if format == "" {
		format = "pdf" // as for received faxes
	}
	set, err := a.docs.Get(r.Context(), j.Document)
	if errors.Is(err, docstore.ErrNotFound) || errors.Is(err, docstore.ErrInvalid) {
		return notFound("fax %d has no stored document", j.ID)
	}
	if err != nil {
		return err
	}
	name := fmt.Sprintf("fax-%d", j.ID)
	switch format {
	case "tiff":
		data, _, err := a.docs.Blob(r.Context(), set.Pages)
		if err != nil {
			return err
		}
		return sendFile(w, "image/tiff", name+".tif", data)
	case "pdf":
		data, _, err := a.docs.Blob(r.Context(), set.Pages)
		if err != nil {
			return err
		}
		pdf, err := archive.TIFFToPDF(data, faxpdf.Info{Title: name, Subject: "fax to " + j.Destination})
		if err != nil {
			return fmt.Errorf("fax %d: %w", j.ID, err)
		}
		return sendFile(w, "application/pdf", name+".pdf", pdf)
	case "original":
		part := 0
		if s := r.URL.Query().Get("part"); s != "" {
			if part, err = strconv.Atoi(s); err != nil || part < 0 {
				return newProblem(http.StatusBadRequest, "invalid-request", "part %q: must be a document number from 0", s)
			}
		}
		if part >= len(set.Sources) {
			return notFound("fax %d has %d document(s); part %d does not exist (parts count from 0)", j.ID, len(set.Sources), part)
		}
		src := set.Sources[part]
		data, ct, err := a.docs.Blob(r.Context(), src.SHA256)
		if err != nil {
			return err
		}
		fn := src.Filename
		if fn == "" {
			fn = fmt.Sprintf("%s-part%d", name, part)
		}
		return sendFile(w, ct, fn, data)
	default:
		return newProblem(http.StatusBadRequest, "invalid-request", "format %q: must be tiff, pdf or original", format)
	}
}

func sendFile(w http.ResponseWriter, ct, filename string, data []byte) error {
	w.Header().Set("Content-Type", ct)
	w.Header().Set("Content-Length", strconv.Itoa(len(data)))
	w.Header().Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": filename}))
	w.WriteHeader(http.StatusOK)
	_, err := w.Write(data)
	return err
}

// cheapWindow is when a cheap_window fax to number is due.
func (a *API) cheapWindow(number string) (time.Time, error) {
	if a.cheap == nil {
		return time.Time{}, newProblem(http.StatusConflict, "conflict", "cheap_window: this server sends no faxes (no router); submit without it")
	}
	at, err := a.cheap.NextCheapWindow(number)
	if errors.Is(err, routing.ErrNoRoute) {
		return time.Time{}, newProblem(http.StatusBadRequest, "invalid-request", "cheap_window: no route for %s", number)
	}
	if err != nil {
		return time.Time{}, fmt.Errorf("cheap window: %w", err)
	}
	return at, nil
}
