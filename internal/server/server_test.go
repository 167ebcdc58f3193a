package server

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/faxd/faxd/internal/config"
	"github.com/faxd/faxd/internal/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// A server with the queue and the archive in two databases migrates both,
// reports ready while both and NATS answer, and not ready, naming NATS,
// once NATS is gone.
func TestServerTwoDatabasesReadiness(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cfg := config.Default()
	cfg.Node.ID = "test-node"
	cfg.HTTP.Listen = "127.0.0.1:0"
	cfg.Database.QueueDSN = pgtest.NewEmptyDSN(t)
	cfg.Database.ArchiveDSN = pgtest.NewEmptyDSN(t)
	cfg.NATS.EmbeddedDir = t.TempDir()
	cfg.NATS.EmbeddedListen = "127.0.0.1:0"
	if errs := cfg.Validate(); len(errs) > 0 {
		t.Fatal(errs)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	s, err := New(ctx, cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(context.Background())
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- s.Run(runCtx) }()

	// Each set went into its own database.
	var q, a int
	if err := s.DB.Queue.QueryRow(ctx, "SELECT count(*) FROM information_schema.tables WHERE table_name = 'schema_migrations_queue'").Scan(&q); err != nil {
		t.Fatal(err)
	}
	if err := s.DB.Archive.QueryRow(ctx, "SELECT count(*) FROM information_schema.tables WHERE table_name = 'schema_migrations_queue'").Scan(&a); err != nil {
		t.Fatal(err)
	}
	if q != 1 || a != 0 {
		t.Errorf("queue set in queue db: %d, in archive db: %d", q, a)
	}

	base := "http://" + s.HTTPAddr()
	if code, body := get(t, base+"/healthz"); code != 200 || strings.TrimSpace(body) != "ok" {
		t.Errorf("healthz %d %q", code, body)
	}
	if code, body := get(t, base+"/readyz"); code != 200 || !strings.Contains(body, "nats ok") {
		t.Errorf("readyz %d %q", code, body)
	}
	code, body := get(t, base+"/metrics")
	if code != 200 || !strings.Contains(body, `faxd_build_info{node="test-node"`) || !strings.Contains(body, `faxd_component_up{component="queue_db"} 1`) {
		t.Errorf("metrics %d:\n%s", code, body)
	}

	s.Bus.Close()
	if code, body := get(t, base+"/readyz"); code != 503 || !strings.Contains(body, "nats down") {
		t.Errorf("readyz with NATS gone: %d %q", code, body)
	}
	if _, body := get(t, base+"/metrics"); !strings.Contains(body, `faxd_component_up{component="nats"} 0`) {
		t.Error("nats not reported down in metrics")
	}
	stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// A DSN with a password that cannot be parsed is reported without echoing it.
func TestBadDSNNotLogged(t *testing.T) {
	_, err := OpenDatabases(context.Background(), config.Database{QueueDSN: "postgres://u:s3cret@host:notaport/db", MaxConns: 2}, slog.Default())
	if err == nil {
		t.Fatal("bad DSN accepted")
	}
	if strings.Contains(err.Error(), "s3cret") {
		t.Fatalf("password in error: %v", err)
	}
}
