package console_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/faxd/faxd/internal/config"
	"github.com/faxd/faxd/internal/pgtest"
	"github.com/faxd/faxd/internal/users"
)

// TestConsoleDeliveryRetry: a webhook whose receiver answers 500 fails
// (one attempt allowed); once the receiver answers 200, an operator's
// Retry on the Deliveries page sends it again and it shows delivered.
func TestConsoleDeliveryRetry(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	var calls atomic.Int32
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			http.Error(w, "receiver down", http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(hook.Close)
	dsn := pgtest.NewDSN(t)
	a := startNode(t, dsn, func(c *config.Config) {
		c.Node.ID = "fax-a"
		c.Channels.Count = 0
		c.Notify.OutboundAllow = []string{"127.0.0.1/32"}
		c.Notify.PollInterval = 200 * time.Millisecond
	})
	mkUser(t, a, "opal", users.Operator)
	var id int64
	if err := a.DB.Queue.QueryRow(ctx, `INSERT INTO deliveries (kind, event, target, idempotency_key, max_attempts)
		VALUES ('webhook', 'fax.received', $1, 'console-retry-test', 1) RETURNING id`, hook.URL+"/in").Scan(&id); err != nil {
		t.Fatal(err)
	}
	// The first attempt meets the 500 and, with no attempt left, fails.
	pctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for {
		var state string
		if err := a.DB.Queue.QueryRow(pctx, `SELECT state FROM deliveries WHERE id = $1`, id).Scan(&state); err != nil {
			t.Fatalf("waiting for the delivery to fail: %v", err)
		}
		if state == "failed" {
			break
		}
		select {
		case <-pctx.Done():
			t.Fatalf("delivery still %s", state)
		case <-time.After(100 * time.Millisecond):
		}
	}
	r := newRun(t)
	base := "http://" + a.HTTPAddr()
	r.login(base, "opal")
	row := "#delivery-" + strconv.FormatInt(id, 10)
	r.do("failed deliveries", 20*time.Second,
		chromedp.Navigate(base+"/console/deliveries?state=failed"),
		waitText(row+" .state", "failed"), waitText(row, "500"))
	r.page("deliveries")
	r.do("retry", 20*time.Second,
		chromedp.Click(row+" button", chromedp.ByQuery),
		waitText("main .notice", "is due again"))
	// The list shows it delivered once the worker has sent it again.
	r.do("delivered", 30*time.Second, chromedp.ActionFunc(func(ctx context.Context) error {
		for {
			wctx, cancel := context.WithTimeout(ctx, time.Second)
			err := chromedp.Run(wctx, chromedp.Navigate(base+"/console/deliveries"), waitText(row+" .state", "delivered"))
			cancel()
			if err == nil || ctx.Err() != nil {
				return err
			}
		}
	}))
	if n := calls.Load(); n != 2 {
		t.Fatalf("the receiver was called %d times, want 2", n)
	}
}
