package client

import (
	"encoding/json"
	"time"
)

// The types below mirror the JSON of schemas/openapi.yaml. Optional
// request fields are pointers where the server tells "absent" from zero.

// FaxRequest is the fax part of a submission.
type FaxRequest struct {
	To          string         `json:"to"`
	From        string         `json:"from,omitempty"`
	Header      string         `json:"header,omitempty"`
	Priority    int            `json:"priority,omitempty"`
	SendAfter   *time.Time     `json:"send_after,omitempty"`
	MaxAttempts int            `json:"max_attempts,omitempty"`
	CallbackURL string         `json:"callback_url,omitempty"`
	Metadata    map[string]any `json:"metadata,omitempty"`
	Resolution  string         `json:"resolution,omitempty"` // standard, fine, superfine
	Cover       *Cover         `json:"cover,omitempty"`
	// CheapWindow sends in the next cheap-rate window of the route.
	CheapWindow bool `json:"cheap_window,omitempty"`
	// Deadline, or KillAfter from submission (Go duration syntax: "36h"),
	// is when an unsent fax is given up. Give one or neither.
	Deadline  *time.Time `json:"deadline,omitempty"`
	KillAfter string     `json:"kill_after,omitempty"`
	// Report attaches the confirmation report to the completion callback
	// and notice mail.
	Report bool `json:"report,omitempty"`
}

// Cover asks for a cover page before the documents.
type Cover struct {
	ToName   string `json:"to_name,omitempty"`
	FromName string `json:"from_name,omitempty"`
	Subject  string `json:"subject,omitempty"`
	Comment  string `json:"comment,omitempty"`
}

// Fax states.
const (
	StatePending   = "pending"
	StateSending   = "sending"
	StateSent      = "sent"
	StateFailed    = "failed"
	StateCancelled = "cancelled"
)

// Fax is an outbound fax job.
type Fax struct {
	ID              int64          `json:"id"`
	State           string         `json:"state"`
	To              string         `json:"to"`
	From            string         `json:"from"`
	Header          string         `json:"header"`
	Priority        int            `json:"priority"`
	Submitter       string         `json:"submitter"`
	IdempotencyKey  string         `json:"idempotency_key,omitempty"`
	Attempts        int            `json:"attempts"`
	MaxAttempts     int            `json:"max_attempts"`
	PagesTotal      int            `json:"pages_total"`
	PagesConfirmed  int            `json:"pages_confirmed"`
	NextAttemptAt   *time.Time     `json:"next_attempt_at,omitempty"`
	CancelRequested bool           `json:"cancel_requested"`
	LastClass       string         `json:"last_class,omitempty"`
	LastReason      string         `json:"last_reason,omitempty"`
	CallbackURL     string         `json:"callback_url,omitempty"`
	Metadata        map[string]any `json:"metadata"`
	CreatedAt       time.Time      `json:"created_at"`
	UpdatedAt       time.Time      `json:"updated_at"`
	FinishedAt      *time.Time     `json:"finished_at,omitempty"`
	History         []Transition   `json:"history,omitempty"`
	Deadline        *time.Time     `json:"deadline,omitempty"`
	ResentFrom      int64          `json:"resent_from,omitempty"`
	Resends         []int64        `json:"resends,omitempty"`
	// DeletedAt, DeletedBy and DeleteReason mark a fax whose documents
	// were deleted for good; listings keep showing it.
	DeletedAt    *time.Time `json:"deleted_at,omitempty"`
	DeletedBy    string     `json:"deleted_by,omitempty"`
	DeleteReason string     `json:"delete_reason,omitempty"`
}

// Final reports whether the fax will not change state any more.
func (f *Fax) Final() bool {
	return f.State == StateSent || f.State == StateFailed || f.State == StateCancelled
}

// Transition is one step of a fax's history.
type Transition struct {
	At     time.Time `json:"at"`
	From   string    `json:"from,omitempty"`
	To     string    `json:"to"`
	Node   string    `json:"node,omitempty"`
	Class  string    `json:"class,omitempty"`
	Reason string    `json:"reason,omitempty"`
	Pages  int       `json:"pages"`
}

// FaxList is a page of faxes.
type FaxList struct {
	Faxes      []Fax  `json:"faxes"`
	NextCursor string `json:"next_cursor,omitempty"`
}

