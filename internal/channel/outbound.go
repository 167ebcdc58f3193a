package channel

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/faxd/faxd/internal/calltrace"
	"github.com/faxd/faxd/internal/render"
	"github.com/faxd/faxd/internal/sip"
	"github.com/faxd/faxd/queue"
	"github.com/faxd/faxd/routing"
	"github.com/faxd/faxd/t38/bilevel"
	"github.com/faxd/faxd/t38/t30"
)

// Why a call was hung up early (the cause of the call's context).
var (
	errCancelRequested = errors.New("job cancel requested")
	errLeaseLost       = errors.New("node lease can no longer be guaranteed")
	errFenced          = errors.New("job taken over by another node (stale fencing token)")
)

// dbTimeout bounds each queue write after a call: it runs on its own
// context so that a hung-up call still records its result.
const dbTimeout = 10 * time.Second

// worker claims and sends one job at a time until ctx ends.
func (p *Pool) worker(ctx context.Context) {
	for ctx.Err() == nil {
		if !p.active() || p.gatewayCount() == 0 {
			select {
			case <-ctx.Done():
			case <-p.wake:
			case <-time.After(p.opt.Poll):
			}
			continue
		}
		mark := p.waiter.Mark()
		lease := p.d.Node.Lease()
		if lease.Err() != nil {
			// Fenced: wait for Node.Run to register a new incarnation.
			p.sleep(ctx)
			continue
		}
		var jobs []queue.Job
		var err error
		hint := p.hint.Load()
		if hint != nil {
			jobs, err = p.d.Queue.ClaimWithSlot(ctx, lease, 1, *hint)
		} else {
			jobs, err = p.d.Queue.Claim(ctx, lease, 1)
		}
		if err != nil {
			if ctx.Err() == nil {
				p.log.Warn("claim failed", "err", err)
				p.sleep(ctx)
			}
			continue
		}
		if len(jobs) == 0 {
			_ = p.waiter.WaitSince(ctx, mark)
			continue
		}
		p.busy(Outbound, 1)
		backoff := p.send(ctx, lease, jobs[0], hint)
		p.busy(Outbound, -1)
		if backoff {
			p.sleep(ctx)
		}
	}
}

func (p *Pool) sleep(ctx context.Context) {
	select {
	case <-ctx.Done():
	case <-time.After(p.opt.Poll):
	}
}

// attempt is one job's attempt as it goes.
type attempt struct {
	p      *Pool
	job    queue.Job
	log    *slog.Logger
	start  time.Time
	ctx    context.Context // the call's: ends on hangup causes
	cancel context.CancelCauseFunc
	soft   context.Context // the pool's: ends when the node stops claiming

	gateway   string
	callID    string
	confirmed int // pages confirmed in the document (resume point)
	stats     []t30.PageStats
	remoteID  string
	media     string // what the call ran on (mediaName), "" before a call

	trace   *calltrace.Recorder // nil without Deps.Traces
	outcome string              // how the attempt ended, for the trace

	// The retry ladder: the step this attempt uses (from the job's last
	// result) and the one the next attempt will.
	step, nextStep int
	profile        callProfile
	called         bool // a call reached T.30: the profile applies
}

// ladderStep reads the step the previous attempt left in the job's result.
func ladderStep(job queue.Job) int {
	res, _ := job.Metadata["result"].(map[string]any)
	if n, ok := res["ladder_next"].(float64); ok && n > 0 {
		return min(int(n), maxLadderStep)
	}
	return 0
}

