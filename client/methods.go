package client

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Each method below is one operation of schemas/openapi.yaml; its name is
// the operationId with a capital first letter (a test holds them together).

// Document is one file of a submission.
type Document struct {
	Name        string    // file name, shown in the server's logs and used to guess the type
	ContentType string    // optional; from the extension of Name when empty
	Body        io.Reader // read once
	// URL, instead of Body, has the server fetch the document (through
	// its outbound URL policy). A submission with a URL document is sent
	// as one JSON body, the other documents base64 in it.
	URL string
}

var contentTypes = map[string]string{
	".pdf": "application/pdf", ".ps": "application/postscript", ".tif": "image/tiff", ".tiff": "image/tiff",
	".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".gif": "image/gif", ".txt": "text/plain",
	// Rendered by the server's LibreOffice, when it has one (else 415).
	".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
	".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
	".odt":  "application/vnd.oasis.opendocument.text", ".ods": "application/vnd.oasis.opendocument.spreadsheet",
	".rtf": "application/rtf", ".html": "text/html", ".htm": "text/html",
}

// jsonDocument is a document of a JSON submission; Data is base64 in JSON.
type jsonDocument struct {
	Filename    string `json:"filename,omitempty"`
	ContentType string `json:"content_type,omitempty"`
	Data        []byte `json:"data,omitempty"`
	URL         string `json:"url,omitempty"`
}

// jsonSubmission is the fields of v (a FaxRequest or BroadcastRequest)
// plus the documents, one object.
func jsonSubmission(v any, docs []Document) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	var jd []jsonDocument
	for i, d := range docs {
		switch {
		case d.URL != "" && d.Body != nil:
			return nil, fmt.Errorf("document %d has both a URL and a Body", i)
		case d.URL != "":
			jd = append(jd, jsonDocument{Filename: d.Name, ContentType: d.ContentType, URL: d.URL})
		case d.Body != nil:
			data, err := io.ReadAll(d.Body)
			if err != nil {
				return nil, fmt.Errorf("reading %s: %w", d.Name, err)
			}
			ct := d.ContentType
			if ct == "" {
				ct = contentTypes[strings.ToLower(filepath.Ext(d.Name))]
			}
			name := ""
			if d.Name != "" {
				name = filepath.Base(d.Name)
			}
			jd = append(jd, jsonDocument{Filename: name, ContentType: ct, Data: data})
		default:
			return nil, fmt.Errorf("document %d has no Body and no URL", i)
		}
	}
	m["documents"] = jd
	return json.Marshal(m)
}

// SubmitFax queues a fax of one or more documents. Every Body is read
// once, before the first attempt, so that failover can send the same
// bytes to the next server. With an empty idempotencyKey a random one is
// used. existed is true when the key had already submitted this fax.
func (c *Client) SubmitFax(ctx context.Context, fax FaxRequest, docs []Document, idempotencyKey string) (f *Fax, existed bool, err error) {
	if len(docs) == 0 {
		return nil, false, fmt.Errorf("client: SubmitFax: at least one document is required")
	}
	if idempotencyKey == "" {
		idempotencyKey = NewIdempotencyKey()
	}
	body, ct, err := submissionBody("fax", fax, docs)
	if err != nil {
		return nil, false, fmt.Errorf("client: SubmitFax: %w", err)
	}
	return c.postFax(ctx, body, ct, idempotencyKey)
}

// submissionBody is a submission as multipart (the JSON part named part
// and the files), or as one JSON body when a document is a URL.
func submissionBody(part string, v any, docs []Document) ([]byte, string, error) {
	for _, d := range docs {
		if d.URL != "" {
			body, err := jsonSubmission(v, docs)
			return body, "application/json", err
		}
	}
	return submission(part, v, docs)
}

func (c *Client) postFax(ctx context.Context, body []byte, contentType, idempotencyKey string) (f *Fax, existed bool, err error) {
	resp, err := c.do(ctx, request{method: http.MethodPost, path: "/v1/faxes", body: body,
		contentType: contentType, header: http.Header{"Idempotency-Key": {idempotencyKey}}})
	if err != nil {
		return nil, false, err
	}
	f = &Fax{}
	if err := json.Unmarshal(resp.body, f); err != nil {
		return nil, false, fmt.Errorf("client: unexpected answer to POST /v1/faxes: %w", err)
	}
	return f, resp.status == http.StatusOK, nil
}

