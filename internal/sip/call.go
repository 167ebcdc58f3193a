package sip

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/faxd/faxd/internal/portpool"
	"github.com/faxd/faxd/internal/sip/rtpaudio"
	"github.com/faxd/faxd/t38/sdp"
)

// EventKind names a step of a call.
type EventKind string

const (
	EventTrying     EventKind = "trying"      // 100 received
	EventRinging    EventKind = "ringing"     // 180/183 received or sent
	EventAnswered   EventKind = "answered"    // 200 and ACK exchanged
	EventAudio      EventKind = "audio"       // audio phase started (CNG or CED playing)
	EventReinvite   EventKind = "reinvite"    // we sent a re-INVITE to T.38
	EventReinvited  EventKind = "reinvited"   // the far end re-INVITEd us to T.38
	EventT38        EventKind = "t38"         // T.38 media negotiated
	EventAudioFax   EventKind = "audio_fax"   // the fax runs over G.711 audio (detail: why)
	EventHangup     EventKind = "hangup"      // we sent BYE
	EventFarHangup  EventKind = "far_hangup"  // the far end sent BYE
	EventCancelSent EventKind = "cancel_sent" // we sent CANCEL
)

// Event is one step of a call, for logs, metrics and the channel.
type Event struct {
	Kind   EventKind
	Status int
	At     time.Time
	Detail string
}

// Call is an established dialog. Its Media is ready once Dial returns or
// InboundChannel.Established is called. Hangup must be called once the fax
// is done (or abandoned); it is idempotent and releases the media ports.
type Call struct {
	u        *UA
	dlg      *dialog
	outbound bool
	log      *slog.Logger
	onEvent  func(Event)

	mu          sync.Mutex
	media       Media
	rtp         *portpool.Lease
	t38         *portpool.Lease
	audio       *rtpaudio.Stream
	audioListen float64
	audioHeard  map[float64]bool
	localSDP    []byte
	reinvPend   bool
	// audioFax: the call carries an audio fax; T.38 re-INVITEs get 488.
	audioFax bool
	// reinvTimeout bounds our re-INVITE to T.38; 0: the transaction's 32 s.
	reinvTimeout time.Duration
	t38Up        chan struct{}
	t38Once      sync.Once

	ended    chan struct{}
	endOnce  sync.Once
	endErr   error
	hangOnce sync.Once
}

func newCall(u *UA, d *dialog, outbound bool, onEvent func(Event)) *Call {
	c := &Call{u: u, dlg: d, outbound: outbound, onEvent: onEvent,
		log:   u.log.With("call_id", d.callID, "outbound", outbound),
		t38Up: make(chan struct{}), ended: make(chan struct{})}
	d.ended = c.ended
	return c
}

// CallID is the SIP Call-ID.
func (c *Call) CallID() string { return c.dlg.callID }

// Media is the current media; T38 is true once T.38 is negotiated.
func (c *Call) Media() Media {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.media
}

// Done is closed when the call has ended, by either side.
func (c *Call) Done() <-chan struct{} { return c.ended }

// Err says why the call ended (ErrFarEndHangup, ErrCallEnded, ...), nil while up.
func (c *Call) Err() error {
	select {
	case <-c.ended:
		return c.endErr
	default:
		return nil
	}
}

// AudioHeard reports whether the audio phase received freq (1100 Hz CNG
// at the answerer, 2100 Hz CED at the caller) before T.38 took over.
func (c *Call) AudioHeard(freq float64) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.audioHeard[freq]
}

func (c *Call) emit(k EventKind, status int, detail string) {
	c.log.Debug("call event", "event", k, "status", status, "detail", detail)
	if c.onEvent != nil {
		c.onEvent(Event{Kind: k, Status: status, At: time.Now(), Detail: detail})
	}
}

// end marks the call over and frees its media; safe to call many times.
func (c *Call) end(err error) {
	c.endOnce.Do(func() {
		c.endErr = err
		close(c.ended)
	})
	c.stopAudio()
	c.mu.Lock()
	rtpL, t38L := c.rtp, c.t38
	c.mu.Unlock()
	rtpL.Release()
	t38L.Release()
	c.u.untrack(c)
}

