package queue_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/faxd/faxd/internal/pgtest"
	"github.com/faxd/faxd/queue"
)

// loadJobs bulk-loads n jobs shaped like a busy queue: the newest two
// thirds a pending backlog (a broadcast), the older third finished (sent,
// failed, cancelled), five submitters, about four jobs per destination, one
// second apart. The submitter "nobody" and the destination +1999 have no
// jobs at all.
func loadJobs(tb testing.TB, pool *pgxpool.Pool, n int) {
	tb.Helper()
	ctx := context.Background()
	_, err := pool.Exec(ctx, `
INSERT INTO jobs (request_hash, state, max_attempts, destination, document, submitter, created_at, updated_at, finished_at)
SELECT '\x00', s.state, 3, '+4930' || (g % (1 + $1::int / 4))::text, 'doc', 'app' || (g % 5)::text,
	t, t, CASE WHEN s.state <> 'pending' THEN t + interval '1 minute' END
FROM generate_series(1, $1::int) g,
	LATERAL (SELECT CASE WHEN g > $1::int / 3 THEN 'pending'
		ELSE (ARRAY['sent', 'sent', 'failed', 'cancelled'])[g % 4 + 1] END AS state,
		timestamptz '2030-01-01' + g * interval '1 second' AS t) s`, n)
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := pool.Exec(ctx, "VACUUM ANALYZE jobs"); err != nil {
		tb.Fatal(err)
	}
}

// listCases are the listing's filters one by one and in the combinations
// the API and faxctl use; each must read a page from the front of an index.
func listCases() map[string]queue.ListFilter {
	at := func(sec int) time.Time { return time.Date(2030, 1, 1, 0, 0, sec, 0, time.UTC) }
	return map[string]queue.ListFilter{
		"none":                   {},
		"state=sent":             {States: []queue.State{queue.Sent}},
		"state=cancelled":        {States: []queue.State{queue.Cancelled}},
		"state=pending,sending":  {States: []queue.State{queue.Pending, queue.Sending}},
		"state=sent,failed":      {States: []queue.State{queue.Sent, queue.Failed}},
		"to":                     {Destination: "+493017"},
		"to=unknown":             {Destination: "+1999"},
		"submitter":              {Submitter: "app3"},
		"submitter=nobody":       {Submitter: "nobody"},
		"submitter+state=failed": {Submitter: "app2", States: []queue.State{queue.Failed}},
		"submitter+to":           {Submitter: "app1", Destination: "+493021"},
		"created_before":         {CreatedBefore: at(3000)},
		"created_after":          {CreatedAfter: at(20000)},
		"created_range+state":    {CreatedAfter: at(1000), CreatedBefore: at(5000), States: []queue.State{queue.Sent}},
		"cursor":                 {BeforeCreated: at(9000), BeforeID: 9000},
		"cursor+state=sent":      {BeforeCreated: at(2000), BeforeID: 2000, States: []queue.State{queue.Sent}},
	}
}

// planNode is the part of EXPLAIN (ANALYZE, FORMAT JSON) the test reads.
type planNode struct {
	Type     string     `json:"Node Type"`
	Relation string     `json:"Relation Name"`
	Index    string     `json:"Index Name"`
	Rows     float64    `json:"Actual Rows"`
	Loops    float64    `json:"Actual Loops"`
	Removed  float64    `json:"Rows Removed by Filter"`
	Recheck  float64    `json:"Rows Removed by Index Recheck"`
	Hit      float64    `json:"Shared Hit Blocks"`
	Read     float64    `json:"Shared Read Blocks"`
	Plans    []planNode `json:"Plans"`
}

// Buffers is the number of pages the whole plan read (a node's counts
// include its children's).
func (n planNode) Buffers() float64 { return n.Hit + n.Read }

// explain runs sql under EXPLAIN ANALYZE and returns its plan.
func explain(tb testing.TB, pool *pgxpool.Pool, sql string, args []any, opts ...string) planNode {
	tb.Helper()
	opt := "ANALYZE, FORMAT JSON"
	for _, o := range opts {
		opt += ", " + o
	}
	var out []struct {
		Plan planNode `json:"Plan"`
	}
	var raw []byte
	if err := pool.QueryRow(context.Background(), "EXPLAIN ("+opt+") "+sql, args...).Scan(&raw); err != nil {
		tb.Fatalf("explain %s: %v", sql, err)
	}
	if err := json.Unmarshal(raw, &out); err != nil || len(out) != 1 {
		tb.Fatalf("explain output %s: %v", raw, err)
	}
	return out[0].Plan
}

// walk calls f on every node of the plan.
func walk(n planNode, f func(planNode)) {
	f(n)
	for _, c := range n.Plans {
		walk(c, f)
	}
}

