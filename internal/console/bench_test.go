package console_test

import (
	"context"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/faxd/faxd/internal/config"
	"github.com/faxd/faxd/internal/pgtest"
	"github.com/faxd/faxd/internal/users"
)

// BenchmarkConsolePages measures, in chromium, what the dashboard and the
// outbound list cost with 100,000 faxes in the queue: bytes transferred
// (the page and every asset, uncached) and the time to first contentful
// paint, both from the browser's Performance API. Targets: 200 KB and
// 300 ms.
func BenchmarkConsolePages(b *testing.B) {
	ctx := context.Background()
	dsn := pgtest.NewDSN(b)
	node := startNode(b, dsn, func(c *config.Config) {
		c.Node.ID = "bench"
		c.Channels.Count = 0 // the jobs stay queued
	})
	// 100,000 jobs in every state a list shows, as submissions leave them.
	if _, err := node.DB.Queue.Exec(ctx, `
		INSERT INTO jobs (request_hash, state, max_attempts, destination, document, submitter, pages_total, pages_confirmed, attempts, finished_at)
		SELECT '\x00', s, 3, '+1555' || lpad(g::text, 7, '0'), 'bench-' || g, 'team-' || (g % 20), 2,
		       CASE WHEN s = 'sent' THEN 2 ELSE 0 END, CASE WHEN s = 'pending' THEN 0 ELSE 1 END,
		       CASE WHEN s = 'pending' THEN NULL ELSE now() END
		FROM generate_series(1, 100000) g, LATERAL (SELECT (ARRAY['pending','sent','failed','cancelled'])[1 + g % 4] AS s) st`); err != nil {
		b.Fatal(err)
	}
	mkUser(b, node, "bench", users.Admin)
	r := &run{t: b, ctx: browser(b)}
	base := "http://" + node.HTTPAddr()
	r.login(base, "bench")
	// No cache: every iteration pays for the assets too.
	r.do("disable cache", 10*time.Second, chromedp.ActionFunc(func(ctx context.Context) error {
		return networkDisableCache(ctx)
	}))
	for _, pg := range []struct{ name, path, ready string }{
		{"dashboard", "/console/", "#calls-h"},
		{"outbound", "/console/outbound", `#faxes a[href^="/console/outbound/"]`},
		{"outbound-filtered", "/console/outbound?state=failed&submitter=team-2", `#faxes tbody tr`},
	} {
		b.Run(pg.name, func(b *testing.B) {
			var bytes, fcp float64
			for i := 0; i < b.N; i++ {
				var m struct {
					Bytes float64 `json:"bytes"`
					FCP   float64 `json:"fcp"`
				}
				r.do("load "+pg.name, 60*time.Second,
					chromedp.Navigate(base+pg.path), waitSel(pg.ready),
					waitJS(`performance.getEntriesByType("paint").some(p => p.name === "first-contentful-paint")`),
					chromedp.Evaluate(`(() => {
						const nav = performance.getEntriesByType("navigation")[0];
						const res = performance.getEntriesByType("resource").filter(e => !e.name.includes("/events/"));
						const fcp = performance.getEntriesByType("paint").find(p => p.name === "first-contentful-paint");
						return {bytes: nav.transferSize + res.reduce((s, e) => s + e.transferSize, 0), fcp: fcp.startTime};
					})()`, &m))
				bytes += m.Bytes
				fcp += m.FCP
			}
			b.ReportMetric(bytes/float64(b.N), "bytes/page")
			b.ReportMetric(fcp/float64(b.N), "ms-first-paint")
			if bytes/float64(b.N) > 200<<10 {
				b.Errorf("%s transfers %.0f bytes, more than 200 KB", pg.name, bytes/float64(b.N))
			}
		})
	}
}
