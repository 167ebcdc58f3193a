package channel

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"text/template"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/faxd/faxd/internal/render"
	"github.com/faxd/faxd/internal/sip"
	"github.com/faxd/faxd/queue"
	"github.com/faxd/faxd/routing"
)

// Deps are what the channels work with.
type Deps struct {
	Queue  *queue.Queue
	Node   *queue.Node
	UA     *sip.UA
	Router *routing.Router
	Docs   Documents
	// Outbox is the queue database, where received faxes' archive records
	// are written (archive.Emit) for the relay.
	Outbox *pgxpool.Pool
	// Inbound routes received faxes; nil keeps them unrouted.
	Inbound InboundRouter
	// Traces keeps each call's trace; nil keeps none.
	Traces  Traces
	Metrics *Metrics
	Log     *slog.Logger
}

// Options size the pool.
type Options struct {
	// Outbound is the number of outbound channel workers (channels.count).
	Outbound int
	// Poll bounds an idle worker's wait when no notification arrives.
	Poll time.Duration
}

// Pool is one node's fax channels: Outbound workers pulling jobs from the
// queue, and up to InboundCount answered calls at once.
type Pool struct {
	cfg    Config
	opt    Options
	d      Deps
	log    *slog.Logger
	header *template.Template

	// gateways are the file's (fixed) merged with the database's (replaced
	// by SetExtraGateways while running), by name, addresses resolved.
	gwMu     sync.RWMutex
	fileGWs  map[string]Gateway
	gateways map[string]Gateway
	self     string

	waiter          *queue.Waiter
	state           atomic.Int32 // sip.State: claiming and answering only while active
	wake            chan struct{}
	busyOut, busyIn atomic.Int64

	// hard ends calls: the drain timeout after a shutdown began.
	hard       context.Context
	hardCancel context.CancelFunc

	inSlots chan struct{}
	// hint is the gateway the last job went to first: the next claim
	// takes its call slot on it in the same statement (queue.SlotHint).
	hint    atomic.Pointer[queue.SlotHint]
	mu      sync.Mutex
	closing bool
	inWG    sync.WaitGroup
}

// New prepares the pool and installs it as the UA's admission. self is
// the address the "self" gateway stands for (this node's SIP listener).
func New(cfg Config, opt Options, d Deps, self string) (*Pool, error) {
	if d.Queue == nil || d.Node == nil || d.UA == nil || d.Router == nil || d.Docs == nil || d.Outbox == nil {
		return nil, errors.New("channel: queue, node, UA, router, documents and outbox are required")
	}
	if errs := cfg.Validate(); len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if opt.Poll <= 0 {
		opt.Poll = time.Second
	}
	if d.Log == nil {
		d.Log = slog.Default()
	}
	if d.Metrics == nil {
		d.Metrics = NewMetrics(nil, nil)
	}
	inbound := cfg.InboundCount
	if inbound == 0 {
		inbound = opt.Outbound
	}
	p := &Pool{cfg: cfg, opt: opt, d: d, log: d.Log, fileGWs: map[string]Gateway{}, self: self,
		wake: make(chan struct{}, 1), inSlots: make(chan struct{}, inbound)}
	if cfg.HeaderTemplate != "" {
		t, err := render.ParseHeaderTemplate(cfg.HeaderTemplate)
		if err != nil {
			return nil, fmt.Errorf("channel.header_template: %w", err)
		}
		p.header = t
	}
	for i, g := range cfg.Gateways {
		if _, ok := d.UA.Addr(g.transport()); !ok {
			return nil, fmt.Errorf("channel.gateways[%d].transport: %s needs sip.listen_%s", i, g.transport(), g.transport())
		}
		if g.Address == SelfAddress {
			g.Address = self
		}
		p.fileGWs[g.Name] = g
	}
	p.SetExtraGateways(nil)
	p.hard, p.hardCancel = context.WithCancel(context.Background())
	p.state.Store(int32(sip.StateActive))
	d.UA.SetAdmission(p)
	return p, nil
}

