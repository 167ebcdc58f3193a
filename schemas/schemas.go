// Package schemas holds faxd's SQL migrations, embedded in the binary, and
// the runner that applies them.
//
// Migrations come in sets. Each set has its own bookkeeping table
// (schema_migrations_<set>), so the queue and the archive can live in two
// databases or share one.
package schemas

import (
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

//go:embed queue/*.sql archive/*.sql
var files embed.FS

// Set is a named, ordered list of migrations.
type Set struct {
	Name string // also names the bookkeeping table
	FS   fs.FS
	Dir  string
}

var (
	// Queue is the outbound queue: jobs, their history, nodes, outbox.
	Queue = Set{Name: "queue", FS: files, Dir: "queue"}
	// Archive is the shared archive database.
	Archive = Set{Name: "archive", FS: files, Dir: "archive"}
)

// Migration is one versioned SQL file, NNNN_description.sql.
type Migration struct {
	Version  int
	Name     string
	SQL      string
	Checksum string
}

// ErrChecksum means an applied migration's file has changed since.
var ErrChecksum = errors.New("schemas: applied migration was modified")

// ErrUnknownVersion means the database has a migration this binary does
// not know: it was migrated by a newer faxd.
var ErrUnknownVersion = errors.New("schemas: database has a migration unknown to this binary")

// Migrations lists the set's migrations in version order.
func (s Set) Migrations() ([]Migration, error) {
	entries, err := fs.ReadDir(s.FS, s.Dir)
	if err != nil {
		return nil, fmt.Errorf("schemas: %s: %w", s.Name, err)
	}
	var out []Migration
	seen := map[int]string{}
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".sql") {
			continue
		}
		num, _, ok := strings.Cut(e.Name(), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("schemas: %s/%s: name must be NNNN_description.sql", s.Dir, e.Name())
		}
		if prev, dup := seen[v]; dup {
			return nil, fmt.Errorf("schemas: %s: version %d used by %s and %s", s.Name, v, prev, e.Name())
		}
		seen[v] = e.Name()
		b, err := fs.ReadFile(s.FS, path.Join(s.Dir, e.Name()))
		if err != nil {
			return nil, err
		}
		sum := sha256.Sum256(b)
		out = append(out, Migration{Version: v, Name: e.Name(), SQL: string(b), Checksum: hex.EncodeToString(sum[:])})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	return out, nil
}

func (s Set) table() string { return pgx.Identifier{"schema_migrations_" + s.Name}.Sanitize() }

// lockKey is the advisory lock that serialises migrations of one set.
func (s Set) lockKey() int64 {
	sum := sha256.Sum256([]byte("faxd.schemas." + s.Name))
	var k int64
	for _, b := range sum[:8] {
		k = k<<8 | int64(b)
	}
	return k
}

// Migrate applies the set's missing migrations, each in its own
// transaction. Concurrent callers (in any number of processes) are
// serialised by an advisory lock; the later ones find nothing left to do.
func Migrate(ctx context.Context, pool *pgxpool.Pool, set Set) error {
	_, err := Apply(ctx, pool, set)
	return err
}

// Apply is Migrate, also returning the versions this call applied.
func Apply(ctx context.Context, pool *pgxpool.Pool, set Set) ([]int, error) {
	migs, err := set.Migrations()
	if err != nil {
		return nil, err
	}
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return nil, fmt.Errorf("schemas: %w", err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", set.lockKey()); err != nil {
		return nil, fmt.Errorf("schemas: lock %s: %w", set.Name, err)
	}
	defer func() {
		// A failed unlock leaves the lock on the connection: drop it.
		if _, err := conn.Exec(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", set.lockKey()); err != nil {
			_ = conn.Hijack().Close(context.Background())
		}
	}()
	if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS `+set.table()+` (
		version    integer PRIMARY KEY,
		name       text NOT NULL,
		checksum   text NOT NULL,
		applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
		return nil, fmt.Errorf("schemas: %s: %w", set.Name, err)
	}
	applied := map[int]string{}
	rows, err := conn.Query(ctx, "SELECT version, checksum FROM "+set.table())
	if err != nil {
		return nil, fmt.Errorf("schemas: %s: %w", set.Name, err)
	}
	for rows.Next() {
		var v int
		var sum string
		if err := rows.Scan(&v, &sum); err != nil {
			return nil, err
		}
		applied[v] = sum
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("schemas: %s: %w", set.Name, err)
	}
	known := map[int]bool{}
	for _, m := range migs {
		known[m.Version] = true
		if sum, ok := applied[m.Version]; ok && sum != m.Checksum {
			return nil, fmt.Errorf("%w: %s %s", ErrChecksum, set.Name, m.Name)
		}
	}
	for v := range applied {
		if !known[v] {
			return nil, fmt.Errorf("%w: %s version %d", ErrUnknownVersion, set.Name, v)
		}
	}
	var done []int
	for _, m := range migs {
		if _, ok := applied[m.Version]; ok {
			continue
		}
		err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, m.SQL); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, "INSERT INTO "+set.table()+" (version, name, checksum) VALUES ($1, $2, $3)",
				m.Version, m.Name, m.Checksum)
			return err
		})
		if err != nil {
			return done, fmt.Errorf("schemas: %s %s: %w", set.Name, m.Name, err)
		}
		done = append(done, m.Version)
	}
	return done, nil
}

// Applied lists the set's versions recorded in the database.
func Applied(ctx context.Context, pool *pgxpool.Pool, set Set) ([]int, error) {
	rows, err := pool.Query(ctx, "SELECT version FROM "+set.table()+" ORDER BY version")
	if err != nil {
		return nil, fmt.Errorf("schemas: %s: %w", set.Name, err)
	}
	return pgx.CollectRows(rows, pgx.RowTo[int])
}
