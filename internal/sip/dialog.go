package sip

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/faxd/faxd/t38/sdp"
)

// dialog is the RFC 3261 §12 dialog state we keep ourselves: sipgo's dialog
// helpers neither retransmit a 2xx nor re-ACK one, and a fax call needs
// re-INVITEs in both directions.
type dialog struct {
	u            *UA
	callID       string
	localTag     string
	remoteTag    string
	local        sip.Uri // our identity (From of our requests)
	localName    string
	remote       sip.Uri // their identity (To of our requests)
	remoteName   string
	remoteTarget sip.Uri   // their Contact
	routes       []sip.Uri // route set, in the order we send it
	transport    string
	ended        <-chan struct{} // the call's end: stops our 2xx retransmission

	mu         sync.Mutex
	cseq       uint32
	pendingAck map[uint32]chan struct{} // our 2xx awaiting ACK, by CSeq
	acks       map[uint32]*sip.Request  // ACKs we sent, by CSeq, to repeat on a retransmitted 2xx

	// Our SDP origin (RFC 3264 §8): one session id for the dialog's life,
	// the version one up each time what we send changes.
	sdpID      uint64
	sdpVersion uint64
	sdpLast    []byte // the last description we sent, origin left blank

	t38 T38Profile // the gateway's T.38 profile (outbound calls); zero: the UA's
}

func newDialog(u *UA) *dialog {
	return &dialog{u: u, cseq: rand.Uint32N(1 << 15), pendingAck: map[uint32]chan struct{}{}, acks: map[uint32]*sip.Request{}}
}

// newSessionID is a random 62-bit o= session id (RFC 4566 §5.2 wants it
// unique; 62 bits keep it inside a signed 64-bit integer on any peer).
var newSessionID = func() uint64 {
	for {
		if id := rand.Uint64() >> 2; id != 0 {
			return id
		}
	}
}

// describe writes our SDP with media under the dialog's origin: the same
// session id every time, the version unchanged when the description is
// the one we sent last (a refresh) and one up when it differs.
func (d *dialog) describe(host string, media []sdp.Media) []byte {
	s := sdp.Session{Origin: sdp.Origin{Username: "faxd", SessionID: "0", Addr: host}, Name: "faxd", Addr: host, Media: media}
	key := s.Marshal()
	d.mu.Lock()
	switch {
	case d.sdpID == 0:
		d.sdpID, d.sdpVersion = newSessionID(), 1
	case !bytes.Equal(key, d.sdpLast):
		d.sdpVersion++
	}
	d.sdpLast = key
	s.Origin.SessionID, s.Origin.SessionVersion = strconv.FormatUint(d.sdpID, 10), d.sdpVersion
	d.mu.Unlock()
	return s.Marshal()
}

// noBuild stops sipgo from adding headers to a request we built completely.
func noBuild(*sipgo.Client, *sip.Request) error { return nil }

// request builds an in-dialog request (RFC 3261 §12.2.1.1).
func (d *dialog) request(method sip.RequestMethod) (*sip.Request, error) {
	req := sip.NewRequest(method, d.remoteTarget)
	d.mu.Lock()
	if method != sip.ACK && method != sip.CANCEL {
		d.cseq++
	}
	seq := d.cseq
	d.mu.Unlock()
	from := &sip.FromHeader{DisplayName: d.localName, Address: d.local, Params: sip.NewParams()}
	from.Params.Add("tag", d.localTag)
	to := &sip.ToHeader{DisplayName: d.remoteName, Address: d.remote, Params: sip.NewParams()}
	to.Params.Add("tag", d.remoteTag)
	cid := sip.CallIDHeader(d.callID)
	req.AppendHeader(from)
	req.AppendHeader(to)
	req.AppendHeader(&cid)
	req.AppendHeader(&sip.CSeqHeader{SeqNo: seq, MethodName: method})
	for _, r := range d.routes {
		req.AppendHeader(&sip.RouteHeader{Address: r})
	}
	if method == sip.INVITE {
		req.AppendHeader(d.u.contact(d.transport, d.local.User))
		req.AppendHeader(sip.NewHeader("Allow", allowMethods))
	}
	if len(d.routes) > 0 {
		// Loose routing: send to the first route, keep the target as Request-URI.
		r := d.routes[0]
		port := r.Port
		if port == 0 {
			port = 5060
		}
		req.SetDestination(fmt.Sprintf("%s:%d", r.Host, port))
	}
	if err := d.u.stamp(req, d.transport); err != nil {
		return nil, err
	}
	return req, nil
}

