package sip

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/faxd/faxd/internal/portpool"
	"github.com/faxd/faxd/internal/sip/rtpaudio"
)

// Dial describes one outbound call attempt.
type Dial struct {
	// Target is the Request-URI, e.g. "sip:+4930123456@gw.example.net:5060;transport=tcp".
	Target string
	// To overrides the To URI (default: Target without parameters).
	To string
	// CallerID is the user part of From (our number); CallerName its display name.
	CallerID   string
	CallerName string
	// FromHost overrides From's host (default: our public host); some
	// gateways want their own domain there.
	FromHost string
	// AssertIdentity adds P-Asserted-Identity with the From identity, for
	// trusted gateways that take the caller id from it.
	AssertIdentity bool
	// Auth answers the gateway's 401/407 challenge. Nil: a challenge fails the call.
	Auth *Credentials
	// AudioFirst offers PCMU/PCMA and switches to T.38 by re-INVITE;
	// otherwise T.38 is offered in the INVITE.
	AudioFirst bool
	// Media is t38 (""), audio or auto (see MediaMode); audio and auto
	// offer G.711 first whatever AudioFirst says. The returned Call's
	// Media().Audio says when the fax is to run over audio.
	Media MediaMode
	// VBD marks the offered audio payloads as voice-band data (V.152
	// a=gpmd vbd=yes).
	VBD bool
	// RingTimeout and ReinviteAfter override the UA's configuration.
	RingTimeout   time.Duration
	ReinviteAfter time.Duration
	// OnEvent, when set, sees every step (it must not block).
	OnEvent func(Event)
	// T38 is the gateway's T.38 profile; zero fields keep the UA's.
	T38 T38Profile
}

// Dial places a call and returns it once T.38 media is negotiated. On
// failure the error is an *Outcome (errors.As) with the failure class; the
// media ports are released on every failure path.
func (u *UA) Dial(ctx context.Context, d Dial) (c *Call, err error) {
	defer func() {
		// The channel calling us must see a failed call, never a panic.
		if r := recover(); r != nil {
			u.panicked("dial", "", r)
			c, err = nil, outcomef(ClassProtocol, fmt.Errorf("sip: internal error: %v", r), "call setup failed")
		}
	}()
	return u.dial(ctx, d)
}