// submission builds a multipart submission: the JSON part named part and
// the documents.
func submission(part string, v any, docs []Document) ([]byte, string, error) {
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", `form-data; name="`+part+`"`)
	h.Set("Content-Type", "application/json")
	w, _ := mw.CreatePart(h)
	if err := json.NewEncoder(w).Encode(v); err != nil {
		return nil, "", err
	}
	for i, d := range docs {
		if d.Body == nil {
			return nil, "", fmt.Errorf("document %d has no Body", i)
		}
		name := d.Name
		if name == "" {
			name = "document-" + strconv.Itoa(i)
		}
		ct := d.ContentType
		if ct == "" {
			ct = contentTypes[strings.ToLower(filepath.Ext(name))]
		}
		if ct == "" {
			ct = "application/octet-stream"
		}
		h := textproto.MIMEHeader{}
		h.Set("Content-Disposition", mime.FormatMediaType("form-data", map[string]string{"name": "document", "filename": filepath.Base(name)}))
		h.Set("Content-Type", ct)
		pw, _ := mw.CreatePart(h)
		if _, err := io.Copy(pw, d.Body); err != nil {
			return nil, "", fmt.Errorf("reading %s: %w", name, err)
		}
	}
	if err := mw.Close(); err != nil {
		return nil, "", err
	}
	return body.Bytes(), mw.FormDataContentType(), nil
}

// ListFaxesParams filter ListFaxes; zero fields are left out.
type ListFaxesParams struct {
	States        []string
	To            string
	Submitter     string
	CreatedAfter  time.Time
	CreatedBefore time.Time
	Limit         int
	Cursor        string
}

// ListFaxes lists faxes, newest first.
func (c *Client) ListFaxes(ctx context.Context, p ListFaxesParams) (*FaxList, error) {
	q := url.Values{}
	set(q, "state", strings.Join(p.States, ","))
	set(q, "to", p.To)
	set(q, "submitter", p.Submitter)
	setTime(q, "created_after", p.CreatedAfter)
	setTime(q, "created_before", p.CreatedBefore)
	setInt(q, "limit", p.Limit)
	set(q, "cursor", p.Cursor)
	var out FaxList
	return &out, c.getJSON(ctx, "/v1/faxes", q, &out)
}

// GetFax is one fax with its history.
func (c *Client) GetFax(ctx context.Context, id int64) (*Fax, error) {
	var out Fax
	return &out, c.getJSON(ctx, "/v1/faxes/"+itoa(id), nil, &out)
}

// CancelFax cancels a fax. hangingUp is true when it was being sent: the
// call is being hung up and the fax becomes cancelled when it ends.
func (c *Client) CancelFax(ctx context.Context, id int64) (f *Fax, hangingUp bool, err error) {
	f = &Fax{}
	status, err := c.callStatus(ctx, http.MethodPost, "/v1/faxes/"+itoa(id)+"/cancel", nil, nil, f)
	if err != nil {
		return nil, false, err
	}
	return f, status == http.StatusAccepted, nil
}

// RetryFax makes a pending fax that waits for its next attempt (or its
// scheduled time) due at once.
func (c *Client) RetryFax(ctx context.Context, id int64) (*Fax, error) {
	var f Fax
	return &f, c.call(ctx, http.MethodPost, "/v1/faxes/"+itoa(id)+"/retry", nil, nil, &f)
}

// DeleteFax deletes the documents of a finished fax and leaves a tombstone;
// reason may be empty. A fax already deleted answers an *Error with Status
// 410 (http.StatusGone) naming who deleted it and when.
func (c *Client) DeleteFax(ctx context.Context, id int64, reason string) error {
	var q url.Values
	if reason != "" {
		q = url.Values{"reason": {reason}}
	}
	return c.call(ctx, http.MethodDelete, "/v1/faxes/"+itoa(id), q, nil, nil)
}

// GetAttemptTrace is the call trace of attempt n (1 is the first).
func (c *Client) GetAttemptTrace(ctx context.Context, id int64, n int) (*CallTrace, error) {
	var out CallTrace
	return &out, c.getJSON(ctx, "/v1/faxes/"+itoa(id)+"/attempts/"+strconv.Itoa(n)+"/trace", nil, &out)
}