// SetExtraGateways replaces the gateways administrators manage in the
// database. A name the configuration file already uses keeps the file's
// entry. Until some gateway exists the outbound workers claim nothing, so
// jobs wait pending (for an operator to add one) instead of failing with
// "no route".
func (p *Pool) SetExtraGateways(extra []Gateway) {
	m := make(map[string]Gateway, len(p.fileGWs)+len(extra))
	for _, g := range extra {
		if _, dup := p.fileGWs[g.Name]; dup {
			p.log.Warn("gateway defined in the configuration file and the database: the file's entry is used", "gateway", g.Name)
			continue
		}
		if g.Address == SelfAddress {
			g.Address = p.self
		}
		m[g.Name] = g
	}
	for name, g := range p.fileGWs {
		m[name] = g
	}
	p.gwMu.Lock()
	had := len(p.gateways) > 0
	p.gateways = m
	p.gwMu.Unlock()
	if !had && len(m) > 0 {
		select { // idle workers start claiming now
		case p.wake <- struct{}{}:
		default:
		}
	}
}

// gateway returns the named gateway ("" Name when unknown).
func (p *Pool) gateway(name string) Gateway {
	p.gwMu.RLock()
	defer p.gwMu.RUnlock()
	return p.gateways[name]
}

func (p *Pool) gatewayCount() int {
	p.gwMu.RLock()
	defer p.gwMu.RUnlock()
	return len(p.gateways)
}

// SetState switches the node between active (claiming and answering),
// draining and standby (neither: gateways get 503).
func (p *Pool) SetState(s sip.State) {
	p.state.Store(int32(s))
	p.d.UA.SetState(s)
	p.updateFree()
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

func (p *Pool) active() bool { return sip.State(p.state.Load()) == sip.StateActive }

// updateFree tells the cluster how many more outbound and inbound calls
// this node can take (0 unless active).
func (p *Pool) updateFree() {
	free, freeIn := 0, 0
	if p.active() {
		free = max(p.opt.Outbound-int(p.busyOut.Load()), 0)
		freeIn = max(cap(p.inSlots)-int(p.busyIn.Load()), 0)
	}
	p.d.Node.SetFree(free)
	p.d.Node.SetFreeInbound(freeIn) // other nodes redirect calls here while > 0
}

func (p *Pool) busy(direction string, delta int64) {
	if direction == Outbound {
		p.busyOut.Add(delta)
		p.updateFree()
	} else {
		p.busyIn.Add(delta)
		p.updateFree()
	}
	p.d.Metrics.Busy.WithLabelValues(direction).Add(float64(delta))
}

// Run runs the outbound workers and the gateway prober until ctx ends.
// Then it stops claiming and answering, lets calls in progress finish for
// up to DrainTimeout, hangs up what is left (releasing those jobs: their
// confirmed pages stay, the attempt is not charged) and returns once every
// channel is idle. The node lease must outlive Run.
func (p *Pool) Run(ctx context.Context) error {
	p.waiter = p.d.Queue.NewWaiter(p.opt.Poll)
	defer p.waiter.Close()
	p.updateFree()
	var wg sync.WaitGroup
	for i := 0; i < p.opt.Outbound; i++ {
		wg.Add(1)
		go func() { defer wg.Done(); p.worker(ctx) }()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		p.d.Router.RunProber(ctx, Prober{UA: p.d.UA, Gateway: p.gateway}, time.Second)
	}()
	p.log.Info("fax channels running", "outbound", p.opt.Outbound, "inbound", cap(p.inSlots), "gateways", p.gatewayCount())
	if p.gatewayCount() == 0 && p.opt.Outbound > 0 {
		p.log.Warn("no gateways yet: outbound faxes wait pending until one is configured; inbound calls are answered")
	}
	<-ctx.Done()

	p.mu.Lock()
	p.closing = true
	p.mu.Unlock()
	if p.active() {
		p.d.UA.SetState(sip.StateDraining)
	}
	drained := make(chan struct{})
	go func() { wg.Wait(); p.inWG.Wait(); close(drained) }()
	t := time.NewTimer(p.cfg.DrainTimeout)
	defer t.Stop()
	select {
	case <-drained:
	case <-t.C:
		p.log.Warn("drain timeout: hanging up the calls in progress", "outbound", p.busyOut.Load(), "inbound", p.busyIn.Load())
		p.hardCancel()
		<-drained
	}
	p.hardCancel()
	p.d.Node.SetFree(0)
	p.d.Node.SetFreeInbound(0)
	return nil
}

// Busy reports the calls in progress by direction.
func (p *Pool) Busy() (outbound, inbound int) { return int(p.busyOut.Load()), int(p.busyIn.Load()) }