// ack sends the ACK for a 2xx to our INVITE with CSeq seq and remembers it.
func (d *dialog) ack(seq uint32) error {
	req, err := d.request(sip.ACK)
	if err != nil {
		return err
	}
	req.CSeq().SeqNo = seq
	d.mu.Lock()
	d.acks[seq] = req
	d.mu.Unlock()
	return d.u.cli.WriteRequest(req, noBuild)
}

// reAck repeats our ACK when the far end retransmits its 2xx: our ACK was
// lost and without it the far end gives up on the call after 64*T1.
func (d *dialog) reAck(res *sip.Response) {
	if res.CSeq() == nil {
		return
	}
	d.mu.Lock()
	a := d.acks[res.CSeq().SeqNo]
	d.mu.Unlock()
	if a == nil {
		return
	}
	if err := d.u.cli.WriteRequest(a, noBuild); err != nil {
		d.u.log.Debug("re-ACK not sent", "call_id", d.callID, "error", err)
	}
}

func (d *dialog) ackReceived(req *sip.Request) {
	d.mu.Lock()
	ch := d.pendingAck[req.CSeq().SeqNo]
	delete(d.pendingAck, req.CSeq().SeqNo)
	d.mu.Unlock()
	if ch != nil {
		close(ch)
	}
}

// respond2xx sends a 2xx to an INVITE and, over UDP, retransmits it from T1
// doubling to T2 until the ACK arrives or 64*T1 has passed (RFC 3261
// §13.3.1.4), which sipgo leaves to the transaction user. The returned
// function waits for the ACK.
// A 2xx that cannot be sent at all is an error at once: waiting 64*T1 for
// the ACK of a response that never left would leave the caller ringing.
func (d *dialog) respond2xx(tx sip.ServerTransaction, res *sip.Response) (func(context.Context) error, error) {
	seq := res.CSeq().SeqNo
	acked := make(chan struct{})
	d.mu.Lock()
	d.pendingAck[seq] = acked
	d.mu.Unlock()
	if err := tx.Respond(res); err != nil {
		d.mu.Lock()
		delete(d.pendingAck, seq)
		d.mu.Unlock()
		d.u.log.Warn("2xx not sent", "call_id", d.callID, "error", err)
		return nil, fmt.Errorf("sip: 2xx not sent: %w", err)
	}
	result := make(chan error, 1)
	reliable := sip.IsReliable(res.Transport())
	d.u.goSafe("2xx retransmission", d.callID, func() {
		interval := sip.T1
		deadline := time.NewTimer(64 * sip.T1)
		defer deadline.Stop()
		retx := time.NewTimer(interval)
		defer retx.Stop()
		if reliable {
			retx.Stop()
		}
		for {
			select {
			case <-acked:
				result <- nil
				return
			case <-deadline.C:
				d.mu.Lock()
				delete(d.pendingAck, seq)
				d.mu.Unlock()
				result <- fmt.Errorf("%w: no ACK for our 200 within %s", ErrNoResponse, 64*sip.T1)
				return
			case <-d.u.ctx.Done():
				result <- errClosed
				return
			case <-d.ended:
				result <- ErrCallEnded
				return
			case <-retx.C:
				// While sipgo keeps the transaction (Timer L) it passes a
				// repeated 2xx straight to the transport; after that we write it.
				if err := tx.Respond(res); err != nil {
					_ = d.u.srv.WriteResponse(res)
				}
				interval = min(2*interval, sip.T2)
				retx.Reset(interval)
			}
		}
	}, func() { result <- errClosed })
	return func(ctx context.Context) error {
		select {
		case err := <-result:
			return err
		case <-ctx.Done():
			return ctx.Err()
		}
	}, nil
}

// transact sends an in-dialog request and waits for its final response.
func (d *dialog) transact(ctx context.Context, req *sip.Request) (*sip.Response, sip.ClientTransaction, error) {
	tx, err := d.u.cli.TransactionRequest(ctx, req, noBuild)
	if err != nil {
		return nil, nil, err
	}
	for {
		select {
		case res := <-tx.Responses():
			if res.IsProvisional() {
				continue
			}
			return res, tx, nil
		case <-tx.Done():
			err := tx.Err()
			if err == nil {
				err = ErrNoResponse
			}
			return nil, tx, err
		case <-ctx.Done():
			tx.Terminate()
			return nil, tx, ctx.Err()
		}
	}
}
