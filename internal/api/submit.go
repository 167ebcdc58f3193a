package api

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/faxd/faxd/internal/docstore"
	"github.com/faxd/faxd/internal/netguard"
)

// JSONSubmission is a submission as one JSON body (Content-Type
// application/json): the fax fields at the top level plus the documents,
// each either inline (base64 data) or a URL faxd fetches.
type JSONSubmission struct {
	FaxRequest
	Documents []JSONDocument `json:"documents"`
}

// JSONDocument is one document of a JSON submission: Data (standard
// base64) or URL, not both.
type JSONDocument struct {
	Filename    string `json:"filename,omitempty"`
	ContentType string `json:"content_type,omitempty"`
	Data        string `json:"data,omitempty"`
	URL         string `json:"url,omitempty"`
}

// docURL is a document still to be fetched.
type docURL struct {
	index int
	field string // documents[i].url, for error messages
	url   string
}

func isJSONBody(r *http.Request) bool {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return err == nil && (mt == "application/json" || strings.HasSuffix(mt, "+json"))
}

func (a *API) parseJSONSubmission(w http.ResponseWriter, r *http.Request) (*submission, error) {
	var js JSONSubmission
	if err := a.decodeJSONBody(w, r, &js, "fax"); err != nil {
		return nil, err
	}
	return a.jsonSubmission(js.FaxRequest, js.Documents)
}

// JSONBroadcast is a broadcast as one JSON body: the broadcast's fields
// (a fax's but to, and recipients) at the top level plus the documents,
// as in JSONSubmission.
type JSONBroadcast struct {
	BroadcastRequest
	Documents []JSONDocument `json:"documents"`
}

// decodeJSONBody decodes a JSON submission body (what: fax or broadcast)
// into into, within api.max_upload_bytes, refusing unknown fields.
func (a *API) decodeJSONBody(w http.ResponseWriter, r *http.Request, into any, what string) error {
	if r.ContentLength > a.cfg.MaxUploadBytes {
		return a.tooLarge()
	}
	r.Body = http.MaxBytesReader(w, r.Body, a.cfg.MaxUploadBytes)
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(into); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return a.tooLarge()
		}
		if strings.HasPrefix(err.Error(), "json: unknown field") {
			return newProblem(http.StatusBadRequest, "invalid-request", "the body is not a %s submission: %s, documents)",
				what, strings.TrimSuffix(partJSONErr(what, err), ")"))
		}
		return newProblem(http.StatusBadRequest, "invalid-request", "the body is not valid JSON for a %s submission: %s", what, partJSONErr(what, err))
	}
	if dec.More() {
		return newProblem(http.StatusBadRequest, "invalid-request", "the body has data after the JSON object")
	}
	return nil
}

// jsonSubmission checks the documents of a JSON submission, naming each
// bad field; URLs are fetched later (fetchURLs).
func (a *API) jsonSubmission(fax FaxRequest, docs []JSONDocument) (*submission, error) {
	js := JSONSubmission{FaxRequest: fax, Documents: docs}
	if len(js.Documents) == 0 {
		return nil, newProblem(http.StatusBadRequest, "invalid-request", "documents: at least one document (data or url) is required")
	}
	if len(js.Documents) > a.cfg.MaxDocuments {
		return nil, newProblem(http.StatusBadRequest, "invalid-request", "documents: too many documents: at most %d per fax", a.cfg.MaxDocuments)
	}
	s := &submission{fax: js.FaxRequest, hasFax: true}
	var errs []string
	for i, d := range js.Documents {
		f := fmt.Sprintf("documents[%d]", i)
		ct := d.ContentType
		if ct != "" {
			m, params, err := mime.ParseMediaType(ct)
			if err != nil {
				errs = append(errs, fmt.Sprintf("%s.content_type %q: not a media type", f, ct))
			} else {
				ct = m
				if cs := params["charset"]; cs != "" {
					ct = mime.FormatMediaType(m, map[string]string{"charset": cs})
				}
			}
		}
		src := docstore.Source{Filename: d.Filename, ContentType: ct}
		switch {
		case d.Data != "" && d.URL != "":
			errs = append(errs, f+": give data or url, not both")
		case d.URL != "":
			s.urls = append(s.urls, docURL{index: i, field: f + ".url", url: d.URL})
		case d.Data != "":
			data, err := base64.StdEncoding.DecodeString(d.Data)
			if err != nil {
				errs = append(errs, fmt.Sprintf("%s.data: not base64 (standard alphabet with padding): %v", f, err))
			}
			src.Data = data
		default:
			errs = append(errs, f+": data (base64) or url is required")
		}
		s.sources = append(s.sources, src)
	}
	if len(errs) > 0 {
		p := newProblem(http.StatusBadRequest, "invalid-request", "%s", strings.Join(errs, "; "))
		p.Errors = errs
		return nil, p
	}
	return s, nil
}

