package server

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/faxd/faxd/internal/config"
	"github.com/faxd/faxd/queue"
)

// Two faxes to the same number through the self gateway, with one call per
// number: the second is handed back while the first is on the line (its
// history says why) and goes out after it; both arrive, and no call slot
// is left behind.
func TestChannelsOneCallPerNumber(t *testing.T) {
	t.Parallel()
	s := startServer(t, func(c *config.Config) {
		selfConfig(c)
		c.Channel.MaxCallsPerNumber = 1
		c.Channel.NumberBusyDelay = time.Second
	})
	pages := testPages(1, 60)
	a := enqueueFax(t, s, pages, queue.Request{Submitter: "limits"})
	b := enqueueFax(t, s, pages, queue.Request{Submitter: "limits"})
	for _, id := range []int64{a.ID, b.ID} {
		j := waitJob(t, s, id, 3*time.Minute, "final", func(j queue.Job) bool { return j.State.Final() })
		if j.State != queue.Sent {
			t.Fatalf("job %d ended %s: %s", id, j.State, j.LastReason)
		}
	}
	busy := 0
	for _, id := range []int64{a.ID, b.ID} {
		hist, err := s.Queue.History(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		for _, h := range hist {
			if h.To == queue.Pending && strings.Contains(h.Reason, "number already has its limit") {
				busy++
			}
		}
	}
	if busy == 0 {
		t.Fatal("neither job was held back while the other called the same number")
	}
	var held int
	if err := s.DB.Queue.QueryRow(context.Background(),
		"SELECT (SELECT count(*) FROM jobs WHERE number_slot IS NOT NULL AND state = 'sending') + (SELECT count(*) FROM gateway_slots WHERE job_id IS NOT NULL)").Scan(&held); err != nil {
		t.Fatal(err)
	}
	if held != 0 {
		t.Fatalf("%d call slots still held after both faxes", held)
	}
}
