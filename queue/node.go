package queue

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// NodeInfo describes a node in the nodes table.
type NodeInfo struct {
	ID       string
	Address  string
	Role     string // "active", "standby", ...; default "active"
	Capacity int    // fax channels
	Site     string // where it runs; "" is no site (see Config.Sites)
	// Balance: claim only while no live active balancing node of the
	// same site has more free channels (as of the last heartbeats), so
	// that work goes to the emptiest servers; down, draining (0 free) and
	// standby nodes never hold the others back.
	Balance  bool
	Metadata map[string]any
}

// NodeConfig tunes a node's lease.
type NodeConfig struct {
	// TTL is the lease length granted by each renewal; default 15s.
	TTL time.Duration
	// Interval between renewals; default TTL/5.
	Interval time.Duration
	// Margin: the lease is given up locally this long before it could
	// expire in the database, so that channels hang up before anyone may
	// take their jobs over; default TTL/3.
	Margin time.Duration
	// TakeOver makes Run take over dead nodes' jobs, every Probe.
	TakeOver bool
	// Probe is how often Run looks for dead nodes' jobs when TakeOver is
	// set; default 250ms. A node whose process died is found at the next
	// probe through its liveness session; one that is hung or cut off
	// only once its lease expired.
	Probe time.Duration
	// LeaseOnly turns the liveness session off: the node is then only
	// taken over once its lease expired.
	LeaseOnly bool
	// Liveness is the connection for the liveness session; default the
	// queue pool's. It must reach PostgreSQL directly (or through a
	// pooler in session mode): a transaction-mode pooler hands the
	// session to others and the lock means nothing.
	Liveness *pgx.ConnConfig
}

func (c *NodeConfig) defaults() error {
	if c.TTL <= 0 {
		c.TTL = 15 * time.Second
	}
	if c.Interval <= 0 {
		c.Interval = c.TTL / 5
	}
	if c.Margin <= 0 {
		c.Margin = c.TTL / 3
	}
	if c.Probe <= 0 {
		c.Probe = 250 * time.Millisecond
	}
	if c.Margin >= c.TTL || c.Interval >= c.TTL-c.Margin {
		return fmt.Errorf("%w: node lease: want interval < ttl - margin and margin < ttl (ttl %s, interval %s, margin %s)",
			ErrInvalidRequest, c.TTL, c.Interval, c.Margin)
	}
	return nil
}

// Node is this process's membership row and lease.
type Node struct {
	q    *Queue
	info NodeInfo
	cfg  NodeConfig

	mu    sync.Mutex
	lease *Lease
	free  int
	// Inbound overflow: where this node takes SIP calls and how many
	// inbound channels it has free, written with each heartbeat.
	sipContact string
	freeIn     int
}

// Lease is one incarnation's node lease as this process sees it. Done is
// closed, strictly before the lease can expire in the database, once
// renewals have failed for too long (or the database refused one): then
// every channel working under the lease must stop transmitting.
type Lease struct {
	NodeID      string
	Incarnation int64

	ctx    context.Context
	cancel context.CancelCauseFunc
	margin time.Duration

	mu         sync.Mutex
	guaranteed time.Time // local time before which the database lease surely holds
	timer      *time.Timer
	session    *pgx.Conn // the liveness session; nil when lease only
}

// Done is closed when the lease can no longer be guaranteed.
func (l *Lease) Done() <-chan struct{} { return l.ctx.Done() }

// Context is cancelled with Done; its cause is the reason.
func (l *Lease) Context() context.Context { return l.ctx }

// Err is nil while the lease holds, ErrLeaseLost (wrapped) after.
func (l *Lease) Err() error {
	if l.ctx.Err() == nil {
		return nil
	}
	cause := context.Cause(l.ctx)
	if errors.Is(cause, ErrLeaseLost) {
		return cause
	}
	return fmt.Errorf("%w: %v", ErrLeaseLost, cause)
}

// GuaranteedUntil is the local time until which the database lease is
// known to hold.
func (l *Lease) GuaranteedUntil() time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.guaranteed
}

// extend records a renewal that was sent at start: the database lease
// then runs until at least start+ttl.
func (l *Lease) extend(start time.Time, ttl time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.ctx.Err() != nil {
		return // fenced is final
	}
	if g := start.Add(ttl); g.After(l.guaranteed) {
		l.guaranteed = g
	}
	d := time.Until(l.guaranteed.Add(-l.margin))
	if l.timer == nil {
		l.timer = time.AfterFunc(d, func() {
			l.fence(fmt.Errorf("%w: renewals failing, lease ends within %s", ErrLeaseLost, l.margin))
		})
	} else {
		l.timer.Reset(d)
	}
}

