package server

import (
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"

	"github.com/faxd/faxd/archive"
	"github.com/faxd/faxd/internal/config"
	"github.com/faxd/faxd/internal/pgtest"
	"github.com/faxd/faxd/queue"
)

// A server whose external NATS is down at start-up starts and serves:
// /readyz says nats is not ready, a finished job waits in the outbox, and
// once NATS comes up the stream is created and the outbox drains into the
// archive.
func TestServerStartsBeforeNATS(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close() // NATS will come up here later
	s := startServer(t, func(c *config.Config) {
		c.NATS.URL = fmt.Sprintf("nats://127.0.0.1:%d", port)
		c.Database.ArchiveDSN = pgtest.NewDSN(t)
	})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	base := "http://" + s.HTTPAddr()
	if code, body := get(t, base+"/readyz"); code != 503 || !strings.Contains(body, "nats down") || !strings.Contains(body, "queue_db ok") {
		t.Fatalf("readyz with NATS down: %d %q", code, body)
	}

	job, _, err := s.Queue.Enqueue(ctx, queue.Request{Destination: "+15550123", Document: "doc:9", PagesTotal: 1, Submitter: "early"})
	if err != nil {
		t.Fatal(err)
	}
	var claimed []queue.Job
	for len(claimed) == 0 {
		if claimed, err = s.Queue.Claim(ctx, s.Node.Lease(), 1); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Queue.Complete(ctx, job.ID, claimed[0].Token, queue.Result{Pages: 1}); err != nil {
		t.Fatal(err)
	}
	if n, err := s.relay.Pending(ctx); err != nil || n != 1 {
		t.Fatalf("outbox while NATS is down: %d rows, %v; want the job waiting", n, err)
	}

	ns, err := natsserver.NewServer(&natsserver.Options{Host: "127.0.0.1", Port: port, JetStream: true,
		StoreDir: t.TempDir(), NoSigs: true, NoLog: true})
	if err != nil {
		t.Fatal(err)
	}
	go ns.Start()
	t.Cleanup(ns.Shutdown)
	if !ns.ReadyForConnections(15 * time.Second) {
		t.Fatal("NATS server did not start")
	}
	for {
		recs, _, err := s.Archive.Search(ctx, archive.Filter{Submitter: "early"})
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) == 1 && recs[0].JobID == job.ID {
			break
		}
		if ctx.Err() != nil {
			t.Fatal("the job waiting in the outbox never reached the archive")
		}
		time.Sleep(50 * time.Millisecond)
	}
	// The archiver can store the record before the relay has the
	// publish's acknowledgement and deletes the row: wait for that too.
	for {
		n, err := s.relay.Pending(ctx)
		if err == nil && n == 0 {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("outbox after NATS came up: %d rows, %v", n, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if code, body := get(t, base+"/readyz"); code != 200 || !strings.Contains(body, "nats ok") {
		t.Fatalf("readyz with NATS up: %d %q", code, body)
	}
}