// Document formats.
const (
	FormatPDF      = "pdf"
	FormatTIFF     = "tiff"
	FormatOriginal = "original"
)

// GetFaxDocument streams a fax's pages (FormatPDF, FormatTIFF; empty:
// PDF, as for received faxes) or, with FormatOriginal, submitted document
// number part (from 0).
func (c *Client) GetFaxDocument(ctx context.Context, id int64, format string, part int) (*Download, error) {
	if format == "" {
		format = FormatPDF
	}
	q := url.Values{"format": {format}}
	if format == FormatOriginal {
		q.Set("part", strconv.Itoa(part))
	}
	return c.download(ctx, "/v1/faxes/"+itoa(id)+"/document", q)
}

// GetFaxReport streams the confirmation report (PDF) of a finished fax.
func (c *Client) GetFaxReport(ctx context.Context, id int64) (*Download, error) {
	return c.download(ctx, "/v1/faxes/"+itoa(id)+"/report", nil)
}

// ListGateways lists every gateway, by name.
func (c *Client) ListGateways(ctx context.Context) ([]Gateway, error) {
	var out struct {
		Gateways []Gateway `json:"gateways"`
	}
	err := c.getJSON(ctx, "/v1/gateways", nil, &out)
	return out.Gateways, err
}

// CreateGateway creates a gateway (in.Name required).
func (c *Client) CreateGateway(ctx context.Context, in GatewayInput) (*Gateway, error) {
	var out Gateway
	return &out, c.call(ctx, http.MethodPost, "/v1/gateways", nil, in, &out)
}

// GetGateway is one gateway.
func (c *Client) GetGateway(ctx context.Context, name string) (*Gateway, error) {
	var out Gateway
	return &out, c.getJSON(ctx, "/v1/gateways/"+url.PathEscape(name), nil, &out)
}

// UpdateGateway replaces a gateway's settings; a nil Password keeps the stored one.
func (c *Client) UpdateGateway(ctx context.Context, name string, in GatewayInput) (*Gateway, error) {
	var out Gateway
	return &out, c.call(ctx, http.MethodPut, "/v1/gateways/"+url.PathEscape(name), nil, in, &out)
}

// DeleteGateway deletes a gateway no route uses.
func (c *Client) DeleteGateway(ctx context.Context, name string) error {
	return c.call(ctx, http.MethodDelete, "/v1/gateways/"+url.PathEscape(name), nil, nil, nil)
}

// GetGatewayHealth is every gateway the answering server routes through, with its health.
func (c *Client) GetGatewayHealth(ctx context.Context) (*GatewayHealthReport, error) {
	var out GatewayHealthReport
	return &out, c.getJSON(ctx, "/v1/gateway-health", nil, &out)
}

// ListRoutes lists the least-cost routes, by prefix.
func (c *Client) ListRoutes(ctx context.Context) ([]Route, error) {
	var out struct {
		Routes []Route `json:"routes"`
	}
	err := c.getJSON(ctx, "/v1/routes", nil, &out)
	return out.Routes, err
}

// CreateRoute creates a route.
func (c *Client) CreateRoute(ctx context.Context, in RouteInput) (*Route, error) {
	var out Route
	return &out, c.call(ctx, http.MethodPost, "/v1/routes", nil, in, &out)
}

// GetRoute is one route.
func (c *Client) GetRoute(ctx context.Context, id int64) (*Route, error) {
	var out Route
	return &out, c.getJSON(ctx, "/v1/routes/"+itoa(id), nil, &out)
}

// UpdateRoute replaces a route.
func (c *Client) UpdateRoute(ctx context.Context, id int64, in RouteInput) (*Route, error) {
	var out Route
	return &out, c.call(ctx, http.MethodPut, "/v1/routes/"+itoa(id), nil, in, &out)
}

// DeleteRoute deletes a route.
func (c *Client) DeleteRoute(ctx context.Context, id int64) error {
	return c.call(ctx, http.MethodDelete, "/v1/routes/"+itoa(id), nil, nil, nil)
}

