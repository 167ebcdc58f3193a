package channel

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"time"

	"github.com/faxd/faxd/archive"
	"github.com/faxd/faxd/internal/calltrace"
	"github.com/faxd/faxd/internal/sip"
	"github.com/faxd/faxd/t38/faxpdf"
	"github.com/faxd/faxd/t38/t30"
	"github.com/faxd/faxd/t38/t4"
	"github.com/faxd/faxd/t38/tiff"
)

// Admit answers the UA's question for an inbound INVITE: Unavailable
// (503) unless the node is active, Busy (486) when every inbound channel
// is taken, else Accept with a channel reserved for the call.
func (p *Pool) Admit(ctx context.Context, in sip.Incoming) sip.Decision {
	if d, ok := p.reserveInbound(in); !ok {
		return d
	}
	c := &inboundCall{p: p, in: in, admitted: time.Now(),
		log: p.log.With("call_id", in.CallID, "did", in.DID, "caller", in.CallerID, "source", in.Source.String())}
	c.takeGatewaySlot(ctx)
	d := sip.Decision{Verdict: sip.Accept, Channel: c}
	// The answering gateway's profile says which media the call may use
	// (t38 when the caller is no gateway of ours).
	if gw := p.inboundGateway(in.Source); gw.Name != "" {
		d.Media, d.ReinviteWait = gw.mediaMode(), gw.ReinviteWait
	}
	if p.d.Traces != nil {
		c.trace = calltrace.NewRecorder(calltrace.Trace{Direction: calltrace.Inbound, Node: p.d.Node.ID(), CallID: in.CallID, Gateway: in.Source.String()})
		c.trace.SIP("INVITE from %v over %s to %q from %q: admitted (media %s)", in.Source, in.Transport, in.DID, in.CallerID, d.Media)
		d.OnEvent = c.traceSIP
	}
	return d
}

// reserveInbound takes one of this node's inbound channels for the call,
// or says how to refuse it: 503 unless the node is active, 486 when every
// inbound channel is taken.
func (p *Pool) reserveInbound(in sip.Incoming) (sip.Decision, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closing || !p.active() {
		p.d.Metrics.Calls.WithLabelValues(Inbound, "unavailable").Inc()
		return sip.Decision{Verdict: sip.Unavailable}, false
	}
	select {
	case p.inSlots <- struct{}{}:
	default:
		p.d.Metrics.Calls.WithLabelValues(Inbound, "busy").Inc()
		p.log.Info("inbound call refused: every inbound channel is busy", "call_id", in.CallID, "did", in.DID)
		return sip.Decision{Verdict: sip.Busy}, false
	}
	p.inWG.Add(1)
	p.busy(Inbound, 1)
	return sip.Decision{}, true
}

// inboundCall is one admitted inbound call.
type inboundCall struct {
	p        *Pool
	in       sip.Incoming
	admitted time.Time
	media    string // what the call ran on (mediaName)
	log      *slog.Logger
	trace    *calltrace.Recorder // nil without Deps.Traces
	// slotGateway is the gateway whose cluster-wide channel the call
	// holds ("" when it holds none).
	slotGateway string
}

// takeGatewaySlot counts the call against the max_channels of the gateway
// it came from, across the cluster, so that no node dials out on the
// channel it occupies. The gateway has already placed the call: when its
// channels are all counted (or the database cannot say), the call is
// answered all the same, uncounted.
func (c *inboundCall) takeGatewaySlot(ctx context.Context) {
	p := c.p
	if !p.cfg.ClusterLimits {
		return
	}
	gw := p.inboundGateway(c.in.Source)
	if gw.Name == "" || gw.MaxChannels <= 0 {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, dbTimeout)
	defer cancel()
	ok, err := p.d.Queue.AcquireInboundSlot(ctx, p.d.Node.Lease(), gw.Name, gw.MaxChannels, c.in.CallID)
	switch {
	case err != nil:
		c.log.Warn("inbound call not counted against its gateway's channels", "gateway", gw.Name, "err", err)
	case !ok:
		c.log.Info("inbound call not counted: every channel of its gateway is already counted", "gateway", gw.Name)
	default:
		c.slotGateway = gw.Name
	}
}

// inboundGateway is the configured gateway an inbound call comes from: the
// one at the call's source address and port, else the only one with
// max_channels at its address. Gateways named by host name are not
// matched (no DNS lookup while a call waits to be answered).
func (p *Pool) inboundGateway(src netip.AddrPort) Gateway {
	p.gwMu.RLock()
	defer p.gwMu.RUnlock()
	var byAddr []Gateway
	for _, g := range p.gateways {
		host, port, _ := splitHostPort(g.Address)
		a, err := netip.ParseAddr(host)
		if err != nil || a.Unmap() != src.Addr().Unmap() {
			continue
		}
		if port == fmt.Sprint(src.Port()) {
			return g
		}
		if g.MaxChannels > 0 {
			byAddr = append(byAddr, g)
		}
	}
	if len(byAddr) == 1 {
		return byAddr[0]
	}
	return Gateway{}
}