func (c *Call) remoteHangup() {
	c.emit(EventFarHangup, 0, "")
	c.end(ErrFarEndHangup)
}

// Hangup sends BYE unless the call has already ended, then frees the media.
func (c *Call) Hangup(ctx context.Context) error {
	var err error
	c.hangOnce.Do(func() {
		select {
		case <-c.ended:
			return
		default:
		}
		c.emit(EventHangup, 0, "")
		var req *sip.Request
		req, err = c.dlg.request(sip.BYE)
		if err == nil {
			var res *sip.Response
			res, _, err = c.dlg.transact(ctx, req)
			if err == nil && res.StatusCode >= 300 && res.StatusCode != 481 {
				err = fmt.Errorf("sip: BYE answered %d %s", res.StatusCode, res.Reason)
			}
		}
	})
	c.end(ErrCallEnded)
	return err
}

// --- media switching ----------------------------------------------------------

func (c *Call) setAudio(lease *portpool.Lease, remote netip.AddrPort, codec rtpaudio.Codec, sdpBody []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.rtp = lease
	c.localSDP = sdpBody
	c.media = Media{Conn: lease.Conn(), Local: localAP(lease), Remote: remote, Codec: codec}
}

// setT38 switches the call to T.38 media and stops any audio phase; it
// reports false (and changes nothing) once the call carries an audio fax.
func (c *Call) setT38(lease *portpool.Lease, p sdp.T38Params, sdpBody []byte) bool {
	c.mu.Lock()
	if c.audioFax {
		c.mu.Unlock()
		return false
	}
	c.mu.Unlock()
	c.stopAudio()
	c.mu.Lock()
	if c.audioFax {
		c.mu.Unlock()
		return false
	}
	old := c.rtp
	c.rtp = nil
	if c.t38 != nil && c.t38 != lease {
		c.t38.Release()
	}
	c.t38 = lease
	c.localSDP = sdpBody
	c.media = Media{T38: true, Conn: lease.Conn(), Local: localAP(lease), Remote: remoteOf(p), Params: p}
	c.mu.Unlock()
	old.Release()
	c.t38Once.Do(func() {
		close(c.t38Up)
		c.emit(EventT38, 0, "")
	})
	return true
}

func localAP(l *portpool.Lease) netip.AddrPort {
	return l.Conn().LocalAddr().(*net.UDPAddr).AddrPort()
}

func (c *Call) startAudio(tone rtpaudio.Tone, listen float64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.audio != nil || c.media.T38 {
		return
	}
	c.audio = rtpaudio.Start(c.media.Conn, net.UDPAddrFromAddrPort(c.media.Remote), c.media.Codec, tone, listen)
	c.audioListen = listen
}

func (c *Call) stopAudio() {
	c.mu.Lock()
	s := c.audio
	c.audio = nil
	listen := c.audioListen
	c.mu.Unlock()
	if s == nil {
		return
	}
	s.Stop()
	if p := s.Panicked(); p != nil {
		c.u.panicked("rtp audio", c.dlg.callID, p)
	}
	c.mu.Lock()
	if c.audioHeard == nil {
		c.audioHeard = map[float64]bool{}
	}
	c.audioHeard[listen] = s.Heard(listen)
	c.mu.Unlock()
}

// audioPhase plays tone until T.38 is up: the far end's re-INVITE switches
// us, or after wait we send our own.
func (c *Call) audioPhase(ctx context.Context, tone rtpaudio.Tone, listen float64, wait time.Duration) error {
	c.startAudio(tone, listen)
	c.emit(EventAudio, 0, c.Media().Codec.Name)
	timer := time.NewTimer(wait)
	defer timer.Stop()
	for attempt := 0; ; attempt++ {
		select {
		case <-c.t38Up:
			return nil
		case <-c.ended:
			return outcomef(ClassProtocol, ErrFarEndHangup, "far end hung up during the audio phase")
		case <-ctx.Done():
			return ctx.Err()
		case <-timer.C:
		}
		err := c.reinviteT38(ctx)
		var glare *glareError
		if errors.As(err, &glare) && attempt < 3 {
			// RFC 3261 §14.1: back off and retry unless the far end's own
			// re-INVITE gets there first.
			timer.Reset(glare.wait)
			continue
		}
		return err
	}
}

