package api

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/faxd/faxd/routing"
)

// fakeCheap has a cheap window starting at at for numbers beginning 49
// and no route for any other.
type fakeCheap struct{ at time.Time }

func (f fakeCheap) NextCheapWindow(number string) (time.Time, error) {
	if !strings.HasPrefix(strings.TrimPrefix(number, "+"), "49") {
		return time.Time{}, routing.ErrNoRoute
	}
	return f.at, nil
}

// cheap_window schedules the job for the route's next cheap window; it is
// refused with send_after, for a number without route, and on a server
// without a router.
func TestCheapWindowSubmission(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{})
	at := time.Now().Add(7 * time.Hour).UTC().Truncate(time.Second)
	e.api.cheap = fakeCheap{at: at}

	r := e.submit(e.sub, `{"to":"+4930123456","cheap_window":true}`, []doc{textDoc("hi")})
	if r.status != http.StatusCreated && r.status != http.StatusAccepted {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	var f struct {
		ID int64 `json:"id"`
	}
	r.json(t, &f)
	job, err := e.queue.Get(context.Background(), f.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !job.RunAt.Equal(at) {
		t.Fatalf("run_at %v, want the cheap window's start %v", job.RunAt, at)
	}

	r = e.submit(e.sub, `{"to":"+4930123456","cheap_window":true,"send_after":"2030-01-02T15:04:05Z"}`, []doc{textDoc("hi")})
	if p := r.problem(t); r.status != http.StatusBadRequest || !strings.Contains(p.Detail+strings.Join(p.Errors, " "), "cheap_window") {
		t.Fatalf("with send_after: %d %s", r.status, r.body)
	}
	r = e.submit(e.sub, `{"to":"+3312345678","cheap_window":true}`, []doc{textDoc("hi")})
	if p := r.problem(t); r.status != http.StatusBadRequest || !strings.Contains(p.Detail, "no route") {
		t.Fatalf("no route: %d %s", r.status, r.body)
	}
	e.api.cheap = nil
	r = e.submit(e.sub, `{"to":"+4930123456","cheap_window":true}`, []doc{textDoc("hi")})
	if r.problem(t); r.status != http.StatusConflict {
		t.Fatalf("no router: %d %s", r.status, r.body)
	}
}