// send runs one claimed job to its end. It reports whether the worker
// should pause before claiming again (the job was handed back because
// every gateway was at its limit).
func (p *Pool) send(soft context.Context, lease *queue.Lease, job queue.Job, hint *queue.SlotHint) (backoff bool) {
	ctx, cancel := context.WithCancelCause(p.hard)
	defer cancel(nil)
	cancelled, stop := p.waiter.CancelRequested(job.ID)
	defer stop()
	go func() {
		select {
		case <-cancelled:
			cancel(errCancelRequested)
		case <-lease.Done():
			cancel(errLeaseLost)
		case <-ctx.Done():
		}
	}()
	a := &attempt{p: p, job: job, start: time.Now(), ctx: ctx, cancel: cancel, soft: soft, confirmed: job.PagesConfirmed,
		log: p.log.With("job", job.ID, "token", job.Token, "to", job.Destination, "attempt", job.Attempts)}
	a.step = ladderStep(job)
	a.nextStep = a.step
	a.log.Info("job claimed", "pages_confirmed", job.PagesConfirmed, "pages_total", job.PagesTotal)
	if p.d.Traces != nil {
		a.trace = calltrace.NewRecorder(calltrace.Trace{Direction: calltrace.Outbound, JobID: job.ID, Attempt: job.Attempts, Node: p.d.Node.ID()})
		defer a.saveTrace()
	}
	if job.CancelRequested {
		cancel(errCancelRequested)
		a.end(nil)
		return false
	}

	pages, err := p.d.Docs.Pages(ctx, job.Document)
	if err != nil {
		if ctx.Err() != nil {
			a.end(nil)
			return false
		}
		class := queue.ClassRoute // the document store is unreachable: retry soon
		if errors.Is(err, ErrNoDocument) {
			class = queue.ClassPermanent
		}
		a.fail(class, fmt.Sprintf("loading the document: %v", err))
		return false
	}
	if a.confirmed >= len(pages) {
		// Every page was confirmed before the attempt that held the job
		// died: there is nothing left to send.
		a.complete("all pages confirmed by an earlier attempt")
		return false
	}
	p.stamp(job, pages)

	cands, err := p.d.Router.Candidates(job.Destination)
	switch {
	case errors.Is(err, routing.ErrNoRoute):
		a.fail(queue.ClassPermanent, "no route for "+job.Destination)
		return false
	case err != nil:
		a.fail(queue.ClassRoute, err.Error())
		return false
	}
	if len(cands) > 0 {
		p.setHint(cands[0])
	}
	var tried []string
	for _, gw := range cands {
		if soft.Err() != nil || ctx.Err() != nil {
			break
		}
		// The claim may have taken this call's slot already; a slot on
		// another gateway (or under other limits) is given back first: a
		// claim holds one call's slots at a time.
		pre := job.SlotGateway != "" && job.SlotGateway == gw.Name && hint != nil &&
			hint.GatewayLimit == gw.MaxChannels && hint.NumberLimit == p.cfg.MaxCallsPerNumber
		if job.SlotGateway != "" && !pre {
			p.releaseSlot(job)
			job.SlotGateway = ""
		}
		if !p.d.Router.Acquire(gw.Name) {
			continue
		}
		v, err := queue.SlotAcquired, error(nil)
		if !pre {
			v, err = p.acquireSlot(ctx, job, gw)
		}
		job.SlotGateway = "" // from here on the slot is this call's, released as before
		switch {
		case err != nil:
			p.d.Router.Release(gw.Name)
			a.log.Warn("taking a call slot", "gateway", gw.Name, "err", err)
			a.release("call slot: " + err.Error())
			return true
		case v == queue.SlotGatewayFull:
			p.d.Router.Release(gw.Name)
			continue
		case v == queue.SlotNumberBusy:
			p.d.Router.Release(gw.Name)
			a.releaseAfter(p.cfg.NumberBusyDelay, v.String())
			return false
		case v == queue.SlotNotHeld:
			p.d.Router.Release(gw.Name)
			a.log.Warn("job no longer held by this claim", "gateway", gw.Name)
			a.outcome = "abandoned: " + v.String()
			a.count("abandoned")
			return false
		}
		g := p.gateway(gw.Name)
		if g.Name == "" { // a gateway the router knows but the pool does not (yet)
			g = Gateway{Name: gw.Name, Address: gw.Address}
		}
		a.gateway = g.Name
		d := p.dial(g, job)
		a.trace.SIP("INVITE %s through gateway %s (media %s, %s)", d.Target, g.Name, d.Media, map[bool]string{true: "audio first", false: "T.38 offered"}[d.AudioFirst || d.Media != sip.MediaT38])
		d.OnEvent = a.traceSIP
		call, err := p.d.UA.Dial(ctx, d)
		if err != nil {
			a.trace.SIP("call failed: %v", err)
			p.d.Router.Release(g.Name)
			p.releaseSlot(job)
			v := ClassifyCall(err)
			p.d.Router.Report(g.Name, v.Gateway, err.Error())
			if v.NextGateway && ctx.Err() == nil {
				a.log.Warn("gateway down, trying the next", "gateway", g.Name, "err", err)
				tried = append(tried, g.Name+": "+err.Error())
				continue
			}
			if v.Cancelled || ctx.Err() != nil {
				a.end(nil)
				return false
			}
			a.log.Info("call failed", "gateway", g.Name, "class", v.Class, "err", err)
			a.fail(v.Class, err.Error())
			return false
		}
		p.d.Router.Report(g.Name, routing.OK, "")
		a.callID = call.CallID()
		a.log = a.log.With("gateway", g.Name, "call_id", a.callID)
		a.trace.SetCall(a.callID, g.Name)
		m := call.Media()
		a.media = mediaName(m)
		a.trace.Media(a.media)
		if m.Audio {
			a.trace.SIP("audio fax over %s with %v", m.Codec.Name, m.Remote)
		} else {
			a.trace.SIP("T.38 agreed with %v: version %d, max datagram %d, error correction %s", m.Remote, m.Params.Version, m.Params.MaxDatagram, m.Params.UDPEC)
		}
		p.d.Metrics.Media.WithLabelValues(Outbound, mediaLabel(m)).Inc()
		a.profile, a.called = profileFor(g, p.cfg.ECM, a.step), true
		a.trace.Note("profile: %s", a.profile)
		res := a.transmit(call, pages)
		p.d.Router.Release(g.Name)
		// The call's slots go with the statement that ends the claim
		// (complete, fail, release) or, when the lease was lost, with the
		// takeover.
		a.end(res)
		return false
	}
	switch {
	case ctx.Err() != nil:
		a.end(nil)
	case soft.Err() != nil:
		a.release("node shutting down before the call began")
	case len(tried) > 0:
		a.fail(queue.ClassRoute, "every gateway is down: "+strings.Join(tried, "; "))
	default:
		// Every candidate was at its channel limit: give the job back
		// (the attempt is not charged) and let a channel take it later.
		a.release("every gateway for this number is at its channel limit")
		return true
	}
	return false
}

