package sip

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/faxd/faxd/internal/portpool"
)

// State is what the node tells gateways about inbound calls.
type State int32

const (
	StateActive   State = iota // calls accepted
	StateDraining              // 503 + Retry-After: finishing calls, taking none
	StateStandby               // 503 + Retry-After: DR standby, no channels
)

func (s State) String() string {
	switch s {
	case StateDraining:
		return "draining"
	case StateStandby:
		return "standby"
	}
	return "active"
}

// allowMethods is our Allow header: what a fax endpoint needs, no more.
const allowMethods = "INVITE, ACK, CANCEL, BYE, OPTIONS, UPDATE, INFO"

// UA is faxd's SIP user agent: one per node, serving every transport of
// Config, placing calls (Dial), answering them (through Admission) and
// probing gateways (Options).
type UA struct {
	cfg   Config
	log   *slog.Logger
	pool  *portpool.Pool
	allow []netip.Prefix

	ua  *sipgo.UserAgent
	srv *sipgo.Server
	cli *sipgo.Client

	listeners []closer
	addrs     map[string]netip.AddrPort // transport (lower case) -> bound address
	host      string                    // advertised host

	state     atomic.Int32
	admission atomic.Pointer[admissionBox]
	overflow  atomic.Pointer[overflowBox]
	nonces    *nonceTable
	metrics   *Metrics
	guard     *guard

	mu    sync.Mutex
	calls map[string]*Call // dialogKey -> call

	wg     sync.WaitGroup
	ctx    context.Context
	cancel context.CancelFunc
	closed atomic.Bool

	// refuseT38ForTest makes re-INVITEs to T.38 get 488, to play a gateway
	// without T.38 in tests.
	refuseT38ForTest bool
	// ignoreReinviteForTest leaves re-INVITEs unanswered, to play a
	// gateway that never answers the switch to T.38.
	ignoreReinviteForTest bool
}

type closer interface{ Close() error }

type admissionBox struct{ a Admission }

// NewUA validates cfg, binds every configured transport and starts serving.
// pool may be nil: the UA then makes one from cfg's media range.
func NewUA(cfg Config, pool *portpool.Pool, log *slog.Logger) (*UA, error) {
	cfg.Defaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.Default()
	}
	allow, _ := parseAllow(cfg.AllowFrom)
	if pool == nil {
		var err error
		pool, err = portpool.New(cfg.MediaBind, cfg.MediaPortMin, cfg.MediaPortMax)
		if err != nil {
			return nil, err
		}
	}
	u := &UA{
		cfg: cfg, log: log.With("component", "sip"), pool: pool, allow: allow,
		addrs: map[string]netip.AddrPort{}, calls: map[string]*Call{},
		nonces: newNonceTable(), metrics: newMetrics(),
	}
	u.guard = newGuard(u)
	u.ctx, u.cancel = context.WithCancel(context.Background())

	sipLog := u.log.With("layer", "sipgo")
	clientTLS, err := cfg.clientTLS()
	if err != nil {
		return nil, fmt.Errorf("sip.tls_ca: %w", err)
	}
	ua, err := sipgo.NewUA(
		sipgo.WithUserAgent(cfg.UserAgent),
		sipgo.WithUserAgenTLSConfig(clientTLS),
		sipgo.WithUserAgentTransactionLayerOptions(
			sip.WithTransactionLayerLogger(quiet(sipLog)),
			sip.WithTransactionLayerUnhandledResponseHandler(u.safeStrayResponse),
		),
		sipgo.WithUserAgentTransportLayerOptions(sip.WithTransportLayerLogger(quiet(sipLog)),
			sip.WithTransportLayerReadFilter(u.guard.filter)),
	)
	if err != nil {
		return nil, err
	}
	u.ua = ua
	if u.srv, err = sipgo.NewServer(ua, sipgo.WithServerLogger(quiet(sipLog))); err != nil {
		ua.Close()
		return nil, err
	}
	if u.cli, err = sipgo.NewClient(ua, sipgo.WithClientLogger(quiet(sipLog))); err != nil {
		ua.Close()
		return nil, err
	}
	for m, h := range u.handlers() {
		u.srv.OnRequest(m, u.handler(h))
	}

	if err := u.listen(); err != nil {
		u.Close()
		return nil, err
	}
	return u, nil
}

// quiet drops sipgo's own info chatter (it logs every stray retransmission
// at info); warnings and errors still reach our log.
func quiet(l *slog.Logger) *slog.Logger {
	return slog.New(levelFilter{l.Handler(), slog.LevelWarn})
}

type levelFilter struct {
	slog.Handler
	min slog.Level
}