// CallTrace is the SIP steps and T.30 frames of one call.
type CallTrace struct {
	ID        int64        `json:"id"`
	Direction string       `json:"direction"`
	JobID     int64        `json:"job_id,omitempty"`
	Attempt   int          `json:"attempt,omitempty"`
	Node      string       `json:"node"`
	CallID    string       `json:"call_id,omitempty"`
	Gateway   string       `json:"gateway,omitempty"`
	StartedAt time.Time    `json:"started_at"`
	EndedAt   time.Time    `json:"ended_at"`
	Result    string       `json:"result"`
	Events    []TraceEvent `json:"events"`
	Dropped   int          `json:"dropped"`
}

// TraceEvent is one entry of a call trace.
type TraceEvent struct {
	TMillis float64 `json:"t_ms"`
	Kind    string  `json:"kind"`
	Frame   string  `json:"frame,omitempty"`
	FIF     string  `json:"fif,omitempty"`
	FCSBad  bool    `json:"fcs_bad,omitempty"`
	Detail  string  `json:"detail,omitempty"`
}

// Gateway is a SIP gateway; its password is never returned.
type Gateway struct {
	Name        string         `json:"name"`
	Address     string         `json:"address"`
	MaxChannels int            `json:"max_channels"`
	Username    string         `json:"username"`
	HasPassword bool           `json:"has_password"`
	Enabled     bool           `json:"enabled"`
	Profile     GatewayProfile `json:"profile"`
	// Sites that reach the gateway (none: every site) and the cost each
	// adds to routes through it.
	Sites     []string           `json:"sites"`
	SiteCosts map[string]float64 `json:"site_costs"`
	CreatedAt time.Time          `json:"created_at"`
	UpdatedAt time.Time          `json:"updated_at"`
}

// GatewayProfile is how faxd calls a gateway; unset fields keep the
// server's settings. Durations are strings such as "3s".
type GatewayProfile struct {
	AudioFirst bool `json:"audio_first,omitempty"`
	// Media is t38 (default), audio or auto.
	Media              string `json:"media,omitempty"`
	ReinviteWait       string `json:"reinvite_wait,omitempty"`
	VBD                bool   `json:"vbd,omitempty"`
	T38Version         *int   `json:"t38_version,omitempty"`
	T38MaxDatagram     int    `json:"t38_max_datagram,omitempty"`
	T38ErrorCorrection string `json:"t38_error_correction,omitempty"`
	ECM                *bool  `json:"ecm,omitempty"`
	MaxBitRate         int    `json:"max_bit_rate,omitempty"`
	V17                *bool  `json:"v17,omitempty"`
	RetryLadder        *bool  `json:"retry_ladder,omitempty"`
	Probe              string `json:"probe,omitempty"`
	ProbeInterval      string `json:"probe_interval,omitempty"`
	ProbeFailAfter     int    `json:"probe_fail_after,omitempty"`
	ProbeReadmitAfter  int    `json:"probe_readmit_after,omitempty"`
}

// GatewayInput creates or replaces a gateway. A nil Password on update
// keeps the stored one; a nil Enabled means true. Profile replaces the
// stored profile (update with the current one to keep it).
type GatewayInput struct {
	Name        string          `json:"name,omitempty"`
	Address     string          `json:"address"`
	MaxChannels int             `json:"max_channels,omitempty"`
	Username    string          `json:"username,omitempty"`
	Password    *string         `json:"password,omitempty"`
	Enabled     *bool           `json:"enabled,omitempty"`
	Profile     *GatewayProfile `json:"profile,omitempty"`
	// Sites and SiteCosts replace the stored ones (nil: none).
	Sites     []string           `json:"sites,omitempty"`
	SiteCosts map[string]float64 `json:"site_costs,omitempty"`
}

// GatewayHealth is a gateway's live state on one server.
type GatewayHealth struct {
	Name           string     `json:"name"`
	Address        string     `json:"address"`
	Up             bool       `json:"up"`
	InUse          int        `json:"in_use"`
	MaxChannels    int        `json:"max_channels"`
	Since          time.Time  `json:"since"`
	Reason         string     `json:"reason,omitempty"`
	Probe          string     `json:"probe"`
	LastProbe      *time.Time `json:"last_probe,omitempty"`
	LastProbeError string     `json:"last_probe_error,omitempty"`
	IgnoresProbes  bool       `json:"ignores_probes"`
}