// fetchURLs fetches the documents given by URL, through the outbound URL
// policy (notify.outbound_allow) at the dial: a name resolving to an
// internal address is refused as surely as the literal. The documents
// together stay within api.max_upload_bytes, each fetch within
// api.url_fetch_timeout.
func (a *API) fetchURLs(ctx context.Context, s *submission) error {
	if len(s.urls) == 0 {
		return nil
	}
	budget := a.cfg.MaxUploadBytes
	for _, src := range s.sources {
		budget -= int64(len(src.Data))
	}
	for _, u := range s.urls {
		if err := a.outbound.CheckURL(u.url); err != nil {
			if errors.Is(err, netguard.ErrRefused) {
				return a.checkOutbound(u.field, u.url)
			}
			return fieldProblem(http.StatusBadRequest, "invalid-request", u.field, "%v", err)
		}
		data, ct, err := a.fetchURL(ctx, u, budget)
		if err != nil {
			return err
		}
		budget -= int64(len(data))
		src := &s.sources[u.index]
		src.Data = data
		if src.ContentType == "" {
			src.ContentType = ct
		}
		if src.Filename == "" {
			src.Filename = urlFilename(u.url)
		}
	}
	return nil
}

func (a *API) fetchURL(ctx context.Context, u docURL, budget int64) ([]byte, string, error) {
	ctx, cancel := context.WithTimeout(ctx, a.cfg.URLFetchTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.url, nil)
	if err != nil {
		return nil, "", fieldProblem(http.StatusBadRequest, "invalid-request", u.field, "%v", err)
	}
	req.Header.Set("User-Agent", "faxd")
	resp, err := a.fetcher.Do(req)
	if err != nil {
		if errors.Is(err, netguard.ErrRefused) {
			return nil, "", fieldProblem(http.StatusUnprocessableEntity, "refused-address", u.field, "%s", refusedDetail(err))
		}
		if ctx.Err() != nil && errors.Is(err, context.DeadlineExceeded) {
			return nil, "", fieldProblem(http.StatusUnprocessableEntity, "unprocessable", u.field,
				"%s was not fetched within %s (api.url_fetch_timeout)", u.url, a.cfg.URLFetchTimeout)
		}
		return nil, "", fieldProblem(http.StatusUnprocessableEntity, "unprocessable", u.field, "fetching %s failed: %v", u.url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, "", fieldProblem(http.StatusUnprocessableEntity, "unprocessable", u.field,
			"fetching %s answered %s; faxd needs 200 OK", u.url, resp.Status)
	}
	if resp.ContentLength > budget {
		return nil, "", a.tooLargeField(u.field)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, budget+1))
	if err != nil {
		if ctx.Err() != nil {
			return nil, "", fieldProblem(http.StatusUnprocessableEntity, "unprocessable", u.field,
				"%s was not fetched within %s (api.url_fetch_timeout)", u.url, a.cfg.URLFetchTimeout)
		}
		return nil, "", fieldProblem(http.StatusUnprocessableEntity, "unprocessable", u.field, "reading %s failed: %v", u.url, err)
	}
	if int64(len(data)) > budget {
		return nil, "", a.tooLargeField(u.field)
	}
	ct := ""
	if m, params, err := mime.ParseMediaType(resp.Header.Get("Content-Type")); err == nil {
		ct = m
		if cs := params["charset"]; cs != "" && strings.HasPrefix(m, "text/") {
			ct = mime.FormatMediaType(m, map[string]string{"charset": cs})
		}
	}
	return data, ct, nil
}

