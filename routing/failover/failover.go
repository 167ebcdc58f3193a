// Package failover chooses which faxd server a client talks to: a list of
// production servers, each tried a set number of times, for a set number of
// cycles; then the disaster-recovery servers in order; and, once on DR, a
// steady attempt to return to production.
//
// A failure that says the server is down (connection refused, no route,
// 502/503/504) moves on at once instead of spending the remaining attempts
// on a dead server, and the server is skipped for DownFor: a client must
// never stick to a dead endpoint. A failure that says the request itself is
// wrong (4xx) is returned at once: another server would refuse it too.
package failover

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"sync"
	"syscall"
	"time"
)

// Class is what a failed attempt says about the endpoint.
type Class int

const (
	// Retry: the endpoint may answer if asked again (a timeout while
	// reading, 429). Counts one attempt on the same endpoint.
	Retry Class = iota
	// Down: the endpoint is not serving. Move to the next one now.
	Down
	// Final: the request failed on its merits; stop and return the error.
	Final
)

func (c Class) String() string {
	return [...]string{"retry", "down", "final"}[c]
}

// Policy is the 000 endpoint configuration.
type Policy struct {
	Production        []string
	DR                []string
	AttemptsPerServer int           // tries per server per cycle; default 2
	Cycles            int           // production cycles before DR; default 2
	RetryDelay        time.Duration // pause between attempts on one server; default 200ms
	DownFor           time.Duration // how long a Down server is skipped; default 30s
	ReturnEvery       time.Duration // on DR, how often production is tried first; default 30s
	Classify          func(error) Class
}

// Client runs calls against the policy's servers. It is safe for
// concurrent use; all calls share what the client learned (which servers
// are down, whether it is on DR).
type Client struct {
	p   Policy
	now func() time.Time

	mu           sync.Mutex
	downUntil    map[string]time.Time
	onDR         bool
	drCurrent    string
	lastProdTry  time.Time
	lastEndpoint string
}

// New checks the policy and fills its defaults.
func New(p Policy) (*Client, error) {
	if len(p.Production) == 0 {
		return nil, errors.New("failover: at least one production server is required")
	}
	if p.AttemptsPerServer <= 0 {
		p.AttemptsPerServer = 2
	}
	if p.Cycles <= 0 {
		p.Cycles = 2
	}
	if p.RetryDelay <= 0 {
		p.RetryDelay = 200 * time.Millisecond
	}
	if p.DownFor <= 0 {
		p.DownFor = 30 * time.Second
	}
	if p.ReturnEvery <= 0 {
		p.ReturnEvery = 30 * time.Second
	}
	if p.Classify == nil {
		p.Classify = ClassifyHTTP
	}
	return &Client{p: p, now: time.Now, downUntil: map[string]time.Time{}}, nil
}

// OnDR reports whether the last successful call went to a DR server.
func (c *Client) OnDR() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.onDR
}

// Endpoint is the server that answered the last successful call.
func (c *Client) Endpoint() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lastEndpoint
}

// AllFailed is returned when no server answered; Last is the last error.
type AllFailed struct {
	Tried int
	Last  error
}

func (e *AllFailed) Error() string {
	return fmt.Sprintf("failover: no server answered after %d attempts: %v", e.Tried, e.Last)
}
func (e *AllFailed) Unwrap() error { return e.Last }

