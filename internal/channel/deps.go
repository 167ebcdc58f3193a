package channel

import (
	"context"
	"errors"
	"time"

	"github.com/faxd/faxd/internal/calltrace"
	"github.com/faxd/faxd/t38/bilevel"
)

// ErrNoDocument is wrapped by Documents.Pages when the reference names
// nothing: the job can never be sent (a permanent failure).
var ErrNoDocument = errors.New("channel: no such document")

// Documents is where the channels read the pages to send and store the
// faxes they receive.
type Documents interface {
	// Pages returns a job's prepared pages.
	Pages(ctx context.Context, ref string) ([]*bilevel.Image, error)
	// PutReceived stores a received fax, as received (TIFF Class F) and as
	// PDF, and returns its document reference.
	PutReceived(ctx context.Context, d ReceivedDocument) (ref string, err error)
}

// Traces keeps call traces (calltrace.Store).
type Traces interface {
	Save(ctx context.Context, t calltrace.Trace) (int64, error)
}

// ReceivedDocument is a received fax's files.
type ReceivedDocument struct {
	Key   string // the archive record key: unique per node and call
	TIFF  []byte
	PDF   []byte
	Pages int
}

// InboundRouter hands a received fax to inbound routing (rules on the
// dialled number). It must be idempotent per ReceivedFax.Ref.
type InboundRouter interface {
	RouteReceived(ctx context.Context, f ReceivedFax) (Routed, error)
}

// ReceivedFax is what inbound routing learns of a received fax.
type ReceivedFax struct {
	Ref             string // the archive record key
	Document        string // Documents reference ("" when no page arrived)
	DID             string // the dialled number
	Caller          string // the calling number ("" when withheld)
	RemoteStationID string // the sender's TSI
	Pages           int
	Result          string // received or receive_failed
	Reason          string
	Gateway         string
	Node            string
	StartedAt       time.Time
	FinishedAt      time.Time
}

// Routed says where inbound routing sent a fax.
type Routed struct {
	Unrouted    bool   // no rule matched: kept in the archive for an administrator
	Destination string // e.g. mailbox:sales
}