func (a *API) tooLargeField(field string) error {
	return fieldProblem(http.StatusRequestEntityTooLarge, "too-large", field,
		"the documents together are larger than this server's limit of %d bytes (api.max_upload_bytes)", a.cfg.MaxUploadBytes)
}

// fieldProblem is a problem about one field, named first in the detail
// and in errors.
func fieldProblem(status int, slug, field, format string, args ...any) *Problem {
	msg := field + ": " + fmt.Sprintf(format, args...)
	p := newProblem(status, slug, "%s", msg)
	p.Errors = []string{msg}
	return p
}

// refusedDetail is the policy's sentence, without the transport's
// wrapping ("dial tcp ...: ").
func refusedDetail(err error) string {
	var re interface{ Error() string }
	for e := err; e != nil; e = errors.Unwrap(e) {
		var oe *net.OpError
		if errors.As(e, &oe) && oe.Err != nil {
			re = oe.Err
			break
		}
	}
	if re == nil {
		return err.Error()
	}
	return re.Error()
}

func urlFilename(u string) string {
	u, _, _ = strings.Cut(u, "?")
	u, _, _ = strings.Cut(u, "#")
	if i := strings.LastIndexByte(u, '/'); i >= 0 && i < len(u)-1 && !strings.HasSuffix(u[:i], "/") {
		return u[i+1:]
	}
	return ""
}

// newFetcher is the HTTP client for documents given by URL: every dial
// checked against the policy, no proxy (the proxy is what would be
// checked), at most 5 redirects.
func newFetcher(dial func(ctx context.Context, network, addr string) (net.Conn, error)) *http.Client {
	return &http.Client{
		Transport: &http.Transport{
			Proxy: nil, DialContext: dial, TLSHandshakeTimeout: 10 * time.Second,
			ResponseHeaderTimeout: 30 * time.Second, MaxIdleConns: 4, IdleConnTimeout: 30 * time.Second,
		},
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) >= 5 {
				return errors.New("more than 5 redirects")
			}
			return nil
		},
	}
}

// SubmitEmail is what an email gateway submits: the fax fields and the
// documents already taken from the mail.
type SubmitEmail struct {
	Fax       FaxRequest
	Documents []docstore.Source
	// Submitter is whom the fax is filed under (the authenticated user,
	// token name or sender address).
	Submitter string
	// Key makes a redelivered mail the same fax (the Message-ID).
	Key string
}

// SubmitDocuments submits a fax through the same validation, rendering and
// queueing as POST /v1/faxes. Errors a sender should see are *Problem
// values (Status says which kind); others are server faults.
func (a *API) SubmitDocuments(ctx context.Context, in SubmitEmail) (Fax, error) {
	if len(in.Documents) == 0 {
		return Fax{}, newProblem(http.StatusBadRequest, "invalid-request", "no document to send")
	}
	if len(in.Documents) > a.cfg.MaxDocuments {
		return Fax{}, newProblem(http.StatusBadRequest, "invalid-request", "too many documents: at most %d per fax", a.cfg.MaxDocuments)
	}
	key := in.Key
	if key != "" && !validKey(key) {
		key = ""
	}
	job, _, err := a.submit(ctx, in.Submitter, key, &submission{fax: in.Fax, hasFax: true, sources: in.Documents})
	if err != nil {
		return Fax{}, err
	}
	return faxFromJob(job), nil
}

// NormalizeNumber checks and normalises a fax number as the API does for
// "to" (for intakes that must refuse a bad number before the content).
func NormalizeNumber(s string) (string, error) { return normalizeNumber(s) }

// IsSenderFault reports whether err (from SubmitDocuments) is the
// submitter's to fix, and the sentence saying what to fix; other errors
// are the server's (retry later).
func IsSenderFault(err error) (string, bool) {
	var p *Problem
	if errors.As(err, &p) && p.Status < 500 && p.Status != http.StatusTooManyRequests {
		return p.Detail, true
	}
	return "", false
}
