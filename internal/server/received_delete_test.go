package server

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/faxd/faxd/archive"
	"github.com/faxd/faxd/internal/api"
	"github.com/faxd/faxd/internal/api/tokens"
	"github.com/faxd/faxd/internal/docstore"
)

// A received fax deleted through the API of a whole server: its pages
// leave the archive, the stream's object store and the document store;
// the record stays listed, marked, and the fax answers 410; the deletion
// the outbox carries reaches the archiver and changes nothing more.
func TestServerDeletesReceivedFax(t *testing.T) {
	s := startServer(t, fastNotify)
	ctx := context.Background()
	admin := newClient(t, s, tokens.Admin, "ops")
	key := receive(t, s, "+4930100", "+4989123450", 11)
	var rec archive.Record
	eventually(t, "the fax archived with its pages", func() bool {
		var l api.ReceivedList
		admin.json("GET", "/v1/received", nil, 200, &l)
		if len(l.Received) != 1 {
			return false
		}
		var err error
		rec, err = s.Archive.Get(ctx, l.Received[0].ID)
		return err == nil && rec.DocumentSHA256 != ""
	})
	if !strings.HasSuffix(rec.Key, key) {
		t.Fatalf("archived %s, received %s", rec.Key, key)
	}
	objects, err := s.Bus.JetStream.ObjectStore(ctx, archive.ObjectBucket)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := objects.GetInfo(ctx, rec.DocumentSHA256); err != nil {
		t.Fatalf("the stream's copy of the pages: %v", err)
	}

	path := fmt.Sprintf("/v1/received/%d", rec.ID)
	if status, _, b := admin.do("DELETE", path+"?reason=privacy+request", "", nil); status != 204 {
		t.Fatalf("delete: %d %s", status, b)
	}
	for _, p := range []string{path, path + "/document"} {
		if status, _, b := admin.do("GET", p, "", nil); status != 410 || !strings.Contains(string(b), "deleted by ops") {
			t.Fatalf("GET %s: %d %s", p, status, b)
		}
	}
	var l api.ReceivedList
	admin.json("GET", "/v1/received", nil, 200, &l)
	if len(l.Received) != 1 || l.Received[0].DeletedBy != "ops" || l.Received[0].HasDocument {
		t.Fatalf("list: %+v", l.Received)
	}
	if _, err := s.docs.Get(ctx, rec.Document); !errors.Is(err, docstore.ErrNotFound) {
		t.Fatalf("the document store still has the pages: %v", err)
	}
	eventually(t, "the deletion through the stream, and the object gone", func() bool {
		var pending int
		if err := s.DB.Queue.QueryRow(ctx, `SELECT count(*) FROM outbox WHERE topic = $1 AND published_at IS NULL`, archive.TopicRecordDeleted).Scan(&pending); err != nil {
			t.Fatal(err)
		}
		_, err := objects.GetInfo(ctx, rec.DocumentSHA256)
		return pending == 0 && errors.Is(err, jetstream.ErrObjectNotFound)
	})
	got, err := s.Archive.GetByKey(ctx, rec.Key)
	if err != nil || got.DeletedBy != "ops" || got.DeleteReason != "privacy request" || got.DocumentSHA256 != "" {
		t.Fatalf("archived tombstone: %+v %v", got, err)
	}
}