// traceSIP records a step of the call's SIP dialogue.
func (c *inboundCall) traceSIP(ev sip.Event) {
	if ev.Status != 0 {
		c.trace.SIP("%s %d %s", ev.Kind, ev.Status, ev.Detail)
		return
	}
	c.trace.SIP("%s %s", ev.Kind, ev.Detail)
}

func (c *inboundCall) free() {
	if c.slotGateway != "" {
		ctx, cancel := context.WithTimeout(context.Background(), dbTimeout)
		// A slot not released here is stale once this node's lease ends.
		if err := c.p.d.Queue.ReleaseInboundSlot(ctx, c.slotGateway, c.in.CallID); err != nil {
			c.log.Warn("releasing an inbound call's gateway channel", "gateway", c.slotGateway, "err", err)
		}
		cancel()
	}
	<-c.p.inSlots
	c.p.busy(Inbound, -1)
	c.p.inWG.Done()
}

// Failed: the call never reached its media (its ports are already released).
func (c *inboundCall) Failed(err error) {
	defer c.free()
	c.log.Info("inbound call failed before T.38", "err", err)
	c.p.d.Metrics.Calls.WithLabelValues(Inbound, "setup_failed").Inc()
}

// Established: T.38 is up or the call carries an audio fax; receive on a
// goroutine of our own (the UA's
// must not block).
func (c *inboundCall) Established(call *sip.Call) {
	go func() {
		defer c.free()
		c.receive(call)
	}()
}

func (c *inboundCall) receive(call *sip.Call) {
	p := c.p
	start := time.Now()
	var pages []*t30.ReceivedPage
	cfg := t30.Config{Ident: p.cfg.StationID, ECM: p.cfg.ECM, Fine: true, Superfine: true, Decoder: t30.T4Decoder{}, Log: c.log}
	m := call.Media()
	c.media = mediaName(m)
	p.d.Metrics.Media.WithLabelValues(Inbound, mediaLabel(m)).Inc()
	if c.trace != nil {
		cfg.Trace = c.trace.T30
		c.trace.Media(c.media)
		if m.Audio {
			c.trace.SIP("audio fax over %s with %v", m.Codec.Name, m.Remote)
		} else {
			c.trace.SIP("T.38 agreed with %v: version %d, max datagram %d, error correction %s", m.Remote, m.Params.Version, m.Params.MaxDatagram, m.Params.UDPEC)
		}
	}
	onEvent := func(o t30.Output) {
		if o.Kind == t30.OutPageReceived && o.Received != nil {
			pages = append(pages, o.Received)
			p.d.Metrics.Pages.WithLabelValues(Inbound).Inc()
		}
	}
	c.log.Info("receiving", "media", c.media)
	res, err := runFax(p.hard, m, cfg, onEvent, c.log)
	hctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	_ = call.Hangup(hctx)
	cancel()
	if res == nil {
		res = &t30.Result{Reason: t30.ReasonCallDropped, Detail: fmt.Sprint(err)}
	}
	c.store(call.CallID(), res, pages, start, time.Now())
}

