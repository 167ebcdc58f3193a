package archive

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/faxd/faxd/internal/pgtest"
)

// loadFaxes bulk-loads n archived faxes one second apart: nine in ten
// outbound (five submitters; results sent, one in twenty failed, one in a
// hundred cancelled; about four per remote number), one in ten inbound to
// ten DIDs (one in eight of them unrouted). The submitter "nobody" and the
// number +1999 have no faxes.
func loadFaxes(tb testing.TB, pool *pgxpool.Pool, n int) {
	tb.Helper()
	ctx := context.Background()
	_, err := pool.Exec(ctx, `
INSERT INTO faxes (record_key, source, version, direction, result, local_number, remote_number,
	submitter, routing, finished_at, record)
SELECT 'bench/' || g, 'bench', 1, d.dir,
	CASE WHEN d.dir = 'inbound' THEN 'received' WHEN g % 100 = 1 THEN 'cancelled'
		WHEN g % 20 = 3 THEN 'failed' ELSE 'sent' END,
	CASE WHEN d.dir = 'inbound' THEN '+4930100' || (g % 10)::text ELSE '+4930999' END,
	'+4940' || (g % (1 + $1::int / 4))::text,
	CASE WHEN d.dir = 'outbound' THEN 'app' || (g % 5)::text ELSE '' END,
	CASE WHEN d.dir = 'outbound' THEN '' WHEN g % 80 = 0 THEN 'unrouted' ELSE 'routed' END,
	timestamptz '2030-01-01' + g * interval '1 second', '{}'
FROM generate_series(1, $1::int) g,
	LATERAL (SELECT CASE WHEN g % 10 = 0 THEN 'inbound' ELSE 'outbound' END AS dir) d`, n)
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := pool.Exec(ctx, "VACUUM ANALYZE faxes"); err != nil {
		tb.Fatal(err)
	}
}

// searchCases are the filters of GET /v1/archive and GET /v1/received,
// alone and as the API combines them (a submitter token always searches
// its own outbound faxes).
func searchCases() map[string]Filter {
	at := func(sec int) time.Time { return time.Date(2030, 1, 1, 0, 0, sec, 0, time.UTC) }
	own := func(f Filter) Filter { f.Submitter, f.Direction = "app1", Outbound; return f }
	return map[string]Filter{
		"none":                     {},
		"direction=inbound":        {Direction: Inbound},
		"received+result":          {Direction: Inbound, Result: "received"},
		"received+did":             {Direction: Inbound, LocalNumber: "+49301003"},
		"received+caller":          {Direction: Inbound, RemoteNumber: "+4940110"},
		"received+unrouted":        {Direction: Inbound, Routing: Unrouted},
		"result=cancelled":         {Result: "cancelled"},
		"number":                   {Number: "+4940123"},
		"number=unknown":           {Number: "+1999"},
		"number=our did":           {Number: "+49301004"},
		"submitter":                {Submitter: "app2"},
		"submitter=nobody":         {Submitter: "nobody"},
		"submitter+result=failed":  own(Filter{Result: "failed"}),
		"submitter+result=cancel":  own(Filter{Result: "cancelled"}),
		"submitter+number":         own(Filter{Number: "+4940121"}),
		"submitter+finished_range": own(Filter{From: at(1000), To: at(5000)}),
		"finished_before":          {To: at(3000)},
		"cursor":                   {Cursor: encodeCursor(at(9000), 9000)},
		"cursor+submitter+result":  own(Filter{Result: "failed", Cursor: encodeCursor(at(9000), 9000)}),
	}
}

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

// explainSearch runs f's statement under EXPLAIN (ANALYZE, BUFFERS).
func explainSearch(tb testing.TB, pool *pgxpool.Pool, f Filter) planNode {
	tb.Helper()
	sql, args, err := searchSQL(f, 51)
	if err != nil {
		tb.Fatal(err)
	}
	var raw []byte
	if err := pool.QueryRow(context.Background(), "EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) "+sql, args...).Scan(&raw); err != nil {
		tb.Fatal(err)
	}
	var out []struct {
		Plan planNode `json:"Plan"`
	}
	if err := json.Unmarshal(raw, &out); err != nil || len(out) != 1 {
		tb.Fatalf("explain output: %v", err)
	}
	return out[0].Plan
}

func walkPlan(n planNode, f func(planNode)) {
	f(n)
	for _, c := range n.Plans {
		walkPlan(c, f)
	}
}