func (l *Lease) fence(cause error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.timer != nil {
		l.timer.Stop()
	}
	l.cancel(cause)
}

// lose fences the lease because its liveness session ended: the others
// may take its jobs over now, so nothing is left to wait for before
// registering again.
func (l *Lease) lose(cause error) {
	l.fence(cause)
	l.mu.Lock()
	l.guaranteed = time.Now()
	l.mu.Unlock()
}

// Register writes the node's row with a new incarnation and a fresh lease.
// Jobs still held by an earlier incarnation of the same node id become
// orphans at once.
func (q *Queue) Register(ctx context.Context, info NodeInfo, cfg NodeConfig) (*Node, error) {
	if info.ID == "" {
		return nil, fmt.Errorf("%w: node id is required", ErrInvalidRequest)
	}
	if info.Role == "" {
		info.Role = "active"
	}
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	free := info.Capacity
	if info.Role != "" && info.Role != "active" {
		free = 0 // a standby offers no channels until it is promoted
	}
	n := &Node{q: q, info: info, cfg: cfg, free: free}
	l, err := n.register(ctx)
	if err != nil {
		return nil, err
	}
	n.lease = l
	return n, nil
}

func (n *Node) register(ctx context.Context) (*Lease, error) {
	meta, err := json.Marshal(n.info.Metadata)
	if err != nil || n.info.Metadata == nil {
		meta = []byte("{}")
	}
	var session *pgx.Conn
	var locked *int64 // the incarnation the session holds
	if !n.cfg.LeaseOnly {
		if session, locked, err = n.openSession(ctx); err != nil {
			return nil, err
		}
	}
	start := time.Now()
	var inc int64
	contact, freeIn := n.Inbound()
	err = n.q.pool.QueryRow(ctx, sqlRegister, n.info.ID, n.info.Address, n.info.Role,
		n.cfg.TTL.Seconds(), n.info.Capacity, n.Free(), meta, locked, n.info.Site, n.info.Balance, contact, freeIn).Scan(&inc)
	if err != nil {
		if session != nil {
			session.Close(context.Background())
		}
		return nil, fmt.Errorf("queue: register node %s: %w", n.info.ID, err)
	}
	lctx, cancel := context.WithCancelCause(context.Background())
	l := &Lease{NodeID: n.info.ID, Incarnation: inc, ctx: lctx, cancel: cancel, margin: n.cfg.Margin, session: session}
	l.extend(start, n.cfg.TTL)
	if session != nil {
		go n.watch(l, session)
	}
	n.q.log.Info("queue: node registered", "incarnation", inc, "ttl", n.cfg.TTL,
		"liveness_session", session != nil)
	return l, nil
}

// openSession connects the liveness session, draws the incarnation and
// locks it there.
func (n *Node) openSession(ctx context.Context) (*pgx.Conn, *int64, error) {
	cc := n.cfg.Liveness
	if cc == nil {
		cc = n.q.pool.Config().ConnConfig
	}
	cc = cc.Copy()
	if cc.RuntimeParams == nil {
		cc.RuntimeParams = map[string]string{}
	}
	cc.RuntimeParams["application_name"] = "faxd liveness " + n.info.ID
	// PostgreSQL must not end the session of a live node before that
	// node would have fenced itself anyway: with the server's keepalive
	// idle time at least the lease TTL, a silent network path loses the
	// lease (and the node stops transmitting) before the backend gives
	// the session and its lock up. No timeout may end an idle session.
	cc.RuntimeParams["tcp_keepalives_idle"] = strconv.Itoa(int(math.Ceil(n.cfg.TTL.Seconds())))
	cc.RuntimeParams["tcp_user_timeout"] = "0"
	cc.RuntimeParams["idle_session_timeout"] = "0"
	cc.RuntimeParams["idle_in_transaction_session_timeout"] = "0"
	cc.RuntimeParams["statement_timeout"] = "0"
	conn, err := pgx.ConnectConfig(ctx, cc)
	if err != nil {
		return nil, nil, fmt.Errorf("queue: node %s: liveness session: %w", n.info.ID, err)
	}
	var inc int64
	var ok bool
	if err := conn.QueryRow(ctx, sqlLivenessLock).Scan(&inc, &ok); err != nil || !ok {
		conn.Close(context.Background())
		if err == nil {
			err = fmt.Errorf("lock of incarnation %d not granted (incarnations beyond 2^31 need lease-only nodes)", inc)
		}
		return nil, nil, fmt.Errorf("queue: node %s: liveness session: %w", n.info.ID, err)
	}
	return conn, &inc, nil
}

