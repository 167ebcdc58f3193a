package archive

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Stream layout. The stream keeps messages after they are archived (limits
// retention) so that an archive restored from a backup can be replayed.
const (
	StreamName    = "FAXD_ARCHIVE"
	SubjectPrefix = "faxd.archive."
	ObjectBucket  = "faxd-documents"
	// TopicRecord carries a ready Record (received faxes and anything else
	// that is not a queue job).
	TopicRecord = "archive.record"
	// TopicJobFinished is what the queue writes when a job ends.
	TopicJobFinished = "queue.job.finished"

	hdrSource   = "Faxd-Source"
	hdrOutboxID = "Faxd-Outbox-Id"
	hdrKey      = "Faxd-Key"
	hdrTopic    = "Faxd-Topic"
	hdrDocSHA   = "Faxd-Document-Sha256"
	hdrDocType  = "Faxd-Document-Type"
)

// StreamConfig tunes the stream; zero fields take defaults.
type StreamConfig struct {
	Replicas int           // 1 for one server, 3 in a NATS cluster
	MaxAge   time.Duration // default 30 days
}

// EnsureStream creates or updates the stream and the document bucket.
func EnsureStream(ctx context.Context, js jetstream.JetStream, c StreamConfig) (jetstream.ObjectStore, error) {
	if c.Replicas <= 0 {
		c.Replicas = 1
	}
	if c.MaxAge <= 0 {
		c.MaxAge = 30 * 24 * time.Hour
	}
	_, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:       StreamName,
		Subjects:   []string{SubjectPrefix + ">"},
		Storage:    jetstream.FileStorage,
		Retention:  jetstream.LimitsPolicy,
		Replicas:   c.Replicas,
		MaxAge:     c.MaxAge,
		Duplicates: 10 * time.Minute, // a row republished after a relay crash is dropped by JetStream
	})
	if err != nil {
		return nil, fmt.Errorf("archive: stream %s: %w", StreamName, err)
	}
	obj, err := js.CreateOrUpdateObjectStore(ctx, jetstream.ObjectStoreConfig{
		Bucket: ObjectBucket, Storage: jetstream.FileStorage, Replicas: c.Replicas, TTL: c.MaxAge,
	})
	if err != nil {
		return nil, fmt.Errorf("archive: object store %s: %w", ObjectBucket, err)
	}
	return obj, nil
}

// ErrNoDocument from a DocumentSource means the reference names nothing it
// can fetch, now or later: the record is archived without its document
// rather than held back for ever.
var ErrNoDocument = errors.New("archive: no such document")

// DocumentSource fetches the document a queue job refers to, so that the
// archive keeps its own copy. The queue's document store implements it.
type DocumentSource interface {
	Document(ctx context.Context, ref string) (sha256, contentType string, data []byte, err error)
}

// Emit writes a ready record to the outbox inside the caller's transaction
// (for example the inbound channel's, together with its own writes).
func Emit(ctx context.Context, tx interface {
	Exec(context.Context, string, ...any) (pgconn.CommandTag, error)
}, r Record) error {
	if r.Key == "" {
		return errors.New("archive: emit: record without key")
	}
	if _, err := tx.Exec(ctx, sqlOutboxInsert, TopicRecord, r.Key, r); err != nil {
		return fmt.Errorf("archive: emit %s: %w", r.Key, err)
	}
	return nil
}

// Relay publishes outbox rows of one queue database to the stream.
type Relay struct {
	pool    *pgxpool.Pool
	js      jetstream.JetStream
	objects jetstream.ObjectStore
	docs    DocumentSource
	stream  StreamConfig
	source  string
	log     *slog.Logger
	batch   int
	poll    time.Duration
}

// RelayOptions configure NewRelay.
type RelayOptions struct {
	Docs   DocumentSource // nil: records are archived without their document
	Logger *slog.Logger
	Batch  int           // rows per transaction; default 100
	Poll   time.Duration // fall-back polling when no notification comes; default 1s
	Stream StreamConfig
}

