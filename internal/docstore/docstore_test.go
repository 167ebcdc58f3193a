package docstore_test

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/faxd/faxd/internal/docstore"
	"github.com/faxd/faxd/internal/pgtest"
	"github.com/faxd/faxd/queue"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func count(t *testing.T, pool *pgxpool.Pool, table string) int {
	t.Helper()
	var n int
	if err := pool.QueryRow(context.Background(), "SELECT count(*) FROM "+table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func set(recipe string, pages string, srcs ...string) docstore.NewSet {
	n := docstore.NewSet{Recipe: recipe, Pages: []byte(pages), PageCount: 1}
	for _, s := range srcs {
		n.Sources = append(n.Sources, docstore.Source{Filename: s + ".txt", ContentType: "text/plain", Data: []byte(s)})
	}
	return n
}

func TestPutGetDedupRelease(t *testing.T) {
	ctx := context.Background()
	pool := pgtest.NewDB(t)
	s := docstore.New(pool, docstore.Config{})

	ref, err := s.Put(ctx, set("fine", "TIFFPAGES", "hello", "world"))
	if err != nil {
		t.Fatal(err)
	}
	if !docstore.ValidRef(ref) {
		t.Fatalf("ref %q not valid", ref)
	}
	got, err := s.Get(ctx, ref)
	if err != nil {
		t.Fatal(err)
	}
	if got.PageCount != 1 || len(got.Sources) != 2 || got.Sources[1].Filename != "world.txt" || got.PagesSize != 9 {
		t.Fatalf("set = %+v", got)
	}
	pages, n, err := s.Pages(ctx, ref)
	if err != nil || n != 1 || string(pages) != "TIFFPAGES" {
		t.Fatalf("pages %q %d %v", pages, n, err)
	}
	src, ct, err := s.Blob(ctx, got.Sources[0].SHA256)
	if err != nil || string(src) != "hello" || ct != "text/plain" {
		t.Fatalf("blob %q %q %v", src, ct, err)
	}

	// The same sources and recipe name the same set; the stored pages
	// stay even if a re-render differs.
	ref2, err := s.Put(ctx, set("fine", "OTHERPAGES", "hello", "world"))
	if err != nil || ref2 != ref {
		t.Fatalf("second put: %q %v", ref2, err)
	}
	if pages, _, _ := s.Pages(ctx, ref); string(pages) != "TIFFPAGES" {
		t.Fatalf("pages replaced: %q", pages)
	}
	// Another recipe is another set, sharing the source blobs.
	ref3, err := s.Put(ctx, set("superfine", "TIFFPAGES", "hello", "world"))
	if err != nil || ref3 == ref {
		t.Fatalf("third put: %q %v", ref3, err)
	}
	if c := count(t, pool, "docstore_blobs"); c != 3 {
		t.Fatalf("docstore_blobs = %d, want 3 (dedup)", c)
	}

	// Two pins on ref: the first release keeps it.
	if err := s.Release(ctx, ref); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx, ref); err != nil {
		t.Fatalf("after first release: %v", err)
	}
	if err := s.Release(ctx, ref); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx, ref); !errors.Is(err, docstore.ErrNotFound) {
		t.Fatalf("after last release: %v", err)
	}
	// ref3 still uses every blob.
	if c := count(t, pool, "docstore_blobs"); c != 3 {
		t.Fatalf("docstore_blobs = %d, want 3", c)
	}
	if err := s.Release(ctx, ref3); err != nil {
		t.Fatal(err)
	}
	for _, tbl := range []string{"docstore_blobs", "docstore_sets", "docstore_set_sources"} {
		if c := count(t, pool, tbl); c != 0 {
			t.Fatalf("%s = %d after releasing everything", tbl, c)
		}
	}
	if err := s.Release(ctx, ref3); !errors.Is(err, docstore.ErrNotFound) {
		t.Fatalf("release of a deleted set: %v", err)
	}
}

func TestLimitsAndInvalid(t *testing.T) {
	ctx := context.Background()
	pool := pgtest.NewDB(t)
	s := docstore.New(pool, docstore.Config{MaxBytes: 8})
	if _, err := s.Put(ctx, set("r", "0123456789", "a")); !errors.Is(err, docstore.ErrTooLarge) {
		t.Fatalf("big pages: %v", err)
	}
	if _, err := s.Put(ctx, set("r", "0", "0123456789")); !errors.Is(err, docstore.ErrTooLarge) {
		t.Fatalf("big source: %v", err)
	}
	if _, err := s.Put(ctx, set("r", "0")); !errors.Is(err, docstore.ErrInvalid) {
		t.Fatalf("no sources: %v", err)
	}
	if _, err := s.Get(ctx, "nonsense"); !errors.Is(err, docstore.ErrInvalid) {
		t.Fatalf("bad ref: %v", err)
	}
	if _, err := s.Get(ctx, docstore.Ref("x", nil)); !errors.Is(err, docstore.ErrNotFound) {
		t.Fatalf("unknown ref: %v", err)
	}
	if c := count(t, pool, "docstore_blobs"); c != 0 {
		t.Fatalf("docstore_blobs = %d", c)
	}
}

