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

// Archiver moves records from the stream into the archive database: a
// Follower of every topic whose handler upserts.
type Archiver struct {
	*Follower
	store   *Store
	objects jetstream.ObjectStore
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
	a := &Archiver{store: store, objects: obj}
	a.Follower, err = NewFollower(ctx, js, FollowerOptions{Name: ConsumerName, Logger: log, Stream: sc}, a.store1)
	if err != nil {
		return nil, err
	}
	return a, nil
}

// store1 stores one record and its document.
func (a *Archiver) store1(ctx context.Context, m Message) error {
	rec := m.Record
	switch {
	case m.Deletion != nil && m.Topic == TopicRecordDeleted:
		return a.deleteRecord(ctx, rec.Key, *m.Deletion)
	case m.Deletion != nil:
		return a.store.Tombstone(ctx, rec.Key, rec.Version, *m.Deletion)
	}
	if sha := m.DocumentSHA256; sha != "" {
		res, err := a.objects.Get(ctx, sha)
		if err != nil {
			return fmt.Errorf("document %s: %w", sha, err)
		}
		data, err := io.ReadAll(res)
		res.Close()
		if err != nil {
			return fmt.Errorf("document %s: %w", sha, err)
		}
		if err := a.store.PutDocument(ctx, sha, m.DocumentType, data); err != nil {
			return err
		}
		rec.DocumentSHA256 = sha
	}
	_, err := a.store.Upsert(ctx, rec)
	return err
}

// deleteRecord applies a received fax's deletion and removes the copy of
// its document the relay left in the object store: a privacy deletion
// leaves no page behind. Only for records deleted by key (received faxes,
// whose pages are theirs alone): a job's document may be shared with jobs
// whose messages still need the object.
// The hash travels in the deletion: the API applies it to the archive
// database at once, so the record has none by now.
func (a *Archiver) deleteRecord(ctx context.Context, key string, d Deletion) error {
	if sha := d.DocumentSHA256; sha != "" {
		if err := a.objects.Delete(ctx, sha); err != nil && !errors.Is(err, jetstream.ErrObjectNotFound) {
			return fmt.Errorf("archive: delete object %s of %s: %w", sha, key, err)
		}
	}
	return a.store.DeleteRecord(ctx, key, d)
}

// decode turns a stream message into a Message.
func decode(msg jetstream.Msg) (Message, error) {
	h := msg.Headers()
	source, key, topic := h.Get(hdrSource), h.Get(hdrKey), h.Get(hdrTopic)
	version, err := strconv.ParseInt(h.Get(hdrOutboxID), 10, 64)
	if err != nil || source == "" || key == "" {
		return Message{}, fmt.Errorf("missing or bad %s/%s/%s headers", hdrSource, hdrKey, hdrOutboxID)
	}
	var rec Record
	var del *Deletion
	switch topic {
	case TopicJobFinished:
		rec, err = fromJob(msg.Data())
		key = "job/" + key
	case TopicRecord:
		err = json.Unmarshal(msg.Data(), &rec)
	case TopicJobDeleted:
		del, err = decodeDeletion(msg.Data())
		key = "job/" + key
	case TopicRecordDeleted:
		// The key is the record's full key: the record may have come
		// from another queue database than the deletion.
		del, err = decodeDeletion(msg.Data())
	default:
		err = fmt.Errorf("unknown topic %q", topic)
	}
	if err != nil {
		return Message{}, err
	}
	rec.Source, rec.Version, rec.Key = source, version, source+"/"+key
	if topic == TopicRecordDeleted {
		rec.Key = key
	}
	return Message{Topic: topic, Record: rec, Payload: msg.Data(), Deletion: del,
		DocumentSHA256: h.Get(hdrDocSHA), DocumentType: h.Get(hdrDocType)}, nil
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