// ListInboundRules lists the inbound rules in the order they run.
func (c *Client) ListInboundRules(ctx context.Context) ([]InboundRule, error) {
	var out struct {
		Rules []InboundRule `json:"inbound_rules"`
	}
	err := c.getJSON(ctx, "/v1/inbound-rules", nil, &out)
	return out.Rules, err
}

// CreateInboundRule creates an inbound rule.
func (c *Client) CreateInboundRule(ctx context.Context, in InboundRuleInput) (*InboundRule, error) {
	var out InboundRule
	return &out, c.call(ctx, http.MethodPost, "/v1/inbound-rules", nil, in, &out)
}

// GetInboundRule is one inbound rule.
func (c *Client) GetInboundRule(ctx context.Context, id int64) (*InboundRule, error) {
	var out InboundRule
	return &out, c.getJSON(ctx, "/v1/inbound-rules/"+itoa(id), nil, &out)
}

// UpdateInboundRule replaces a rule; a webhook without a secret keeps the stored one.
func (c *Client) UpdateInboundRule(ctx context.Context, id int64, in InboundRuleInput) (*InboundRule, error) {
	var out InboundRule
	return &out, c.call(ctx, http.MethodPut, "/v1/inbound-rules/"+itoa(id), nil, in, &out)
}

// DeleteInboundRule deletes an inbound rule.
func (c *Client) DeleteInboundRule(ctx context.Context, id int64) error {
	return c.call(ctx, http.MethodDelete, "/v1/inbound-rules/"+itoa(id), nil, nil, nil)
}

// ListTokens lists the API tokens, revoked ones included.
func (c *Client) ListTokens(ctx context.Context) ([]Token, error) {
	var out struct {
		Tokens []Token `json:"tokens"`
	}
	err := c.getJSON(ctx, "/v1/tokens", nil, &out)
	return out.Tokens, err
}

// CreateToken creates a token; its secret is in this answer only.
func (c *Client) CreateToken(ctx context.Context, in TokenInput) (*CreatedToken, error) {
	var out CreatedToken
	return &out, c.call(ctx, http.MethodPost, "/v1/tokens", nil, in, &out)
}

// RevokeToken revokes a token at once.
func (c *Client) RevokeToken(ctx context.Context, id int64) (*Token, error) {
	var out Token
	return &out, c.call(ctx, http.MethodDelete, "/v1/tokens/"+itoa(id), nil, nil, &out)
}

// WhoAmI is the token making the request.
func (c *Client) WhoAmI(ctx context.Context) (*Token, error) {
	var out Token
	return &out, c.getJSON(ctx, "/v1/whoami", nil, &out)
}

// ListAuditParams filter ListAuditEntries; zero fields are left out.
type ListAuditParams struct {
	Since, Until         time.Time
	Actor                string
	ObjectType, ObjectID string
	Action               string
	Limit                int
	Cursor               string
}

// ListAuditEntries is the audit log of configuration changes, newest first.
func (c *Client) ListAuditEntries(ctx context.Context, p ListAuditParams) (*AuditList, error) {
	q := url.Values{}
	setTime(q, "since", p.Since)
	setTime(q, "until", p.Until)
	set(q, "actor", p.Actor)
	set(q, "object_type", p.ObjectType)
	set(q, "object_id", p.ObjectID)
	set(q, "action", p.Action)
	setInt(q, "limit", p.Limit)
	set(q, "cursor", p.Cursor)
	var out AuditList
	return &out, c.getJSON(ctx, "/v1/audit", q, &out)
}

// ListReceivedParams filter ListReceived; zero fields are left out.
type ListReceivedParams struct {
	Unrouted                      bool
	DID, Caller                   string
	Result                        string // received, receive_failed
	ReceivedAfter, ReceivedBefore time.Time
	Limit                         int
	Cursor                        string
}

// ListReceived lists received faxes, newest first.
func (c *Client) ListReceived(ctx context.Context, p ListReceivedParams) (*ReceivedList, error) {
	q := url.Values{}
	if p.Unrouted {
		q.Set("unrouted", "true")
	}
	set(q, "did", p.DID)
	set(q, "caller", p.Caller)
	set(q, "result", p.Result)
	setTime(q, "received_after", p.ReceivedAfter)
	setTime(q, "received_before", p.ReceivedBefore)
	setInt(q, "limit", p.Limit)
	set(q, "cursor", p.Cursor)
	var out ReceivedList
	return &out, c.getJSON(ctx, "/v1/received", q, &out)
}

