package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/faxd/faxd/internal/notify"
)

// The standby controller (R17) watches one primary and acts on the 001
// failover controls. It holds no goroutine, socket or timer of its own:
// Step runs one check on the controller's clock and says when the next is
// due, so the decision logic runs on a fake clock in tests; Run is the
// real-time loop around it.

// Probe checks the primary once: nil means it answered.
type Probe interface {
	Check(ctx context.Context) error
}

// Watch is a cheap check run often between heartbeats: true when the
// primary's process is certainly gone (LeaseProbe implements it).
type Watch interface {
	Gone(ctx context.Context) bool
}

// ProbeFunc adapts a function to Probe.
type ProbeFunc func(ctx context.Context) error

// Check calls f.
func (f ProbeFunc) Check(ctx context.Context) error { return f(ctx) }

// Actions are what promotion and step-down do to the node (the server
// implements them: channel pool state, orphan takeover, node role).
type Actions interface {
	// Promote starts the channels and the takeover of orphaned jobs.
	Promote(ctx context.Context) error
	// StepDown drains the channels (calls in progress finish) and
	// returns the node to standby: 503 to gateways, no claims.
	StepDown(ctx context.Context) error
}

// Notifier tells administrators; AdminNotices implements it.
type Notifier interface {
	BecamePrimary(ctx context.Context, e notify.PrimaryEvent) error
	SteppedDown(ctx context.Context, e StepDownEvent) error
	Failure(ctx context.Context, e notify.FailureEvent) error
}

// Store keeps the administrator's automatic-failover choice and an event
// log; *StandbyStore implements it. Optional.
type Store interface {
	// Automatic returns the stored choice, ok false when none is stored.
	Automatic(ctx context.Context, node string) (automatic, ok bool, err error)
	SetAutomatic(ctx context.Context, node string, automatic bool, actor string) error
	Event(ctx context.Context, node, event, detail, actor string) error
}

// Clock is the controller's time source.
type Clock interface{ Now() time.Time }

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

// Roles and states a standby reports.
const (
	RoleStandby = "standby"
	RolePrimary = "primary"

	StateWatching = "watching" // standby, automatic failover on
	StatePromoted = "promoted" // serving as primary
	StateDisabled = "disabled" // standby, automatic failover off
)

// ActorAutomatic is the actor of the controller's own decisions.
const ActorAutomatic = "automatic"

// Errors of the manual controls.
var (
	// ErrNotStandby: this node is not a standby (node.role is active).
	ErrNotStandby = errors.New("cluster: this node is not a standby")
	// ErrNoPrimary: automatic failover needs a primary to watch.
	ErrNoPrimary = errors.New("cluster: no primary configured (standby.primary_id or standby.primary_url)")
)

// StandbyDeps are the controller's collaborators. Probe nil means no
// primary is configured: manual failover only.
type StandbyDeps struct {
	Self     string
	Probe    Probe
	Actions  Actions
	Notifier Notifier
	Store    Store
	Clock    Clock
	Log      *slog.Logger
	// OnRole, when set, is called after every role change (metrics).
	OnRole func(role string)
	// Watch, when set, is run every WatchInterval (default 250ms) between
	// checks while this node stands by; when it says the primary's
	// process is gone, Run checks at once.
	Watch         Watch
	WatchInterval time.Duration
}

// StandbyStatus is what GET /v1/cluster shows of this node's standby.
type StandbyStatus struct {
	Node                 string
	PrimaryID            string
	PrimaryURL           string
	State                string // watching, promoted, disabled
	Role                 string // standby, primary
	Automatic            bool   // automatic failover on (and a primary to watch)
	OnFailure            string
	ConsecutiveFailures  int
	ConsecutiveSuccesses int
	Threshold            int
	LastCheck            time.Time
	LastOK               time.Time
	LastError            string
	NextCheck            time.Time
	ChangedAt            time.Time // last role change
	ChangedBy            string    // "automatic" or the administrator
	Reason               string
}