// dial describes the call to gateway g for job.
func (p *Pool) dial(g Gateway, job queue.Job) sip.Dial {
	target := "sip:" + job.Destination + "@" + g.Address
	if t := g.transport(); t != "udp" {
		target += ";transport=" + t
	}
	d := sip.Dial{Target: target, CallerID: job.CallerID, CallerName: p.cfg.CallerName,
		FromHost: g.FromHost, AssertIdentity: g.AssertIdentity, AudioFirst: g.AudioFirst, VBD: g.VBD,
		ReinviteAfter: g.ReinviteWait, T38: g.t38Profile(), Media: g.mediaMode()}
	if d.CallerID == "" {
		d.CallerID = p.cfg.CallerID
	}
	if g.Username != "" {
		d.Auth = &sip.Credentials{Username: g.Username, Password: g.Password}
	}
	return d
}

// stamp draws the header line on every page (numbered 1..n of n, so a
// resumed fax numbers its pages as the first attempt did).
func (p *Pool) stamp(job queue.Job, pages []*bilevel.Image) {
	if p.header == nil {
		return
	}
	name := job.Header
	if name == "" {
		name = p.cfg.CallerName
	}
	info := render.HeaderInfo{StationID: p.cfg.StationID, Name: name, To: job.Destination, Time: time.Now()}
	if err := render.StampHeaders(pages, info, p.header); err != nil {
		p.log.Warn("header line not stamped", "job", job.ID, "err", err)
	}
}

