package server

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/faxd/faxd/internal/api/routingcfg"
	"github.com/faxd/faxd/internal/calltrace"
	"github.com/faxd/faxd/internal/channel"
	"github.com/faxd/faxd/internal/docstore"
	"github.com/faxd/faxd/internal/sip"
	"github.com/faxd/faxd/routing"
	"github.com/faxd/faxd/t38/bilevel"
	"github.com/faxd/faxd/t38/tiff"
)

// channels is the node's SIP user agent, gateway router and fax channels.
type channels struct {
	UA     *sip.UA
	Router *routing.Router
	Pool   *channel.Pool
	self   string // this node's SIP address, what the "self" gateway means

	// badPasswords remembers the gateways whose password did not decrypt
	// at the last refresh, so the error is logged when it starts or
	// changes, not every routingRefresh.
	badMu        sync.Mutex
	badPasswords map[string]string
}

// notePassword logs a gateway password that does not decrypt, once per
// distinct error, and when it decrypts again.
func (s *Server) notePassword(c *channels, gateway string, err error) {
	c.badMu.Lock()
	defer c.badMu.Unlock()
	if c.badPasswords == nil {
		c.badPasswords = map[string]string{}
	}
	prev, had := c.badPasswords[gateway]
	switch {
	case err == nil && had:
		delete(c.badPasswords, gateway)
		s.log.Info("gateway password decrypts again", "gateway", gateway)
	case err != nil && prev != err.Error():
		c.badPasswords[gateway] = err.Error()
		// The gateway stays usable without authentication; the log names
		// the missing key (never the value).
		s.log.Error("gateway password cannot be decrypted; calls through it go without authentication", "gateway", gateway, "err", err)
	}
}

// openChannels starts the SIP user agent (it answers OPTIONS at once and
// INVITEs once the pool admits them) and prepares the channel pool.
func (s *Server) openChannels(ctx context.Context) error {
	ua, err := sip.NewUA(s.cfg.SIP, nil, s.log) // sip adds its component
	if err != nil {
		return fmt.Errorf("sip: %w", err)
	}
	c := &channels{UA: ua}
	s.channels = c
	if err := ua.RegisterMetrics(s.Metrics.Registry); err != nil {
		return fmt.Errorf("sip metrics: %w", err)
	}
	self := ""
	if ap, ok := ua.Addr("udp"); ok {
		self = ap.String()
	}
	c.self = self
	gws, routes := s.cfg.Channel.RoutingTable(self)
	if c.Router, err = routing.New(gws, routes, s.cfg.Channel.HealthPolicy()); err != nil {
		return fmt.Errorf("channel: %w", err)
	}
	c.Router.SetSite(s.cfg.Node.Site)
	if loc, err := s.cfg.Channel.Location(); err == nil { // validated at load
		c.Router.SetLocation(loc)
	}
	s.sites.r.Store(c.Router)
	chLog := s.log.With("component", "channel")
	chMetrics := channel.NewMetrics(s.Metrics.Registry, c.Router)
	c.Router.OnTransition(func(t routing.Transition) { chMetrics.GatewayTransition(chLog, t) })
	c.Pool, err = channel.New(s.cfg.Channel, channel.Options{Outbound: s.cfg.Channels.Count, Poll: s.cfg.Queue.PollInterval.D()},
		channel.Deps{
			Queue: s.Queue, Node: s.Node, UA: ua, Router: c.Router, Docs: channelDocs{s.docs}, Outbox: s.DB.Queue,
			Traces: calltrace.NewStore(s.DB.Queue), Metrics: chMetrics, Log: chLog,
		}, self)
	if err != nil {
		return err
	}
	if s.cfg.Node.Role == "standby" {
		c.Pool.SetState(sip.StateStandby) // no channels until promoted (R17)
	}
	s.openOverflow() // internal/server/overflow.go
	return s.refreshRouting(ctx)
}

// routerHealth gives the API the gateway router's live state; the
// channels are opened after the API is built, so it looks them up on
// each call.
type routerHealth struct{ s *Server }

func (h routerHealth) Status() []routing.GatewayStatus {
	if h.s.channels == nil || h.s.channels.Router == nil {
		return nil
	}
	return h.s.channels.Router.Status()
}

// runChannels runs the pool until ctx ends; stop ends it (draining calls
// in progress) and waits, and must be called while the node lease is
// still held so that drained jobs can be released.
func (s *Server) runChannels(ctx context.Context) (stop func()) {
	if s.channels == nil || s.channels.Pool == nil {
		return func() {}
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); _ = s.channels.Pool.Run(ctx) }()
	return func() { cancel(); <-done }
}