// watch owns the liveness session of one lease. It waits on the
// session's socket, so that a session ended by the server is noticed at
// once, and every Interval it checks that the session still holds its
// lock. Any failure fences the lease at once: the others may take the
// jobs over as soon as the lock is gone, so the node must stop first. The
// session is closed (and the lock released) once the lease is fenced for
// any reason, because then nothing is transmitted under it any more.
func (n *Node) watch(l *Lease, conn *pgx.Conn) {
	defer conn.Close(context.Background())
	// A slow check is no lost session, but a check cut short closes the
	// connection (the protocol state is unknown), which ends the session:
	// so a check may take until the node would have fenced itself through
	// its lease anyway, counted from the last good check.
	lastOK := time.Now()
	for {
		wctx, cancel := context.WithTimeout(l.ctx, n.cfg.Interval)
		err := conn.PgConn().WaitForNotification(wctx)
		cancel()
		if l.ctx.Err() != nil {
			return
		}
		if err == nil {
			continue // nobody notifies this session; ignore
		}
		if !errors.Is(err, context.DeadlineExceeded) {
			l.lose(fmt.Errorf("%w: liveness session lost: %v", ErrLeaseLost, err))
			n.q.log.Warn("queue: liveness session lost; channels stop", "incarnation", l.Incarnation, "err", err)
			return
		}
		start := time.Now()
		pctx, cancel := context.WithDeadline(l.ctx, lastOK.Add(n.cfg.TTL-n.cfg.Margin))
		var held bool
		err = conn.QueryRow(pctx, sqlLivenessHeld, l.Incarnation).Scan(&held)
		cancel()
		if err == nil && held {
			lastOK = start
		}
		if l.ctx.Err() != nil {
			return
		}
		if err != nil || !held {
			if err == nil {
				err = errors.New("lock no longer held")
			}
			l.lose(fmt.Errorf("%w: liveness session check failed: %v", ErrLeaseLost, err))
			n.q.log.Warn("queue: liveness session check failed; channels stop", "incarnation", l.Incarnation, "err", err)
			return
		}
	}
}

// ID is the node id.
func (n *Node) ID() string { return n.info.ID }

// Lease is the current lease; after a loss, Run registers a new one.
func (n *Node) Lease() *Lease {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.lease
}

// SetFree records the free channel count sent with the next heartbeat.
func (n *Node) SetFree(free int) {
	n.mu.Lock()
	n.free = max(free, 0)
	n.mu.Unlock()
}

// Free is the last recorded free channel count.
func (n *Node) Free() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.free
}

// SetInbound records, for the next heartbeat, the node's SIP contact (a
// sip: URI without user part, "" for none) and its free inbound
// channels: what other nodes need to redirect an inbound call here.
func (n *Node) SetInbound(contact string, free int) {
	n.mu.Lock()
	n.sipContact, n.freeIn = contact, max(free, 0)
	n.mu.Unlock()
}

// Inbound is the last recorded SIP contact and free inbound count.
func (n *Node) Inbound() (contact string, free int) {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.sipContact, n.freeIn
}

// SetFreeInbound records the free inbound channel count alone.
func (n *Node) SetFreeInbound(free int) {
	n.mu.Lock()
	n.freeIn = max(free, 0)
	n.mu.Unlock()
}

// Renew renews the current lease once. A refusal by the database fences
// the lease and returns ErrLeaseLost.
func (n *Node) Renew(ctx context.Context) error {
	l := n.Lease()
	if err := l.Err(); err != nil {
		return err
	}
	// Never wait past the point where the lease is given up anyway.
	rctx, cancel := context.WithDeadline(ctx, l.GuaranteedUntil().Add(-n.cfg.Margin))
	defer cancel()
	start := time.Now()
	contact, freeIn := n.Inbound()
	tag, err := n.q.pool.Exec(rctx, sqlRenew, l.NodeID, l.Incarnation, n.cfg.TTL.Seconds(), n.Free(), contact, freeIn)
	if err != nil {
		return fmt.Errorf("queue: renew node %s: %w", l.NodeID, err)
	}
	if tag.RowsAffected() == 0 {
		err := fmt.Errorf("%w: node %s incarnation %d expired or replaced", ErrLeaseLost, l.NodeID, l.Incarnation)
		l.fence(err)
		return err
	}
	l.extend(start, n.cfg.TTL)
	return nil
}

