package natsbus

import (
	"context"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go/jetstream"
)

// A message published to a JetStream stream on the embedded server survives
// a restart of that server from the same directory: this is what lets the
// archive catch up after a crash.
func TestEmbeddedJetStreamPersists(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	dir := t.TempDir()
	open := func() *Bus {
		b, err := Open(ctx, Options{Dir: dir, Listen: "127.0.0.1:0", Name: "test"})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	b := open()
	if !b.Embedded() || b.Ready() != nil {
		t.Fatalf("embedded=%v ready=%v", b.Embedded(), b.Ready())
	}
	if _, err := b.JetStream.CreateStream(ctx, jetstream.StreamConfig{Name: "T", Subjects: []string{"t.>"}, Storage: jetstream.FileStorage}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.JetStream.Publish(ctx, "t.one", []byte("hello")); err != nil {
		t.Fatal(err)
	}
	b.Close()
	if b.Ready() == nil {
		t.Fatal("closed bus still ready")
	}

	b = open()
	defer b.Close()
	s, err := b.JetStream.Stream(ctx, "T")
	if err != nil {
		t.Fatal(err)
	}
	msg, err := s.GetMsg(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	if string(msg.Data) != "hello" {
		t.Fatalf("got %q", msg.Data)
	}
}

// A node starts while its external NATS is down: Open succeeds, the bus
// is not ready and JetStream does not answer; once a NATS server comes up
// at the URL the connection finds it by itself and JetStream works.
func TestExternalNATSComesUpLater(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close() // nothing listens there now
	b, err := Open(ctx, Options{URL: fmt.Sprintf("nats://127.0.0.1:%d", port), Name: "test"})
	if err != nil {
		t.Fatalf("start with NATS down: %v", err)
	}
	defer b.Close()
	if b.Ready() == nil {
		t.Fatal("ready without a NATS server")
	}
	wctx, wcancel := context.WithTimeout(ctx, 300*time.Millisecond)
	if err := b.WaitJetStream(wctx, 100*time.Millisecond); err == nil {
		t.Fatal("JetStream answered without a NATS server")
	}
	wcancel()

	ns, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: port, JetStream: true,
		StoreDir: t.TempDir(), NoSigs: true, NoLog: true})
	if err != nil {
		t.Fatal(err)
	}
	go ns.Start()
	defer ns.Shutdown()
	if !ns.ReadyForConnections(15 * time.Second) {
		t.Fatal("NATS server did not start")
	}
	if err := b.WaitJetStream(ctx, 100*time.Millisecond); err != nil {
		t.Fatalf("JetStream after NATS came up: %v", err)
	}
	if err := b.Ready(); err != nil {
		t.Fatalf("not ready after NATS came up: %v", err)
	}
	if _, err := b.JetStream.CreateStream(ctx, jetstream.StreamConfig{Name: "T", Subjects: []string{"t.>"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.JetStream.Publish(ctx, "t.one", []byte("hello")); err != nil {
		t.Fatal(err)
	}
}

func TestBadURL(t *testing.T) {
	if _, err := Open(context.Background(), Options{URL: "nats://127.0.0.1:notaport"}); err == nil {
		t.Fatal("bad URL accepted")
	}
}

func TestBadListen(t *testing.T) {
	if _, err := Open(context.Background(), Options{Dir: t.TempDir(), Listen: "nowhere"}); err == nil {
		t.Fatal("bad listen address accepted")
	}
}