// Controller is one standby's failover logic.
type Controller struct {
	cfg StandbyConfig
	d   StandbyDeps

	op sync.Mutex // one check or transition at a time

	mu        sync.Mutex
	role      string
	automatic bool
	failures  int
	successes int
	handled   bool // this outage was acted on (promoted or notified)
	lastCheck time.Time
	lastOK    time.Time
	lastErr   string
	nextCheck time.Time
	changedAt time.Time
	changedBy string
	reason    string
}

// NewController builds a controller in standby. Start loads the stored
// automatic-failover choice.
func NewController(cfg StandbyConfig, d StandbyDeps) *Controller {
	if d.Clock == nil {
		d.Clock = realClock{}
	}
	if d.Log == nil {
		d.Log = slog.Default()
	}
	if cfg.ConsecutiveFailures < 1 {
		cfg.ConsecutiveFailures = 1
	}
	if d.WatchInterval <= 0 {
		d.WatchInterval = 250 * time.Millisecond
	}
	return &Controller{cfg: cfg, d: d, role: RoleStandby, automatic: cfg.Automatic}
}

// Start reads the administrator's stored choice (the configuration's
// automatic only counts until an administrator decides).
func (c *Controller) Start(ctx context.Context) error {
	if c.d.Store == nil {
		return nil
	}
	auto, ok, err := c.d.Store.Automatic(ctx, c.d.Self)
	if err != nil {
		return err
	}
	if ok {
		c.mu.Lock()
		c.automatic = auto
		c.mu.Unlock()
	}
	return nil
}

// Status is a snapshot for the API.
func (c *Controller) Status() StandbyStatus {
	c.mu.Lock()
	defer c.mu.Unlock()
	st := StandbyStatus{
		Node: c.d.Self, PrimaryID: c.cfg.PrimaryID, PrimaryURL: c.cfg.PrimaryURL,
		Role: c.role, Automatic: c.automatic && c.d.Probe != nil, OnFailure: c.cfg.OnFailure,
		ConsecutiveFailures: c.failures, ConsecutiveSuccesses: c.successes, Threshold: c.cfg.ConsecutiveFailures,
		LastCheck: c.lastCheck, LastOK: c.lastOK, LastError: c.lastErr, NextCheck: c.nextCheck,
		ChangedAt: c.changedAt, ChangedBy: c.changedBy, Reason: c.reason,
	}
	switch {
	case c.role == RolePrimary:
		st.State = StatePromoted
	case st.Automatic:
		st.State = StateWatching
	default:
		st.State = StateDisabled
	}
	return st
}

// Role is standby or primary.
func (c *Controller) Role() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.role
}

// Step checks the primary once and acts on the result; it returns how
// long to wait before the next check: the heartbeat interval after a
// success, the re-check interval after a failure. Without a primary to
// watch it only returns the heartbeat interval.
func (c *Controller) Step(ctx context.Context) time.Duration {
	c.op.Lock()
	defer c.op.Unlock()
	if c.d.Probe == nil {
		return c.cfg.HeartbeatInterval
	}
	pctx, cancel := context.WithTimeout(ctx, c.cfg.ProbeTimeout)
	err := c.d.Probe.Check(pctx)
	cancel()
	if ctx.Err() != nil {
		return c.cfg.HeartbeatInterval
	}
	now := c.d.Clock.Now()
	wait := c.cfg.HeartbeatInterval
	c.mu.Lock()
	c.lastCheck = now
	n := c.cfg.ConsecutiveFailures
	var act func()
	if err == nil {
		c.failures, c.handled, c.lastErr, c.lastOK = 0, false, "", now
		c.successes++
		if c.role == RolePrimary && c.automatic && c.successes >= n {
			reason := fmt.Sprintf("primary %s answered %d consecutive heartbeats", c.primaryName(), c.successes)
			act = func() { _ = c.stepDown(ctx, ActorAutomatic, reason) }
		}
	} else {
		wait = c.cfg.RecheckInterval
		c.successes = 0
		c.failures++
		c.lastErr = err.Error()
		// A dead process is no network fault: no need to wait for more
		// failed checks.
		gone := errors.Is(err, ErrPrimaryGone)
		if c.role == RoleStandby && (c.failures >= n || gone) && !c.handled {
			c.handled = true
			reason := fmt.Sprintf("primary %s failed %d consecutive heartbeats: %v", c.primaryName(), c.failures, err)
			if gone && c.failures < n {
				reason = fmt.Sprintf("primary %s's process is gone: %v", c.primaryName(), err)
			}
			if c.automatic && c.cfg.OnFailure == OnFailurePromote {
				act = func() { _ = c.promote(ctx, ActorAutomatic, reason) }
			} else {
				why := "on_failure is keep_standby"
				if !c.automatic {
					why = "automatic failover is disabled"
				}
				act = func() {
					c.d.Log.Error("primary down; staying in standby", "primary", c.primaryName(), "why", why, "err", err)
					c.notifyFailure(ctx, "failover", reason+"; this server stays in standby ("+why+")")
					c.event(ctx, "primary_down", reason+" ("+why+")", ActorAutomatic)
				}
			}
		}
	}
	c.nextCheck = now.Add(wait)
	c.mu.Unlock()
	if act != nil {
		act()
	}
	return wait
}