// GatewayHealthReport is every gateway as the answering server sees it.
type GatewayHealthReport struct {
	Node     string          `json:"node"`
	Gateways []GatewayHealth `json:"gateways"`
}

// Route is a least-cost route.
type Route struct {
	ID        int64              `json:"id"`
	Prefix    string             `json:"prefix"`
	Gateway   string             `json:"gateway"`
	Cost      float64            `json:"cost"`
	Weight    int                `json:"weight"`
	Sites     []string           `json:"sites"`
	SiteCosts map[string]float64 `json:"site_costs"`
	Windows   []RouteWindow      `json:"windows"`
	CreatedAt time.Time          `json:"created_at"`
	UpdatedAt time.Time          `json:"updated_at"`
}

// RouteWindow is a cost period of a route: from From to To ("HH:MM"; To
// at or before From runs past midnight) on Days ("mon".."sun"; none:
// every day) the route costs Cost.
type RouteWindow struct {
	Days []string `json:"days,omitempty"`
	From string   `json:"from"`
	To   string   `json:"to"`
	Cost float64  `json:"cost"`
}

// RouteInput creates or replaces a route; a nil Weight means 1.
type RouteInput struct {
	Prefix  string  `json:"prefix"`
	Gateway string  `json:"gateway"`
	Cost    float64 `json:"cost"`
	Weight  *int    `json:"weight,omitempty"`
	// Sites, SiteCosts and Windows replace the stored ones (nil: none).
	Sites     []string           `json:"sites,omitempty"`
	SiteCosts map[string]float64 `json:"site_costs,omitempty"`
	Windows   []RouteWindow      `json:"windows,omitempty"`
}

// Match is a condition on a number: kind "" (callers only: every
// caller), exact, prefix or pattern.
type Match struct {
	Kind  string `json:"kind"`
	Value string `json:"value"`
}

// Destination is where a received fax goes, as the server shows it.
type Destination struct {
	Kind      string   `json:"kind"` // mailbox, email, webhook
	Mailbox   string   `json:"mailbox,omitempty"`
	Emails    []string `json:"emails,omitempty"`
	URL       string   `json:"url,omitempty"`
	HasSecret bool     `json:"has_secret"`
}

// DestinationInput is a destination in a request.
type DestinationInput struct {
	Kind    string   `json:"kind"`
	Mailbox string   `json:"mailbox,omitempty"`
	Emails  []string `json:"emails,omitempty"`
	URL     string   `json:"url,omitempty"`
	Secret  string   `json:"secret,omitempty"`
}

// InboundRule routes received faxes.
type InboundRule struct {
	ID       int64 `json:"id"`
	Priority int   `json:"priority"`
	Number   Match `json:"number"`
	Caller   Match `json:"caller"`
	// TSI is a condition on the sender's station id: kind "" (every
	// sender), exact, prefix or contains, ignoring case.
	TSI Match `json:"tsi"`
	// Pages is some (at least one page arrived), none or any.
	Pages       string      `json:"pages"`
	Destination Destination `json:"destination"`
	Description string      `json:"description"`
	Enabled     bool        `json:"enabled"`
	CreatedAt   time.Time   `json:"created_at"`
	UpdatedAt   time.Time   `json:"updated_at"`
}

// InboundRuleInput creates or replaces a rule; nil Priority means 100,
// nil Enabled means true.
type InboundRuleInput struct {
	Priority    *int             `json:"priority,omitempty"`
	Number      Match            `json:"number"`
	Caller      Match            `json:"caller"`
	TSI         Match            `json:"tsi"`
	Pages       string           `json:"pages,omitempty"` // "": some
	Destination DestinationInput `json:"destination"`
	Description string           `json:"description,omitempty"`
	Enabled     *bool            `json:"enabled,omitempty"`
}

