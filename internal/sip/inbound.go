package sip

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/icholy/digest"

	"github.com/faxd/faxd/internal/portpool"
	"github.com/faxd/faxd/internal/sip/rtpaudio"
	"github.com/faxd/faxd/t38/sdp"
)

// Incoming describes an inbound call for the Admission decision.
type Incoming struct {
	CallID     string
	DID        string // user part of the Request-URI (the dialled number)
	To         string
	From       string
	CallerID   string // user part of P-Asserted-Identity, else of From
	Source     netip.AddrPort
	Transport  string
	T38Offered bool
}

// Verdict is how to answer an inbound INVITE.
type Verdict int

const (
	Accept      Verdict = iota // answer and hand the call to Channel
	Busy                       // 486 Busy Here: every inbound channel is busy
	Unavailable                // 503 + Retry-After: draining or standby
	Reject                     // 603 Decline
)

// Decision is Admission's answer.
type Decision struct {
	Verdict    Verdict
	RetryAfter time.Duration // for Unavailable; default Config.RetryAfter
	Channel    InboundChannel
	OnEvent    func(Event)
	// Media is the answering gateway's media mode ("": t38); ReinviteWait
	// overrides Config.ReinviteAfter for the call when not 0.
	Media        MediaMode
	ReinviteWait time.Duration
}

// InboundChannel receives an accepted call: exactly one of its methods is
// called, Established once T.38 is up or the call is to carry an audio fax
// (Media().Audio; the channel then owns the call and
// must Hangup), Failed when setup did not get that far (its ports are
// already released).
type InboundChannel interface {
	Established(c *Call)
	Failed(err error)
}

// Admission decides whether an inbound call gets a channel. ctx ends when
// the caller CANCELs, so Admission may wait briefly for a free channel.
type Admission interface {
	Admit(ctx context.Context, in Incoming) Decision
}

func randRead(b []byte) (int, error) { return rand.Read(b) }

