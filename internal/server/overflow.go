package server

import (
	"context"
)

// overflowTarget finds, in the nodes table, another node for an inbound
// call this node cannot take (sip.overflow_redirect).
type overflowTarget struct{ s *Server }

func (o overflowTarget) Target(ctx context.Context) (string, string, bool) {
	node, contact, ok, err := o.s.Queue.OverflowTarget(ctx, o.s.cfg.Node.ID)
	if err != nil {
		// The caller gets 486/503 as without overflow.
		o.s.log.Warn("inbound overflow: no target", "err", err)
		return "", "", false
	}
	return node, contact, ok
}

// openOverflow advertises this node's SIP contact with its heartbeats and
// lets the user agent redirect the calls it cannot take.
func (s *Server) openOverflow() {
	c := s.channels
	if c == nil || c.UA == nil || s.Node == nil {
		return
	}
	free := 0 // a standby takes no calls until it is promoted
	if s.cfg.Node.Role == "active" {
		if free = s.cfg.Channel.InboundCount; free == 0 {
			free = s.cfg.Channels.Count
		}
	}
	s.Node.SetInbound(c.UA.ContactURI(), free)
	if s.cfg.SIP.OverflowRedirect {
		c.UA.SetOverflow(overflowTarget{s})
	}
}