// GetReceived is one received fax with its reroutes.
func (c *Client) GetReceived(ctx context.Context, id int64) (*ReceivedFax, error) {
	var out ReceivedFax
	return &out, c.getJSON(ctx, "/v1/received/"+itoa(id), nil, &out)
}

// GetReceivedDocument streams a received fax as FormatPDF or FormatTIFF
// (empty: PDF).
func (c *Client) GetReceivedDocument(ctx context.Context, id int64, format string) (*Download, error) {
	if format == "" {
		format = FormatPDF
	}
	q := url.Values{"format": {format}}
	return c.download(ctx, "/v1/received/"+itoa(id)+"/document", q)
}

// GetReceivedTrace is the call trace of a received fax.
func (c *Client) GetReceivedTrace(ctx context.Context, id int64) (*CallTrace, error) {
	var out CallTrace
	return &out, c.getJSON(ctx, "/v1/received/"+itoa(id)+"/trace", nil, &out)
}

// GetReceivedThumbnail streams a PNG preview of one page (from 1; 0: the
// first) at width pixels (0: the server's default).
func (c *Client) GetReceivedThumbnail(ctx context.Context, id int64, page, width int) (*Download, error) {
	q := url.Values{}
	setInt(q, "page", page)
	setInt(q, "width", width)
	return c.download(ctx, "/v1/received/"+itoa(id)+"/thumbnail", q)
}

// GetFaxThumbnail streams a PNG preview of one page of a fax as it is
// sent (page from 1; 0: the first) at width pixels (0: the server's
// default).
func (c *Client) GetFaxThumbnail(ctx context.Context, id int64, page, width int) (*Download, error) {
	q := url.Values{}
	setInt(q, "page", page)
	setInt(q, "width", width)
	return c.download(ctx, "/v1/faxes/"+itoa(id)+"/thumbnail", q)
}

// RerouteReceived sends a received fax to another destination; reason
// (required) says why.
func (c *Client) RerouteReceived(ctx context.Context, id int64, dest DestinationInput, reason string) (*Reroute, error) {
	var out Reroute
	return &out, c.call(ctx, http.MethodPost, "/v1/received/"+itoa(id)+"/reroute", nil, RerouteInput{Destination: dest, Reason: reason}, &out)
}

// ListReroutes is a received fax's reroutes, oldest first.
func (c *Client) ListReroutes(ctx context.Context, id int64) ([]Reroute, error) {
	var out struct {
		Reroutes []Reroute `json:"reroutes"`
	}
	err := c.getJSON(ctx, "/v1/received/"+itoa(id)+"/reroutes", nil, &out)
	return out.Reroutes, err
}

// MarkReceivedRead marks a received fax read for the caller (read marks
// are per token name and drive GetMailbox's unread filter).
func (c *Client) MarkReceivedRead(ctx context.Context, id int64) (*ReadMark, error) {
	var out ReadMark
	return &out, c.call(ctx, http.MethodPost, "/v1/received/"+itoa(id)+"/read", nil, nil, &out)
}

// MarkReceivedUnread marks a received fax unread again for the caller.
func (c *Client) MarkReceivedUnread(ctx context.Context, id int64) (*ReadMark, error) {
	var out ReadMark
	return &out, c.call(ctx, http.MethodDelete, "/v1/received/"+itoa(id)+"/read", nil, nil, &out)
}

// DeleteReceived deletes a received fax's pages for good (a privacy
// request), leaving a tombstone; reason may be empty. Operators and
// admins only. A fax already deleted answers an *Error with Status 410
// (http.StatusGone) naming who deleted it and when.
func (c *Client) DeleteReceived(ctx context.Context, id int64, reason string) error {
	var q url.Values
	if reason != "" {
		q = url.Values{"reason": {reason}}
	}
	return c.call(ctx, http.MethodDelete, "/v1/received/"+itoa(id), q, nil, nil)
}

