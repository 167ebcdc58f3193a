package notify_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/faxd/faxd/internal/notify"
	"github.com/faxd/faxd/internal/pgtest"
	"github.com/faxd/faxd/internal/secretbox"
)

// A delivery's webhook secret is sealed in the deliveries table, and a
// notifier without a key refuses a plaintext secret instead of storing it.
func TestDeliverySecretSealed(t *testing.T) {
	ctx := context.Background()
	pool := pgtest.NewDB(t)
	n := newNotifier(t, pool, testConfig(), nil)
	const secret = "webhook-signing-secret-42"
	id, err := n.Enqueue(ctx, nil, notify.Request{Kind: notify.KindWebhook, Event: "test",
		Targets: []string{"https://example.com/hook"}, Secret: secret, Key: "k"})
	if err != nil {
		t.Fatal(err)
	}
	var raw string
	if err := pool.QueryRow(ctx, `SELECT secret FROM deliveries WHERE id = $1`, id).Scan(&raw); err != nil {
		t.Fatal(err)
	}
	if !secretbox.IsSealed(raw) || strings.Contains(raw, secret) {
		t.Fatalf("stored secret %q: want sealed", raw)
	}
	if pt, err := testSecrets.Open(raw); err != nil || pt != secret {
		t.Fatalf("opens to %q, %v", pt, err)
	}
	keyless, err := notify.New(pool, testConfig(), notify.Options{NodeID: "keyless"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = keyless.Enqueue(ctx, nil, notify.Request{Kind: notify.KindWebhook, Event: "test",
		Targets: []string{"https://example.com/hook"}, Secret: secret, Key: "k2"})
	if !errors.Is(err, secretbox.ErrNoKey) || strings.Contains(err.Error(), secret) {
		t.Fatalf("keyless enqueue: %v", err)
	}
	// Without a secret no key is needed.
	if _, err := keyless.Enqueue(ctx, nil, notify.Request{Kind: notify.KindWebhook, Event: "test",
		Targets: []string{"https://example.com/hook"}, Key: "k3"}); err != nil {
		t.Fatalf("unsigned delivery: %v", err)
	}
}