func (c *Controller) primaryName() string {
	if c.cfg.PrimaryID != "" {
		return c.cfg.PrimaryID
	}
	return c.cfg.PrimaryURL
}

// Run checks the primary until ctx ends. Between checks, while this node
// stands by, the Watch looks for the primary's process every
// WatchInterval and brings the next check forward when it is gone.
func (c *Controller) Run(ctx context.Context) {
	for {
		if !c.sleep(ctx, c.Step(ctx)) {
			return
		}
	}
}

// sleep waits d, or less when the Watch sees the primary's process gone;
// false when ctx ended.
func (c *Controller) sleep(ctx context.Context, d time.Duration) bool {
	end := time.Now().Add(d)
	for {
		left := time.Until(end)
		if left <= 0 {
			return true
		}
		watch := c.d.Watch != nil && c.Role() == RoleStandby
		if watch {
			left = min(left, c.d.WatchInterval)
		}
		t := time.NewTimer(left)
		select {
		case <-ctx.Done():
			t.Stop()
			return false
		case <-t.C:
		}
		if watch && c.d.Watch.Gone(ctx) {
			c.mu.Lock()
			handled := c.handled
			c.mu.Unlock()
			if !handled {
				return true
			}
		}
	}
}

// promote runs the promotion; c.op is held.
func (c *Controller) promote(ctx context.Context, actor, reason string) error {
	if err := c.d.Actions.Promote(ctx); err != nil {
		c.d.Log.Error("promotion failed", "err", err)
		c.mu.Lock()
		c.handled = false // tried again at the next failed check
		c.mu.Unlock()
		c.notifyFailure(ctx, "failover", "promotion to primary failed: "+err.Error())
		return fmt.Errorf("cluster: promote: %w", err)
	}
	now := c.d.Clock.Now()
	c.mu.Lock()
	c.role, c.successes, c.changedAt, c.changedBy, c.reason = RolePrimary, 0, now, actor, reason
	c.mu.Unlock()
	c.d.Log.Warn("this server became primary", "previous", c.primaryName(), "by", actor, "reason", reason)
	if c.d.OnRole != nil {
		c.d.OnRole(RolePrimary)
	}
	if c.d.Notifier != nil {
		if err := c.d.Notifier.BecamePrimary(ctx, notify.PrimaryEvent{Node: c.d.Self, Previous: c.primaryName(), Reason: reason, At: now}); err != nil {
			c.d.Log.Warn("became-primary notice not queued", "err", err)
		}
	}
	c.event(ctx, "promoted", reason, actor)
	return nil
}

