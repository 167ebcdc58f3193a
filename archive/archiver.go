package archive

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// ConsumerName is the durable consumer every node's archiver shares, so
// each message is archived by one of them.
const ConsumerName = "archiver"

// Archiver moves records from the stream into the archive database.
type Archiver struct {
	store   *Store
	js      jetstream.JetStream
	objects jetstream.ObjectStore
	log     *slog.Logger
	// Retry is the pause before a message that could not be stored is
	// delivered again (the archive database is down, say).
	Retry time.Duration
}

// NewArchiver ensures the stream and the durable consumer exist.
func NewArchiver(ctx context.Context, store *Store, js jetstream.JetStream, log *slog.Logger, sc StreamConfig) (*Archiver, error) {
	obj, err := EnsureStream(ctx, js, sc)
	if err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.Default()
	}
	return &Archiver{store: store, js: js, objects: obj, log: log, Retry: 2 * time.Second}, nil
}

func (a *Archiver) consumer(ctx context.Context) (jetstream.Consumer, error) {
	return a.js.CreateOrUpdateConsumer(ctx, StreamName, jetstream.ConsumerConfig{
		Durable:       ConsumerName,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       10 * time.Second, // a batch takes well under a second; a lost one comes back soon
		MaxDeliver:    -1,               // a record is never given up: the database comes back
		FilterSubject: SubjectPrefix + ">",
		MaxAckPending: 1000,
	})
}

// Run archives until ctx ends; while NATS or the database is down it
// waits and retries.
func (a *Archiver) Run(ctx context.Context) error {
	for ctx.Err() == nil {
		cons, err := a.consumer(ctx)
		if err != nil {
			a.log.Warn("archiver: consumer unavailable", "err", err)
			sleep(ctx, a.Retry)
			continue
		}
		for ctx.Err() == nil {
			batch, err := cons.Fetch(100, jetstream.FetchMaxWait(time.Second))
			if err != nil {
				if ctx.Err() == nil {
					a.log.Warn("archiver: fetch", "err", err)
					sleep(ctx, a.Retry)
				}
				break // recreate the consumer handle: the stream may have moved
			}
			for msg := range batch.Messages() {
				a.handle(ctx, msg)
			}
			if err := batch.Error(); err != nil && !errors.Is(err, jetstream.ErrNoMessages) && ctx.Err() == nil {
				a.log.Debug("archiver: batch", "err", err)
			}
		}
	}
	return nil
}