func (u *UA) dial(ctx context.Context, d Dial) (*Call, error) {
	if u.closed.Load() {
		return nil, errClosed
	}
	var target sip.Uri
	if err := sip.ParseUri(d.Target, &target); err != nil {
		return nil, outcomef(ClassPermanent, err, "bad target URI %q", d.Target)
	}
	transport := transportOf(target)
	ringFor := d.RingTimeout
	if ringFor == 0 {
		ringFor = u.cfg.RingTimeout
	}
	reinvAfter := d.ReinviteAfter
	if reinvAfter == 0 {
		reinvAfter = u.cfg.ReinviteAfter
	}

	mode, err := ParseMediaMode(string(d.Media))
	if err != nil {
		return nil, outcomef(ClassPermanent, err, "media mode")
	}
	if mode != MediaT38 {
		d.AudioFirst = true
	}
	if err := d.T38.Validate(); err != nil {
		return nil, outcomef(ClassPermanent, err, "T.38 profile")
	}
	dl := newDialog(u)
	dl.t38 = d.T38
	dl.callID = sip.GenerateTagN(24)
	dl.localTag = sip.GenerateTagN(16)
	dl.transport = transport
	user := d.CallerID
	if user == "" {
		user = "faxd"
	}
	host := d.FromHost
	if host == "" {
		host = u.host
	}
	dl.local = sip.Uri{Scheme: "sip", User: user, Host: host}
	dl.localName = d.CallerName
	dl.remote = sip.Uri{Scheme: "sip", User: target.User, Host: target.Host, Port: target.Port}
	if d.To != "" {
		if err := sip.ParseUri(d.To, &dl.remote); err != nil {
			return nil, outcomef(ClassPermanent, err, "bad To URI %q", d.To)
		}
	}
	c := newCall(u, dl, true, d.OnEvent)
	if mode == MediaAuto {
		c.reinvTimeout = max(reinvAfter, autoReinviteTimeout)
	}

	kind := portpool.UDPTL
	if d.AudioFirst {
		kind = portpool.RTP
	}
	lease, err := u.pool.Acquire(kind)
	if err != nil {
		return nil, outcomef(ClassRoute, err, "no free media port")
	}
	var body []byte
	if d.AudioFirst {
		body = u.audioBody(dl, lease.Port(), u.codecs(), d.VBD)
	} else {
		body = u.t38Body(dl, u.localT38(dl, lease.Port()))
	}

	req := sip.NewRequest(sip.INVITE, target)
	from := &sip.FromHeader{DisplayName: dl.localName, Address: dl.local, Params: sip.NewParams()}
	from.Params.Add("tag", dl.localTag)
	req.AppendHeader(from)
	req.AppendHeader(&sip.ToHeader{Address: dl.remote, Params: sip.NewParams()})
	cid := sip.CallIDHeader(dl.callID)
	req.AppendHeader(&cid)
	dl.cseq++
	req.AppendHeader(&sip.CSeqHeader{SeqNo: dl.cseq, MethodName: sip.INVITE})
	req.AppendHeader(u.contact(transport, user))
	req.AppendHeader(sip.NewHeader("Allow", allowMethods))
	if d.AssertIdentity {
		req.AppendHeader(sip.NewHeader("P-Asserted-Identity", from.Value()))
	}
	// No "Supported: timer": we never ask for RFC 4028 session timers, and
	// refreshes the far end sends are answered 200 (see docs/sip.md).
	req.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	req.SetBody(body)
	if err := u.stamp(req, transport); err != nil {
		lease.Release()
		return nil, err
	}

	res, tx, err := u.invite(ctx, c, req, d.Auth, ringFor)
	if err != nil {
		lease.Release()
		return nil, err
	}
	// 2xx: the dialog exists (RFC 3261 §12.1.2).
	dl.remoteTag, _ = res.To().Params.Get("tag")
	if ct := res.Contact(); ct != nil {
		dl.remoteTarget = ct.Address
	} else {
		dl.remoteTarget = target
	}
	rr := res.GetHeaders("Record-Route")
	for i := len(rr) - 1; i >= 0; i-- {
		if h, ok := rr[i].(*sip.RecordRouteHeader); ok {
			dl.routes = append(dl.routes, h.Address)
		}
	}
	dl.cseq = req.CSeq().SeqNo // digest retries moved it on
	u.track(c)
	c.ackAndWatch(tx, res)
	c.emit(EventAnswered, res.StatusCode, "")

	fail := func(o error) (*Call, error) {
		hctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = c.Hangup(hctx)
		lease.Release()
		return nil, o
	}
	desc, err := parseSDP(res.Body())
	if err != nil {
		return fail(outcomef(ClassProtocol, err, "unreadable SDP answer"))
	}
	if !d.AudioFirst {
		if desc.image == nil {
			return fail(outcomef(ClassPermanent, ErrNoMedia, "far end answered a T.38 offer without T.38"))
		}
		c.setT38(lease, *desc.image, body)
		return c, nil
	}
	if desc.image != nil && mode != MediaAudio {
		// Some gateways answer an audio offer straight with image: take it.
		c.setT38(lease, *desc.image, body)
		return c, nil
	}
	codec, ok := u.pickCodec(desc.audioPTs)
	if !ok || !desc.hasAudio {
		return fail(outcomef(ClassPermanent, ErrNoMedia, "no common audio codec"))
	}
	c.setAudio(lease, desc.audio, codec, body)
	if mode == MediaAudio {
		c.takeAudio("media: audio")
		return c, nil
	}
	if err := c.fallBack(ctx, mode, c.audioPhase(ctx, rtpaudio.CNG, rtpaudio.CED.Freq, reinvAfter)); err != nil {
		if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			return fail(&Outcome{Class: ClassCancelled, Reason: "cancelled during the audio phase", Err: err})
		}
		var o *Outcome
		if !errors.As(err, &o) {
			o = outcomef(ClassProtocol, err, "switch to T.38 failed")
		}
		return fail(o)
	}
	return c, nil
}