// ReceivedFax is a received fax from the archive.
type ReceivedFax struct {
	ID              int64      `json:"id"`
	DID             string     `json:"did"`
	Caller          string     `json:"caller"`
	RemoteStationID string     `json:"remote_station_id"`
	Result          string     `json:"result"`
	Reason          string     `json:"reason,omitempty"`
	Pages           int        `json:"pages"`
	Gateway         string     `json:"gateway,omitempty"`
	Node            string     `json:"node,omitempty"`
	StartedAt       *time.Time `json:"started_at,omitempty"`
	FinishedAt      time.Time  `json:"finished_at"`
	DurationMS      int64      `json:"duration_ms"`
	Routing         string     `json:"routing"`
	RoutedTo        string     `json:"routed_to,omitempty"`
	HasDocument     bool       `json:"has_document"`
	ArchivedAt      time.Time  `json:"archived_at"`
	// Read is the caller's own read mark; set by GetReceived only.
	Read     *bool     `json:"read,omitempty"`
	Reroutes []Reroute `json:"reroutes,omitempty"`
	// DeletedAt, DeletedBy and DeleteReason mark a fax whose documents
	// were deleted for good; listings keep showing it.
	DeletedAt    *time.Time `json:"deleted_at,omitempty"`
	DeletedBy    string     `json:"deleted_by,omitempty"`
	DeleteReason string     `json:"delete_reason,omitempty"`
}

// ReadMark is a received fax's read mark for one caller (token name).
type ReadMark struct {
	ID     int64  `json:"id"`
	Reader string `json:"reader"`
	Read   bool   `json:"read"`
}

// ReceivedList is a page of received faxes.
type ReceivedList struct {
	Received   []ReceivedFax `json:"received"`
	NextCursor string        `json:"next_cursor,omitempty"`
}

// RerouteInput sends a received fax to another destination.
type RerouteInput struct {
	Destination DestinationInput `json:"destination"`
	Reason      string           `json:"reason"` // required: why
}

// Reroute is the audit entry of one reroute.
type Reroute struct {
	ID         int64      `json:"id"`
	Actor      string     `json:"actor"`
	Reason     string     `json:"reason,omitempty"`
	From       string     `json:"from"`
	To         string     `json:"to"`
	Outcome    string     `json:"outcome"`
	Error      string     `json:"error,omitempty"`
	DeliveryID int64      `json:"delivery_id,omitempty"`
	CreatedAt  time.Time  `json:"created_at"`
	FinishedAt *time.Time `json:"finished_at,omitempty"`
}

// Mailbox is a mailbox with its counts.
type Mailbox struct {
	Mailbox string `json:"mailbox"`
	Total   int    `json:"total"`
	Unread  int    `json:"unread"`
}

// MailboxEntry is one fax in a mailbox.
type MailboxEntry struct {
	ID        int64        `json:"id"`
	Read      bool         `json:"read"`
	CreatedAt time.Time    `json:"created_at"`
	Fax       *ReceivedFax `json:"fax,omitempty"`
}

// MailboxContents is a mailbox's faxes, newest first.
type MailboxContents struct {
	Mailbox string         `json:"mailbox"`
	Entries []MailboxEntry `json:"entries"`
}

// ArchivedFax is a completed outbound or received fax.
type ArchivedFax struct {
	ID              int64          `json:"id"`
	Direction       string         `json:"direction"`
	Result          string         `json:"result"`
	Reason          string         `json:"reason,omitempty"`
	Class           string         `json:"class,omitempty"`
	LocalNumber     string         `json:"local_number"`
	RemoteNumber    string         `json:"remote_number"`
	RemoteStationID string         `json:"remote_station_id"`
	Pages           int            `json:"pages"`
	PagesTotal      int            `json:"pages_total"`
	Attempts        int            `json:"attempts"`
	Gateway         string         `json:"gateway,omitempty"`
	Node            string         `json:"node,omitempty"`
	Submitter       string         `json:"submitter,omitempty"`
	FaxID           int64          `json:"fax_id,omitempty"`
	StartedAt       *time.Time     `json:"started_at,omitempty"`
	FinishedAt      time.Time      `json:"finished_at"`
	DurationMS      int64          `json:"duration_ms"`
	Routing         string         `json:"routing,omitempty"`
	RoutedTo        string         `json:"routed_to,omitempty"`
	HasDocument     bool           `json:"has_document"`
	Metadata        map[string]any `json:"metadata"`
	ArchivedAt      time.Time      `json:"archived_at"`
	// DeletedAt, DeletedBy and DeleteReason mark a fax whose documents
	// were deleted for good; listings keep showing it.
	DeletedAt    *time.Time `json:"deleted_at,omitempty"`
	DeletedBy    string     `json:"deleted_by,omitempty"`
	DeleteReason string     `json:"delete_reason,omitempty"`
}