func sleep(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

// handle stores one message, acknowledging it only once it is written.
func (a *Archiver) handle(ctx context.Context, msg jetstream.Msg) {
	rec, err := decode(msg)
	if err != nil {
		// Nothing later will make it decodable; it stays in the stream for
		// an operator, and the log says where.
		meta, _ := msg.Metadata()
		seq := uint64(0)
		if meta != nil {
			seq = meta.Sequence.Stream
		}
		a.log.Error("archiver: undecodable record left in the stream", "stream_seq", seq, "subject", msg.Subject(), "err", err)
		_ = msg.Term()
		return
	}
	if err := a.store1(ctx, msg, rec); err != nil {
		if ctx.Err() == nil {
			a.log.Warn("archiver: will retry", "key", rec.Key, "err", err)
		}
		_ = msg.NakWithDelay(a.Retry)
		return
	}
	if err := msg.DoubleAck(ctx); err != nil && ctx.Err() == nil {
		// Redelivered later and stored again as a no-op.
		a.log.Warn("archiver: ack", "key", rec.Key, "err", err)
	}
}

func (a *Archiver) store1(ctx context.Context, msg jetstream.Msg, rec Record) error {
	if sha := msg.Headers().Get(hdrDocSHA); sha != "" {
		res, err := a.objects.Get(ctx, sha)
		if err != nil {
			return fmt.Errorf("document %s: %w", sha, err)
		}
		data, err := io.ReadAll(res)
		res.Close()
		if err != nil {
			return fmt.Errorf("document %s: %w", sha, err)
		}
		if err := a.store.PutDocument(ctx, sha, msg.Headers().Get(hdrDocType), data); err != nil {
			return err
		}
		rec.DocumentSHA256 = sha
	}
	_, err := a.store.Upsert(ctx, rec)
	return err
}

// decode turns a stream message into a Record.
func decode(msg jetstream.Msg) (Record, error) {
	h := msg.Headers()
	source, key, topic := h.Get(hdrSource), h.Get(hdrKey), h.Get(hdrTopic)
	version, err := strconv.ParseInt(h.Get(hdrOutboxID), 10, 64)
	if err != nil || source == "" || key == "" {
		return Record{}, fmt.Errorf("missing or bad %s/%s/%s headers", hdrSource, hdrKey, hdrOutboxID)
	}
	var rec Record
	switch topic {
	case TopicJobFinished:
		rec, err = fromJob(msg.Data())
		key = "job/" + key
	case TopicRecord:
		err = json.Unmarshal(msg.Data(), &rec)
	default:
		err = fmt.Errorf("unknown topic %q", topic)
	}
	if err != nil {
		return Record{}, err
	}
	rec.Source, rec.Version, rec.Key = source, version, source+"/"+key
	return rec, nil
}

// jobRow is the part of the queue's job row (as the outbox holds it) that
// the archive keeps. Optional details an outbound channel records in the
// job's metadata (gateway, remote station id, timings) are picked up too.
type jobRow struct {
	ID             int64          `json:"id"`
	State          string         `json:"state"`
	Destination    string         `json:"destination"`
	CallerID       string         `json:"caller_id"`
	Header         string         `json:"header"`
	Document       string         `json:"document"`
	Submitter      string         `json:"submitter"`
	Metadata       map[string]any `json:"metadata"`
	PagesTotal     int            `json:"pages_total"`
	PagesConfirmed int            `json:"pages_confirmed"`
	Attempts       int            `json:"attempts"`
	NodeID         string         `json:"node_id"`
	LastClass      string         `json:"last_class"`
	LastReason     string         `json:"last_reason"`
	CreatedAt      time.Time      `json:"created_at"`
	ClaimedAt      *time.Time     `json:"claimed_at"`
	FinishedAt     *time.Time     `json:"finished_at"`
	UpdatedAt      time.Time      `json:"updated_at"`
}

func fromJob(payload []byte) (Record, error) {
	var j jobRow
	if err := json.Unmarshal(payload, &j); err != nil {
		return Record{}, fmt.Errorf("job record: %w", err)
	}
	if j.ID == 0 || j.State == "" {
		return Record{}, errors.New("job record without id or state")
	}
	r := Record{
		Direction: Outbound, Result: j.State, Reason: j.LastReason, Class: j.LastClass,
		LocalNumber: j.CallerID, RemoteNumber: j.Destination, Header: j.Header,
		Pages: j.PagesConfirmed, PagesTotal: j.PagesTotal, Attempts: j.Attempts,
		NodeID: j.NodeID, Submitter: j.Submitter, JobID: j.ID, SubmittedAt: j.CreatedAt,
		Document: j.Document, Metadata: j.Metadata, FinishedAt: j.UpdatedAt,
	}
	if j.FinishedAt != nil {
		r.FinishedAt = *j.FinishedAt
	}
	if j.ClaimedAt != nil {
		r.StartedAt = *j.ClaimedAt
		r.DurationMS = r.FinishedAt.Sub(r.StartedAt).Milliseconds()
	}
	if d, ok := j.Metadata["result"].(map[string]any); ok {
		r.Gateway, _ = d["gateway"].(string)
		r.RemoteStationID, _ = d["remote_station_id"].(string)
		if ms, ok := d["duration_ms"].(float64); ok {
			r.DurationMS = int64(ms)
		}
	}
	return r, nil
}

// documentRef reads the document reference of a job row or a record.
func documentRef(payload []byte) string {
	var j struct {
		Document string `json:"document"`
	}
	_ = json.Unmarshal(payload, &j)
	return j.Document
}