// NewRelay prepares a relay for the queue database behind pool.
func NewRelay(ctx context.Context, pool *pgxpool.Pool, js jetstream.JetStream, o RelayOptions) (*Relay, error) {
	r := &Relay{pool: pool, js: js, docs: o.Docs, stream: o.Stream, log: o.Logger, batch: o.Batch, poll: o.Poll}
	if r.log == nil {
		r.log = slog.Default()
	}
	if r.batch <= 0 {
		r.batch = 100
	}
	if r.poll <= 0 {
		r.poll = time.Second
	}
	if err := pool.QueryRow(ctx, sqlSourceID).Scan(&r.source); err != nil {
		return nil, fmt.Errorf("archive: queue database identity: %w", err)
	}
	return r, nil
}

// Source names the queue database in record keys.
func (r *Relay) Source() string { return r.source }

// Pending counts the outbox rows not yet published (a metric: it grows
// while NATS is down).
func (r *Relay) Pending(ctx context.Context) (int64, error) {
	var n int64
	err := r.pool.QueryRow(ctx, sqlOutboxPending).Scan(&n)
	return n, err
}

// OldestPending is how long the oldest unpublished outbox row has waited:
// the archive's lag behind the queue; 0 when none waits.
func (r *Relay) OldestPending(ctx context.Context) (time.Duration, error) {
	var secs float64
	if err := r.pool.QueryRow(ctx, sqlOutboxOldest).Scan(&secs); err != nil {
		return 0, err
	}
	return time.Duration(secs * float64(time.Second)), nil
}

// relayLease is how long a claimed batch is this relay's: longer than a
// batch takes to publish (each message and document has a 10 s timeout).
// A relay that dies leaves its batch to the others after it.
const relayLease = 5 * time.Minute

// PublishOnce claims one batch (a lease, committed at once), publishes it
// with no transaction open, and marks what was published. If publishing
// fails the rest of the batch is released and tried again; a row published
// but not marked (a crash in between) is published again and dropped by
// the stream's duplicate window and by the archive's version check.
func (r *Relay) PublishOnce(ctx context.Context) (int, error) {
	if r.objects == nil {
		// With the configured replicas: a zero config would turn the
		// stream and the bucket into single copies, on whichever server,
		// and a lost site would take them along.
		obj, err := EnsureStream(ctx, r.js, r.stream)
		if err != nil {
			return 0, err
		}
		r.objects = obj
	}
	// While disconnected a publish would wait for its timeout; fail at
	// once and let Run retry.
	if !r.js.Conn().IsConnected() {
		return 0, errNotConnected
	}
	type row struct {
		id         int64
		topic, key string
		payload    []byte
	}
	rows, err := r.pool.Query(ctx, sqlOutboxClaim, r.batch, relayLease.Microseconds())
	if err != nil {
		return 0, fmt.Errorf("archive: relay: %w", err)
	}
	batch, err := pgx.CollectRows(rows, func(cr pgx.CollectableRow) (row, error) {
		var x row
		err := cr.Scan(&x.id, &x.topic, &x.key, &x.payload)
		return x, err
	})
	if err != nil {
		return 0, fmt.Errorf("archive: relay: %w", err)
	}
	if len(batch) == 0 {
		return 0, nil
	}
	// RETURNING has no order: publish in outbox order.
	slices.SortFunc(batch, func(a, b row) int { return cmp.Compare(a.id, b.id) })
	done := make([]int64, 0, len(batch))
	var perr error
	for _, x := range batch {
		if perr = r.publish(ctx, x.id, x.topic, x.key, x.payload); perr != nil {
			break
		}
		done = append(done, x.id)
	}
	// Record the outcome even if ctx ends now: a lost mark republishes.
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if len(done) > 0 {
		if _, err := r.pool.Exec(wctx, sqlOutboxPublished, done); err != nil {
			return 0, fmt.Errorf("archive: relay: mark published: %w", err)
		}
	}
	if perr != nil {
		rest := make([]int64, 0, len(batch)-len(done))
		for _, x := range batch[len(done):] {
			rest = append(rest, x.id)
		}
		if _, err := r.pool.Exec(wctx, sqlOutboxRelease, rest); err != nil {
			r.log.Warn("archive relay: releasing unpublished rows; they wait for the lease", "err", err)
		}
		return len(done), fmt.Errorf("archive: relay: %w", perr)
	}
	return len(done), nil
}