type glareError struct{ wait time.Duration }

func (g *glareError) Error() string { return "re-INVITE glare (491)" }

// reinviteT38 offers T.38 in a re-INVITE of our own.
func (c *Call) reinviteT38(ctx context.Context) error {
	c.mu.Lock()
	if c.media.T38 {
		c.mu.Unlock()
		return nil
	}
	if c.reinvPend {
		c.mu.Unlock()
		return &glareError{wait: 200 * time.Millisecond}
	}
	c.reinvPend = true
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		c.reinvPend = false
		c.mu.Unlock()
	}()

	lease, err := c.u.pool.Acquire(portpool.UDPTL)
	if err != nil {
		return outcomef(ClassRoute, err, "no free media port")
	}
	local := c.u.localT38(c.dlg, lease.Port())
	body := c.u.t38Body(c.dlg, local)
	req, err := c.dlg.request(sip.INVITE)
	if err != nil {
		lease.Release()
		return err
	}
	req.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	req.SetBody(body)
	c.emit(EventReinvite, 0, "")
	timeout := 64 * sip.T1
	if c.reinvTimeout > 0 {
		timeout = c.reinvTimeout
	}
	rctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	res, tx, err := c.dlg.transact(rctx, req)
	if err != nil {
		lease.Release()
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return &Outcome{Class: ClassProtocol, Reason: "no answer to our re-INVITE to T.38", Err: err}
	}
	if res.StatusCode == 491 {
		lease.Release()
		return &glareError{wait: time.Duration(rand.Int64N(int64(2*time.Second))) + 100*time.Millisecond}
	}
	if !res.IsSuccess() {
		lease.Release()
		return ClassifyStatus(res, phaseReinvite, false)
	}
	c.ackAndWatch(tx, res)
	desc, err := parseSDP(res.Body())
	if err != nil || desc.image == nil {
		lease.Release()
		return outcomef(ClassProtocol, ErrT38Refused, "far end answered our T.38 re-INVITE without T.38")
	}
	if !c.setT38(lease, *desc.image, body) { // their answer is what they agreed to
		lease.Release()
		return outcomef(ClassProtocol, ErrT38Refused, "T.38 agreed after the audio fax started")
	}
	return nil
}

// ackAndWatch ACKs a 2xx to our (re-)INVITE and keeps re-ACKing the
// retransmissions the client transaction sees until it expires.
func (c *Call) ackAndWatch(tx sip.ClientTransaction, res *sip.Response) {
	seq := res.CSeq().SeqNo
	// Watch first: a 2xx repeated right after our ACK left must not slip
	// between the ACK and the hook (reAck finds the ACK once it is stored).
	if ctx, ok := tx.(interface{ OnRetransmission(sip.FnTxResponse) bool }); ok {
		ctx.OnRetransmission(func(r *sip.Response) {
			defer func() { // sipgo calls this on a goroutine without recover
				if p := recover(); p != nil {
					c.u.panicked("re-ACK", c.dlg.callID, p)
				}
			}()
			c.dlg.reAck(r)
		})
	}
	if err := c.dlg.ack(seq); err != nil {
		c.log.Warn("ACK not sent", "error", err)
	}
}

// currentSDP is the description in force, for a refresh: the very bytes
// sent before when nothing was offered since (same o= version), else the
// same media under the next version, because a refused offer of ours
// came in between and the far end has seen that version.
func (c *Call) currentSDP() []byte {
	c.mu.Lock()
	body := c.localSDP
	c.mu.Unlock()
	s, err := sdp.Parse(body)
	if err != nil {
		return body
	}
	return c.dlg.describe(c.u.host, s.Media)
}