// store keeps what arrived: the pages as TIFF Class F and PDF, the
// routing decision, and the archive record (through the outbox).
func (c *inboundCall) store(callID string, res *t30.Result, pages []*t30.ReceivedPage, start, end time.Time) {
	p := c.p
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	key := "inbound/" + p.d.Node.ID() + "/" + callID
	result := "received"
	if !res.OK() || len(pages) == 0 {
		result = "receive_failed"
	}
	reason := res.Reason.String()
	if res.Detail != "" && !res.OK() {
		reason += ": " + res.Detail
	}
	rec := archive.Record{
		Key: key, Direction: archive.Inbound, Result: result, Reason: reason,
		LocalNumber: c.in.DID, RemoteNumber: c.in.CallerID, RemoteStationID: res.RemoteIdent,
		Pages: len(pages), PagesTotal: len(pages), Attempts: 1, Gateway: c.in.Source.Addr().String(),
		NodeID: p.d.Node.ID(), StartedAt: start, FinishedAt: end, DurationMS: end.Sub(start).Milliseconds(),
		Metadata: map[string]any{"call_id": callID, "source": c.in.Source.String(), "transport": c.in.Transport, "media": c.media},
	}
	if n := len(pages); n > 0 {
		st := pages[n-1].Stats
		rec.Metadata["bit_rate"] = st.BitRate
		rec.Metadata["ecm"] = st.ECM
		rec.Metadata["coding"] = st.Coding.String()
		rec.Metadata["resolution"] = st.Resolution.String()
		doc, err := encodeReceived(pages, res.RemoteIdent, end)
		if err != nil {
			c.log.Error("encoding the received fax", "err", err)
		} else {
			doc.Key = key
			if rec.Document, err = p.d.Docs.PutReceived(ctx, doc); err != nil {
				// Without its document the record still says a fax came.
				c.log.Error("storing the received fax", "err", err)
			}
		}
	}
	// Without an InboundRouter the routing column is left to whoever routes
	// archived records (the server's follower of received faxes). A call
	// without pages is routed too: rules decide whether it is reported.
	if p.d.Inbound != nil {
		rec.Routing = "unrouted"
		r, err := p.d.Inbound.RouteReceived(ctx, ReceivedFax{
			Ref: key, Document: rec.Document, DID: c.in.DID, Caller: c.in.CallerID, RemoteStationID: res.RemoteIdent,
			Pages: len(pages), Result: result, Reason: reason, Gateway: rec.Gateway, Node: rec.NodeID,
			StartedAt: start, FinishedAt: end,
		})
		switch {
		case err != nil:
			c.log.Error("inbound routing failed: the fax stays unrouted in the archive", "err", err)
		case !r.Unrouted:
			rec.Routing, rec.RoutedTo = "routed", r.Destination
		}
	}
	if err := emit(ctx, p, rec); err != nil {
		c.log.Error("writing the archive record", "err", err)
	} else if c.trace != nil {
		c.trace.SetReceivedKey(key)
		if _, err := p.d.Traces.Save(ctx, c.trace.Finish(result+": "+reason)); err != nil {
			c.log.Warn("call trace not stored", "err", err)
		}
	}
	p.d.Metrics.Calls.WithLabelValues(Inbound, result).Inc()
	c.log.Info("fax received", "media", c.media, "result", result, "reason", reason, "pages", len(pages),
		"remote_station_id", res.RemoteIdent, "routing", rec.Routing, "routed_to", rec.RoutedTo, "document", rec.Document)
}

// emit writes the record to the outbox in a transaction of its own.
func emit(ctx context.Context, p *Pool, rec archive.Record) error {
	tx, err := p.d.Outbox.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx)
	if err := archive.Emit(ctx, tx, rec); err != nil {
		return err
	}
	return tx.Commit(ctx)
}

// encodeReceived writes the pages as received into TIFF Class F, and as
// PDF with the coded data embedded (faxpdf transcodes MH/MR to MMR, never
// re-rasterising).
func encodeReceived(pages []*t30.ReceivedPage, remoteID string, at time.Time) (ReceivedDocument, error) {
	raw := make([]tiff.RawPage, 0, len(pages))
	pdfPages := make([]faxpdf.Page, 0, len(pages))
	for _, pg := range pages {
		coding := codingOf(pg.Format.Coding)
		rows := pg.Stats.Rows
		if pg.Image != nil {
			rows = pg.Image.Height
		}
		ydpi := pg.Format.Resolution.YDPI()
		raw = append(raw, tiff.RawPage{Data: pg.Data, Coding: coding, Width: pg.Format.Width, Height: rows,
			XDPI: 204, YDPI: ydpi, FillOrder: 1, BadRows: pg.Stats.BadRows})
		pdfPages = append(pdfPages, faxpdf.Page{Data: pg.Data, Coding: coding, FillOrder: 1,
			Width: pg.Format.Width, Height: rows, XDPI: 204, YDPI: ydpi})
	}
	var tb, pb bytes.Buffer
	if err := tiff.WriteRawFax(&tb, raw, tiff.RawOptions{Software: "faxd", DateTime: at}); err != nil {
		return ReceivedDocument{}, fmt.Errorf("TIFF: %w", err)
	}
	if err := faxpdf.Write(&pb, pdfPages, faxpdf.Info{Title: "Fax from " + remoteID, Author: remoteID, Created: at}); err != nil {
		return ReceivedDocument{}, fmt.Errorf("PDF: %w", err)
	}
	return ReceivedDocument{TIFF: tb.Bytes(), PDF: pb.Bytes(), Pages: len(pages)}, nil
}

func codingOf(c t30.Coding) t4.Coding {
	switch c {
	case t30.CodingMR:
		return t4.MR
	case t30.CodingMMR:
		return t4.MMR
	}
	return t4.MH
}
