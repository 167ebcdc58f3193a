package audit

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/faxd/faxd/internal/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// Secret members are masked wherever they sit in before/after; empty
// ones stay empty (so "none set" is still visible).
func TestMaskedJSON(t *testing.T) {
	b, err := maskedJSON(map[string]any{
		"name": "gw", "password": "p1", "Secret": "s1",
		"nested":       []any{map[string]any{"token": "t1", "secret": ""}},
		"has_password": true,
	})
	if err != nil {
		t.Fatal(err)
	}
	got := string(b)
	for _, s := range []string{"p1", "s1", "t1"} {
		if strings.Contains(got, `"`+s+`"`) {
			t.Fatalf("secret %q not masked: %s", s, got)
		}
	}
	if strings.Count(got, Masked) != 3 || !strings.Contains(got, `"secret":""`) || !strings.Contains(got, `"name":"gw"`) {
		t.Fatalf("masked: %s", got)
	}
	if b, err := maskedJSON(nil); err != nil || b != nil {
		t.Fatalf("nil: %s %v", b, err)
	}
}

func TestRecordAndList(t *testing.T) {
	ctx := context.Background()
	pool := pgtest.NewDB(t)
	if _, err := Record(ctx, pool, Change{Actor: "ops"}); err == nil {
		t.Fatal("entry without action accepted")
	}
	for i, c := range []Change{
		{ActorID: 1, Actor: "ops", RemoteAddr: "192.0.2.1", Action: "create", ObjectType: Gateway, ObjectID: "a", After: map[string]any{"password": "x"}},
		{Actor: "faxd-cli", RemoteAddr: "local", Action: "create", ObjectType: Token, ObjectID: "2"},
		{ActorID: 1, Actor: "ops", RemoteAddr: "192.0.2.1", Action: "delete", ObjectType: Gateway, ObjectID: "a", Before: map[string]any{"name": "a"}},
	} {
		if id, err := Record(ctx, pool, c); err != nil || id != int64(i+1) {
			t.Fatalf("record %d: %d %v", i, id, err)
		}
	}
	es, next, err := List(ctx, pool, Filter{Limit: 2})
	if err != nil || len(es) != 2 || next != 2 || es[0].ID != 3 || es[0].Before == nil || es[0].After != nil {
		t.Fatalf("page 1: %+v next %d %v", es, next, err)
	}
	es, next, err = List(ctx, pool, Filter{Limit: 2, Before: next})
	if err != nil || len(es) != 1 || next != 0 || es[0].ID != 1 || strings.Contains(string(es[0].After), `"x"`) {
		t.Fatalf("page 2: %+v next %d %v", es, next, err)
	}
	es, _, _ = List(ctx, pool, Filter{Actor: "faxd-cli"})
	if len(es) != 1 || es[0].ActorID != 0 || es[0].RemoteAddr != "local" {
		t.Fatalf("actor filter: %+v", es)
	}
	es, _, _ = List(ctx, pool, Filter{ObjectType: Gateway, Action: "delete", Since: time.Now().Add(-time.Hour), Until: time.Now().Add(time.Hour)})
	if len(es) != 1 || es[0].ID != 3 {
		t.Fatalf("type/action/time filter: %+v", es)
	}
}