// Run renews the lease every interval until ctx ends, then gives the
// lease up (Deregister). After a loss it registers a new incarnation, but
// only once the old lease has surely expired, so that jobs of the old one
// are never held twice. With NodeConfig.TakeOver it also takes over dead
// nodes' jobs after each renewal.
func (n *Node) Run(ctx context.Context) error {
	t := time.NewTicker(n.cfg.Interval)
	defer t.Stop()
	var probe <-chan time.Time
	if n.cfg.TakeOver {
		p := time.NewTicker(n.cfg.Probe)
		defer p.Stop()
		probe = p.C
	}
	for {
		select {
		case <-ctx.Done():
			dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			return n.Deregister(dctx)
		case <-probe:
			// Only a node that may work takes work over.
			if n.Lease().Err() == nil {
				if _, err := n.q.TakeOver(ctx, n.info.ID); err != nil && ctx.Err() == nil {
					n.q.log.Warn("queue: takeover failed", "err", err)
				}
			}
			continue
		case <-t.C:
		}
		l := n.Lease()
		if l.Err() != nil {
			if time.Now().Before(l.GuaranteedUntil()) {
				continue
			}
			nl, err := n.register(ctx)
			if err != nil {
				n.q.log.Warn("queue: node re-registration failed", "err", err)
				continue
			}
			n.mu.Lock()
			n.lease = nl
			n.mu.Unlock()
			continue
		}
		if err := n.Renew(ctx); err != nil {
			n.q.log.Warn("queue: lease renewal failed", "err", err)
		} else if _, err := n.q.ExpireDeadlines(ctx); err != nil && ctx.Err() == nil {
			n.q.log.Warn("queue: expiring deadlines failed", "err", err)
		}
	}
}

// Deregister ends the lease in the database at once and fences it
// locally; jobs still held become orphans for the others to take over.
func (n *Node) Deregister(ctx context.Context) error {
	l := n.Lease()
	l.fence(fmt.Errorf("%w: node deregistered", ErrLeaseLost)) // also ends the liveness session
	if _, err := n.q.pool.Exec(ctx, sqlDeregister, l.NodeID, l.Incarnation); err != nil {
		return fmt.Errorf("queue: deregister node %s: %w", l.NodeID, err)
	}
	return nil
}

// NodeStatus is a row of the nodes table.
type NodeStatus struct {
	ID             string
	Incarnation    int64
	Address        string
	Role           string
	StartedAt      time.Time
	LastHeartbeat  time.Time
	LeaseExpiresAt time.Time
	Capacity       int
	FreeChannels   int
	Live           bool // lease not expired
	// Liveness: the incarnation holds a liveness session. ProcessGone:
	// that session has ended, so the process died (or lost its database
	// session and fenced itself), whatever its lease says.
	Liveness    bool
	ProcessGone bool
	Site        string
}

// Nodes lists the nodes table.
func (q *Queue) Nodes(ctx context.Context) ([]NodeStatus, error) {
	rows, err := q.pool.Query(ctx, sqlNodes)
	if err != nil {
		return nil, fmt.Errorf("queue: nodes: %w", err)
	}
	defer rows.Close()
	var out []NodeStatus
	for rows.Next() {
		var s NodeStatus
		var capacity, free int32
		if err := rows.Scan(&s.ID, &s.Incarnation, &s.Address, &s.Role, &s.StartedAt, &s.LastHeartbeat,
			&s.LeaseExpiresAt, &capacity, &free, &s.Live, &s.Liveness, &s.ProcessGone, &s.Site); err != nil {
			return nil, fmt.Errorf("queue: nodes: %w", err)
		}
		s.Capacity, s.FreeChannels = int(capacity), int(free)
		out = append(out, s)
	}
	return out, rows.Err()
}

// OverflowTarget names another live, active node with a free inbound
// channel and its SIP contact, for a node that cannot answer a call
// itself; ok is false when there is none. The free counts are as of each
// node's last heartbeat: the target may have filled up since, and then
// refuses the call itself.
func (q *Queue) OverflowTarget(ctx context.Context, self string) (node, contact string, ok bool, err error) {
	err = q.pool.QueryRow(ctx, sqlOverflowTarget, self).Scan(&node, &contact)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", "", false, nil
	}
	if err != nil {
		return "", "", false, fmt.Errorf("queue: overflow target: %w", err)
	}
	return node, contact, true, nil
}
