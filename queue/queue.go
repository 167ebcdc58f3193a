// Package queue is faxd's outbound queue in PostgreSQL.
//
// A job is pending until a node claims it; the claim makes it sending and
// hands the node a fencing token. Every later write for the job (page
// progress, complete, fail, release, cancel acknowledgement) carries that
// token and is refused once another claim or a takeover has replaced it.
// Job leases hang on node leases: a node renews one row per heartbeat, and
// when a node's lease expires any live node may take its sending jobs back
// to pending, confirmed pages kept. See docs/queue.md.
package queue

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// State is a job's state.
type State string

const (
	Pending   State = "pending"   // waiting to be claimed (run_at may lie ahead: scheduled or backing off)
	Sending   State = "sending"   // claimed by a node
	Sent      State = "sent"      // final: delivered
	Failed    State = "failed"    // final: permanent failure or attempts exhausted
	Cancelled State = "cancelled" // final: cancelled
)

// Final reports whether no transition leaves s.
func (s State) Final() bool { return s == Sent || s == Failed || s == Cancelled }

var (
	// ErrNotFound: no job with that id.
	ErrNotFound = errors.New("queue: job not found")
	// ErrInvalidTransition: the state machine forbids the call in the job's
	// current state.
	ErrInvalidTransition = errors.New("queue: transition not allowed")
	// ErrStaleToken: the fencing token no longer holds the job (it was
	// taken over, or finished, and perhaps claimed again).
	ErrStaleToken = errors.New("queue: stale fencing token")
	// ErrLeaseLost: the node lease can no longer be guaranteed, or was
	// replaced; the node must stop transmitting and register again.
	ErrLeaseLost = errors.New("queue: node lease lost")
	// ErrInvalidRequest: a malformed enqueue or failure report.
	ErrInvalidRequest = errors.New("queue: invalid request")
	// ErrIdempotencyConflict: the idempotency key names a job submitted
	// with a different request. The error is a *ConflictError.
	ErrIdempotencyConflict = errors.New("queue: idempotency key reused with a different request")
)

// ConflictError reports an idempotency key reused for another request.
type ConflictError struct {
	Key      string
	Existing int64 // the job the key already names
}

func (e *ConflictError) Error() string {
	return fmt.Sprintf("queue: idempotency key %q names job %d, submitted with a different request", e.Key, e.Existing)
}

func (e *ConflictError) Unwrap() error { return ErrIdempotencyConflict }

// Config tunes a Queue; zero fields take defaults.
type Config struct {
	// Retry is the back-off per failure class; classes missing here take
	// DefaultRetryPolicy's entry.
	Retry RetryPolicy
	// DefaultMaxAttempts applies when a request sets none; default 5.
	DefaultMaxAttempts int
	// MaxTakeovers is how often a job may be orphaned by a dying node
	// before it fails instead of being retried (a job that kills nodes);
	// default 3.
	MaxTakeovers int
	// Logger should say which node it logs for (faxd's carries a node
	// attribute); the queue does not add its node's ID again, since a key
	// repeated in one line is rejected by many log pipelines.
	Logger *slog.Logger
	// Sites names, at enqueue, the site that should send a job (the one
	// with the cheapest route for its number); nodes of other sites claim
	// it only after SiteWait, or at once when that site has no live
	// active node. Nil: no preference.
	Sites SitePreferrer
	// SiteWait is how long a job waits for its preferred site; default 2m.
	SiteWait time.Duration
}

// SitePreferrer names the site that should send a fax to number, or "".
type SitePreferrer interface {
	PreferredSite(number string) string
}

// Queue is the outbound queue on one database.
type Queue struct {
	pool *pgxpool.Pool
	cfg  Config
	log  *slog.Logger

	ready  notifier // faxd_queue_ready: work became claimable
	outbox notifier // faxd_outbox: outbox rows committed
	ops    batcher[*opCall]
	slots  batcher[*slotCall]

	generalOnly bool // tests: every statement with slots in its general form
}