// TestSearchPlansUseIndexes guards the search's scale without timing
// anything: with 30,000 archived faxes, no filter's plan scans the faxes
// table or touches more than a few pages' worth of rows in any step, so a
// page costs the same with a million faxes.
func TestSearchPlansUseIndexes(t *testing.T) {
	t.Parallel()
	pool := pgtest.NewDB(t)
	loadFaxes(t, pool, 30000)
	for name, f := range searchCases() {
		walkPlan(explainSearch(t, pool, f), func(n planNode) {
			if n.Type == "Seq Scan" && n.Relation == "faxes" {
				t.Errorf("%s: sequential scan of faxes", name)
			}
			if touched := n.Rows*n.Loops + n.Removed + n.Recheck; touched > 500 {
				t.Errorf("%s: %s (%s %s) touches %.0f rows", name, n.Type, n.Relation, n.Index, touched)
			}
		})
	}
}

// TestSearchMatchesReference pages through every case with Search and
// compares with the filter written plainly: same faxes, same order, none
// twice (a fax whose two numbers are equal is in both number branches).
func TestSearchMatchesReference(t *testing.T) {
	t.Parallel()
	pool := pgtest.NewDB(t)
	loadFaxes(t, pool, 2000)
	ctx := context.Background()
	// Equal numbers on both sides, and two faxes finished in the same
	// microsecond: the id breaks the tie.
	if _, err := pool.Exec(ctx, `UPDATE faxes SET remote_number = '+4940123', local_number = '+4940123' WHERE id = 7;
		UPDATE faxes SET finished_at = timestamptz '2030-01-01 00:00:20' WHERE id IN (21, 22)`); err != nil {
		t.Fatal(err)
	}
	s := NewStore(pool)
	cases := searchCases()
	cases["cursor"] = Filter{Cursor: encodeCursor(time.Date(2030, 1, 1, 0, 0, 900, 0, time.UTC), 900)}
	for name, f := range cases {
		var want []int64
		rows, err := pool.Query(ctx, refSearchSQL, string(f.Direction), f.Result, f.Number, f.LocalNumber,
			f.RemoteNumber, f.Submitter, f.Routing, f.From, f.To)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var id int64
			var at time.Time
			if err := rows.Scan(&id, &at); err != nil {
				t.Fatal(err)
			}
			if f.Cursor != "" {
				cat, cid, _ := decodeCursor(f.Cursor)
				if at.After(cat) || (at.Equal(cat) && id >= cid) {
					continue
				}
			}
			want = append(want, id)
		}
		if rows.Err() != nil {
			t.Fatal(rows.Err())
		}
		var got []int64
		f.Limit = 13
		for pages := 0; ; pages++ {
			recs, next, err := s.Search(ctx, f)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			for _, r := range recs {
				got = append(got, r.ID)
			}
			if next == "" || pages > 1000 {
				break
			}
			f.Cursor = next
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s: searched %d faxes, reference %d; %s", name, len(got), len(want), firstDiff(got, want))
		}
	}
}

const refSearchSQL = `
SELECT id, finished_at FROM faxes
WHERE ($1 = '' OR direction = $1) AND ($2 = '' OR result = $2)
  AND ($3 = '' OR local_number = $3 OR remote_number = $3)
  AND ($4 = '' OR local_number = $4) AND ($5 = '' OR remote_number = $5)
  AND ($6 = '' OR submitter = $6) AND ($7 = '' OR routing = $7)
  AND ($8::timestamptz = '0001-01-01Z' OR finished_at >= $8)
  AND ($9::timestamptz = '0001-01-01Z' OR finished_at < $9)
ORDER BY finished_at DESC, id DESC`

func firstDiff(a, b []int64) string {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return fmt.Sprintf("first difference at %d: %d vs %d", i, a[i], b[i])
		}
	}
	return fmt.Sprintf("one is a prefix of the other at %d", min(len(a), len(b)))
}

// TestSearchNotPrepared: the search is planned for its values on every
// call, never from a cached generic plan (which judged "result = $1" by
// the average result: 650 ms at a million faxes for a submitter's failed
// ones). pgx keeps named prepared statements, visible in
// pg_prepared_statements; an unnamed one is not kept.
func TestSearchNotPrepared(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cfg, err := pgxpool.ParseConfig(pgtest.NewDSN(t))
	if err != nil {
		t.Fatal(err)
	}
	cfg.MaxConns = 1 // the check below runs on the search's connection
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	s := NewStore(pool)
	for range 8 { // generic plans start after five executions
		if _, _, err := s.Search(ctx, Filter{Submitter: "app", Result: "failed"}); err != nil {
			t.Fatal(err)
		}
	}
	var n int
	// The pattern is split so that this query does not match itself.
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE '%FROM faxes' || ' WHERE%'`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Errorf("the search is a prepared statement (%d): its cached generic plan ignores the filter's values", n)
	}
}