// ArchivePage is a page of archive search results.
type ArchivePage struct {
	Faxes      []ArchivedFax `json:"faxes"`
	NextCursor string        `json:"next_cursor,omitempty"`
}

// Token is an API token (never its secret).
type Token struct {
	ID         int64      `json:"id"`
	Name       string     `json:"name"`
	Role       string     `json:"role"`
	CreatedAt  time.Time  `json:"created_at"`
	LastUsedAt *time.Time `json:"last_used_at,omitempty"`
	RevokedAt  *time.Time `json:"revoked_at,omitempty"`
	ExpiresAt  *time.Time `json:"expires_at,omitempty"`
	// UserID is the user account the token belongs to (0: none).
	UserID int64 `json:"user_id,omitempty"`
}

// TokenInput creates a token. Give ExpiresAt or ExpiresIn (such as
// "90d"), not both; neither: it never expires.
type TokenInput struct {
	Name      string     `json:"name"`
	Role      string     `json:"role,omitempty"`
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
	ExpiresIn string     `json:"expires_in,omitempty"`
	// UserID makes the token act as this user account (its role and name).
	UserID int64 `json:"user_id,omitempty"`
}

// CreatedToken is a new token with its secret, returned only once.
type CreatedToken struct {
	Token
	Secret string `json:"token"`
}

// AuditEntry is one configuration change.
type AuditEntry struct {
	ID         int64           `json:"id"`
	At         time.Time       `json:"at"`
	ActorID    int64           `json:"actor_id,omitempty"`
	Actor      string          `json:"actor"`
	Action     string          `json:"action"`
	ObjectType string          `json:"object_type"`
	ObjectID   string          `json:"object_id"`
	Before     json.RawMessage `json:"before,omitempty"`
	After      json.RawMessage `json:"after,omitempty"`
	RemoteAddr string          `json:"remote_addr"`
	Detail     string          `json:"detail,omitempty"`
}

// AuditList is a page of audit entries.
type AuditList struct {
	Entries    []AuditEntry `json:"entries"`
	NextCursor string       `json:"next_cursor,omitempty"`
}

// Cluster is the servers as the answering one sees them.
type Cluster struct {
	Node    string   `json:"node,omitempty"`
	Nodes   []Node   `json:"nodes"`
	Standby *Standby `json:"standby"`
}

// Node is a row of the nodes table.
type Node struct {
	ID             string    `json:"id"`
	Role           string    `json:"role"`
	Live           bool      `json:"live"`
	Address        string    `json:"address"`
	Incarnation    int64     `json:"incarnation"`
	StartedAt      time.Time `json:"started_at"`
	LastHeartbeat  time.Time `json:"last_heartbeat"`
	LeaseExpiresAt time.Time `json:"lease_expires_at"`
	Capacity       int       `json:"capacity"`
	FreeChannels   int       `json:"free_channels"`
	Site           string    `json:"site,omitempty"` // node.site; absent when none
}

// Standby is a standby server's failover state.
type Standby struct {
	Node                 string     `json:"node"`
	State                string     `json:"state"`
	Role                 string     `json:"role"`
	Automatic            bool       `json:"automatic"`
	OnFailure            string     `json:"on_failure"`
	PrimaryID            string     `json:"primary_id,omitempty"`
	PrimaryURL           string     `json:"primary_url,omitempty"`
	ConsecutiveFailures  int        `json:"consecutive_failures"`
	ConsecutiveSuccesses int        `json:"consecutive_successes"`
	Threshold            int        `json:"threshold"`
	LastCheck            *time.Time `json:"last_check,omitempty"`
	LastOK               *time.Time `json:"last_ok,omitempty"`
	LastError            string     `json:"last_error,omitempty"`
	NextCheck            *time.Time `json:"next_check,omitempty"`
	ChangedAt            *time.Time `json:"changed_at,omitempty"`
	ChangedBy            string     `json:"changed_by,omitempty"`
	Reason               string     `json:"reason,omitempty"`
	Sync                 bool       `json:"sync"`
	NextSync             *time.Time `json:"next_sync,omitempty"`
	LastSync             *time.Time `json:"last_sync,omitempty"`
	LastSyncError        string     `json:"last_sync_error,omitempty"`
}