// A set a job names survives release and GC until the job is purged.
func TestGCAfterPurge(t *testing.T) {
	ctx := context.Background()
	pool := pgtest.NewDB(t)
	s := docstore.New(pool, docstore.Config{StalePin: time.Hour})
	q, err := queue.New(pool, queue.Config{})
	if err != nil {
		t.Fatal(err)
	}
	used, err := s.Put(ctx, set("r", "P1", "used"))
	if err != nil {
		t.Fatal(err)
	}
	job, _, err := q.Enqueue(ctx, queue.Request{Destination: "123", Document: used})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Release(ctx, used); err != nil {
		t.Fatal(err)
	}
	pinned, err := s.Put(ctx, set("r", "P2", "pinned"))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, used); !errors.Is(err, docstore.ErrInvalid) {
		t.Fatalf("delete of a used set: %v", err)
	}
	res, err := s.GC(ctx)
	if err != nil || res.Sets != 0 || res.Blobs != 0 {
		t.Fatalf("gc with everything in use: %+v %v", res, err)
	}
	if _, err := q.Cancel(ctx, job.ID, "test"); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, "UPDATE jobs SET finished_at = now() - interval '2 days'"); err != nil {
		t.Fatal(err)
	}
	// The relay has published the job's final record: the archive has its copy.
	if _, err := pool.Exec(ctx, "UPDATE outbox SET published_at = now()"); err != nil {
		t.Fatal(err)
	}
	if n, err := q.Purge(ctx, 24*time.Hour); err != nil || n != 1 {
		t.Fatalf("purge: %d %v", n, err)
	}
	res, err = s.GC(ctx)
	if err != nil || res.Sets != 1 || res.Blobs != 2 {
		t.Fatalf("gc after purge: %+v %v", res, err)
	}
	if _, err := s.Get(ctx, used); !errors.Is(err, docstore.ErrNotFound) {
		t.Fatalf("purged set still there: %v", err)
	}
	if _, err := s.Get(ctx, pinned); err != nil {
		t.Fatalf("pinned set collected: %v", err)
	}
	// A pin older than StalePin no longer protects (its server died).
	if _, err := pool.Exec(ctx, "UPDATE docstore_sets SET pinned_at = now() - interval '2 hours'"); err != nil {
		t.Fatal(err)
	}
	if res, err = s.GC(ctx); err != nil || res.Sets != 1 {
		t.Fatalf("gc of a stale pin: %+v %v", res, err)
	}
	if c := count(t, pool, "docstore_blobs"); c != 0 {
		t.Fatalf("docstore_blobs = %d", c)
	}
}

func TestRefStable(t *testing.T) {
	a := docstore.Ref("fine", []docstore.Source{{ContentType: "text/plain", Data: []byte("x")}})
	b := docstore.Ref("fine", []docstore.Source{{Filename: "other", ContentType: "text/plain", Data: []byte("x")}})
	c := docstore.Ref("fine", []docstore.Source{{ContentType: "text/plain", Data: []byte("y")}})
	if a != b || a == c || !bytes.HasPrefix([]byte(a), []byte(docstore.RefPrefix)) {
		t.Fatalf("refs %s %s %s", a, b, c)
	}
}

// A received fax's pages stay while the outbox row that carries them to the
// archive is unpublished (NATS down for hours, say), even with a stale pin,
// and go once it is published.
func TestGCKeepsSetsUntilArchived(t *testing.T) {
	ctx := context.Background()
	pool := pgtest.NewDB(t)
	s := docstore.New(pool, docstore.Config{StalePin: time.Hour})
	ref, err := s.Put(ctx, set("received", "TIFF", "pdf"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `INSERT INTO outbox (topic, key, payload) VALUES ('archive.record', 'inbound/n1/c1', jsonb_build_object('document', $1::text))`, ref); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, "UPDATE docstore_sets SET pinned_at = now() - interval '5 hours'"); err != nil {
		t.Fatal(err)
	}
	if res, err := s.GC(ctx); err != nil || res.Sets != 0 {
		t.Fatalf("gc took a set its unpublished outbox row still names: %+v %v", res, err)
	}
	if err := s.Delete(ctx, ref); !errors.Is(err, docstore.ErrInvalid) {
		t.Fatalf("delete of a set awaiting the archive: %v", err)
	}
	if _, err := pool.Exec(ctx, "UPDATE outbox SET published_at = now()"); err != nil {
		t.Fatal(err)
	}
	if res, err := s.GC(ctx); err != nil || res.Sets != 1 {
		t.Fatalf("gc after the archive got its copy: %+v %v", res, err)
	}
}