func (r *Relay) publish(ctx context.Context, id int64, topic, key string, payload []byte) error {
	return r.publishWithID(ctx, id, topic, key, payload, r.source+"/"+strconv.FormatInt(id, 10))
}

// publishWithID publishes an outbox row under the given JetStream message
// id, which the stream uses to drop a repeat within its duplicate window.
func (r *Relay) publishWithID(ctx context.Context, id int64, topic, key string, payload []byte, msgID string) error {
	msg := nats.NewMsg(SubjectPrefix + topic)
	msg.Data = payload
	msg.Header.Set(hdrSource, r.source)
	msg.Header.Set(hdrOutboxID, strconv.FormatInt(id, 10))
	msg.Header.Set(hdrKey, key)
	msg.Header.Set(hdrTopic, topic)
	msg.Header.Set(jetstream.MsgIDHeader, msgID)
	if r.docs != nil { // job rows and ready records both name theirs in "document"
		if ref := documentRef(payload); ref != "" {
			sha, ctype, data, err := r.docs.Document(ctx, ref)
			switch {
			case errors.Is(err, ErrNoDocument):
				r.log.Warn("archive relay: record archived without its document", "outbox_id", id, "document", ref, "err", err)
			case err != nil:
				return fmt.Errorf("document %s of outbox row %d: %w", ref, id, err)
			default:
				if err := r.putObject(ctx, sha, data); err != nil {
					return err
				}
				msg.Header.Set(hdrDocSHA, sha)
				msg.Header.Set(hdrDocType, ctype)
			}
		}
	}
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := r.js.PublishMsg(pctx, msg); err != nil {
		return fmt.Errorf("publish outbox row %d: %w", id, err)
	}
	return nil
}

// putObject stores a document once under its hash; its content type
// travels in the record message's header.
func (r *Relay) putObject(ctx context.Context, sha string, data []byte) error {
	if _, err := r.objects.GetInfo(ctx, sha); err == nil {
		return nil
	} else if !errors.Is(err, jetstream.ErrObjectNotFound) {
		return fmt.Errorf("document %s: %w", sha, err)
	}
	_, err := r.objects.PutBytes(ctx, sha, data)
	if err != nil {
		return fmt.Errorf("document %s: %w", sha, err)
	}
	return nil
}

var errNotConnected = errors.New("archive: relay: NATS not connected")

// Run publishes until ctx ends: woken by the outbox trigger's NOTIFY, and
// by polling when notifications are unavailable.
func (r *Relay) Run(ctx context.Context) error {
	wake := make(chan struct{}, 1)
	go r.listen(ctx, wake)
	backoff := r.poll
	for ctx.Err() == nil {
		n, err := r.PublishOnce(ctx)
		switch {
		case errors.Is(err, errNotConnected):
			backoff = r.poll // checking costs nothing: resume as soon as NATS is back
		case err != nil:
			if ctx.Err() == nil {
				r.log.Warn("archive relay: outbox rows wait for the next try", "err", err, "retry_in", backoff)
			}
			backoff = min(backoff*2, 5*time.Second) // short: catching up after an outage matters more than quiet logs
		case n == r.batch:
			continue // more waiting: no pause
		default:
			backoff = r.poll
		}
		select {
		case <-ctx.Done():
		case <-wake:
		case <-time.After(backoff):
		}
	}
	return nil
}

// listen forwards outbox notifications to wake until ctx ends.
func (r *Relay) listen(ctx context.Context, wake chan<- struct{}) {
	for ctx.Err() == nil {
		conn, err := r.pool.Acquire(ctx)
		if err == nil {
			if _, err = conn.Exec(ctx, "LISTEN faxd_outbox"); err == nil {
				for {
					if _, err = conn.Conn().WaitForNotification(ctx); err != nil {
						break
					}
					select {
					case wake <- struct{}{}:
					default:
					}
				}
			}
			// A connection that was listening must not go back to the pool.
			conn.Conn().Close(context.Background())
			conn.Release()
		}
		select {
		case <-ctx.Done():
		case <-time.After(r.poll):
		}
	}
}
