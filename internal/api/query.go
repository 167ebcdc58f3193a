package api

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// query reads a list endpoint's parameters, collecting every problem so
// one 400 names them all.
type query struct {
	v    url.Values
	errs []string
}

func newQuery(r *http.Request) *query { return &query{v: r.URL.Query()} }

func (q *query) bad(format string, a ...any) { q.errs = append(q.errs, fmt.Sprintf(format, a...)) }

func (q *query) str(name string) string { return q.v.Get(name) }

// time reads an RFC 3339 time; zero when absent.
func (q *query) time(name string) time.Time {
	s := q.v.Get(name)
	if s == "" {
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		q.bad("%s %q: must be an RFC 3339 time such as 2030-01-02T15:04:05Z", name, s)
	}
	return t
}

// int reads a whole number from lo to hi; def when absent.
func (q *query) int(name string, lo, hi, def int) int {
	s := q.v.Get(name)
	if s == "" {
		return def
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < lo || n > hi {
		q.bad("%s %q: must be from %d to %d", name, s, lo, hi)
	}
	return n
}

// bool reads true or false; false when absent.
func (q *query) bool(name string) bool {
	switch s := q.v.Get(name); s {
	case "", "false":
		return false
	case "true":
		return true
	default:
		q.bad("%s %q: must be true or false", name, s)
		return false
	}
}

// oneOf reads a value from a fixed set; "" when absent.
func (q *query) oneOf(name string, allowed ...string) string {
	s := q.v.Get(name)
	if s != "" && !slices.Contains(allowed, s) {
		q.bad("%s %q: must be %s", name, s, strings.Join(allowed, ", "))
	}
	return s
}

// err refuses parameters not in known, and reports every problem.
func (q *query) err(known ...string) error {
	for k := range q.v {
		if !slices.Contains(known, k) {
			q.bad("unknown parameter %q (known: %s)", k, strings.Join(known, ", "))
		}
	}
	if len(q.errs) == 0 {
		return nil
	}
	slices.Sort(q.errs)
	p := newProblem(http.StatusBadRequest, "invalid-request", "%s", strings.Join(q.errs, "; "))
	p.Errors = q.errs
	return p
}