// TestListPlansUseIndexes guards the listing's scale without timing
// anything: with 30,000 jobs (a pending backlog over finished ones), every
// filter's plan has no sequential scan of jobs and no step that touches
// more than a few pages' worth of rows, so a page costs the same at a
// million jobs. A filter that walks an index of the wrong order, or scans,
// touches thousands.
func TestListPlansUseIndexes(t *testing.T) {
	t.Parallel()
	pool := pgtest.NewDB(t)
	loadJobs(t, pool, 30000)
	for name, f := range listCases() {
		f.Limit = 50
		sql, args := queue.ListSQL(f)
		plan := explain(t, pool, sql, args)
		walk(plan, func(n planNode) {
			if n.Type == "Seq Scan" && n.Relation == "jobs" {
				t.Errorf("%s: sequential scan of jobs", name)
			}
			// Each branch reads at most one page plus the row that ends it.
			if touched := n.Rows*n.Loops + n.Removed + n.Recheck; touched > 500 {
				t.Errorf("%s: %s (%s %s) touches %.0f rows", name, n.Type, n.Relation, n.Index, touched)
			}
		})
	}
}

// TestListMatchesReference checks the branch-per-state statement against
// a plain one, page by page through the cursor: same jobs, same order, no
// job twice.
func TestListMatchesReference(t *testing.T) {
	t.Parallel()
	pool := pgtest.NewDB(t)
	loadJobs(t, pool, 3000)
	// Two jobs created in the same microsecond: the id breaks the tie.
	if _, err := pool.Exec(context.Background(), `UPDATE jobs SET created_at = timestamptz '2030-01-01 00:00:10' WHERE id IN (11, 12)`); err != nil {
		t.Fatal(err)
	}
	q, err := queue.New(pool, queue.Config{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for name, f := range listCases() {
		var want []int64
		rows, err := pool.Query(ctx, refListSQL, stateStrings(f.States), f.Destination, f.Submitter,
			f.CreatedAfter, f.CreatedBefore, f.BeforeCreated, f.BeforeID)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var id int64
			if err := rows.Scan(&id); err != nil {
				t.Fatal(err)
			}
			want = append(want, id)
		}
		if rows.Err() != nil {
			t.Fatal(rows.Err())
		}
		var got []int64
		f.Limit = 7
		for pages := 0; ; pages++ {
			jobs, err := q.List(ctx, f)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			for _, j := range jobs {
				got = append(got, j.ID)
			}
			if len(jobs) < f.Limit || pages > 1000 {
				break
			}
			last := jobs[len(jobs)-1]
			f.BeforeCreated, f.BeforeID = last.CreatedAt, last.ID
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s: listed %d jobs, reference %d; first differing at %v", name, len(got), len(want), firstDiff(got, want))
		}
	}
}

// refListSQL is the listing written the obvious way.
const refListSQL = `
SELECT id FROM jobs
WHERE (cardinality($1::text[]) = 0 OR state = ANY ($1))
  AND ($2 = '' OR destination = $2) AND ($3 = '' OR submitter = $3)
  AND ($4::timestamptz = '0001-01-01Z' OR created_at > $4)
  AND ($5::timestamptz = '0001-01-01Z' OR created_at < $5)
  AND ($7::bigint = 0 OR (created_at, id) < ($6, $7))
ORDER BY created_at DESC, id DESC`

func stateStrings(s []queue.State) []string {
	out := []string{}
	for _, v := range s {
		out = append(out, string(v))
	}
	return out
}

func firstDiff(a, b []int64) string {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return fmt.Sprintf("index %d: %d vs %d", i, a[i], b[i])
		}
	}
	return fmt.Sprintf("index %d (one is a prefix)", min(len(a), len(b)))
}

// TestListNotPrepared: the listing is planned for its values on every
// call, never from a cached generic plan (which judged "state = $1" by the
// average state and walked the newest-first index past a backlog: 300 ms
// at 300,000 jobs). pgx keeps named prepared statements, visible in
// pg_prepared_statements; an unnamed one is not kept.
func TestListNotPrepared(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cfg, err := pgxpool.ParseConfig(pgtest.NewDSN(t))
	if err != nil {
		t.Fatal(err)
	}
	cfg.MaxConns = 1 // the check below runs on the listing's connection
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	q, err := queue.New(pool, queue.Config{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	for range 8 { // generic plans start after five executions
		if _, err := q.List(ctx, queue.ListFilter{States: []queue.State{queue.Sent}, Submitter: "app"}); err != nil {
			t.Fatal(err)
		}
	}
	var n int
	// The pattern is split so that this query does not match itself.
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE '%FROM jobs' || ' WHERE%'`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Errorf("the listing is a prepared statement (%d): its cached generic plan ignores the filter's values", n)
	}
}