// Do calls fn with one endpoint after another, as the policy says, until
// fn succeeds, returns a Final error, or every server has been tried.
func (c *Client) Do(ctx context.Context, fn func(ctx context.Context, endpoint string) error) error {
	tried := 0
	var last error
	// attempt runs fn against ep up to n times; it reports whether to stop.
	attempt := func(ep string, n int, dr bool) (done bool, err error) {
		for i := 0; i < n; i++ {
			if err := ctx.Err(); err != nil {
				return true, err
			}
			if i > 0 {
				select {
				case <-time.After(c.p.RetryDelay):
				case <-ctx.Done():
					return true, ctx.Err()
				}
			}
			tried++
			err := fn(ctx, ep)
			if err == nil {
				c.succeeded(ep, dr)
				return true, nil
			}
			last = err
			switch c.p.Classify(err) {
			case Final:
				return true, err
			case Down:
				c.markDown(ep)
				return false, nil
			}
		}
		return false, nil
	}

	c.mu.Lock()
	onDR, drCurrent := c.onDR, c.drCurrent
	tryProduction := !onDR || c.now().Sub(c.lastProdTry) >= c.p.ReturnEvery
	if onDR && tryProduction {
		c.lastProdTry = c.now()
	}
	c.mu.Unlock()

	if onDR && !tryProduction {
		// Stay on the DR server that worked; fall back to the full walk if it fails.
		if done, err := attempt(drCurrent, c.p.AttemptsPerServer, true); done {
			return err
		}
	}
	if onDR && tryProduction {
		// One quick pass over production: return as soon as one answers.
		for _, ep := range c.p.Production {
			if c.isDown(ep) {
				continue
			}
			if done, err := attempt(ep, 1, false); done {
				return err
			}
		}
		if done, err := attempt(drCurrent, c.p.AttemptsPerServer, true); done {
			return err
		}
	}
	if !onDR {
		for cycle := 0; cycle < c.p.Cycles; cycle++ {
			for _, ep := range c.order(c.p.Production) {
				if done, err := attempt(ep, c.p.AttemptsPerServer, false); done {
					return err
				}
			}
		}
	}
	for _, ep := range c.order(c.p.DR) {
		if done, err := attempt(ep, c.p.AttemptsPerServer, true); done {
			return err
		}
	}
	if last == nil {
		last = errors.New("no servers configured")
	}
	return &AllFailed{Tried: tried, Last: last}
}

// order keeps the configured order but moves servers known to be down to
// the end, so they are tried only when nothing else is left.
func (c *Client) order(eps []string) []string {
	up := make([]string, 0, len(eps))
	var down []string
	for _, ep := range eps {
		if c.isDown(ep) {
			down = append(down, ep)
		} else {
			up = append(up, ep)
		}
	}
	return append(up, down...)
}

func (c *Client) isDown(ep string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now().Before(c.downUntil[ep])
}

func (c *Client) markDown(ep string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.downUntil[ep] = c.now().Add(c.p.DownFor)
}

func (c *Client) succeeded(ep string, dr bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.downUntil, ep)
	c.lastEndpoint = ep
	if dr && !c.onDR {
		c.lastProdTry = c.now()
	}
	c.onDR = dr
	if dr {
		c.drCurrent = ep
	}
}

// StatusError is an HTTP response that a caller of Do turns into an error
// so that ClassifyHTTP can judge it.
type StatusError struct {
	Code int
	Body string
}

func (e *StatusError) Error() string {
	if e.Body != "" {
		return fmt.Sprintf("HTTP %d: %s", e.Code, e.Body)
	}
	return fmt.Sprintf("HTTP %d", e.Code)
}

// ClassifyHTTP judges errors from net/http calls: anything that says
// nobody is serving at that address is Down; 5xx meaning "not serving"
// (502, 503, 504) is Down; 429 and 500 are Retry; other statuses are Final;
// cancellation is Final.
func ClassifyHTTP(err error) Class {
	if errors.Is(err, context.Canceled) {
		return Final
	}
	var se *StatusError
	if errors.As(err, &se) {
		switch {
		case se.Code == http.StatusBadGateway, se.Code == http.StatusServiceUnavailable, se.Code == http.StatusGatewayTimeout:
			return Down
		case se.Code == http.StatusTooManyRequests, se.Code >= 500:
			return Retry
		default:
			return Final
		}
	}
	if errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.EHOSTUNREACH) ||
		errors.Is(err, syscall.ENETUNREACH) || errors.Is(err, syscall.ECONNRESET) {
		return Down
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		return Down
	}
	var opErr *net.OpError
	if errors.As(err, &opErr) && opErr.Op == "dial" {
		return Down // including a connect timeout: nothing answered
	}
	var urlErr *url.Error
	if errors.As(err, &urlErr) && urlErr.Timeout() {
		return Retry
	}
	return Retry
}