// ListMailboxes is every mailbox holding faxes, with counts.
func (c *Client) ListMailboxes(ctx context.Context) ([]Mailbox, error) {
	var out struct {
		Mailboxes []Mailbox `json:"mailboxes"`
	}
	err := c.getJSON(ctx, "/v1/mailboxes", nil, &out)
	return out.Mailboxes, err
}

// GetMailbox is a mailbox's faxes, newest first; limit 0 is the server's default.
func (c *Client) GetMailbox(ctx context.Context, name string, unreadOnly bool, limit int) (*MailboxContents, error) {
	q := url.Values{}
	if unreadOnly {
		q.Set("unread", "true")
	}
	setInt(q, "limit", limit)
	var out MailboxContents
	return &out, c.getJSON(ctx, "/v1/mailboxes/"+url.PathEscape(name), q, &out)
}

// ArchiveParams filter SearchArchive; zero fields are left out.
type ArchiveParams struct {
	Direction                     string // outbound, inbound
	Result                        string // sent, failed, cancelled, received, receive_failed
	Number                        string // ours or the other side's
	Submitter                     string
	Routing                       string // routed, unrouted, rerouted
	FinishedAfter, FinishedBefore time.Time
	Limit                         int
	Cursor                        string
}

// SearchArchive searches completed outbound and received faxes, newest first.
func (c *Client) SearchArchive(ctx context.Context, p ArchiveParams) (*ArchivePage, error) {
	q := url.Values{}
	set(q, "direction", p.Direction)
	set(q, "result", p.Result)
	set(q, "number", p.Number)
	set(q, "submitter", p.Submitter)
	set(q, "routing", p.Routing)
	setTime(q, "finished_after", p.FinishedAfter)
	setTime(q, "finished_before", p.FinishedBefore)
	setInt(q, "limit", p.Limit)
	set(q, "cursor", p.Cursor)
	var out ArchivePage
	return &out, c.getJSON(ctx, "/v1/archive", q, &out)
}

// GetCluster is the servers and, on a standby, its failover state.
func (c *Client) GetCluster(ctx context.Context) (*Cluster, error) {
	var out Cluster
	return &out, c.getJSON(ctx, "/v1/cluster", nil, &out)
}

func (c *Client) standby(ctx context.Context, op string) (*Standby, error) {
	var out struct {
		Standby *Standby `json:"standby"`
	}
	if err := c.call(ctx, http.MethodPost, "/v1/cluster/standby/"+op, nil, nil, &out); err != nil {
		return nil, err
	}
	if out.Standby == nil {
		return nil, fmt.Errorf("client: %s answered %s without a standby state", c.Server(), op)
	}
	return out.Standby, nil
}

// PromoteStandby makes the answering standby the primary now.
func (c *Client) PromoteStandby(ctx context.Context) (*Standby, error) {
	return c.standby(ctx, "promote")
}

// DemoteStandby returns the answering standby to standby now.
func (c *Client) DemoteStandby(ctx context.Context) (*Standby, error) {
	return c.standby(ctx, "demote")
}

// EnableStandby turns automatic failover on.
func (c *Client) EnableStandby(ctx context.Context) (*Standby, error) {
	return c.standby(ctx, "enable")
}

// DisableStandby turns automatic failover off.
func (c *Client) DisableStandby(ctx context.Context) (*Standby, error) {
	return c.standby(ctx, "disable")
}

// SyncStandby copies the primary's configuration now.
func (c *Client) SyncStandby(ctx context.Context) (*Standby, error) { return c.standby(ctx, "sync") }

// Readiness is a server's /readyz report (not part of the /v1 API).
type Readiness struct {
	Server string
	Ready  bool
	Status int
	Report string // one line per component
}

// Ready asks the first server that answers for its readiness report. Any
// answer is the server's own report: a 503 is Ready false, not an error.
func (c *Client) Ready(ctx context.Context) (*Readiness, error) {
	var out *Readiness
	err := c.fo.Do(ctx, func(ctx context.Context, server string) error {
		ctx, cancel := context.WithTimeout(ctx, c.timeout)
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, server+"/readyz", nil)
		if err != nil {
			return err
		}
		resp, err := c.hc.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		if err != nil {
			return err
		}
		out = &Readiness{Server: server, Ready: resp.StatusCode == http.StatusOK, Status: resp.StatusCode, Report: string(b)}
		return nil
	})
	return out, err
}

