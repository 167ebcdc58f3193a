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
	if h, err := Health(ctx, b.JetStream, "T"); err != nil || h != (StreamHealth{Replicas: 1, Current: 1}) {
		t.Fatalf("health of a single server's stream: %+v %v", h, err)
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

// Three faxd nodes with embedded NATS form one JetStream cluster: a stream
// with three replicas is placed on all of them, a message published
// through one node is read through another, and after one server stops the
// other two still accept and serve messages (the stream keeps its quorum).
func TestEmbeddedCluster(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	// Every node gets the same route list, itself included, as in a real
	// deployment. The ports are picked by the kernel and freed just before
	// use (nats-server needs routes when it starts clustered JetStream).
	var routes []string
	for range 3 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		routes = append(routes, ln.Addr().String())
		ln.Close()
	}
	open := func(i int) *Bus {
		b, err := Open(ctx, Options{Dir: t.TempDir(), Listen: "127.0.0.1:0", Name: fmt.Sprintf("faxd-n%d", i),
			ServerName: fmt.Sprintf("n%d", i),
			Cluster:    Cluster{Name: "faxd-test", Listen: routes[i-1], Routes: []string{routes[0], "nats-route://" + routes[1], routes[2]}}})
		if err != nil {
			t.Fatal(err)
		}
		if got := b.ClusterAddr(); got == nil || got.String() != routes[i-1] {
			t.Fatalf("node %d cluster address %v, want %s", i, got, routes[i-1])
		}
		return b
	}
	var nodes []*Bus
	defer func() {
		for _, b := range nodes {
			b.Close()
		}
	}()
	for i := 1; i <= 3; i++ {
		nodes = append(nodes, open(i))
	}
	for i, b := range nodes {
		if err := b.WaitJetStream(ctx, 500*time.Millisecond); err != nil {
			t.Fatalf("node %d: JetStream: %v", i+1, err)
		}
	}

	// The stream can be created once the meta group has a leader; retry
	// until then (bounded by ctx, not by a fixed sleep).
	var st jetstream.Stream
	for {
		var err error
		cctx, ccancel := context.WithTimeout(ctx, 5*time.Second)
		st, err = nodes[1].JetStream.CreateStream(cctx, jetstream.StreamConfig{Name: "T", Subjects: []string{"t.>"},
			Storage: jetstream.FileStorage, Replicas: 3})
		ccancel()
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("create R3 stream: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	info, err := st.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.Config.Replicas != 3 || info.Cluster == nil || info.Cluster.Name != "faxd-test" {
		t.Fatalf("stream replicas %d cluster %+v", info.Config.Replicas, info.Cluster)
	}
	peers := map[string]bool{info.Cluster.Leader: true}
	for _, r := range info.Cluster.Replicas {
		peers[r.Name] = true
	}
	if len(peers) != 3 || !peers["n1"] || !peers["n2"] || !peers["n3"] {
		t.Fatalf("stream placed on %v, want n1 n2 n3", peers)
	}

	if _, err := nodes[0].JetStream.Publish(ctx, "t.one", []byte("hello")); err != nil {
		t.Fatal(err)
	}
	// All three copies current (followers catch up asynchronously: wait
	// for it, bounded by ctx).
	for {
		h, err := Health(ctx, nodes[2].JetStream, "T")
		if err == nil && h == (StreamHealth{Replicas: 3, Current: 3}) {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("health with three servers: %+v %v", h, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	// readLast retries while the cluster answers "temporarily
	// unavailable": after a server stops, the meta group and the stream
	// elect new leaders and reads fail with 503 until they have (bounded
	// by ctx, not by a fixed sleep).
	readLast := func(b *Bus, want string) {
		t.Helper()
		for {
			got, err := func() (string, error) {
				s, err := b.JetStream.Stream(ctx, "T")
				if err != nil {
					return "", err
				}
				m, err := s.GetLastMsgForSubject(ctx, "t.>")
				if err != nil {
					return "", err
				}
				return string(m.Data), nil
			}()
			if err == nil {
				if got != want {
					t.Fatalf("read %q, want %q", got, want)
				}
				return
			}
			if ctx.Err() != nil {
				t.Fatalf("read last message: %v", err)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	readLast(nodes[2], "hello")

	// Stop one server: two of three replicas are a
	// quorum, so the stream still takes writes once a leader is elected.
	nodes[0].Close()
	nodes = nodes[1:]
	for {
		pctx, pcancel := context.WithTimeout(ctx, 3*time.Second)
		_, err := nodes[0].JetStream.Publish(pctx, "t.two", []byte("after"))
		pcancel()
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("publish after a server stopped: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	readLast(nodes[1], "after")
	for {
		s, err := nodes[1].JetStream.Stream(ctx, "T")
		if err == nil {
			var m *jetstream.RawStreamMsg
			if m, err = s.GetMsg(ctx, 1); err == nil {
				if string(m.Data) != "hello" {
					t.Fatalf("first message after a server stopped: %q", m.Data)
				}
				break
			}
		}
		if ctx.Err() != nil {
			t.Fatalf("first message after a server stopped: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	// The health gauge's source sees one copy missing, from either node,
	// once the leader has noticed the stopped server.
	for {
		h, err := Health(ctx, nodes[0].JetStream, "T")
		if err == nil && h == (StreamHealth{Replicas: 3, Current: 2}) {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("health with two servers: %+v %v", h, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if _, err := Health(ctx, nodes[0].JetStream, "NOPE"); err == nil {
		t.Fatal("health of a missing stream: no error")
	}
}

func TestBadClusterOptions(t *testing.T) {
	for name, c := range map[string]Cluster{
		"no name":     {Listen: "127.0.0.1:0", Routes: []string{"127.0.0.1:1"}},
		"no routes":   {Name: "c", Listen: "127.0.0.1:0"},
		"bad listen":  {Name: "c", Listen: "nowhere", Routes: []string{"127.0.0.1:1"}},
		"bad route":   {Name: "c", Listen: "127.0.0.1:0", Routes: []string{"nats-route://host-without-port"}},
		"route ::bad": {Name: "c", Listen: "127.0.0.1:0", Routes: []string{"%zz:1"}},
	} {
		if _, err := Open(context.Background(), Options{Dir: t.TempDir(), Listen: "127.0.0.1:0", Cluster: c}); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