// transmit runs the T.30 sender over the call's media (T.38 or audio) from the first
// unconfirmed page, recording each confirmed page, and hangs up.
func (a *attempt) transmit(call *sip.Call, pages []*bilevel.Image) *t30.Result {
	p := a.p
	defer func() {
		hctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := call.Hangup(hctx); err != nil {
			a.log.Debug("hangup", "err", err)
		}
	}()
	cfg := t30.Config{Calling: true, Transmit: true, Ident: p.cfg.StationID,
		Fine: true, Superfine: true, Pages: t30.ImagePages(pages), StartPage: a.confirmed, Log: a.log}
	a.profile.apply(&cfg)
	if a.trace != nil {
		cfg.Trace = a.trace.T30
	}
	cause := a.ctx
	prog := newProgress(a)
	started := time.Now().UTC()
	prog.setCall(map[string]any{"gateway": a.gateway, "node": p.d.Node.ID(), "started_at": started})
	onEvent := func(o t30.Output) {
		if o.Kind == t30.OutPageSent && o.Stats != nil {
			if len(a.stats) == 0 || a.stats[len(a.stats)-1].BitRate != o.Stats.BitRate {
				prog.setCall(map[string]any{"gateway": a.gateway, "node": p.d.Node.ID(), "started_at": started,
					"bit_rate": o.Stats.BitRate, "ecm": o.Stats.ECM})
			}
			a.stats = append(a.stats, *o.Stats)
			a.confirmed = max(a.confirmed, o.Stats.Page+1)
			p.d.Metrics.Pages.WithLabelValues(Outbound).Inc()
			prog.set(a.confirmed)
		}
	}
	a.log.Info("sending", "from_page", a.confirmed+1, "pages", len(pages), "media", a.media)
	res, err := runFax(cause, call.Media(), cfg, onEvent, a.log)
	prog.close()
	if errors.Is(err, errMediaSetup) {
		a.log.Error("fax terminal", "err", err)
		return &t30.Result{Reason: t30.ReasonPageSource, Detail: err.Error(), NextPage: a.confirmed}
	}
	if res != nil {
		a.remoteID = res.RemoteIdent
		a.confirmed = max(a.confirmed, res.NextPage)
	}
	if err != nil && cause.Err() == nil {
		a.log.Debug("session ended", "err", err)
	}
	return res
}

// traceSIP records a step of the call's SIP dialogue.
func (a *attempt) traceSIP(ev sip.Event) {
	if ev.Status != 0 {
		a.trace.SIP("%s %d %s", ev.Kind, ev.Status, ev.Detail)
		return
	}
	a.trace.SIP("%s %s", ev.Kind, ev.Detail)
}

// saveTrace stores the attempt's trace once it is over, in a write of its
// own: a trace that cannot be stored is logged, never a reason to fail.
func (a *attempt) saveTrace() {
	if a.gateway == "" {
		return // no call was placed: the job's history says why
	}
	ctx, cancel := context.WithTimeout(context.Background(), dbTimeout)
	defer cancel()
	if _, err := a.p.d.Traces.Save(ctx, a.trace.Finish(a.outcome)); err != nil {
		a.log.Warn("call trace not stored", "err", err)
	}
}

// progress writes confirmed pages to the queue off the real-time loop:
// only the latest count matters, and a slow database must not stall the
// T.38 pacing. It hangs the call up when the write says a cancel was
// requested or the token is stale.
type progress struct {
	a       *attempt
	mu      sync.Mutex
	want    int
	written int
	call    map[string]any // the call in progress, to record (nil: written)
	wake    chan struct{}
	quit    chan struct{}
	done    chan struct{}
}

