// Package client is the Go client of the faxd HTTP API: one typed method
// per operation of schemas/openapi.yaml, named after its operationId.
//
// Every call goes through the client failover policy (routing/failover):
// each production server a set number of attempts, then the next; after
// the set number of cycles the disaster-recovery servers; and back to
// production once it answers again. A refusal (4xx) is returned at once as
// an *Error carrying the server's problem+json fields.
//
//	c, err := client.New(client.Options{Servers: []string{"http://fax1:8080"}, Token: tok})
//	f, _, err := c.SubmitFax(ctx, client.FaxRequest{To: "+4930123456"},
//		[]client.Document{{Name: "invoice.pdf", Body: file}}, "")
package client

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/faxd/faxd/routing/failover"
)

// Options configure a Client. Only Servers is required.
type Options struct {
	Servers []string // production servers, tried first, in order
	DR      []string // disaster-recovery servers, after the production cycles
	Token   string   // API token (faxd_<id>_<secret>)

	AttemptsPerServer int           // per server per cycle; default 2
	Cycles            int           // production cycles before DR; default 2
	RetryDelay        time.Duration // between attempts on one server; default 200ms
	DownFor           time.Duration // how long a dead server is skipped; default 30s
	ReturnEvery       time.Duration // on DR, how often production is tried; default 30s

	// Timeout bounds one attempt until the answer (for downloads: until
	// its headers) arrives; default 60s. The caller's context bounds the
	// whole call, failover included.
	Timeout    time.Duration
	HTTPClient *http.Client // default: a new http.Client
}

// Client calls a faxd cluster. It is safe for concurrent use.
type Client struct {
	fo      *failover.Client
	token   string
	hc      *http.Client
	timeout time.Duration
}

// New checks the options.
func New(o Options) (*Client, error) {
	trim := func(in []string) []string {
		var out []string
		for _, s := range in {
			if s = strings.TrimRight(strings.TrimSpace(s), "/"); s != "" {
				out = append(out, s)
			}
		}
		return out
	}
	prod, dr := trim(o.Servers), trim(o.DR)
	for _, s := range append(append([]string{}, prod...), dr...) {
		u, err := url.Parse(s)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("client: server %q: want http://host:port or https://host:port", s)
		}
	}
	fo, err := failover.New(failover.Policy{
		Production: prod, DR: dr,
		AttemptsPerServer: o.AttemptsPerServer, Cycles: o.Cycles,
		RetryDelay: o.RetryDelay, DownFor: o.DownFor, ReturnEvery: o.ReturnEvery,
		Classify: classify,
	})
	if err != nil {
		return nil, fmt.Errorf("client: %w", err)
	}
	c := &Client{fo: fo, token: o.Token, hc: o.HTTPClient, timeout: o.Timeout}
	if c.hc == nil {
		c.hc = &http.Client{}
	}
	if c.timeout <= 0 {
		c.timeout = 60 * time.Second
	}
	return c, nil
}

// Server is the server that answered the last successful call.
func (c *Client) Server() string { return c.fo.Endpoint() }

// OnDR reports whether the last successful call went to a DR server.
func (c *Client) OnDR() bool { return c.fo.OnDR() }

// Error is a refusal or failure the server answered with: the fields of
// its application/problem+json body (RFC 9457). Use errors.As to get it.
type Error struct {
	Type   string   `json:"type"`
	Title  string   `json:"title"`
	Status int      `json:"status"`
	Detail string   `json:"detail"`
	Errors []string `json:"errors,omitempty"`
	Server string   `json:"-"` // the server that answered
}

func (e *Error) Error() string {
	msg := e.Detail
	if msg == "" {
		msg = e.Title
	}
	if msg == "" {
		msg = http.StatusText(e.Status)
	}
	s := fmt.Sprintf("%s (HTTP %d)", msg, e.Status)
	if len(e.Errors) > 1 {
		s += "\n  " + strings.Join(e.Errors, "\n  ")
	}
	return s
}

// classify judges *Error by its status as failover does for HTTP answers.
func classify(err error) failover.Class {
	var e *Error
	if errors.As(err, &e) {
		return failover.ClassifyHTTP(&failover.StatusError{Code: e.Status})
	}
	return failover.ClassifyHTTP(err)
}

// request is one API call; body is replayed on every attempt.
type request struct {
	method, path string
	query        url.Values
	body         []byte
	contentType  string
	header       http.Header
	stream       bool // keep the body open for the caller
}

// response is a successful answer; body is nil when streamed.
type response struct {
	status int
	header http.Header
	body   []byte
	stream io.ReadCloser
}