func (u *UA) onInvite(req *sip.Request, tx sip.ServerTransaction) {
	if to := req.To(); to != nil && to.Params.Has("tag") {
		if c := u.callFor(req); c != nil {
			if u.ignoreReinviteForTest {
				return
			}
			c.onReinvite(req, tx)
			return
		}
		u.respond(tx, req, 481, "Call/Transaction Does Not Exist", nil)
		return
	}
	src, err := netip.ParseAddrPort(req.Source())
	if err != nil || !u.allowed(src.Addr()) {
		u.log.Warn("INVITE refused: source not in allow_from", "source", req.Source())
		u.respond(tx, req, 403, "Forbidden", nil)
		return
	}
	if s := u.State(); s != StateActive {
		if u.overflow.Load() != nil && u.cfg.OverflowRedirect {
			// Another node's address goes only to a caller that may call us.
			if a := u.cfg.InboundAuth; a != nil && !u.authorized(req, tx, a) {
				return
			}
			if u.redirect(tx, req, s.String()) {
				return
			}
		}
		u.respond(tx, req, 503, "Service Unavailable", []sip.Header{u.retryAfter(0), sip.NewHeader("Warning", `399 `+u.host+` "`+s.String()+`"`)})
		return
	}
	if a := u.cfg.InboundAuth; a != nil && !u.authorized(req, tx, a) {
		return
	}
	offer, err := parseSDP(req.Body())
	if err != nil {
		u.refuseSDP(tx, req, err)
		return
	}
	_, audioOK := u.pickCodec(offer.audioPTs)
	if offer.image == nil && !(offer.hasAudio && audioOK) {
		u.respond(tx, req, 488, "Not Acceptable Here", []sip.Header{sip.NewHeader("Warning", `304 `+u.host+` "T.38 or PCMU/PCMA only"`)})
		return
	}
	box := u.admission.Load()
	if box == nil {
		u.respond(tx, req, 503, "Service Unavailable", []sip.Header{u.retryAfter(0)})
		return
	}

	dl := newDialog(u)
	dl.callID = req.CallID().Value()
	dl.localTag = sip.GenerateTagN(16)
	dl.remoteTag, _ = req.From().Params.Get("tag")
	dl.local, dl.localName = req.To().Address, req.To().DisplayName
	dl.remote, dl.remoteName = req.From().Address, req.From().DisplayName
	dl.transport = strings.ToUpper(req.Transport())
	dl.remoteTarget = req.From().Address
	if ct := req.Contact(); ct != nil {
		dl.remoteTarget = ct.Address
	}
	for _, h := range req.GetHeaders("Record-Route") {
		if rr, ok := h.(*sip.RecordRouteHeader); ok {
			dl.routes = append(dl.routes, rr.Address) // UAS keeps Record-Route order
		}
	}
	withTag := func(code int, reason string, body []byte) *sip.Response {
		res := sip.NewResponseFromRequest(req, code, reason, body)
		res.To().Params.Add("tag", dl.localTag)
		return res
	}

	in := Incoming{CallID: dl.callID, DID: req.Recipient.User, To: req.To().Address.String(),
		From: req.From().Address.String(), CallerID: req.From().Address.User, Source: src,
		Transport: dl.transport, T38Offered: offer.image != nil}
	if pai := req.GetHeader("P-Asserted-Identity"); pai != nil {
		var uri sip.Uri
		v := pai.Value()
		if i, j := strings.IndexByte(v, '<'), strings.IndexByte(v, '>'); i >= 0 && j > i {
			v = v[i+1 : j]
		}
		if sip.ParseUri(v, &uri) == nil && uri.User != "" {
			in.CallerID = uri.User
		}
	}

	// Ring while Admission decides; a CANCEL ends actx.
	ringing := withTag(180, "Ringing", nil)
	if !u.fits(ringing) {
		// Record-Route and Via copied from the INVITE would make every
		// answer too large for UDP: say so rather than leave it ringing.
		u.metrics.Refused.WithLabelValues("too_large").Inc()
		u.log.Warn("INVITE refused: our responses would exceed the UDP MTU", "call_id", req.CallID().Value(), "bytes", len(ringing.String()))
		u.respond(tx, req, 513, "Message Too Large", []sip.Header{sip.NewHeader("Warning", `399 `+u.host+` "responses to this INVITE would not fit UDP; use TCP"`)})
		return
	}
	if err := tx.Respond(ringing); err != nil {
		u.log.Warn("180 not sent", "call_id", req.CallID().Value(), "error", err)
		u.respond(tx, req, 500, "Server Internal Error", nil)
		return
	}
	actx, cancel := context.WithCancel(u.ctx)
	defer cancel()
	tx.OnCancel(func(*sip.Request) { cancel() })
	dec := box.a.Admit(actx, in)
	if actx.Err() != nil {
		// CANCELled (sipgo has sent 487) or UA closing.
		if dec.Channel != nil {
			dec.Channel.Failed(context.Canceled)
		}
		return
	}
	switch dec.Verdict {
	case Busy:
		if !u.redirect(tx, req, "busy") {
			u.respond(tx, req, 486, "Busy Here", nil)
		}
		return
	case Unavailable:
		why := u.State().String()
		if why == StateActive.String() {
			why = "draining" // the pool is closing
		}
		if u.redirect(tx, req, why) {
			return
		}
		u.respond(tx, req, 503, "Service Unavailable", []sip.Header{u.retryAfter(dec.RetryAfter)})
		return
	case Reject:
		u.respond(tx, req, 603, "Decline", nil)
		return
	}
	ch := dec.Channel
	mode, err := ParseMediaMode(string(dec.Media))
	if err != nil {
		u.log.Warn("inbound call: bad media mode, using t38", "call_id", dl.callID, "error", err)
		mode = MediaT38
	}
	reinvAfter := u.cfg.ReinviteAfter
	if dec.ReinviteWait > 0 {
		reinvAfter = dec.ReinviteWait
	}
	c := newCall(u, dl, false, dec.OnEvent)
	if mode == MediaAuto {
		c.reinvTimeout = max(reinvAfter, autoReinviteTimeout)
	}
	c.emit(EventRinging, 180, "")
	failed := func(code int, reason string, err error) {
		u.respond(tx, req, code, reason, nil)
		if ch != nil {
			ch.Failed(err)
		}
	}

	var body []byte
	if mode == MediaAudio && !(offer.hasAudio && audioOK) {
		failed(488, "Not Acceptable Here", fmt.Errorf("%w: T.38 offered to a gateway whose media is audio", ErrNoMedia))
		return
	}
	if offer.image != nil && mode != MediaAudio {
		lease, err := u.pool.Acquire(portpool.UDPTL)
		if err != nil {
			failed(503, "No Media Port", err)
			return
		}
		ours, sess, err := u.answerT38(dl, *offer.image, lease.Port())
		if err != nil {
			lease.Release()
			failed(488, "Not Acceptable Here", err)
			return
		}
		ours.Addr = ""
		body = u.answerBody(dl, offer, offer.imageIdx, ours.Media())
		c.setT38(lease, sess, body)
	} else {
		lease, err := u.pool.Acquire(portpool.RTP)
		if err != nil {
			failed(503, "No Media Port", err)
			return
		}
		codec, _ := u.pickCodec(offer.audioPTs)
		body = u.answerBody(dl, offer, offer.audioIdx, sdp.AudioMedia(lease.Port(), "", 20,
			sdp.RTPMap{PT: int(codec.PayloadType), Encoding: codec.Name, ClockRate: rtpaudio.SampleRate,
				VBD: offer.vbd(codec.PayloadType)}))
		c.setAudio(lease, offer.audio, codec, body)
	}
	res := withTag(200, "OK", body)
	res.AppendHeader(u.contact(dl.transport, dl.local.User))
	res.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	res.AppendHeader(sip.NewHeader("Allow", allowMethods))
	res.AppendHeader(sip.NewHeader("Server", u.cfg.UserAgent))
	if !u.fits(res) {
		// Our answer would not go out at all (sipgo refuses UDP messages
		// near the MTU) and the caller would ring forever: refuse instead.
		u.metrics.Refused.WithLabelValues("too_large").Inc()
		u.log.Warn("INVITE refused: SDP answer too large for UDP", "call_id", dl.callID, "bytes", len(res.String()))
		c.end(ErrNoMedia)
		u.respond(tx, req, 488, "Not Acceptable Here", []sip.Header{sip.NewHeader("Warning", `399 `+u.host+` "SDP answer too large for UDP; use TCP"`)})
		if ch != nil {
			ch.Failed(fmt.Errorf("%w: SDP answer too large for UDP", ErrNoMedia))
		}
		return
	}
	u.track(c)
	wait, err := dl.respond2xx(tx, res)
	if err != nil {
		c.end(err)
		u.respond(tx, req, 500, "Server Internal Error", nil)
		if ch != nil {
			ch.Failed(err)
		}
		return
	}

	u.goSafe("inbound call", dl.callID, func() {
		err := wait(u.ctx)
		if err == nil {
			c.emit(EventAnswered, 200, "")
			switch {
			case c.Media().T38:
			case mode == MediaAudio:
				c.takeAudio("media: audio")
			default:
				err = c.fallBack(u.ctx, mode, c.audioPhase(u.ctx, rtpaudio.CED, rtpaudio.CNG.Freq, reinvAfter))
			}
		}
		if err != nil {
			hctx, hcancel := context.WithTimeout(context.Background(), 5*time.Second)
			_ = c.Hangup(hctx)
			hcancel()
			if ch != nil {
				ch.Failed(err)
			}
			return
		}
		if ch != nil {
			ch.Established(c)
		} else {
			hctx, hcancel := context.WithTimeout(context.Background(), 5*time.Second)
			_ = c.Hangup(hctx)
			hcancel()
		}
	}, func() { c.end(ErrCallEnded) })
}