func (f levelFilter) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= f.min && f.Handler.Enabled(ctx, l)
}
func (f levelFilter) WithAttrs(a []slog.Attr) slog.Handler {
	return levelFilter{f.Handler.WithAttrs(a), f.min}
}
func (f levelFilter) WithGroup(n string) slog.Handler {
	return levelFilter{f.Handler.WithGroup(n), f.min}
}

// listen binds every transport first and serves them only once the
// addresses and our host are known: a message arriving at once must not
// meet a half-initialised UA.
func (u *UA) listen() error {
	var serves []func() error
	var udpConn net.PacketConn
	if a := u.cfg.ListenUDP; a != "" {
		conn, err := net.ListenPacket("udp", a)
		if err != nil {
			return fmt.Errorf("sip: listen udp %s: %w", a, err)
		}
		u.listeners = append(u.listeners, conn)
		u.addrs["udp"] = conn.LocalAddr().(*net.UDPAddr).AddrPort()
		u.guard.mu.Lock()
		u.guard.udp[conn.LocalAddr().String()] = conn
		u.guard.mu.Unlock()
		udpConn = conn
		serves = append(serves, func() error { return u.srv.ServeUDP(conn) })
	}
	if a := u.cfg.ListenTCP; a != "" {
		l, err := net.Listen("tcp", a)
		if err != nil {
			return fmt.Errorf("sip: listen tcp %s: %w", a, err)
		}
		u.listeners = append(u.listeners, l)
		u.addrs["tcp"] = l.Addr().(*net.TCPAddr).AddrPort()
		serves = append(serves, func() error { return u.srv.ServeTCP(l) })
	}
	if a := u.cfg.ListenTLS; a != "" {
		cert, err := tls.LoadX509KeyPair(u.cfg.TLSCert, u.cfg.TLSKey)
		if err != nil {
			return fmt.Errorf("sip: tls certificate: %w", err)
		}
		l, err := tls.Listen("tcp", a, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})
		if err != nil {
			return fmt.Errorf("sip: listen tls %s: %w", a, err)
		}
		u.listeners = append(u.listeners, l)
		u.addrs["tls"] = l.Addr().(*net.TCPAddr).AddrPort()
		serves = append(serves, func() error { return u.srv.ServeTLS(l) })
	}
	u.host = u.cfg.PublicHost
	if u.host == "" {
		for _, ap := range u.addrs {
			u.host = ap.Addr().Unmap().String()
			break
		}
	}
	for _, f := range serves {
		u.serve(f)
	}
	if udpConn != nil {
		// Requests we send over UDP leave from this socket; sipgo must have
		// registered it before the first Dial or it would try to bind it again.
		for i := 0; i < 200; i++ {
			if c, err := u.ua.TransportLayer().GetConnection("udp", udpConn.LocalAddr().String()); err == nil && c != nil {
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	return nil
}

// serve runs a transport's read loop. Should sipgo panic inside it, the
// loop is logged, counted and started again: a deaf listener is no better
// than a dead process.
func (u *UA) serve(f func() error) {
	u.wg.Add(1)
	go func() {
		defer u.wg.Done()
		for !u.closed.Load() {
			err, panicked := func() (err error, panicked bool) {
				defer func() {
					if r := recover(); r != nil {
						u.panicked("transport", "", r)
						panicked = true
					}
				}()
				return f(), false
			}()
			if !panicked {
				if err != nil && !u.closed.Load() {
					u.log.Error("sip transport stopped", "error", err)
				}
				return
			}
		}
	}()
}

// Addr is the bound address of a transport ("udp", "tcp", "tls").
func (u *UA) Addr(transport string) (netip.AddrPort, bool) {
	ap, ok := u.addrs[strings.ToLower(transport)]
	return ap, ok
}

// Pool is the media port pool.
func (u *UA) Pool() *portpool.Pool { return u.pool }

// SetState switches what inbound INVITEs get: active calls proceed,
// draining and standby get 503 with Retry-After.
func (u *UA) SetState(s State) { u.state.Store(int32(s)) }

// State is the current inbound state.
func (u *UA) State() State { return State(u.state.Load()) }

// SetAdmission installs the inbound call consumer; without one every
// inbound INVITE gets 503.
func (u *UA) SetAdmission(a Admission) { u.admission.Store(&admissionBox{a}) }

// ActiveCalls is the number of dialogs the UA is tracking.
func (u *UA) ActiveCalls() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return len(u.calls)
}

// Close hangs up every call, stops the transports and waits for the UA's
// goroutines.
func (u *UA) Close() error {
	if !u.closed.CompareAndSwap(false, true) {
		return nil
	}
	u.mu.Lock()
	calls := make([]*Call, 0, len(u.calls))
	for _, c := range u.calls {
		calls = append(calls, c)
	}
	u.mu.Unlock()
	for _, c := range calls {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_ = c.Hangup(ctx)
		cancel()
	}
	u.cancel()
	for _, l := range u.listeners {
		_ = l.Close()
	}
	err := u.ua.Close()
	u.wg.Wait()
	return err
}

// --- request building -------------------------------------------------------

// transportOf is the sipgo transport name for a target URI.
func transportOf(uri sip.Uri) string {
	if uri.IsEncrypted() {
		return "TLS"
	}
	if t, ok := uri.UriParams.Get("transport"); ok {
		switch strings.ToLower(t) {
		case "tcp":
			return "TCP"
		case "tls":
			return "TLS"
		}
	}
	return "UDP"
}

func (u *UA) listenFor(transport string) (netip.AddrPort, error) {
	ap, ok := u.addrs[strings.ToLower(transport)]
	if !ok {
		return netip.AddrPort{}, fmt.Errorf("sip: no %s listener configured", transport)
	}
	return ap, nil
}

// contact is our Contact for a transport.
func (u *UA) contact(transport, user string) *sip.ContactHeader {
	ap := u.addrs[strings.ToLower(transport)]
	c := &sip.ContactHeader{Address: sip.Uri{Scheme: "sip", User: user, Host: u.host, Port: int(ap.Port())}}
	if transport != "UDP" {
		c.Address.UriParams = sip.NewParams()
		c.Address.UriParams.Add("transport", strings.ToLower(transport))
	}
	return c
}

// stamp gives a request we originate its Via (our advertised address, so
// responses come back to the listener), Max-Forwards, User-Agent and, over
// UDP, the listener as source socket.
func (u *UA) stamp(req *sip.Request, transport string) error {
	ap, err := u.listenFor(transport)
	if err != nil {
		return err
	}
	req.SetTransport(transport)
	via := &sip.ViaHeader{ProtocolName: "SIP", ProtocolVersion: "2.0", Transport: transport, Host: u.host, Port: int(ap.Port()), Params: sip.NewParams()}
	via.Params.Add("branch", sip.GenerateBranch())
	via.Params.Add("rport", "")
	req.RemoveHeader("Via")
	req.PrependHeader(via)
	if req.MaxForwards() == nil {
		mf := sip.MaxForwardsHeader(70)
		req.AppendHeader(&mf)
	}
	if req.GetHeader("User-Agent") == nil {
		req.AppendHeader(sip.NewHeader("User-Agent", u.cfg.UserAgent))
	}
	if req.ContentLength() == nil {
		req.SetBody(req.Body()) // stream transports need Content-Length even for no body
	}
	if transport == "UDP" {
		req.Laddr = sip.Addr{IP: net.IP(ap.Addr().AsSlice()), Port: int(ap.Port())}
	}
	return nil
}

// --- OPTIONS ---------------------------------------------------------------

func (u *UA) onOptions(req *sip.Request, tx sip.ServerTransaction) {
	if to := req.To(); to != nil && to.Params.Has("tag") && u.callFor(req) == nil {
		// In-dialog OPTIONS is a keep-alive: 200 only when we know the dialog.
		u.respond(tx, req, 481, "Call/Transaction Does Not Exist", nil)
		return
	}
	if src, err := netip.ParseAddrPort(req.Source()); (err != nil || !u.allowed(src.Addr())) && u.callFor(req) == nil {
		// The read guard refuses these already; this holds if one gets here.
		if u.cfg.OptionsFromUnknown != "drop" {
			u.respond(tx, req, 403, "Forbidden", nil)
		}
		return
	}
	res := sip.NewResponseFromRequest(req, 200, "OK", nil)
	res.AppendHeader(sip.NewHeader("Allow", allowMethods))
	res.AppendHeader(sip.NewHeader("Accept", "application/sdp"))
	res.AppendHeader(sip.NewHeader("Server", u.cfg.UserAgent))
	if s := u.State(); s != StateActive {
		// 200 keeps the gateway's trunk monitor from flapping our node down
		// while it is merely standing by; the Warning makes the state
		// visible in traces, and INVITEs still get 503.
		res.AppendHeader(sip.NewHeader("Warning", `399 `+u.host+` "`+s.String()+`"`))
	}
	if err := tx.Respond(res); err != nil {
		u.log.Debug("OPTIONS response not sent", "error", err)
	}
}

// Options probes target (a SIP URI such as "sip:gw.example.net:5060") and
// returns the final response's status.
func (u *UA) Options(ctx context.Context, target string) (int, error) {
	var uri sip.Uri
	if err := sip.ParseUri(target, &uri); err != nil {
		return 0, fmt.Errorf("sip: options target %q: %w", target, err)
	}
	transport := transportOf(uri)
	req := sip.NewRequest(sip.OPTIONS, uri)
	from := &sip.FromHeader{Address: sip.Uri{Scheme: "sip", User: "faxd", Host: u.host}, Params: sip.NewParams()}
	from.Params.Add("tag", sip.GenerateTagN(16))
	req.AppendHeader(from)
	req.AppendHeader(&sip.ToHeader{Address: sip.Uri{Scheme: "sip", Host: uri.Host, Port: uri.Port}, Params: sip.NewParams()})
	req.AppendHeader(sip.NewHeader("Accept", "application/sdp"))
	if err := u.stamp(req, transport); err != nil {
		return 0, err
	}
	res, err := u.cli.Do(ctx, req)
	if err != nil {
		return 0, ClassifyError(err)
	}
	return res.StatusCode, nil
}

// --- dispatch of in-dialog requests ----------------------------------------

func dialogKey(callID, localTag string) string { return callID + "|" + localTag }

func (u *UA) callFor(req *sip.Request) *Call {
	to := req.To()
	cid := req.CallID()
	if to == nil || cid == nil {
		return nil
	}
	tag, _ := to.Params.Get("tag")
	if tag == "" {
		return nil
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.calls[dialogKey(cid.Value(), tag)]
}

func (u *UA) hasDialog(callID, localTag string) bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.calls[dialogKey(callID, localTag)] != nil
}

func (u *UA) track(c *Call) {
	u.mu.Lock()
	u.calls[dialogKey(c.dlg.callID, c.dlg.localTag)] = c
	u.mu.Unlock()
}

func (u *UA) untrack(c *Call) {
	u.mu.Lock()
	delete(u.calls, dialogKey(c.dlg.callID, c.dlg.localTag))
	u.mu.Unlock()
}

func (u *UA) respond(tx sip.ServerTransaction, req *sip.Request, code int, reason string, hdrs []sip.Header) {
	res := sip.NewResponseFromRequest(req, code, reason, nil)
	for _, h := range hdrs {
		res.AppendHeader(h)
	}
	if err := tx.Respond(res); err != nil {
		u.log.Debug("response not sent", "code", code, "error", err)
	}
}

func (u *UA) onAck(req *sip.Request, tx sip.ServerTransaction) {
	if c := u.callFor(req); c != nil {
		c.dlg.ackReceived(req)
	}
}

func (u *UA) onBye(req *sip.Request, tx sip.ServerTransaction) {
	c := u.callFor(req)
	if c == nil {
		u.respond(tx, req, 481, "Call/Transaction Does Not Exist", nil)
		return
	}
	u.respond(tx, req, 200, "OK", nil)
	c.remoteHangup()
}

func (u *UA) onCancel(req *sip.Request, tx sip.ServerTransaction) {
	// sipgo answers CANCELs that match a pending INVITE itself; reaching
	// here means there was nothing left to cancel.
	u.respond(tx, req, 481, "Call/Transaction Does Not Exist", nil)
}

func (u *UA) onInDialogOK(req *sip.Request, tx sip.ServerTransaction) {
	if u.callFor(req) == nil {
		u.respond(tx, req, 481, "Call/Transaction Does Not Exist", nil)
		return
	}
	// UPDATE without a body is an RFC 4028 session refresh; INFO carries
	// nothing we act on. Both get 200 so the far end keeps the call.
	u.respond(tx, req, 200, "OK", nil)
}

// handlers are the request handlers by method; NewUA wraps each with
// header checks and panic recovery.
func (u *UA) handlers() map[sip.RequestMethod]func(*sip.Request, sip.ServerTransaction) {
	return map[sip.RequestMethod]func(*sip.Request, sip.ServerTransaction){
		sip.INVITE: u.onInvite, sip.ACK: u.onAck, sip.BYE: u.onBye, sip.CANCEL: u.onCancel,
		sip.OPTIONS: u.onOptions, sip.UPDATE: u.onInDialogOK, sip.INFO: u.onInDialogOK,
	}
}

func (u *UA) safeStrayResponse(res *sip.Response) {
	defer func() {
		if r := recover(); r != nil {
			cid := ""
			if c := res.CallID(); c != nil {
				cid = c.Value()
			}
			u.panicked("stray response", cid, r)
		}
	}()
	if checkMessage(res) != nil {
		return
	}
	u.onStrayResponse(res)
}

// onStrayResponse sees responses no client transaction matched: a 200 to
// an INVITE retransmitted after the transaction ended needs our ACK again
// (RFC 3261 §13.2.2.4), or the far end tears the call down.
func (u *UA) onStrayResponse(res *sip.Response) {
	if !res.IsSuccess() || res.CSeq() == nil || res.CSeq().MethodName != sip.INVITE {
		return
	}
	from, cid := res.From(), res.CallID()
	if from == nil || cid == nil {
		return
	}
	tag, _ := from.Params.Get("tag")
	u.mu.Lock()
	c := u.calls[dialogKey(cid.Value(), tag)]
	u.mu.Unlock()
	if c != nil {
		c.dlg.reAck(res)
	}
}

var errClosed = errors.New("sip: user agent closed")
