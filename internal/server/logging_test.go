package server

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/faxd/faxd/internal/config"
	"github.com/faxd/faxd/internal/pgtest"
)

// logSink collects log output and closes running once the server says
// it runs.
type logSink struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	running chan struct{}
	once    sync.Once
}

func (s *logSink) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if bytes.Contains(p, []byte(`"msg":"faxd running"`)) {
		s.once.Do(func() { close(s.running) })
	}
	return s.buf.Write(p)
}

func (s *logSink) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.String()
}

// objectKeys returns the top-level keys of one JSON object in order,
// repeats included (encoding/json's maps would hide them).
func objectKeys(line string) ([]string, error) {
	dec := json.NewDecoder(strings.NewReader(line))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, fmt.Errorf("not a JSON object: %v", err)
	}
	var keys []string
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		keys = append(keys, tok.(string))
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return nil, err
		}
	}
	return keys, nil
}

// A server on the logger faxd builds (JSON, debug) writes every attribute
// once per line: the node attribute, attached to the process logger, is
// not added again by the start-up line or the queue's node registration,
// and no component is named twice.
func TestLogLinesHaveEachKeyOnce(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cfg := config.Default()
	cfg.Node.ID = "log-node"
	cfg.Log = config.Log{Format: "json", Level: "debug"}
	cfg.HTTP.Listen = "127.0.0.1:0"
	cfg.Database.QueueDSN = pgtest.NewDSN(t)
	cfg.NATS.EmbeddedDir = t.TempDir()
	cfg.NATS.EmbeddedListen = "127.0.0.1:0"
	cfg.SIP.ListenUDP = "127.0.0.1:0"
	if errs := cfg.Validate(); len(errs) > 0 {
		t.Fatal(errs)
	}
	sink := &logSink{running: make(chan struct{})}
	s, err := New(ctx, cfg, NewLogger(cfg, sink))
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- s.Run(runCtx) }()
	select {
	case <-sink.running:
	case err := <-done:
		t.Fatalf("server stopped before it ran: %v", err)
	case <-ctx.Done():
		t.Fatal("no start-up line")
	}
	// A refused API request logs through the API's logger.
	resp, err := http.Get("http://" + s.HTTPAddr() + "/v1/faxes")
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	s.Close(context.Background())

	msgs := map[string]bool{}
	lines := 0
	sc := bufio.NewScanner(strings.NewReader(sink.String()))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		lines++
		keys, err := objectKeys(sc.Text())
		if err != nil {
			t.Fatalf("%v: %s", err, sc.Text())
		}
		count := map[string]int{}
		for _, k := range keys {
			count[k]++
		}
		for k, n := range count {
			if n > 1 {
				t.Errorf("key %q %d times in: %s", k, n, sc.Text())
			}
		}
		var line struct{ Msg, Node string }
		json.Unmarshal(sc.Bytes(), &line)
		if line.Node != cfg.Node.ID {
			t.Errorf("node %q, want %q: %s", line.Node, cfg.Node.ID, sc.Text())
		}
		msgs[line.Msg] = true
	}
	// The lines that repeated the node are among those checked.
	for _, m := range []string{"faxd running", "queue: node registered"} {
		if !msgs[m] {
			t.Errorf("no %q line among %d", m, lines)
		}
	}
}