// refuseSDP answers an offer we cannot read or will not answer.
func (u *UA) refuseSDP(tx sip.ServerTransaction, req *sip.Request, err error) {
	if errors.Is(err, errTooManyMedia) {
		u.metrics.Refused.WithLabelValues("too_many_media").Inc()
		u.log.Warn("offer refused: too many m= lines", "source", req.Source(), "call_id", req.CallID().Value())
		u.respond(tx, req, 488, "Not Acceptable Here", []sip.Header{sip.NewHeader("Warning",
			fmt.Sprintf(`399 %s "more than %d m= lines"`, u.host, maxMediaLines))})
		return
	}
	u.log.Warn("offer refused: unreadable SDP", "source", req.Source(), "call_id", req.CallID().Value(), "error", err)
	u.respond(tx, req, 400, "Bad SDP", []sip.Header{sip.NewHeader("Warning", `399 `+u.host+` "`+printable(err.Error(), 120)+`"`)})
}

// fits reports whether res can be sent on its transport: sipgo refuses a
// UDP message within 200 bytes of the MTU.
func (u *UA) fits(res *sip.Response) bool {
	return sip.IsReliable(res.Transport()) || len(res.String()) <= sip.UDPMTUSize-200
}

func (u *UA) allowed(a netip.Addr) bool {
	a = a.Unmap()
	for _, p := range u.allow {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

func (u *UA) retryAfter(d time.Duration) sip.Header {
	if d <= 0 {
		d = u.cfg.RetryAfter
	}
	return sip.NewHeader("Retry-After", strconv.Itoa(int((d+time.Second-1)/time.Second)))
}

// --- inbound digest (RFC 3261 §22, RFC 7616) --------------------------------

const (
	nonceLife = 5 * time.Minute
	// maxNonces bounds the table; only allowed sources get challenges, so
	// it fills only under a flood from a gateway, and then the oldest go.
	maxNonces = 4096
)

// nonceTable remembers every nonce we issued and the highest nonce count
// seen with it, so that a captured Authorization (same nonce, same nc)
// is refused instead of being good for the nonce's whole lifetime.
type nonceTable struct {
	mu sync.Mutex
	m  map[string]*nonceState
}

type nonceState struct {
	issued time.Time
	nc     uint64 // highest nc accepted; 0: none yet
	used   bool   // a request without qop used it (single use)
}

func newNonceTable() *nonceTable { return &nonceTable{m: map[string]*nonceState{}} }

// issue makes a fresh random nonce for one challenge.
func (t *nonceTable) issue(now time.Time) string {
	var b [18]byte
	_, _ = randRead(b[:])
	n := base64.RawURLEncoding.EncodeToString(b[:])
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.m) >= maxNonces {
		var oldest string
		var ot time.Time
		for k, s := range t.m {
			if now.Sub(s.issued) >= nonceLife {
				delete(t.m, k)
				continue
			}
			if oldest == "" || s.issued.Before(ot) {
				oldest, ot = k, s.issued
			}
		}
		if len(t.m) >= maxNonces {
			delete(t.m, oldest)
		}
	}
	t.m[n] = &nonceState{issued: now}
	return n
}

type nonceVerdict int

const (
	nonceOK     nonceVerdict = iota
	nonceStale               // unknown or expired: challenge again
	nonceReplay              // nc not above the last one accepted
)

// use checks nonce and its count nc (RFC 7616 §3.4) for credentials that
// are otherwise correct and, when fine, records nc as used.
func (t *nonceTable) use(nonce string, nc int, qop bool, now time.Time) nonceVerdict {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := t.m[nonce]
	if s == nil || now.Sub(s.issued) >= nonceLife || s.issued.Sub(now) > time.Minute {
		delete(t.m, nonce)
		return nonceStale
	}
	if !qop {
		if s.used {
			return nonceReplay
		}
		s.used = true
		return nonceOK
	}
	if nc <= 0 || uint64(nc) <= s.nc {
		return nonceReplay
	}
	s.nc = uint64(nc)
	return nonceOK
}

// authorized checks the request's credentials and, when they are missing,
// stale or replayed, sends a fresh challenge; wrong credentials get 403.
func (u *UA) authorized(req *sip.Request, tx sip.ServerTransaction, a *Credentials) bool {
	realm := a.Realm
	if realm == "" {
		realm = "faxd"
	}
	reqHdr, chalHdr, code, reason := "Authorization", "WWW-Authenticate", 401, "Unauthorized"
	if a.Proxy {
		reqHdr, chalHdr, code, reason = "Proxy-Authorization", "Proxy-Authenticate", 407, "Proxy Authentication Required"
	}
	now := time.Now()
	challenge := func(stale bool) {
		chal := digest.Challenge{Realm: realm, Nonce: u.nonces.issue(now), Algorithm: "MD5", QOP: []string{"auth"}, Stale: stale}
		u.respond(tx, req, code, reason, []sip.Header{sip.NewHeader(chalHdr, chal.String())})
	}
	h := req.GetHeader(reqHdr)
	if h == nil {
		challenge(false)
		return false
	}
	cred, err := digest.ParseCredentials(h.Value())
	if err != nil || cred.Realm != realm {
		challenge(false)
		return false
	}
	chal := &digest.Challenge{Realm: realm, Nonce: cred.Nonce, Algorithm: cred.Algorithm}
	if cred.QOP != "" {
		chal.QOP = []string{cred.QOP}
	}
	want, err := digest.Digest(chal, digest.Options{Method: string(req.Method), URI: cred.URI,
		Username: a.Username, Password: a.Password, Cnonce: cred.Cnonce, Count: cred.Nc})
	if err != nil || cred.Username != a.Username ||
		subtle.ConstantTimeCompare([]byte(want.Response), []byte(cred.Response)) != 1 {
		u.log.Warn("INVITE refused: bad digest credentials", "source", req.Source(), "username", cred.Username)
		u.respond(tx, req, 403, "Forbidden", nil)
		return false
	}
	// Only correct credentials reach the nonce count, so a forger cannot
	// burn a gateway's counts with guessed responses.
	switch u.nonces.use(cred.Nonce, cred.Nc, cred.QOP != "", now) {
	case nonceStale:
		u.metrics.Refused.WithLabelValues("digest_stale").Inc()
		challenge(true)
		return false
	case nonceReplay:
		u.metrics.Refused.WithLabelValues("digest_replay").Inc()
		u.log.Warn("INVITE refused: replayed digest credentials", "source", req.Source(), "username", cred.Username, "call_id", req.CallID().Value())
		challenge(true)
		return false
	}
	return true
}