// GetMe is who the caller is, with their role and mailbox grants.
func (c *Client) GetMe(ctx context.Context) (*Me, error) {
	var out Me
	return &out, c.getJSON(ctx, "/v1/me", nil, &out)
}

// ChangeMyPassword changes the calling user's own password (a session or
// a token that belongs to a user).
func (c *Client) ChangeMyPassword(ctx context.Context, current, next string) error {
	return c.call(ctx, http.MethodPost, "/v1/me/password", nil, map[string]string{"current_password": current, "new_password": next}, nil)
}

// ListUsers lists the user accounts with their grants.
func (c *Client) ListUsers(ctx context.Context) ([]User, error) {
	var out struct {
		Users []User `json:"users"`
	}
	err := c.getJSON(ctx, "/v1/users", nil, &out)
	return out.Users, err
}

// CreateUser creates a user account.
func (c *Client) CreateUser(ctx context.Context, in UserInput) (*User, error) {
	var out User
	return &out, c.call(ctx, http.MethodPost, "/v1/users", nil, in, &out)
}

// GetUser is one user account.
func (c *Client) GetUser(ctx context.Context, id int64) (*User, error) {
	var out User
	return &out, c.getJSON(ctx, "/v1/users/"+itoa(id), nil, &out)
}

// UpdateUser changes a user's role, password or disabled state.
func (c *Client) UpdateUser(ctx context.Context, id int64, in UserUpdate) (*User, error) {
	var out User
	return &out, c.call(ctx, http.MethodPatch, "/v1/users/"+itoa(id), nil, in, &out)
}

// DeleteUser deletes a user account with its sessions, grants and tokens.
func (c *Client) DeleteUser(ctx context.Context, id int64) error {
	return c.call(ctx, http.MethodDelete, "/v1/users/"+itoa(id), nil, nil, nil)
}

// userGrants is the answer of the grant operations.
type userGrants struct {
	Mailboxes []string `json:"mailboxes"`
}

// ListUserGrants lists the mailboxes granted to a user.
func (c *Client) ListUserGrants(ctx context.Context, id int64) ([]string, error) {
	var out userGrants
	err := c.getJSON(ctx, "/v1/users/"+itoa(id)+"/grants", nil, &out)
	return out.Mailboxes, err
}

// GrantMailbox lets a user see a mailbox's received faxes; it returns
// the user's grants after the change.
func (c *Client) GrantMailbox(ctx context.Context, id int64, mailbox string) ([]string, error) {
	var out userGrants
	err := c.call(ctx, http.MethodPost, "/v1/users/"+itoa(id)+"/grants", nil, map[string]string{"mailbox": mailbox}, &out)
	return out.Mailboxes, err
}

// RevokeMailbox takes a mailbox grant back; it returns the user's grants
// after the change.
func (c *Client) RevokeMailbox(ctx context.Context, id int64, mailbox string) ([]string, error) {
	var out userGrants
	err := c.call(ctx, http.MethodDelete, "/v1/users/"+itoa(id)+"/grants/"+url.PathEscape(mailbox), nil, nil, &out)
	return out.Mailboxes, err
}

func itoa(id int64) string { return strconv.FormatInt(id, 10) }

func set(q url.Values, k, v string) {
	if v != "" {
		q.Set(k, v)
	}
}

func setInt(q url.Values, k string, v int) {
	if v != 0 {
		q.Set(k, strconv.Itoa(v))
	}
}

func setTime(q url.Values, k string, t time.Time) {
	if !t.IsZero() {
		q.Set(k, t.UTC().Format(time.RFC3339Nano))
	}
}

// GetQueueStats counts faxes by state, and those finished since since
// (zero: the start of the day, UTC).
func (c *Client) GetQueueStats(ctx context.Context, since time.Time) (*QueueStats, error) {
	q := url.Values{}
	setTime(q, "since", since)
	var out QueueStats
	return &out, c.getJSON(ctx, "/v1/queue-stats", q, &out)
}

