package archive

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/faxd/faxd/internal/pgtest"
)

// benchSizes are the archive sizes of the scale benchmarks: 0 and 100,000
// faxes always, 1,000,000 with FAXD_BENCH_1M=1.
func benchSizes() []int {
	s := []int{0, 100_000}
	if os.Getenv("FAXD_BENCH_1M") == "1" {
		s = append(s, 1_000_000)
	}
	return s
}

// BenchmarkSearchFilters: one 50-fax page of the archive search per
// filter, over 0, 100k and (FAXD_BENCH_1M=1) 1M faxes loaded by
// loadFaxes. Flat across sizes is the goal.
func BenchmarkSearchFilters(b *testing.B) {
	ctx := context.Background()
	cases := searchCases()
	names := make([]string, 0, len(cases))
	for n := range cases {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, size := range benchSizes() {
		pool := pgtest.NewDB(b)
		loadFaxes(b, pool, size)
		s := NewStore(pool)
		for _, name := range names {
			f := cases[name]
			f.Limit = 50
			b.Run(fmt.Sprintf("rows=%d/filter=%s", size, name), func(b *testing.B) {
				for b.Loop() {
					if _, _, err := s.Search(ctx, f); err != nil {
						b.Fatal(err)
					}
				}
				// The pages a query reads do not depend on the machine's
				// load, unlike its time: the figure to compare across sizes.
				p := explainSearch(b, pool, f)
				b.ReportMetric(p.Hit+p.Read, "pages/op")
			})
		}
		pool.Close()
	}
}

// BenchmarkSearchIndexWriteCost: archiving (Upsert of new records from 4
// goroutines) over 100,000 faxes with the search indexes of migration 0010
// and with the ones they replaced: what the indexes cost the archiver.
func BenchmarkSearchIndexWriteCost(b *testing.B) {
	ctx := context.Background()
	const before = `
DROP INDEX faxes_remote, faxes_local, faxes_submitter, faxes_submitter_result, faxes_result,
	faxes_direction, faxes_routing;
CREATE INDEX faxes_remote ON faxes (remote_number);
CREATE INDEX faxes_local ON faxes (local_number);
CREATE INDEX faxes_submitter ON faxes (submitter, finished_at DESC);
CREATE INDEX faxes_unrouted ON faxes (finished_at DESC) WHERE routing = 'unrouted'`
	for _, idx := range []string{"with", "without"} {
		pool := pgtest.NewDB(b)
		loadFaxes(b, pool, 100_000)
		if idx == "without" {
			if _, err := pool.Exec(ctx, before); err != nil {
				b.Fatal(err)
			}
		}
		s := NewStore(pool)
		var next atomic.Int64
		b.Run("indexes="+idx+"/op=upsert", func(b *testing.B) {
			b.SetParallelism(2) // 4 goroutines on 2 cores
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					i := next.Add(1)
					rec := Record{Key: "w/" + strconv.FormatInt(i, 10), Source: "w", Version: 1, Direction: Outbound,
						Result: "sent", RemoteNumber: "+4940" + strconv.FormatInt(i%25000, 10), LocalNumber: "+4930999",
						Submitter: "app" + strconv.FormatInt(i%5, 10), FinishedAt: time.Now()}
					if _, err := s.Upsert(ctx, rec); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "faxes/s")
		})
		pool.Close()
	}
}
