package cluster

import (
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// StandbyConfig is the standby section of faxd's configuration: the
// failover controls of seed 001 and the configuration sync schedule. It
// only matters on a node whose node.role is standby.
type StandbyConfig struct {
	// PrimaryID is the node id of the one primary this standby backs
	// (002: one standby per primary). Its lease in the shared queue
	// database is its heartbeat.
	PrimaryID string `yaml:"primary_id"`
	// PrimaryURL is the primary's HTTP base URL; its /readyz is probed.
	// The way to watch a primary that keeps its own queue database.
	PrimaryURL string `yaml:"primary_url"`
	// HeartbeatInterval: how often the primary is checked while it answers.
	HeartbeatInterval time.Duration `yaml:"heartbeat_interval"`
	// ConsecutiveFailures before the failure is acted on; the same number
	// of consecutive successes brings a promoted standby back down.
	ConsecutiveFailures int `yaml:"consecutive_failures"`
	// RecheckInterval: the wait after a failed check.
	RecheckInterval time.Duration `yaml:"recheck_interval"`
	// ProbeTimeout bounds one check.
	ProbeTimeout time.Duration `yaml:"probe_timeout"`
	// OnFailure: "promote" (to primary) or "keep_standby" (notify only).
	OnFailure string `yaml:"on_failure"`
	// Automatic failover at the first start; afterwards the administrator's
	// last enable or disable, kept in the database, wins.
	Automatic bool       `yaml:"automatic"`
	Sync      SyncConfig `yaml:"sync"`
}

// SyncConfig is the R18 schedule: copy the primary's configuration
// (gateways, routes, inbound rules, API tokens) into this node's own queue
// database from StartTime (UTC), every Every.
type SyncConfig struct {
	// PrimaryDSN is the primary's queue database. Empty: no sync (the
	// two share one queue database). Never logged.
	PrimaryDSN string `yaml:"primary_dsn" secret:"true"`
	// StartTime is the first run, UTC: "HH:MM" or an RFC 3339 time.
	StartTime string `yaml:"start_time"`
	// Every is the period: minutes, hours or days ("15m", "6h", "1d").
	Every Every `yaml:"every"`
}

// On failure actions (001 "If Failure Detected").
const (
	OnFailurePromote     = "promote"
	OnFailureKeepStandby = "keep_standby"
)

// DefaultStandbyConfig is what an empty standby section means.
func DefaultStandbyConfig() StandbyConfig {
	return StandbyConfig{
		HeartbeatInterval:   5 * time.Second,
		ConsecutiveFailures: 3,
		RecheckInterval:     2 * time.Second,
		ProbeTimeout:        3 * time.Second,
		OnFailure:           OnFailurePromote,
		Automatic:           true,
		Sync:                SyncConfig{StartTime: "00:00", Every: Every(time.Hour)},
	}
}

// Validate reports every problem, each naming its key. self is node.id.
func (c StandbyConfig) Validate(self string) []error {
	var errs []error
	bad := func(key, format string, a ...any) {
		errs = append(errs, fmt.Errorf("standby.%s: %s", key, fmt.Sprintf(format, a...)))
	}
	if c.PrimaryID != "" && c.PrimaryID == self {
		bad("primary_id", "%q is this node's own id", c.PrimaryID)
	}
	if c.PrimaryURL != "" {
		if u, err := url.Parse(c.PrimaryURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad("primary_url", "%q: want http(s)://host:port", c.PrimaryURL)
		}
	}
	if c.HeartbeatInterval <= 0 {
		bad("heartbeat_interval", "must be positive")
	}
	if c.ConsecutiveFailures < 1 || c.ConsecutiveFailures > 1000 {
		bad("consecutive_failures", "%d: must be between 1 and 1000", c.ConsecutiveFailures)
	}
	if c.RecheckInterval <= 0 {
		bad("recheck_interval", "must be positive")
	}
	if c.ProbeTimeout <= 0 {
		bad("probe_timeout", "must be positive")
	}
	if c.OnFailure != OnFailurePromote && c.OnFailure != OnFailureKeepStandby {
		bad("on_failure", "%q: must be promote or keep_standby", c.OnFailure)
	}
	if _, err := ParseStartTime(c.Sync.StartTime); err != nil {
		bad("sync.start_time", "%v", err)
	}
	if c.Sync.Every < Every(time.Minute) {
		bad("sync.every", "%v: must be at least 1m", c.Sync.Every)
	}
	return errs
}

// Every is a sync period in minutes, hours or days: "15m", "6h", "1d"
// (Go durations are accepted too).
type Every time.Duration

// ParseEvery reads "90s", "15m", "6h" or "2d".
func ParseEvery(s string) (Every, error) {
	s = strings.TrimSpace(s)
	if n, ok := strings.CutSuffix(s, "d"); ok {
		days, err := strconv.Atoi(n)
		if err != nil || days < 0 {
			return 0, fmt.Errorf("invalid period %q (for example 15m, 6h, 1d)", s)
		}
		return Every(time.Duration(days) * 24 * time.Hour), nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("invalid period %q (for example 15m, 6h, 1d)", s)
	}
	return Every(d), nil
}

// UnmarshalYAML implements yaml.Unmarshaler.
func (e *Every) UnmarshalYAML(n *yaml.Node) error {
	v, err := ParseEvery(n.Value)
	if err != nil {
		return err
	}
	*e = v
	return nil
}

// MarshalYAML writes the period back in the same form.
func (e Every) MarshalYAML() (any, error) { return e.String(), nil }

// D is the standard library value.
func (e Every) D() time.Duration { return time.Duration(e) }

func (e Every) String() string {
	const day = 24 * time.Hour
	if d := time.Duration(e); d > 0 && d%day == 0 {
		return strconv.FormatInt(int64(d/day), 10) + "d"
	}
	return time.Duration(e).String()
}

// ParseStartTime reads the schedule's anchor: "HH:MM" (UTC; the anchor
// is that time on 1970-01-01, so the runs fall at that time of day for
// any period that divides a day) or a full RFC 3339 time.
func ParseStartTime(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.UTC(), nil
	}
	t, err := time.Parse("15:04", s)
	if err != nil {
		return time.Time{}, errors.New(strconv.Quote(s) + ": want HH:MM (UTC) or an RFC 3339 time")
	}
	return time.Date(1970, 1, 1, t.Hour(), t.Minute(), 0, 0, time.UTC), nil
}

// Schedule is a start time and a period (001's StartTime and Run Every).
type Schedule struct {
	Start time.Time
	Every time.Duration
}

// Next is the first run strictly after t.
func (s Schedule) Next(t time.Time) time.Time {
	if t.Before(s.Start) {
		return s.Start
	}
	if s.Every <= 0 {
		return time.Time{}
	}
	n := t.Sub(s.Start)/s.Every + 1
	return s.Start.Add(n * s.Every)
}