func newProgress(a *attempt) *progress {
	g := &progress{a: a, written: a.confirmed, wake: make(chan struct{}, 1), quit: make(chan struct{}), done: make(chan struct{})}
	go g.loop()
	return g
}

func (g *progress) set(n int) {
	g.mu.Lock()
	g.want = max(g.want, n)
	g.mu.Unlock()
	g.poke()
}

// setCall records what the queue shows of the call in progress (gateway,
// start, bit rate), for the dashboard.
func (g *progress) setCall(call map[string]any) {
	g.mu.Lock()
	g.call = call
	g.mu.Unlock()
	g.poke()
}

func (g *progress) poke() {
	select {
	case g.wake <- struct{}{}:
	default:
	}
}

func (g *progress) loop() {
	defer close(g.done)
	for {
		select {
		case <-g.wake:
			g.write()
		case <-g.quit:
			g.write()
			return
		}
	}
}

func (g *progress) write() {
	g.mu.Lock()
	n, call := g.want, g.call
	g.call = nil
	g.mu.Unlock()
	a := g.a
	ctx, cancel := context.WithTimeout(context.Background(), dbTimeout)
	defer cancel()
	if call != nil {
		// Shown to people only: a failure is logged, the call goes on.
		if err := a.p.d.Queue.SetCall(ctx, a.job.ID, a.job.Token, call); err != nil && !errors.Is(err, queue.ErrStaleToken) {
			a.log.Debug("recording the call in progress", "err", err)
		}
	}
	if n <= g.written {
		return
	}
	cancelReq, err := a.p.d.Queue.Progress(ctx, a.job.ID, a.job.Token, n)
	switch {
	case errors.Is(err, queue.ErrStaleToken):
		a.hangup(errFenced)
	case err != nil:
		// The lease's own timer fences us if the database stays away.
		a.log.Warn("recording page progress", "pages", n, "err", err)
	default:
		g.written = n
		if cancelReq {
			a.hangup(errCancelRequested)
		}
	}
}

func (g *progress) close() {
	close(g.quit)
	<-g.done
}

// hangup ends the call with cause.
func (a *attempt) hangup(cause error) { a.cancel(cause) }

// acquireSlot takes the job's cluster-wide call slot on gateway gw (its
// max_channels and the per-number limit across all nodes); with
// cluster_limits off every call gets one.
func (p *Pool) acquireSlot(ctx context.Context, job queue.Job, gw routing.Gateway) (queue.SlotVerdict, error) {
	if !p.cfg.ClusterLimits {
		return queue.SlotAcquired, nil
	}
	return p.d.Queue.AcquireSlot(ctx, queue.SlotRequest{JobID: job.ID, Token: job.Token, Gateway: gw.Name,
		GatewayLimit: gw.MaxChannels, Number: job.Destination, NumberLimit: p.cfg.MaxCallsPerNumber})
}

// setHint makes gw the gateway whose call slot the next claims take
// with their job (none with cluster_limits off or without limits).
func (p *Pool) setHint(gw routing.Gateway) {
	if !p.cfg.ClusterLimits || gw.Name == "" || gw.MaxChannels <= 0 && p.cfg.MaxCallsPerNumber <= 0 {
		p.hint.Store(nil)
		return
	}
	h := queue.SlotHint{Gateway: gw.Name, GatewayLimit: gw.MaxChannels, NumberLimit: p.cfg.MaxCallsPerNumber}
	if old := p.hint.Load(); old == nil || *old != h {
		p.hint.Store(&h)
	}
}

// releaseSlot gives the call's slot back. A failure leaves the row to the
// sweep: it is stale as soon as the job is finished or handed back.
func (p *Pool) releaseSlot(job queue.Job) {
	if !p.cfg.ClusterLimits {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), dbTimeout)
	defer cancel()
	if err := p.d.Queue.ReleaseSlot(ctx, job.ID, job.Token); err != nil {
		p.log.Warn("releasing a call slot", "job", job.ID, "err", err)
	}
}