// closeChannels stops the user agent (hanging up whatever is left).
func (s *Server) closeChannels() {
	if s.channels != nil && s.channels.UA != nil {
		_ = s.channels.UA.Close()
	}
}

// channelDocs gives the channels the document store: the pages of a job,
// and a home for received faxes (the TIFF as the set's pages, the PDF as
// its one source). The archive relay then copies the TIFF to the archive.
type channelDocs struct{ store *docstore.Store }

func (d channelDocs) Pages(ctx context.Context, ref string) ([]*bilevel.Image, error) {
	if !docstore.ValidRef(ref) {
		return nil, fmt.Errorf("%w: %q is not a document store reference", channel.ErrNoDocument, ref)
	}
	data, _, err := d.store.Pages(ctx, ref)
	if errors.Is(err, docstore.ErrNotFound) {
		return nil, fmt.Errorf("%w: %v", channel.ErrNoDocument, err)
	}
	if err != nil {
		return nil, err
	}
	pages, err := tiff.Decode(data)
	if err != nil {
		return nil, fmt.Errorf("%w: prepared pages: %v", channel.ErrNoDocument, err)
	}
	out := make([]*bilevel.Image, len(pages))
	for i, p := range pages {
		img := p.Bilevel
		switch {
		case img == nil || (img.Width != 1728 && img.Width != 2048 && img.Width != 2432):
			img = p.Fax(1728, 0)
		case img.YDPI == 0:
			img.XDPI, img.YDPI = 204, int(p.YDPI+0.5)
		}
		out[i] = img
	}
	return out, nil
}

func (d channelDocs) PutReceived(ctx context.Context, r channel.ReceivedDocument) (string, error) {
	// The pin Put takes is left in place: releasing it would delete a set
	// no job names at once. The archive keeps the fax for good.
	return d.store.Put(ctx, docstore.NewSet{
		Recipe:    "received " + r.Key + " " + time.Now().UTC().Format(time.RFC3339Nano),
		Sources:   []docstore.Source{{Filename: "fax.pdf", ContentType: "application/pdf", Data: r.PDF}},
		Pages:     r.TIFF,
		PageCount: r.Pages,
	})
}

// routingRefresh is how soon a gateway or route an administrator changed
// through the API is used by every node.
const routingRefresh = 5 * time.Second

// refreshRouting merges the gateways and routes administrators keep in the
// database with the configuration file's into the router (least-cost
// choice, health, channel limits) and the channel pool (how to call each).
// A database gateway named like a file gateway is ignored: the file wins.
func (s *Server) refreshRouting(ctx context.Context) error {
	c := s.channels
	if c == nil || c.Pool == nil {
		return nil
	}
	store := routingcfg.New(s.DB.Queue).WithSecrets(s.secrets)
	dbGws, dbRoutes, err := store.Load(ctx) // enabled gateways and their routes
	if err != nil {
		return err
	}
	creds, err := store.Gateways(ctx)
	if err != nil {
		return err
	}
	byName := map[string]routingcfg.Gateway{}
	for _, g := range creds {
		byName[g.Name] = g
	}
	gws, routes := s.cfg.Channel.RoutingTable(c.self)
	inFile := map[string]bool{}
	for _, g := range gws {
		inFile[g.Name] = true
	}
	var extra []channel.Gateway
	for _, g := range dbGws {
		if inFile[g.Name] {
			continue
		}
		gws = append(gws, g)
		cg := byName[g.Name]
		password, err := store.Password(cg)
		s.notePassword(c, g.Name, err)
		eg := channel.Gateway{Name: g.Name, Address: g.Address, MaxChannels: g.MaxChannels, Username: cg.Username, Password: password}
		if err := cg.Profile.Apply(&eg); err != nil {
			s.log.Warn("gateway profile not usable; the server's settings apply", "gateway", g.Name, "err", err)
		}
		extra = append(extra, eg)
	}
	for _, r := range dbRoutes {
		if !inFile[r.Gateway] {
			routes = append(routes, r)
		}
	}
	if err := c.Router.Update(gws, routes); err != nil {
		return err
	}
	c.Pool.SetExtraGateways(extra)
	return nil
}

// runRouting keeps the routing table current until ctx ends.
func (s *Server) runRouting(ctx context.Context) {
	t := time.NewTicker(routingRefresh)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := s.refreshRouting(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("routing table not refreshed from the database", "err", err)
		}
	}
}