func (c *Client) do(ctx context.Context, r request) (*response, error) {
	var out *response
	err := c.fo.Do(ctx, func(ctx context.Context, server string) error {
		resp, err := c.once(ctx, server, r)
		if err == nil {
			out = resp
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// once makes one attempt. The timeout runs until the whole body is read,
// or for a stream until the headers are in; after that the caller's
// context and Close end the stream.
func (c *Client) once(parent context.Context, server string, r request) (*response, error) {
	ctx, cancel := context.WithCancel(parent)
	var fired atomic.Bool
	timer := time.AfterFunc(c.timeout, func() {
		fired.Store(true)
		cancel()
	})
	// fail reports an attempt the timer cut short as a timeout, which
	// failover retries, rather than as the cancellation it is underneath,
	// which would end the whole call.
	fail := func(err error) error {
		timer.Stop()
		cancel()
		if fired.Load() && parent.Err() == nil {
			return fmt.Errorf("%s gave no answer within %s: %w", server, c.timeout, context.DeadlineExceeded)
		}
		return err
	}
	u := server + r.path
	if len(r.query) > 0 {
		u += "?" + r.query.Encode()
	}
	var body io.Reader
	if r.body != nil {
		body = bytes.NewReader(r.body)
	}
	req, err := http.NewRequestWithContext(ctx, r.method, u, body)
	if err != nil {
		return nil, fail(err)
	}
	for k, v := range r.header {
		req.Header[k] = v
	}
	if r.contentType != "" {
		req.Header.Set("Content-Type", r.contentType)
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	req.Header.Set("Accept", "application/json, application/problem+json, */*")
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, fail(err)
	}
	if resp.StatusCode < 400 && r.stream {
		if !timer.Stop() {
			resp.Body.Close()
			return nil, fail(context.Canceled)
		}
		return &response{status: resp.StatusCode, header: resp.Header,
			stream: &cancelCloser{ReadCloser: resp.Body, cancel: cancel}}, nil
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	resp.Body.Close()
	if err != nil {
		return nil, fail(err)
	}
	timer.Stop()
	cancel()
	if resp.StatusCode >= 400 {
		e := problem(server, resp.StatusCode, b)
		if resp.StatusCode == http.StatusTooManyRequests {
			// The server says when this token may ask again; the retry
			// that follows (failover counts 429 as "retry") waits for it.
			if err := sleep(parent, retryAfter(resp.Header.Get("Retry-After"), c.timeout)); err != nil {
				return nil, err
			}
		}
		return nil, e
	}
	return &response{status: resp.StatusCode, header: resp.Header, body: b}, nil
}

// problem turns an error answer into *Error; a body that is no problem
// document (a proxy's page) becomes the detail.
func problem(server string, status int, b []byte) *Error {
	e := &Error{}
	if json.Unmarshal(b, e) != nil || (e.Detail == "" && e.Title == "") {
		e = &Error{Detail: strings.TrimSpace(string(b))}
		if len(e.Detail) > 500 {
			e.Detail = e.Detail[:500] + "..."
		}
	}
	e.Status, e.Server = status, server
	return e
}

// retryAfter reads a Retry-After in seconds, at most max.
func retryAfter(v string, max time.Duration) time.Duration {
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil || n <= 0 {
		return 0
	}
	return min(time.Duration(n)*time.Second, max)
}

func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

type cancelCloser struct {
	io.ReadCloser
	cancel context.CancelFunc
	once   sync.Once
}

func (c *cancelCloser) Close() error {
	err := c.ReadCloser.Close()
	c.once.Do(c.cancel)
	return err
}

// getJSON, sendJSON: the JSON operations.
func (c *Client) getJSON(ctx context.Context, path string, q url.Values, out any) error {
	return c.call(ctx, http.MethodGet, path, q, nil, out)
}

func (c *Client) call(ctx context.Context, method, path string, q url.Values, in, out any) (err error) {
	_, err = c.callStatus(ctx, method, path, q, in, out)
	return err
}

func (c *Client) callStatus(ctx context.Context, method, path string, q url.Values, in, out any) (int, error) {
	r := request{method: method, path: path, query: q}
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return 0, fmt.Errorf("client: encode %s %s: %w", method, path, err)
		}
		r.body, r.contentType = b, "application/json"
	}
	resp, err := c.do(ctx, r)
	if err != nil {
		return 0, err
	}
	if out != nil && len(resp.body) > 0 {
		if err := json.Unmarshal(resp.body, out); err != nil {
			return resp.status, fmt.Errorf("client: unexpected answer to %s %s: %w", method, path, err)
		}
	}
	return resp.status, nil
}

// Download is a file the server streams; the caller must Close it.
type Download struct {
	io.ReadCloser
	ContentType string
	Filename    string // the server's suggested file name, if any
	Size        int64  // -1 when unknown
}

func (c *Client) download(ctx context.Context, path string, q url.Values) (*Download, error) {
	resp, err := c.do(ctx, request{method: http.MethodGet, path: path, query: q, stream: true})
	if err != nil {
		return nil, err
	}
	d := &Download{ReadCloser: resp.stream, ContentType: resp.header.Get("Content-Type"), Size: -1}
	if _, params, err := mime.ParseMediaType(resp.header.Get("Content-Disposition")); err == nil {
		d.Filename = params["filename"]
	}
	if n := resp.header.Get("Content-Length"); n != "" {
		fmt.Sscan(n, &d.Size)
	}
	return d, nil
}

// NewIdempotencyKey is a random key; SubmitFax uses one when given none,
// so that a failover retry never submits a fax twice.
func NewIdempotencyKey() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return "go-" + hex.EncodeToString(b[:])
}
