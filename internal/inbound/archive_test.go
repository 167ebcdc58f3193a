package inbound_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"testing"
	"time"

	faxarchive "github.com/faxd/faxd/archive"
	"github.com/faxd/faxd/internal/inbound"
	"github.com/faxd/faxd/internal/notify"
	"github.com/faxd/faxd/internal/pgtest"
)

// dispatcher records the faxes it is handed and answers dec.
type dispatcher struct {
	dec   inbound.Decision
	faxes []inbound.Fax
}

func (d *dispatcher) Dispatch(_ context.Context, f inbound.Fax) (inbound.Decision, error) {
	d.faxes = append(d.faxes, f)
	return d.dec, nil
}

// The archive adapter reads received faxes for routing and deliveries,
// translating the archive's records and errors into inbound's and
// notify's, and records each routing outcome back in the archive.
func TestArchivedAdapter(t *testing.T) {
	ctx := context.Background()
	st := faxarchive.NewStore(pgtest.NewDB(t))
	pdf := []byte("%PDF-1.4 a received fax")
	sum := sha256.Sum256(pdf)
	sha := hex.EncodeToString(sum[:])
	if err := st.PutDocument(ctx, sha, "application/pdf", pdf); err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	put := func(r faxarchive.Record) faxarchive.Record {
		t.Helper()
		r.Source, r.FinishedAt = "q1", at
		if _, err := st.Upsert(ctx, r); err != nil {
			t.Fatal(err)
		}
		return r
	}
	rx := put(faxarchive.Record{Key: "rx-1", Version: 2, Direction: faxarchive.Inbound, Result: "received", LocalNumber: "+4930100",
		RemoteNumber: "+4989123", RemoteStationID: "ACME", Pages: 2, NodeID: "n1", DocumentSHA256: sha})
	empty := put(faxarchive.Record{Key: "rx-empty", Version: 1, Direction: faxarchive.Inbound, Result: "receive_failed"})
	put(faxarchive.Record{Key: "tx-1", Version: 1, Direction: faxarchive.Outbound, Result: "sent", DocumentSHA256: sha})
	src := inbound.Archived{Store: st}

	f, err := src.Fax(ctx, "rx-1")
	if err != nil {
		t.Fatal(err)
	}
	if f.Ref != "rx-1" || f.DID != "+4930100" || f.Caller != "+4989123" || f.RemoteID != "ACME" || f.Pages != 2 || f.Node != "n1" || !f.FinishedAt.Equal(at) {
		t.Errorf("fax = %+v", f)
	}
	for _, ref := range []string{"nope", "tx-1"} {
		if _, err := src.Fax(ctx, ref); !errors.Is(err, inbound.ErrNotFound) {
			t.Errorf("Fax(%s): %v, want inbound.ErrNotFound", ref, err)
		}
	}
	if got, err := src.PDF(ctx, "rx-1"); err != nil || string(got) != string(pdf) {
		t.Errorf("PDF = %q, %v", got, err)
	}
	for _, ref := range []string{"nope", "rx-empty"} {
		if _, err := src.PDF(ctx, ref); !errors.Is(err, notify.ErrNoDocument) {
			t.Errorf("PDF(%s): %v, want notify.ErrNoDocument", ref, err)
		}
	}

	routing := func(key string) (string, string) {
		t.Helper()
		r, err := st.GetByKey(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		return r.Routing, r.RoutedTo
	}
	// A newer version than the archive holds is not routed yet.
	d := &dispatcher{dec: inbound.Decision{Rule: &inbound.Rule{}, Destination: "mailbox:sales"}}
	newer := rx
	newer.Version = 3
	if _, err := inbound.RouteArchived(ctx, st, d, newer); !errors.Is(err, faxarchive.ErrNotFound) || len(d.faxes) != 0 {
		t.Errorf("newer version: %v, %d dispatches", err, len(d.faxes))
	}
	// A fax without pages is dispatched like any other; with no rule for
	// it, it stays unrouted in the archive.
	d.dec = inbound.Decision{Destination: inbound.Unrouted}
	if dec, err := inbound.RouteArchived(ctx, st, d, empty); err != nil || dec.Destination != inbound.Unrouted || len(d.faxes) != 1 || d.faxes[0].Pages != 0 {
		t.Errorf("no pages: %+v %v, dispatched %+v", dec, err, d.faxes)
	}
	if r, to := routing("rx-empty"); r != faxarchive.Unrouted || to != "" {
		t.Errorf("no-page fax without a rule: routing %q to %q", r, to)
	}
	d.faxes, d.dec = nil, inbound.Decision{Rule: &inbound.Rule{}, Destination: "mailbox:sales"}
	for _, tc := range []struct {
		dec         inbound.Decision
		routing, to string
	}{
		{inbound.Decision{Rule: &inbound.Rule{}, Destination: "mailbox:sales"}, faxarchive.Routed, "mailbox:sales"},
		{inbound.Decision{Destination: inbound.Unrouted}, faxarchive.Unrouted, ""},
		{inbound.Decision{Destination: "email:ops@example.com"}, faxarchive.Rerouted, "email:ops@example.com"},
	} {
		d.dec = tc.dec
		if _, err := inbound.RouteArchived(ctx, st, d, rx); err != nil {
			t.Fatal(err)
		}
		if r, to := routing("rx-1"); r != tc.routing || to != tc.to {
			t.Errorf("after %+v: routing %q to %q, want %q to %q", tc.dec, r, to, tc.routing, tc.to)
		}
	}
	if len(d.faxes) != 3 || d.faxes[0].Ref != "rx-1" {
		t.Errorf("dispatched %+v", d.faxes)
	}
}