// User is a person's account (never its password hash).
type User struct {
	ID        int64     `json:"id"`
	Name      string    `json:"name"`
	Role      string    `json:"role"` // admin, operator or user
	Disabled  bool      `json:"disabled"`
	CreatedAt time.Time `json:"created_at"`
	// Grants are the mailboxes whose received faxes the user sees.
	Grants []string `json:"grants,omitempty"`
}

// UserInput creates a user account.
type UserInput struct {
	Name     string `json:"name"`
	Password string `json:"password"`
	Role     string `json:"role,omitempty"` // default user
}

// UserUpdate changes an account; nil members stay as they are.
type UserUpdate struct {
	Role     *string `json:"role,omitempty"`
	Disabled *bool   `json:"disabled,omitempty"`
	Password *string `json:"password,omitempty"`
}

// Me is who the caller is.
type Me struct {
	Kind           string     `json:"kind"` // session or token
	Role           string     `json:"role"` // admin, operator, user; submitter for a token of no user
	Name           string     `json:"name"`
	User           *User      `json:"user,omitempty"`
	Token          *Token     `json:"token,omitempty"`
	Grants         []string   `json:"grants"`
	CSRFToken      string     `json:"csrf_token,omitempty"`
	SessionExpires *time.Time `json:"session_expires,omitempty"`
}

// QueueStats is the queue's depth by state and the faxes finished since
// Since.
type QueueStats struct {
	Since         time.Time      `json:"since"`
	States        map[string]int `json:"states"`
	FinishedSince map[string]int `json:"finished_since"`
}

// ResendRequest is what may change when a finished fax is sent again.
type ResendRequest struct {
	To        string     `json:"to,omitempty"` // empty: the old fax's number
	Deadline  *time.Time `json:"deadline,omitempty"`
	KillAfter string     `json:"kill_after,omitempty"`
}

// BroadcastRequest is one fax to many numbers: a fax's fields (all but
// To) shared by every recipient. CallbackURL is called once, when every
// fax of the broadcast is final.
type BroadcastRequest struct {
	Recipients  []Recipient    `json:"recipients"`
	From        string         `json:"from,omitempty"`
	Header      string         `json:"header,omitempty"`
	Priority    int            `json:"priority,omitempty"`
	SendAfter   *time.Time     `json:"send_after,omitempty"`
	MaxAttempts int            `json:"max_attempts,omitempty"`
	CallbackURL string         `json:"callback_url,omitempty"`
	Metadata    map[string]any `json:"metadata,omitempty"`
	Resolution  string         `json:"resolution,omitempty"`
	Cover       *Cover         `json:"cover,omitempty"`
	CheapWindow bool           `json:"cheap_window,omitempty"`
	Deadline    *time.Time     `json:"deadline,omitempty"`
	KillAfter   string         `json:"kill_after,omitempty"`
	// Report attaches each fax's confirmation report to its completion
	// notice.
	Report bool `json:"report,omitempty"`
}

// Recipient is one number of a broadcast; Name, Company and Vars are for
// its cover page (they need Cover).
type Recipient struct {
	To      string            `json:"to"`
	Name    string            `json:"name,omitempty"`
	Company string            `json:"company,omitempty"`
	Vars    map[string]string `json:"vars,omitempty"`
}

// Broadcast is a broadcast with its faxes counted by state (StatePending
// and the others); Done when every fax is final.
type Broadcast struct {
	ID             int64          `json:"id"`
	Submitter      string         `json:"submitter"`
	IdempotencyKey string         `json:"idempotency_key,omitempty"`
	Recipients     int            `json:"recipients"`
	Counts         map[string]int `json:"counts"`
	Done           bool           `json:"done"`
	CallbackURL    string         `json:"callback_url,omitempty"`
	Metadata       map[string]any `json:"metadata"`
	CreatedAt      time.Time      `json:"created_at"`
	DoneAt         *time.Time     `json:"done_at,omitempty"`
}

// BroadcastList is a page of broadcasts; NextCursor continues it.
type BroadcastList struct {
	Broadcasts []Broadcast `json:"broadcasts"`
	NextCursor string      `json:"next_cursor,omitempty"`
}
