package schemas_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"testing/fstest"

	"github.com/faxd/faxd/internal/pgtest"
	"github.com/faxd/faxd/schemas"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func tableExists(t *testing.T, dsn, table string) bool {
	t.Helper()
	pool := pgtest.Pool(t, dsn)
	var ok bool
	if err := pool.QueryRow(context.Background(), "SELECT to_regclass($1) IS NOT NULL", table).Scan(&ok); err != nil {
		t.Fatal(err)
	}
	return ok
}

func TestMigrateIdempotent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.Pool(t, pgtest.NewEmptyDSN(t))
	migs, err := schemas.Queue.Migrations()
	if err != nil {
		t.Fatal(err)
	}
	first, err := schemas.Apply(ctx, pool, schemas.Queue)
	if err != nil {
		t.Fatal(err)
	}
	if len(first) != len(migs) {
		t.Fatalf("first run applied %v, want %d migrations", first, len(migs))
	}
	second, err := schemas.Apply(ctx, pool, schemas.Queue)
	if err != nil || len(second) != 0 {
		t.Fatalf("second run applied %v (%v), want nothing", second, err)
	}
	got, err := schemas.Applied(ctx, pool, schemas.Queue)
	if err != nil {
		t.Fatal(err)
	}
	want := []int{}
	for _, m := range migs {
		want = append(want, m.Version)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("recorded %v, want %v", got, want)
	}
}

// The queue and the archive in two databases: each gets only its own set.
func TestTwoDatabases(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	qdsn, adsn := pgtest.NewEmptyDSN(t), pgtest.NewEmptyDSN(t)
	if err := schemas.Migrate(ctx, pgtest.Pool(t, qdsn), schemas.Queue); err != nil {
		t.Fatal(err)
	}
	if err := schemas.Migrate(ctx, pgtest.Pool(t, adsn), schemas.Archive); err != nil {
		t.Fatal(err)
	}
	if !tableExists(t, qdsn, "jobs") || tableExists(t, qdsn, "archive_meta") {
		t.Fatal("queue database holds the wrong tables")
	}
	if !tableExists(t, adsn, "archive_meta") || tableExists(t, adsn, "jobs") {
		t.Fatal("archive database holds the wrong tables")
	}
	if tableExists(t, adsn, "schema_migrations_queue") || !tableExists(t, adsn, "schema_migrations_archive") {
		t.Fatal("archive database has the wrong bookkeeping table")
	}
}

// Many processes starting at once: the advisory lock lets one migrate and
// the others find the work done.
func TestConcurrentMigrate(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dsn := pgtest.NewEmptyDSN(t)
	const n = 8
	applied := make([][]int, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		pool := pgtest.Pool(t, dsn) // one pool each, like separate processes
		wg.Add(1)
		go func() {
			defer wg.Done()
			applied[i], errs[i] = schemas.Apply(ctx, pool, schemas.Queue)
		}()
	}
	wg.Wait()
	total := 0
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("migrator %d: %v", i, errs[i])
		}
		total += len(applied[i])
	}
	migs, _ := schemas.Queue.Migrations()
	if total != len(migs) {
		t.Fatalf("%d migrations applied in total by %d migrators, want %d", total, n, len(migs))
	}
}

func TestFailedMigrationRollsBack(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dsn := pgtest.NewEmptyDSN(t)
	pool := pgtest.Pool(t, dsn)
	set := schemas.Set{Name: "broken", Dir: "m", FS: fstest.MapFS{
		"m/0001_ok.sql":     {Data: []byte("CREATE TABLE good (v int);")},
		"m/0002_broken.sql": {Data: []byte("CREATE TABLE half (v int); SELECT no_such_function();")},
	}}
	done, err := schemas.Apply(ctx, pool, set)
	if err == nil {
		t.Fatal("broken migration succeeded")
	}
	if !slices.Equal(done, []int{1}) {
		t.Fatalf("applied %v, want [1]", done)
	}
	if !tableExists(t, dsn, "good") || tableExists(t, dsn, "half") {
		t.Fatal("failed migration was not rolled back as a whole")
	}
	got, _ := schemas.Applied(ctx, pool, set)
	if !slices.Equal(got, []int{1}) {
		t.Fatalf("recorded %v, want [1]", got)
	}

	// A changed, already applied file is refused.
	set.FS = fstest.MapFS{"m/0001_ok.sql": {Data: []byte("CREATE TABLE good (v bigint);")}}
	if _, err := schemas.Apply(ctx, pool, set); !errors.Is(err, schemas.ErrChecksum) {
		t.Fatalf("modified migration: err=%v, want ErrChecksum", err)
	}
	// A database migrated further than this binary knows is refused.
	set.FS = fstest.MapFS{"m/README": {Data: []byte("none")}}
	if _, err := schemas.Apply(ctx, pool, set); !errors.Is(err, schemas.ErrUnknownVersion) {
		t.Fatalf("unknown version: err=%v, want ErrUnknownVersion", err)
	}
}

func TestMigrationNames(t *testing.T) {
	bad := schemas.Set{Name: "x", Dir: "m", FS: fstest.MapFS{"m/first.sql": {Data: []byte("SELECT 1")}}}
	if _, err := bad.Migrations(); err == nil {
		t.Fatal("badly named migration accepted")
	}
	dup := schemas.Set{Name: "x", Dir: "m", FS: fstest.MapFS{
		"m/0001_a.sql": {Data: []byte("SELECT 1")}, "m/001_b.sql": {Data: []byte("SELECT 1")}}}
	if _, err := dup.Migrations(); err == nil {
		t.Fatal("duplicate version accepted")
	}
}