// invite runs the INVITE client transaction: provisional responses, digest
// challenges, the ringing timeout and job cancellation (both by CANCEL).
// It returns the 2xx and its still-living transaction, or an *Outcome.
func (u *UA) invite(ctx context.Context, c *Call, req *sip.Request, auth *Credentials, ringFor time.Duration) (*sip.Response, sip.ClientTransaction, error) {
	tx, err := u.cli.TransactionRequest(ctx, req, noBuild)
	if err != nil {
		return nil, nil, ClassifyError(err)
	}
	ring := time.NewTimer(ringFor)
	defer ring.Stop()
	noResp := time.NewTimer(u.cfg.InviteTimeout)
	defer noResp.Stop()
	authTried := false
	provisional := false
	cancelled := false
	var cancelWait <-chan time.Time
	sendCancel := func(why string) {
		if cancelled {
			return
		}
		cancelled = true
		c.emit(EventCancelSent, 0, why)
		if !provisional {
			// RFC 3261 §9.1: no CANCEL before a provisional response; the
			// transaction ends by itself.
			return
		}
		cr := cancelRequest(req)
		go func() {
			defer func() {
				if r := recover(); r != nil {
					u.panicked("CANCEL", c.dlg.callID, r)
				}
			}()
			cctx, cancel := context.WithTimeout(context.Background(), 64*sip.T1)
			defer cancel()
			if res, err := u.cli.Do(cctx, cr, noBuild); err != nil {
				u.log.Debug("CANCEL failed", "error", err)
			} else if res.StatusCode >= 300 {
				u.log.Debug("CANCEL refused", "status", res.StatusCode)
			}
		}()
		// The INVITE should end with 487; if the far end never says so, give up.
		cancelWait = time.After(64 * sip.T1)
	}
	var cause error
	for {
		select {
		case res := <-tx.Responses():
			noResp.Stop()
			switch {
			case res.StatusCode == 100:
				provisional = true
				c.emit(EventTrying, 100, "")
			case res.IsProvisional():
				provisional = true
				c.emit(EventRinging, res.StatusCode, res.Reason)
				if cancelled && cancelWait == nil {
					sendCancel("")
				}
			case res.IsSuccess():
				if cancelled {
					// CANCEL lost the race with the answer: take the call
					// down properly (ACK then BYE).
					c.dlg.remoteTag, _ = res.To().Params.Get("tag")
					c.dlg.remoteTarget = req.Recipient
					if ct := res.Contact(); ct != nil {
						c.dlg.remoteTarget = ct.Address
					}
					c.dlg.cseq = req.CSeq().SeqNo
					u.track(c)
					c.ackAndWatch(tx, res)
					hctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
					_ = c.Hangup(hctx)
					cancel()
					return nil, nil, u.cancelOutcome(cause)
				}
				return res, tx, nil
			case (res.StatusCode == 401 || res.StatusCode == 407) && auth != nil && !authTried && !cancelled:
				authTried = true
				tx.Terminate()
				tx, err = u.cli.TransactionDigestAuth(ctx, req, res, sipgo.DigestAuth{Username: auth.Username, Password: auth.Password})
				if err != nil {
					return nil, nil, outcomef(ClassRoute, err, "digest authentication failed")
				}
				provisional = false
				noResp.Reset(u.cfg.InviteTimeout)
			default:
				tx.Terminate()
				if cancelled {
					return nil, nil, u.cancelOutcome(cause)
				}
				o := ClassifyStatus(res, phaseInvite, false)
				if (res.StatusCode == 401 || res.StatusCode == 407) && authTried {
					o.Reason, o.Err = "gateway rejected our credentials", ErrAuthFailed
				} else if res.StatusCode == 401 || res.StatusCode == 407 {
					o.Reason = "gateway demands authentication and none is configured"
				}
				return nil, nil, o
			}
		case <-tx.Done():
			if cancelled {
				return nil, nil, u.cancelOutcome(cause)
			}
			return nil, nil, ClassifyError(fmt.Errorf("%w: %w", ErrNoResponse, tx.Err()))
		case <-noResp.C:
			tx.Terminate()
			return nil, nil, ClassifyError(fmt.Errorf("%w within %s", ErrNoResponse, u.cfg.InviteTimeout))
		case <-ring.C:
			if !provisional {
				// Not a single response, not even 100 Trying: the gateway
				// is not there, whatever the two timeouts are set to.
				tx.Terminate()
				return nil, nil, ClassifyError(fmt.Errorf("%w within %s", ErrNoResponse, ringFor))
			}
			cause = ErrRingTimeout
			sendCancel("ringing timeout")
		case <-ctx.Done():
			if !cancelled {
				cause = ctx.Err()
				sendCancel("job cancelled")
				if !provisional {
					tx.Terminate()
					return nil, nil, u.cancelOutcome(cause)
				}
			}
			ctx = context.Background() // keep the loop for the 487 without spinning
		case <-cancelWait:
			tx.Terminate()
			return nil, nil, u.cancelOutcome(cause)
		}
	}
}

func (u *UA) cancelOutcome(cause error) *Outcome {
	if errors.Is(cause, ErrRingTimeout) {
		return &Outcome{Class: ClassNoAnswer, Status: 487, Reason: "no answer (ringing timeout)", Err: ErrRingTimeout}
	}
	return &Outcome{Class: ClassCancelled, Reason: "cancelled while calling", Err: cause}
}

// cancelRequest builds the CANCEL for an INVITE (RFC 3261 §9.1): same
// Request-URI, Call-ID, From, To, CSeq number and top Via.
func cancelRequest(inv *sip.Request) *sip.Request {
	r := sip.NewRequest(sip.CANCEL, inv.Recipient)
	r.AppendHeader(inv.Via().Clone())
	for _, h := range inv.GetHeaders("Route") {
		r.AppendHeader(sip.HeaderClone(h))
	}
	mf := sip.MaxForwardsHeader(70)
	r.AppendHeader(&mf)
	r.AppendHeader(sip.HeaderClone(inv.From()))
	r.AppendHeader(sip.HeaderClone(inv.To()))
	r.AppendHeader(sip.HeaderClone(inv.CallID()))
	r.AppendHeader(&sip.CSeqHeader{SeqNo: inv.CSeq().SeqNo, MethodName: sip.CANCEL})
	r.SetTransport(inv.Transport())
	r.SetDestination(inv.Destination())
	r.Laddr = inv.Laddr
	r.SetBody(nil)
	return r
}