// stepDown returns to standby; c.op is held.
func (c *Controller) stepDown(ctx context.Context, actor, reason string) error {
	if err := c.d.Actions.StepDown(ctx); err != nil {
		c.d.Log.Error("step-down failed", "err", err)
		c.notifyFailure(ctx, "failover", "step-down to standby failed: "+err.Error())
		return fmt.Errorf("cluster: step down: %w", err)
	}
	now := c.d.Clock.Now()
	c.mu.Lock()
	c.role, c.failures, c.handled, c.changedAt, c.changedBy, c.reason = RoleStandby, 0, false, now, actor, reason
	c.mu.Unlock()
	c.d.Log.Warn("this server stepped down to standby", "primary", c.primaryName(), "by", actor, "reason", reason)
	if c.d.OnRole != nil {
		c.d.OnRole(RoleStandby)
	}
	if c.d.Notifier != nil {
		if err := c.d.Notifier.SteppedDown(ctx, StepDownEvent{Node: c.d.Self, Primary: c.primaryName(), Reason: reason, At: now}); err != nil {
			c.d.Log.Warn("step-down notice not queued", "err", err)
		}
	}
	c.event(ctx, "stepped_down", reason, actor)
	return nil
}

func (c *Controller) notifyFailure(ctx context.Context, component, msg string) {
	if c.d.Notifier == nil {
		return
	}
	if err := c.d.Notifier.Failure(ctx, notify.FailureEvent{Node: c.d.Self, Component: component, Message: msg, At: c.d.Clock.Now()}); err != nil {
		c.d.Log.Warn("failure notice not queued", "err", err)
	}
}

func (c *Controller) event(ctx context.Context, event, detail, actor string) {
	if c.d.Store == nil {
		return
	}
	if err := c.d.Store.Event(ctx, c.d.Self, event, detail, actor); err != nil {
		c.d.Log.Warn("standby event not recorded", "event", event, "err", err)
	}
}

// Promote makes this node primary now, whatever the primary's health. A
// manual promotion turns automatic failover off, so the node stays
// primary until an administrator demotes it (or enables automatic
// failover again, after which the primary's return steps it down).
func (c *Controller) Promote(ctx context.Context, actor string) error {
	c.op.Lock()
	defer c.op.Unlock()
	if err := c.setAutomatic(ctx, false, actor); err != nil {
		return err
	}
	if c.Role() == RolePrimary {
		return nil
	}
	return c.promote(ctx, actor, "promoted by administrator "+actor)
}

// Demote returns this node to standby now. It turns automatic failover
// off too, so a standby demoted while its primary is still down does not
// promote itself again at the next check.
func (c *Controller) Demote(ctx context.Context, actor string) error {
	c.op.Lock()
	defer c.op.Unlock()
	if err := c.setAutomatic(ctx, false, actor); err != nil {
		return err
	}
	if c.Role() == RoleStandby {
		return nil
	}
	return c.stepDown(ctx, actor, "demoted by administrator "+actor)
}

// Enable turns automatic failover on: a primary that is down (already
// failed the threshold) is acted on at the next failed check.
func (c *Controller) Enable(ctx context.Context, actor string) error {
	if c.d.Probe == nil {
		return ErrNoPrimary
	}
	c.op.Lock()
	defer c.op.Unlock()
	if err := c.setAutomatic(ctx, true, actor); err != nil {
		return err
	}
	c.mu.Lock()
	c.handled = false
	c.mu.Unlock()
	return nil
}

// Disable turns automatic failover off: the node keeps checking and
// notifying but never changes role by itself.
func (c *Controller) Disable(ctx context.Context, actor string) error {
	c.op.Lock()
	defer c.op.Unlock()
	return c.setAutomatic(ctx, false, actor)
}

func (c *Controller) setAutomatic(ctx context.Context, on bool, actor string) error {
	c.mu.Lock()
	same := c.automatic == on
	c.mu.Unlock()
	if same {
		return nil
	}
	if c.d.Store != nil {
		if err := c.d.Store.SetAutomatic(ctx, c.d.Self, on, actor); err != nil {
			return fmt.Errorf("cluster: keep the automatic failover choice: %w", err)
		}
	}
	c.mu.Lock()
	c.automatic = on
	c.mu.Unlock()
	what := "disabled"
	if on {
		what = "enabled"
	}
	c.d.Log.Info("automatic failover "+what, "by", actor)
	c.event(ctx, "automatic_"+what, "", actor)
	return nil
}
