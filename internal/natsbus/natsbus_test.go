package natsbus

import (
	"context"
	"testing"
	"time"

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

func TestExternalURLUnreachable(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := Open(ctx, Options{URL: "nats://127.0.0.1:1"}); err == nil {
		t.Fatal("connect to a closed port succeeded")
	}
}

func TestBadListen(t *testing.T) {
	if _, err := Open(context.Background(), Options{Dir: t.TempDir(), Listen: "nowhere"}); err == nil {
		t.Fatal("bad listen address accepted")
	}
}
