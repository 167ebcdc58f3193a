package archive

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// A job deleted on the queue reaches the archive through the outbox and
// the stream: its record loses its document (the document row goes when
// no other record uses it) and keeps who deleted it; a repeated deletion
// and the record's own older version arriving again change nothing.
func TestDeletedJobReachesTheArchive(t *testing.T) {
	r := newRig(t, nil)
	ctx := context.Background()
	finishJobs(t, ctx, r.queue, r.lease, 0, 3) // doc-0, doc-1, doc-2: one document each
	waitArchived(t, r.archive, 3, 30*time.Second)
	docs := func() (n int) {
		if err := r.archive.pool.QueryRow(ctx, `SELECT count(*) FROM documents`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := docs(); n != 3 {
		t.Fatalf("%d documents archived, want 3", n)
	}
	var id int64
	if err := r.queueDB.QueryRow(ctx, `SELECT id FROM jobs WHERE document = 'doc-0'`).Scan(&id); err != nil {
		t.Fatal(err)
	}
	err := pgx.BeginFunc(ctx, r.queueDB, func(tx pgx.Tx) error {
		_, err := r.queue.Delete(ctx, tx, id, "ops", "wrong customer")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	key := r.relay.Source() + "/job/" + strconv.FormatInt(id, 10)
	var by, reason, sha string
	var version int64
	var at *time.Time
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		err := r.archive.pool.QueryRow(ctx, `SELECT deleted_at, deleted_by, delete_reason, document_sha256, version FROM faxes WHERE record_key = $1`, key).
			Scan(&at, &by, &reason, &sha, &version)
		if err != nil {
			t.Fatal(err)
		}
		if at != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the deletion never reached the archive")
		}
	}
	if by != "ops" || reason != "wrong customer" || sha != "" {
		t.Fatalf("tombstone: by %q reason %q sha %q", by, reason, sha)
	}
	if n := docs(); n != 2 {
		t.Fatalf("%d documents after the deletion, want 2", n)
	}
	// Delivered again: a no-op.
	if err := r.archive.Tombstone(ctx, key, version, Deletion{At: time.Now(), By: "someone else"}); err != nil {
		t.Fatal(err)
	}
	// The finish record again (an older version): the document stays gone.
	var old Record
	rows, _, err := r.archive.Search(ctx, Filter{Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	for _, rec := range rows {
		if rec.Key == key {
			old = rec
		}
	}
	old.Version, old.DocumentSHA256 = version-1, "restored"
	if _, err := r.archive.Upsert(ctx, old); err != nil {
		t.Fatal(err)
	}
	if err := r.archive.pool.QueryRow(ctx, `SELECT deleted_by, document_sha256 FROM faxes WHERE record_key = $1`, key).Scan(&by, &sha); err != nil || by != "ops" || sha != "" {
		t.Fatalf("after redelivery: by %q sha %q %v", by, sha, err)
	}
	// A record the archive never held is terminal, not retried forever.
	if err := r.archive.Tombstone(ctx, "nowhere/job/1", 1, Deletion{At: time.Now(), By: "ops"}); !errors.Is(err, ErrTerminal) {
		t.Fatalf("unknown record: %v", err)
	}
}
