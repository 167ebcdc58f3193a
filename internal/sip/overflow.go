package sip

import (
	"context"
	"time"

	"github.com/emiago/sipgo/sip"
)

// Overflow finds another node for an inbound call this node cannot take.
// Target returns that node's id and SIP contact (a sip: URI without user
// part, e.g. "sip:10.0.0.2:5060" or "sip:10.0.0.2:5060;transport=tcp");
// ok is false when no node can take the call.
type Overflow interface {
	Target(ctx context.Context) (node, contact string, ok bool)
}

type overflowBox struct{ o Overflow }

// SetOverflow makes the UA redirect the INVITEs it cannot take when
// Config.OverflowRedirect is on; nil stops it.
func (u *UA) SetOverflow(o Overflow) {
	if o == nil {
		u.overflow.Store(nil)
		return
	}
	u.overflow.Store(&overflowBox{o})
}

// ContactURI is where other nodes send the calls they redirect here: a
// sip: URI of the advertised host and the UDP listener (else TCP, else
// TLS), without user part; "" without a listener.
func (u *UA) ContactURI() string {
	for _, tr := range []string{"udp", "tcp", "tls"} {
		ap, ok := u.addrs[tr]
		if !ok {
			continue
		}
		uri := sip.Uri{Scheme: "sip", Host: u.host, Port: int(ap.Port())}
		if tr != "udp" {
			uri.UriParams = sip.NewParams()
			uri.UriParams.Add("transport", tr)
		}
		return uri.String()
	}
	return ""
}

// OverflowParam marks the Request-URI of a redirected call's Contact. A
// node that receives an INVITE so marked never redirects it again: the
// free counts it redirected on are a heartbeat old, and two full nodes
// must not send a call back and forth.
const OverflowParam = "faxd-overflow"

// overflowLookup bounds the database query behind a redirect: the caller
// is ringing meanwhile; without an answer the call gets 486/503.
const overflowLookup = 2 * time.Second

// redirect answers req with 302 and another node's Contact when overflow
// is on, the call was not redirected already and another node can take
// it. It reports whether it answered.
func (u *UA) redirect(tx sip.ServerTransaction, req *sip.Request, why string) bool {
	box := u.overflow.Load()
	if box == nil || !u.cfg.OverflowRedirect {
		return false
	}
	if req.Recipient.UriParams != nil && req.Recipient.UriParams.Has(OverflowParam) {
		u.log.Info("redirected INVITE not redirected again", "call_id", req.CallID().Value(), "why", why)
		return false
	}
	ctx, cancel := context.WithTimeout(u.ctx, overflowLookup)
	defer cancel()
	node, contact, ok := box.o.Target(ctx)
	if !ok {
		return false
	}
	var to sip.Uri
	if err := sip.ParseUri(contact, &to); err != nil || to.Host == "" {
		u.log.Warn("overflow target has no usable SIP contact", "node", node, "contact", contact, "error", err)
		return false
	}
	// The dialled number goes with the call, so that the other node
	// routes it as this one would have.
	to.User = req.Recipient.User
	if to.UriParams == nil {
		to.UriParams = sip.NewParams()
	}
	to.UriParams.Add(OverflowParam, "")
	u.metrics.Redirected.WithLabelValues(why).Inc()
	u.log.Info("INVITE redirected to another node", "call_id", req.CallID().Value(), "why", why, "node", node, "contact", to.String())
	u.respond(tx, req, 302, "Moved Temporarily", []sip.Header{&sip.ContactHeader{Address: to}})
	return true
}
