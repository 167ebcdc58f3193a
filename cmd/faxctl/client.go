package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/faxd/faxd/routing/failover"
)

// client calls the faxd API through the failover policy (000/004): every
// request goes to the production servers in order, then the DR servers,
// never sticking to one that is down.
type client struct {
	fo      *failover.Client
	token   string
	http    *http.Client
	timeout time.Duration
}

// apiError is a problem+json answer, or another non-2xx one.
type apiError struct {
	Status int
	Title  string
	Detail string
	Errors []string
}

func (e *apiError) Error() string {
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

// reply is a successful answer.
type reply struct {
	status int
	header http.Header
	body   []byte
	server string
}

// do sends one request; body is re-read for every attempt.
func (c *client) do(ctx context.Context, method, path string, body []byte, contentType string, hdr map[string]string) (*reply, error) {
	var out *reply
	err := c.fo.Do(ctx, func(ctx context.Context, server string) error {
		ctx, cancel := context.WithTimeout(ctx, c.timeout)
		defer cancel()
		var rd io.Reader
		if body != nil {
			rd = bytes.NewReader(body)
		}
		req, err := http.NewRequestWithContext(ctx, method, strings.TrimRight(server, "/")+path, rd)
		if err != nil {
			return err
		}
		if contentType != "" {
			req.Header.Set("Content-Type", contentType)
		}
		if c.token != "" {
			req.Header.Set("Authorization", "Bearer "+c.token)
		}
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := c.http.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<30))
		if err != nil {
			return err
		}
		if resp.StatusCode >= 400 {
			return &failover.StatusError{Code: resp.StatusCode, Body: string(b)}
		}
		out = &reply{status: resp.StatusCode, header: resp.Header, body: b, server: server}
		return nil
	})
	if err != nil {
		var se *failover.StatusError
		if errors.As(err, &se) {
			ae := &apiError{Status: se.Code}
			if json.Unmarshal([]byte(se.Body), ae) != nil || (ae.Detail == "" && ae.Title == "") {
				ae.Detail = strings.TrimSpace(se.Body)
			}
			var af *failover.AllFailed
			if errors.As(err, &af) {
				return nil, fmt.Errorf("no server answered (%d attempts); last: %w", af.Tried, ae)
			}
			return nil, ae
		}
		return nil, err
	}
	return out, nil
}

// show GETs path and either prints the API's JSON as is (-json) or decodes
// it into v for a table; printed says the first happened.
func (a *app) show(ctx context.Context, path string, v any) (printed bool, err error) {
	r, err := a.c.do(ctx, http.MethodGet, path, nil, "", nil)
	if err != nil {
		return false, err
	}
	if a.json {
		a.printJSON(r.body)
		return true, nil
	}
	if err := json.Unmarshal(r.body, v); err != nil {
		return false, fmt.Errorf("unexpected answer from %s: %w", r.server, err)
	}
	return false, nil
}

// exitCode is 1 for an error, 0 otherwise.
func exitCode(err error) int {
	if err != nil {
		return 1
	}
	return 0
}