// onReinvite answers a re-INVITE from the far end.
func (c *Call) onReinvite(req *sip.Request, tx sip.ServerTransaction) {
	c.mu.Lock()
	pending := c.reinvPend
	cur := c.media
	audioFax := c.audioFax
	c.mu.Unlock()
	if pending {
		c.u.respond(tx, req, 491, "Request Pending", nil)
		return
	}
	build := func(body []byte) *sip.Response {
		res := sip.NewResponseFromRequest(req, 200, "OK", body)
		res.AppendHeader(c.u.contact(c.dlg.transport, c.dlg.local.User))
		res.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
		res.AppendHeader(sip.NewHeader("Allow", allowMethods))
		return res
	}
	ok200 := func(body []byte) {
		res := build(body)
		wait, err := c.dlg.respond2xx(tx, res)
		if err != nil {
			c.u.respond(tx, req, 500, "Server Internal Error", nil)
			return
		}
		c.u.goSafe("re-INVITE 2xx", c.dlg.callID, func() {
			if err := wait(c.u.ctx); err != nil && !errors.Is(err, errClosed) && !errors.Is(err, ErrCallEnded) {
				c.log.Warn("re-INVITE 200 never acknowledged: ending call", "error", err)
				hctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				_ = c.Hangup(hctx)
			}
		}, nil)
	}
	if len(req.Body()) == 0 {
		// Offerless re-INVITE (RFC 4028 refresh or a peer asking for an
		// offer): we offer what we have; the ACK's answer changes nothing.
		ok200(c.currentSDP())
		return
	}
	desc, err := parseSDP(req.Body())
	if err != nil {
		c.u.refuseSDP(tx, req, err)
		return
	}
	switch {
	case desc.image != nil && cur.T38:
		// Refresh of the T.38 session we already have.
		ok200(c.currentSDP())
	case desc.image != nil && c.u.refuseT38ForTest:
		c.u.respond(tx, req, 488, "Not Acceptable Here", nil)
	case desc.image != nil && audioFax:
		// The audio modems run: switching now would cut the fax.
		c.u.respond(tx, req, 488, "Not Acceptable Here", []sip.Header{sip.NewHeader("Warning", `304 `+c.u.host+` "audio fax in progress"`)})
	case desc.image != nil:
		lease, err := c.u.pool.Acquire(portpool.UDPTL)
		if err != nil {
			c.u.respond(tx, req, 503, "No Media Port", nil)
			return
		}
		ours, sess, err := c.u.answerT38(c.dlg, *desc.image, lease.Port())
		if err != nil {
			lease.Release()
			c.u.respond(tx, req, 488, "Not Acceptable Here", nil)
			return
		}
		ours.Addr = ""
		body := c.u.answerBody(c.dlg, desc, desc.imageIdx, ours.Media())
		if !c.u.fits(build(body)) {
			lease.Release()
			c.u.metrics.Refused.WithLabelValues("too_large").Inc()
			c.u.respond(tx, req, 488, "Not Acceptable Here", []sip.Header{sip.NewHeader("Warning", `399 `+c.u.host+` "SDP answer too large for UDP; use TCP"`)})
			return
		}
		if !c.setT38(lease, sess, body) {
			lease.Release()
			c.u.respond(tx, req, 488, "Not Acceptable Here", []sip.Header{sip.NewHeader("Warning", `304 `+c.u.host+` "audio fax in progress"`)})
			return
		}
		c.emit(EventReinvited, 0, "")
		ok200(body)
	case desc.hasAudio && !cur.T38:
		ok200(c.currentSDP()) // audio refresh
	default:
		// No going back to audio once T.38 runs, and nothing else we carry.
		c.u.respond(tx, req, 488, "Not Acceptable Here", []sip.Header{sip.NewHeader("Warning", `304 `+c.u.host+` "T.38 only"`)})
	}
}
