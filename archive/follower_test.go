package archive

import (
	"context"
	"errors"
	"os"
	"path/filepath"
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
	emit := func(key string) {
		t.Helper()
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
