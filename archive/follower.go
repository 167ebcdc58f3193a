package archive

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Message is one record of the stream as a Follower's handler sees it.
type Message struct {
	Topic string // TopicRecord or TopicJobFinished
	// Record is the decoded record; Record.Key is unique across sources
	// (source/key), so handlers use it as their idempotency key.
	Record Record
	// Payload is the outbox payload as written: for TopicJobFinished the
	// queue's job row, with fields the Record does not keep (callback_url).
	Payload []byte
	// DocumentSHA256 and DocumentType name the document the relay put in
	// the object store, if any.
	DocumentSHA256, DocumentType string
	// Deletion is set for TopicJobDeleted and TopicRecordDeleted: the
	// fax's tombstone.
	Deletion *Deletion
}

// ErrTerminal, wrapped by a handler's error, says handling can never
// succeed: the message is not redelivered (it stays in the stream, and
// the log says so).
var ErrTerminal = errors.New("archive: message cannot be handled")

// Handler handles one message. nil acknowledges it; an error has it
// redelivered after the Follower's Retry pause, unless it wraps
// ErrTerminal. Handlers must be idempotent: a message is delivered at
// least once.
type Handler func(ctx context.Context, m Message) error

// Follower is a durable consumer of the stream that runs on every node:
// the nodes share one consumer, so each message is handled by one of
// them, and it is acknowledged only once handled. The archiver is one;
// submitters' completion notices and inbound routing are others, each
// with its own position in the stream.
type Follower struct {
	js     jetstream.JetStream
	cfg    jetstream.ConsumerConfig
	handle Handler
	log    *slog.Logger
	// Retry is the pause before a message whose handling failed is
	// delivered again (a database is down, say).
	Retry time.Duration
}

// FollowerOptions configure NewFollower.
type FollowerOptions struct {
	// Name of the durable consumer; every node uses the same.
	Name string
	// Topics to follow (TopicRecord, TopicJobFinished); none: all.
	Topics []string
	// FromNow starts a consumer created now at the stream's end, so that
	// adding a follower to a running cluster does not replay the
	// stream's history (old faxes notified or routed again). Once
	// created, the consumer keeps its position whatever this says.
	FromNow bool
	Logger  *slog.Logger
	Stream  StreamConfig
	Retry   time.Duration // default 2s
}

// NewFollower ensures the stream and the durable consumer exist.
func NewFollower(ctx context.Context, js jetstream.JetStream, o FollowerOptions, h Handler) (*Follower, error) {
	if _, err := EnsureStream(ctx, js, o.Stream); err != nil {
		return nil, err
	}
	f := &Follower{js: js, handle: h, log: o.Logger, Retry: o.Retry}
	if f.log == nil {
		f.log = slog.Default()
	}
	if f.Retry <= 0 {
		f.Retry = 2 * time.Second
	}
	f.cfg = jetstream.ConsumerConfig{
		Durable:       o.Name,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       30 * time.Second, // a lost batch comes back soon
		MaxDeliver:    -1,               // never given up: the database comes back
		MaxAckPending: 1000,
	}
	if o.FromNow {
		f.cfg.DeliverPolicy = jetstream.DeliverNewPolicy
	}
	switch len(o.Topics) {
	case 0:
		f.cfg.FilterSubject = SubjectPrefix + ">"
	case 1:
		f.cfg.FilterSubject = SubjectPrefix + o.Topics[0]
	default:
		for _, t := range o.Topics {
			f.cfg.FilterSubjects = append(f.cfg.FilterSubjects, SubjectPrefix+t)
		}
	}
	// Create it now, so that what is published from here on is kept for
	// it even before Run starts.
	if _, err := f.consumer(ctx); err != nil {
		return nil, err
	}
	return f, nil
}

func (f *Follower) consumer(ctx context.Context) (jetstream.Consumer, error) {
	if c, err := f.js.Consumer(ctx, StreamName, f.cfg.Durable); err == nil {
		return c, nil // keep its position and its deliver policy as created
	}
	return f.js.CreateOrUpdateConsumer(ctx, StreamName, f.cfg)
}

// Run handles messages until ctx ends; while NATS is down it waits and
// retries.
func (f *Follower) Run(ctx context.Context) error {
	for ctx.Err() == nil {
		cons, err := f.consumer(ctx)
		if err != nil {
			f.log.Warn("consumer unavailable", "consumer", f.cfg.Durable, "err", err)
			sleep(ctx, f.Retry)
			continue
		}
		for ctx.Err() == nil {
			batch, err := cons.Fetch(100, jetstream.FetchMaxWait(time.Second))
			if err != nil {
				if ctx.Err() == nil {
					f.log.Warn("fetch", "consumer", f.cfg.Durable, "err", err)
					sleep(ctx, f.Retry)
				}
				break // recreate the consumer handle: the stream may have moved
			}
			for msg := range batch.Messages() {
				f.deliver(ctx, msg)
			}
			if err := batch.Error(); err != nil && !errors.Is(err, jetstream.ErrNoMessages) && ctx.Err() == nil {
				f.log.Debug("batch", "consumer", f.cfg.Durable, "err", err)
			}
		}
	}
	return nil
}

// notYetWarnAfter is how many deliveries of a record that is not archived
// yet are an ordinary wait: a follower often sees a result a moment
// before the archiver has stored it. Past that, something is wrong.
const notYetWarnAfter = 5

// retryLevel is the log level of a retry: debug while the record is
// merely not archived yet, a warning otherwise.
func retryLevel(msg jetstream.Msg, err error) slog.Level {
	if errors.Is(err, ErrNotFound) {
		if meta, _ := msg.Metadata(); meta != nil && meta.NumDelivered <= notYetWarnAfter {
			return slog.LevelDebug
		}
	}
	return slog.LevelWarn
}

func sleep(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

// deliver handles one message, acknowledging it only once handled.
func (f *Follower) deliver(ctx context.Context, msg jetstream.Msg) {
	m, err := decode(msg)
	if err == nil {
		if err = f.handle(ctx, m); err == nil {
			if err := msg.DoubleAck(ctx); err != nil && ctx.Err() == nil {
				// Redelivered later and handled again: handlers are idempotent.
				f.log.Warn("ack", "consumer", f.cfg.Durable, "key", m.Record.Key, "err", err)
			}
			return
		}
		if !errors.Is(err, ErrTerminal) {
			if ctx.Err() == nil {
				f.log.Log(ctx, retryLevel(msg, err), "will retry", "consumer", f.cfg.Durable, "key", m.Record.Key, "err", err)
			}
			_ = msg.NakWithDelay(f.Retry)
			return
		}
	}
	// Nothing later will make it work; it stays in the stream for an
	// operator, and the log says where.
	seq := uint64(0)
	if meta, _ := msg.Metadata(); meta != nil {
		seq = meta.Sequence.Stream
	}
	f.log.Error("record left in the stream", "consumer", f.cfg.Durable, "stream_seq", seq, "subject", msg.Subject(), "err", err)
	_ = msg.Term()
}