// ResendFax sends finished fax id again as a new fax (same pages and
// settings; r may name another number and a deadline). existed is true
// when idempotencyKey already made that new fax. With an empty
// idempotencyKey a random one is used, so a retry on another server does
// not send twice.
func (c *Client) ResendFax(ctx context.Context, id int64, r ResendRequest, idempotencyKey string) (f *Fax, existed bool, err error) {
	if idempotencyKey == "" {
		idempotencyKey = NewIdempotencyKey()
	}
	body, err := json.Marshal(r)
	if err != nil {
		return nil, false, err
	}
	path := "/v1/faxes/" + itoa(id) + "/resend"
	resp, err := c.do(ctx, request{method: http.MethodPost, path: path, body: body,
		contentType: "application/json", header: http.Header{"Idempotency-Key": {idempotencyKey}}})
	if err != nil {
		return nil, false, err
	}
	f = &Fax{}
	if err := json.Unmarshal(resp.body, f); err != nil {
		return nil, false, fmt.Errorf("client: unexpected answer to POST %s: %w", path, err)
	}
	return f, resp.status == http.StatusOK, nil
}

// SubmitBroadcast sends the documents to every recipient, a fax each.
// existed is true when idempotencyKey had already made this broadcast; an
// empty key gets a random one, so a retry after a lost answer is safe.
// As with SubmitFax, a URL document makes the submission one JSON body.
func (c *Client) SubmitBroadcast(ctx context.Context, b BroadcastRequest, docs []Document, idempotencyKey string) (out *Broadcast, existed bool, err error) {
	if len(docs) == 0 {
		return nil, false, fmt.Errorf("client: SubmitBroadcast: at least one document is required")
	}
	body, ct, err := submissionBody("broadcast", b, docs)
	if err != nil {
		return nil, false, fmt.Errorf("client: SubmitBroadcast: %w", err)
	}
	if idempotencyKey == "" {
		idempotencyKey = NewIdempotencyKey()
	}
	resp, err := c.do(ctx, request{method: http.MethodPost, path: "/v1/broadcasts", body: body,
		contentType: ct, header: http.Header{"Idempotency-Key": {idempotencyKey}}})
	if err != nil {
		return nil, false, err
	}
	out = &Broadcast{}
	if err := json.Unmarshal(resp.body, out); err != nil {
		return nil, false, fmt.Errorf("client: unexpected answer to POST /v1/broadcasts: %w", err)
	}
	return out, resp.status == http.StatusOK, nil
}

// ListBroadcastsParams filter ListBroadcasts; zero fields are left out.
type ListBroadcastsParams struct {
	Submitter string
	Limit     int
	Cursor    string
}

// ListBroadcasts lists broadcasts, newest first (a submitter its own).
func (c *Client) ListBroadcasts(ctx context.Context, p ListBroadcastsParams) (*BroadcastList, error) {
	q := url.Values{}
	set(q, "submitter", p.Submitter)
	setInt(q, "limit", p.Limit)
	set(q, "cursor", p.Cursor)
	var out BroadcastList
	return &out, c.getJSON(ctx, "/v1/broadcasts", q, &out)
}

// GetBroadcast is one broadcast with its faxes counted by state.
func (c *Client) GetBroadcast(ctx context.Context, id int64) (*Broadcast, error) {
	var out Broadcast
	return &out, c.getJSON(ctx, "/v1/broadcasts/"+itoa(id), nil, &out)
}

// ListBroadcastFaxes is a page of a broadcast's faxes in recipient order;
// cursor is the previous page's NextCursor.
func (c *Client) ListBroadcastFaxes(ctx context.Context, id int64, limit int, cursor string) (*FaxList, error) {
	q := url.Values{}
	setInt(q, "limit", limit)
	set(q, "cursor", cursor)
	var out FaxList
	return &out, c.getJSON(ctx, "/v1/broadcasts/"+itoa(id)+"/faxes", q, &out)
}

// CancelBroadcast cancels every unfinished fax of a broadcast; hangingUp
// is true while some are still being hung up.
func (c *Client) CancelBroadcast(ctx context.Context, id int64) (b *Broadcast, hangingUp bool, err error) {
	b = &Broadcast{}
	status, err := c.callStatus(ctx, http.MethodPost, "/v1/broadcasts/"+itoa(id)+"/cancel", nil, nil, b)
	if err != nil {
		return nil, false, err
	}
	return b, status == http.StatusAccepted, nil
}
