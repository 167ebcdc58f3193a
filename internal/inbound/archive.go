package inbound

import (
	"context"
	"errors"
	"fmt"

	"github.com/faxd/faxd/archive"
	"github.com/faxd/faxd/internal/notify"
)

// Archived adapts the shared archive to what inbound routing and notify's
// deliveries read: it is a FaxSource and a notify.Documents. The archive
// is a lower layer that knows nothing of either, so the translation of
// records and errors lives here, in its consumer.
type Archived struct{ Store *archive.Store }

// FaxOf is the received fax an archive record describes; its reference is
// the record key.
func FaxOf(r archive.Record) Fax {
	return Fax{Ref: r.Key, DID: r.LocalNumber, Caller: r.RemoteNumber, RemoteID: r.RemoteStationID,
		Pages: r.Pages, Result: r.Result, Reason: r.Reason, Gateway: r.Gateway, Node: r.NodeID,
		StartedAt: r.StartedAt, FinishedAt: r.FinishedAt}
}

// Fax implements FaxSource: the received fax archived under the record
// key ref.
func (a Archived) Fax(ctx context.Context, ref string) (Fax, error) {
	r, err := a.Store.GetByKey(ctx, ref)
	if errors.Is(err, archive.ErrNotFound) {
		return Fax{}, fmt.Errorf("%w: received fax %s", ErrNotFound, ref)
	}
	if err != nil {
		return Fax{}, err
	}
	if r.Direction != archive.Inbound {
		return Fax{}, fmt.Errorf("%w: %s is not a received fax", ErrNotFound, ref)
	}
	return FaxOf(r), nil
}

// PDF implements FaxSource and notify.Documents: the fax's document as
// PDF. A fax or document that is gone (purged, or a fax that arrived
// without pages) wraps notify.ErrNoDocument, so a delivery fails at once
// instead of retrying.
func (a Archived) PDF(ctx context.Context, ref string) ([]byte, error) {
	r, err := a.Store.GetByKey(ctx, ref)
	if errors.Is(err, archive.ErrNotFound) {
		return nil, fmt.Errorf("%w: fax %s is not in the archive", notify.ErrNoDocument, ref)
	}
	if err != nil {
		return nil, err
	}
	data, err := a.Store.RecordPDF(ctx, r)
	if errors.Is(err, archive.ErrNotFound) {
		return nil, fmt.Errorf("%w: %v", notify.ErrNoDocument, err)
	}
	return data, err
}

// Dispatcher is what RouteArchived needs of routing (a *Router).
type Dispatcher interface {
	Dispatch(ctx context.Context, fax Fax) (Decision, error)
}

// RouteArchived routes an archived received fax once (Dispatch is
// idempotent per fax) and records the outcome in the archive: routed with
// its destination, or unrouted for an administrator. rec is the record as
// it came off the stream: until the archive holds that version of it the
// answer wraps archive.ErrNotFound, so a follower of the stream retries
// (and a record archived again cannot undo the routing it records). A fax
// without pages is routed like any other: only rules whose pages
// condition is none or any can match it, so by default it stays unrouted.
func RouteArchived(ctx context.Context, st *archive.Store, d Dispatcher, rec archive.Record) (Decision, error) {
	key := rec.Key
	r, err := st.GetByKey(ctx, key)
	if err != nil {
		return Decision{}, err
	}
	if r.Version < rec.Version {
		return Decision{}, fmt.Errorf("%w: version %d of %s not archived yet", archive.ErrNotFound, rec.Version, key)
	}
	if r.Direction != archive.Inbound {
		return Decision{Destination: Unrouted}, nil
	}
	dec, err := d.Dispatch(ctx, FaxOf(r))
	if err != nil {
		return Decision{}, err
	}
	routing, to := archive.Routed, dec.Destination
	switch {
	case dec.Destination == Unrouted:
		routing, to = archive.Unrouted, ""
	case dec.Rule == nil:
		routing = archive.Rerouted // a repeat after an administrator moved it
	}
	if r.Routing != routing || r.RoutedTo != to {
		if err := st.SetRouting(ctx, key, routing, to); err != nil {
			return Decision{}, err
		}
	}
	return dec, nil
}
