package archive

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/nats-io/nats.go/jetstream"
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

// A received fax deleted by its key: applied to the archive database at
// once and through the outbox, its document goes from both the archive
// and the stream's object store, the record keeps who deleted it, a
// second deletion or a newer version of the record changes neither, and a
// key the archive never held is terminal.
func TestDeletedRecordReachesTheArchive(t *testing.T) {
	r := newRig(t, nil)
	ctx := context.Background()
	emit := func(fn func(tx pgx.Tx) error) {
		t.Helper()
		if err := pgx.BeginFunc(ctx, r.queueDB, fn); err != nil {
			t.Fatal(err)
		}
	}
	emit(func(tx pgx.Tx) error {
		return Emit(ctx, tx, Record{Key: "inbound/n1/call-1", Direction: Inbound, Result: "received", Pages: 1,
			Document: "doc-1", FinishedAt: time.Now()})
	})
	waitArchived(t, r.archive, 1, 30*time.Second)
	key := r.relay.Source() + "/inbound/n1/call-1"
	rec, err := r.archive.GetByKey(ctx, key)
	if err != nil || rec.DocumentSHA256 == "" || !rec.DeletedAt.IsZero() {
		t.Fatalf("archived record: %+v %v", rec, err)
	}
	sha := rec.DocumentSHA256
	objects, err := r.js.ObjectStore(ctx, ObjectBucket)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := objects.GetInfo(ctx, sha); err != nil {
		t.Fatalf("the relay's copy of the pages: %v", err)
	}
	at := time.Now().UTC().Truncate(time.Microsecond)
	d := Deletion{At: at, By: "privacy-officer", Reason: "GDPR request", DocumentSHA256: sha}
	emit(func(tx pgx.Tx) error { return EmitDeletion(ctx, tx, key, d) })
	// As the API does: applied at once as well, before or after the
	// archiver's turn.
	if err := r.archive.DeleteRecord(ctx, key, d); err != nil {
		t.Fatal(err)
	}
	if rec, err = r.archive.GetByKey(ctx, key); err != nil {
		t.Fatal(err)
	}
	if !rec.DeletedAt.Equal(at) || rec.DeletedBy != "privacy-officer" || rec.DeleteReason != "GDPR request" || rec.DocumentSHA256 != "" {
		t.Fatalf("tombstone: %+v", rec)
	}
	var docs int
	if err := r.archive.pool.QueryRow(ctx, `SELECT count(*) FROM documents`).Scan(&docs); err != nil || docs != 0 {
		t.Fatalf("%d documents left (%v)", docs, err)
	}
	// The archiver, given the deletion by the stream, removes the
	// stream's copy of the pages.
	for ctx, cancel := context.WithTimeout(ctx, 30*time.Second); ; {
		_, err := objects.GetInfo(ctx, sha)
		if errors.Is(err, jetstream.ErrObjectNotFound) {
			cancel()
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("the object store still holds the pages: %v", err)
		case <-time.After(50 * time.Millisecond):
		}
	}
	// Again, by someone else: the first tombstone stays.
	if err := r.archive.DeleteRecord(ctx, key, Deletion{At: time.Now(), By: "someone else"}); err != nil {
		t.Fatal(err)
	}
	// A newer version of the record: the document does not come back.
	rec.Version, rec.DocumentSHA256, rec.Document = rec.Version+100, "restored", "doc-1"
	if _, err := r.archive.Upsert(ctx, rec); err != nil {
		t.Fatal(err)
	}
	if got, err := r.archive.GetByKey(ctx, key); err != nil || got.DeletedBy != "privacy-officer" || got.DocumentSHA256 != "" || got.Document != "" {
		t.Fatalf("after a second deletion and a newer version: %+v %v", got, err)
	}
	if err := r.archive.DeleteRecord(ctx, "nowhere/inbound/x", Deletion{At: time.Now(), By: "ops"}); !errors.Is(err, ErrTerminal) || !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown record: %v", err)
	}
}
