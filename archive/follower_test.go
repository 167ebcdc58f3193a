package archive

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/faxd/faxd/t38/faxpdf"
)

// A follower sees each record once when its handler succeeds, again after
// a failure, never again after ErrTerminal; a follower created FromNow
// does not see what was published before it existed.
func TestFollowerRetriesAndTerminal(t *testing.T) {
	ctx := context.Background()
	r := newRig(t, nil)
	emit := func(key string) { t.Helper(); r.emit(t, key) }
	emit("before") // published before the follower exists
	waitArchived(t, r.archive, 1, 20*time.Second)

	var mu sync.Mutex
	seen := map[string]int{}
	f, err := NewFollower(ctx, r.nats.connect(ctx), FollowerOptions{Name: "test", Topics: []string{TopicRecord}, FromNow: true,
		Logger: quiet, Retry: 50 * time.Millisecond}, func(_ context.Context, m Message) error {
		mu.Lock()
		defer mu.Unlock()
		key := m.Record.Key[len(m.Record.Source)+1:]
		seen[key]++
		switch {
		case key == "flaky" && seen[key] < 3:
			return errors.New("database down")
		case key == "poison":
			return ErrTerminal
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { _ = f.Run(runCtx); close(done) }()
	defer func() { stop(); <-done }()
	for _, k := range []string{"ok", "flaky", "poison"} {
		emit(k)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		mu.Lock()
		n := seen["flaky"]
		mu.Unlock()
		if n >= 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the failing record was not redelivered")
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond) // room for wrong redeliveries
	mu.Lock()
	defer mu.Unlock()
	if seen["before"] != 0 || seen["ok"] != 1 || seen["flaky"] != 3 || seen["poison"] != 1 {
		t.Fatalf("deliveries per record: %v", seen)
	}
}

// emit publishes a received-fax record with key through the outbox.
func (r *rig) emit(t *testing.T, key string) {
	t.Helper()
	ctx := context.Background()
	tx, err := r.queueDB.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if err := Emit(ctx, tx, Record{Key: key, Direction: Inbound, Result: "received", FinishedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
}

// A record that is not archived yet is an ordinary wait for a follower:
// its first retries are logged at debug, not as warnings; only a record
// still missing after several deliveries, or any other error, warns.
func TestFollowerNotArchivedYetIsNoWarning(t *testing.T) {
	ctx := context.Background()
	r := newRig(t, nil)
	logs := &lockedBuffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	var mu sync.Mutex
	seen := map[string]int{}
	f, err := NewFollower(ctx, r.nats.connect(ctx), FollowerOptions{Name: "late", Topics: []string{TopicRecord}, FromNow: true,
		Logger: log, Retry: 20 * time.Millisecond}, func(_ context.Context, m Message) error {
		mu.Lock()
		defer mu.Unlock()
		key := m.Record.Key[len(m.Record.Source)+1:]
		seen[key]++
		switch {
		case key == "late" && seen[key] < 3:
			return fmt.Errorf("%w: not archived yet", ErrNotFound)
		case key == "missing" && seen[key] < notYetWarnAfter+2:
			return fmt.Errorf("%w: not archived yet", ErrNotFound)
		case key == "broken" && seen[key] < 2:
			return errors.New("database down")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { _ = f.Run(runCtx); close(done) }()
	defer func() { stop(); <-done }()
	for _, k := range []string{"late", "missing", "broken"} {
		r.emit(t, k)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		mu.Lock()
		finished := seen["late"] == 3 && seen["missing"] == notYetWarnAfter+2 && seen["broken"] == 2
		mu.Unlock()
		if finished {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("deliveries: %v", seen)
		}
		time.Sleep(20 * time.Millisecond)
	}
	lines := strings.Split(logs.String(), "\n")
	count := func(level, key string) (n int) {
		for _, l := range lines {
			if strings.Contains(l, "level="+level) && strings.Contains(l, "will retry") && strings.Contains(l, "/"+key+" ") {
				n++
			}
		}
		return n
	}
	if d, w := count("DEBUG", "late"), count("WARN", "late"); d != 2 || w != 0 {
		t.Errorf("late record: %d debug and %d warning retries, want 2 and 0\n%s", d, w, logs.String())
	}
	if d, w := count("DEBUG", "missing"), count("WARN", "missing"); d != notYetWarnAfter || w != 1 {
		t.Errorf("missing record: %d debug and %d warning retries, want %d and 1\n%s", d, w, notYetWarnAfter, logs.String())
	}
	if w := count("WARN", "broken"); w != 1 {
		t.Errorf("broken record: %d warnings, want 1\n%s", w, logs.String())
	}
}

// lockedBuffer collects log output from the follower's goroutine.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// BenchmarkTIFFToPDF converts a received fax's pages (every PDF download
// and every email or webhook attachment of a received fax does it).
func BenchmarkTIFFToPDF(b *testing.B) {
	data, err := os.ReadFile(filepath.Join("..", "t38", "tiff", "testdata", "golden-MMR.tif"))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := TIFFToPDF(data, faxpdf.Info{Title: "bench"}); err != nil {
			b.Fatal(err)
		}
	}
}