// New returns a queue on pool, whose database has schemas.Queue applied.
func New(pool *pgxpool.Pool, cfg Config) (*Queue, error) {
	if cfg.DefaultMaxAttempts <= 0 {
		cfg.DefaultMaxAttempts = 5
	}
	if cfg.SiteWait <= 0 {
		cfg.SiteWait = 2 * time.Minute
	}
	if cfg.MaxTakeovers <= 0 {
		cfg.MaxTakeovers = 3
	}
	cfg.Retry = DefaultRetryPolicy().merge(cfg.Retry)
	if err := cfg.Retry.Validate(); err != nil {
		return nil, err
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	q := &Queue{pool: pool, cfg: cfg, log: log}
	q.ready.q, q.ready.sql = q, sqlNotifyReady
	q.outbox.q, q.outbox.sql = q, sqlNotifyOutbox
	q.ops.run, q.ops.gather = q.runOps, 2
	q.slots.run, q.slots.gather = q.runSlots, 2
	// The relay is woken at most every outboxWakeGap: it drains whole
	// batches without waiting anyway, and a wake-up per statement would
	// cost a transaction per statement.
	q.outbox.gap = outboxWakeGap
	return q, nil
}

// Pool is the queue's connection pool.
func (q *Queue) Pool() *pgxpool.Pool { return q.pool }

// Request is a job to enqueue.
type Request struct {
	// IdempotencyKey, when set, makes Enqueue return the existing job for
	// a repeated submission.
	IdempotencyKey string         `json:"idempotency_key,omitempty"`
	Destination    string         `json:"destination"`
	CallerID       string         `json:"caller_id,omitempty"`
	Header         string         `json:"header,omitempty"`
	Document       string         `json:"document"` // reference to the prepared pages
	PagesTotal     int            `json:"pages_total,omitempty"`
	CallbackURL    string         `json:"callback_url,omitempty"`
	Submitter      string         `json:"submitter,omitempty"`
	Metadata       map[string]any `json:"metadata,omitempty"`
	Priority       int            `json:"priority,omitempty"` // higher first, -1000..1000
	SendAfter      time.Time      `json:"send_after,omitzero"`
	MaxAttempts    int            `json:"max_attempts,omitempty"` // 0: the queue's default
	Retry          RetryPolicy    `json:"retry,omitempty"`        // per-class overrides
	// Deadline, or KillAfter from the enqueue (by the database's clock),
	// is when an unsent job is given up: it becomes failed ("deadline
	// passed") by ExpireDeadlines, or by Fail instead of a retry that
	// would start after it. Zero: no deadline.
	Deadline  time.Time     `json:"deadline,omitzero"`
	KillAfter time.Duration `json:"kill_after,omitempty"`
	// ResentFrom names the finished job this one sends again (Resend).
	ResentFrom int64 `json:"resent_from,omitempty"`
}

// Job is a queued fax.
type Job struct {
	ID              int64          `json:"id"`
	IdempotencyKey  string         `json:"idempotency_key,omitempty"`
	State           State          `json:"state"`
	Priority        int            `json:"priority"`
	RunAt           time.Time      `json:"run_at"`
	Attempts        int            `json:"attempts"`
	MaxAttempts     int            `json:"max_attempts"`
	Takeovers       int            `json:"takeovers"`
	Retry           RetryPolicy    `json:"retry,omitempty"`
	Destination     string         `json:"destination"`
	CallerID        string         `json:"caller_id"`
	Header          string         `json:"header"`
	Document        string         `json:"document"`
	CallbackURL     string         `json:"callback_url"`
	Submitter       string         `json:"submitter"`
	Metadata        map[string]any `json:"metadata"`
	PagesTotal      int            `json:"pages_total"`
	PagesConfirmed  int            `json:"pages_confirmed"`
	NodeID          string         `json:"node_id,omitempty"`
	Token           int64          `json:"token,omitempty"`
	ClaimedAt       time.Time      `json:"claimed_at,omitzero"`
	CancelRequested bool           `json:"cancel_requested"`
	LastClass       Class          `json:"last_class,omitempty"`
	LastReason      string         `json:"last_reason,omitempty"`
	CreatedAt       time.Time      `json:"created_at"`
	UpdatedAt       time.Time      `json:"updated_at"`
	FinishedAt      time.Time      `json:"finished_at,omitzero"`
	// SlotGateway is the gateway whose call slot the claim took with the
	// job (ClaimWithSlot); "" when it took none.
	SlotGateway string `json:"-"`
}

// Transition is one entry of a job's history.
type Transition struct {
	At     time.Time
	From   State // "" for the creation
	To     State
	NodeID string
	Token  int64
	Class  Class
	Reason string
	Pages  int
}

// Result reports a delivered fax.
type Result struct {
	Pages  int    // pages confirmed by the receiver
	Reason string // e.g. the remote station id or a summary
}

// Failure reports a failed attempt.
type Failure struct {
	Class  Class
	Reason string
	Pages  int // pages confirmed during the attempt (kept: a retry resumes after them)
}

// outboxWakeGap spaces the queue's outbox notifications.
const outboxWakeGap = 10 * time.Millisecond
