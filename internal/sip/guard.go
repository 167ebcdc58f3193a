package sip

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emiago/sipgo/sip"
)

// The guard sits in sipgo's transport read filter, so it sees every byte
// that arrives on any SIP connection (our listeners and the TCP/TLS
// connections sipgo dials) before sipgo parses it. Only messages that carry
// every header RFC 3261 §8.1.1 makes mandatory, and that come from an
// allowed source or belong to one of our dialogs, go further. sipgo runs
// each message in a goroutine of its own without recover, so this is the
// one place where a bad message can still be turned away safely.

const (
	// maxStreamHeader bounds the header section we buffer on a stream
	// while waiting for its end.
	maxStreamHeader = 16 << 10
	// maxStreamMessage is sipgo's own limit on one message.
	maxStreamMessage = 65535
	// maxStreams bounds the per-connection framing buffers kept while a
	// message is incomplete; a sweep drops idle ones beyond it.
	maxStreams = 1024
	streamIdle = 5 * time.Minute
)

type guard struct {
	u *UA
	// parser is sipgo's parser; tests replace it (setParser) to prove
	// that a parser panic is contained.
	parser atomic.Pointer[parseFunc]

	mu      sync.Mutex
	streams map[string]*streamBuf
	udp     map[string]net.PacketConn // our UDP listeners by local address
}

type parseFunc func([]byte) (sip.Message, error)

func (g *guard) parse(raw []byte) (sip.Message, error) { return (*g.parser.Load())(raw) }

func (g *guard) setParser(f parseFunc) { g.parser.Store(&f) }

type streamBuf struct {
	buf      []byte
	seen     time.Time
	poisoned error // the stream could not be framed: close it
}

func newGuard(u *UA) *guard {
	g := &guard{u: u, streams: map[string]*streamBuf{}, udp: map[string]net.PacketConn{}}
	g.setParser(sip.NewParser().ParseSIP)
	return g
}

// filter is the sip.TransportReadFilter: it returns what sipgo may parse.
func (g *guard) filter(p sip.TransportReadProps, data []byte) (out []byte, err error) {
	defer func() {
		if r := recover(); r != nil {
			g.u.panicked("read filter", "", r)
			out, err = nil, nil
		}
	}()
	src := addrPortOf(p.RemoteAddr)
	if strings.EqualFold(p.Transport, "UDP") {
		if len(bytes.Trim(data, "\r\n")) == 0 {
			return data, nil // keep-alive: sipgo ignores it
		}
		pass, reply := g.inspect(data, src, "UDP")
		if reply != nil {
			g.writeUDP(p.LocalAddr, p.RemoteAddr, reply)
		}
		if !pass {
			return nil, nil
		}
		return data, nil
	}
	return g.stream(p, src, data)
}

// stream frames a TCP/TLS byte stream into messages (Content-Length is
// mandatory there, RFC 3261 §18.3), inspects each and hands sipgo only the
// ones that pass. An unframeable stream is answered if possible and closed.
func (g *guard) stream(p sip.TransportReadProps, src netip.AddrPort, data []byte) ([]byte, error) {
	key := p.Transport + "|" + p.LocalAddr.String() + "|" + p.RemoteAddr.String()
	g.mu.Lock()
	st := g.streams[key]
	g.mu.Unlock()
	if st != nil && st.poisoned != nil {
		g.drop(key)
		return nil, st.poisoned
	}
	if st == nil && len(bytes.Trim(data, "\r\n")) == 0 {
		return data, nil // RFC 5626 keep-alive between messages: sipgo answers the ping
	}
	var buf []byte
	if st != nil {
		buf = append(st.buf, data...)
	} else {
		buf = append([]byte(nil), data...)
	}
	var out []byte
	for {
		for len(buf) >= 2 && buf[0] == '\r' && buf[1] == '\n' {
			buf = buf[2:]
		}
		if len(buf) == 0 {
			break
		}
		n, ferr := frame(buf)
		if ferr != nil {
			g.u.metrics.Malformed.WithLabelValues("stream").Inc()
			g.u.log.Warn("SIP stream refused: connection closed", "transport", p.Transport, "source", src, "error", ferr)
			if reply := g.rawRefusal(buf, ferr); reply != nil {
				g.writeStream(p, reply)
			}
			if len(out) > 0 {
				// Whole messages that came before the bad one still go to
				// sipgo; the connection closes on its next read.
				g.mu.Lock()
				g.streams[key] = &streamBuf{poisoned: ferr, seen: time.Now()}
				g.mu.Unlock()
				return out, nil
			}
			g.drop(key)
			return nil, ferr
		}
		if n == 0 {
			break // incomplete: wait for more
		}
		msg := buf[:n]
		pass, reply := g.inspect(msg, src, strings.ToUpper(p.Transport))
		if reply != nil {
			g.writeStream(p, reply)
		}
		if pass {
			out = append(out, msg...)
		}
		buf = buf[n:]
	}
	g.mu.Lock()
	if len(buf) == 0 {
		delete(g.streams, key)
	} else {
		if len(g.streams) >= maxStreams {
			g.sweep()
		}
		g.streams[key] = &streamBuf{buf: append([]byte(nil), buf...), seen: time.Now()}
	}
	g.mu.Unlock()
	return out, nil
}

func (g *guard) drop(key string) {
	g.mu.Lock()
	delete(g.streams, key)
	g.mu.Unlock()
}

// sweep forgets framing buffers of connections idle for long (they closed
// mid-message); g.mu is held.
func (g *guard) sweep() {
	now := time.Now()
	for k, s := range g.streams {
		if now.Sub(s.seen) > streamIdle {
			delete(g.streams, k)
		}
	}
}

var (
	errNoLength  = errors.New("no Content-Length on a stream transport")
	errBadLength = errors.New("unreadable Content-Length")
	errTooLarge  = errors.New("message larger than 65535 bytes")
	errNoHeadEnd = errors.New("header section never ends")
)

// frame returns the length of the first complete message in b, 0 when more
// bytes are needed, or why b cannot be framed.
func frame(b []byte) (int, error) {
	end := bytes.Index(b, []byte("\r\n\r\n"))
	if end < 0 {
		if len(b) > maxStreamHeader {
			return 0, errNoHeadEnd
		}
		return 0, nil
	}
	cl := -1
	for _, line := range bytes.Split(b[:end], []byte("\r\n"))[1:] {
		name, val, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			continue
		}
		switch strings.ToLower(string(bytes.TrimSpace(name))) {
		case "content-length", "l":
			n, err := strconv.Atoi(string(bytes.TrimSpace(val)))
			if err != nil || n < 0 {
				return 0, errBadLength
			}
			cl = n
		}
	}
	if cl < 0 {
		return 0, errNoLength
	}
	total := end + 4 + cl
	if total > maxStreamMessage {
		return 0, errTooLarge
	}
	if len(b) < total {
		return 0, nil
	}
	return total, nil
}

// inspect decides about one whole message: pass it to sipgo, or refuse it
// (reply, when not nil, is what to send back).
func (g *guard) inspect(raw []byte, src netip.AddrPort, transport string) (pass bool, reply []byte) {
	u := g.u
	first, _, _ := bytes.Cut(raw, []byte("\r\n"))
	isResponse := bytes.HasPrefix(first, []byte("SIP/"))
	method, _, _ := bytes.Cut(first, []byte(" "))
	allowed := src.IsValid() && u.allowed(src.Addr())
	if !isResponse && !allowed {
		// Refuse on the raw bytes: only Call-ID and the To tag are read, to
		// let requests inside a call we placed to this gateway through.
		cid := rawHeader(raw, "call-id", "i")
		tag := tagOf(rawHeader(raw, "to", "t"))
		if cid == "" || tag == "" || !u.hasDialog(cid, tag) {
			u.metrics.Refused.WithLabelValues("allow_from").Inc()
			if string(method) == string(sip.ACK) || !looksLikeRequest(first) ||
				(string(method) == string(sip.OPTIONS) && u.cfg.OptionsFromUnknown == "drop") {
				// An ACK is never answered, noise neither; a dropped OPTIONS
				// tells a scanner nothing. Debug only: scans come in floods.
				u.log.Debug("SIP request dropped: source not in allow_from", "source", src, "transport", transport, "method", printable(string(method), 20))
				return false, nil
			}
			u.log.Warn("SIP request refused: source not in allow_from", "source", src, "transport", transport, "method", printable(string(method), 20), "call_id", printable(cid, 80))
			return false, g.rawReply(raw, 403, "Forbidden", "source not in allow_from")
		}
	}
	msg, err := g.safeParse(raw)
	if err == nil {
		err = checkMessage(msg)
	}
	if err != nil {
		if isResponse {
			u.metrics.Malformed.WithLabelValues("response").Inc()
			u.log.Warn("SIP response dropped", "source", src, "transport", transport, "error", err)
			return false, nil
		}
		u.metrics.Malformed.WithLabelValues("request").Inc()
		u.log.Warn("SIP request refused with 400", "source", src, "transport", transport, "start", printable(string(first), 80), "error", err)
		if string(method) == string(sip.ACK) || !looksLikeRequest(first) {
			return false, nil // an ACK is never answered; nor is noise
		}
		return false, g.rawReply(raw, 400, badReason(err), err.Error())
	}
	return true, nil
}

// rawHeader is the value of the first header line named one of names
// (lower case, long or compact form) in a raw message's header section.
func rawHeader(raw []byte, names ...string) string {
	head, _, _ := bytes.Cut(raw, []byte("\r\n\r\n"))
	for _, line := range bytes.Split(head, []byte("\r\n"))[1:] {
		name, val, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			continue
		}
		n := strings.ToLower(string(bytes.TrimSpace(name)))
		for _, want := range names {
			if n == want {
				return string(bytes.TrimSpace(val))
			}
		}
	}
	return ""
}

// tagOf is the tag parameter of a raw From/To value.
func tagOf(v string) string {
	if i := strings.LastIndexByte(v, '>'); i >= 0 {
		v = v[i+1:]
	}
	for _, p := range strings.Split(v, ";") {
		if k, val, ok := strings.Cut(strings.TrimSpace(p), "="); ok && strings.EqualFold(k, "tag") {
			return strings.TrimSpace(val)
		}
	}
	return ""
}

// safeParse runs sipgo's parser and turns a panic inside it into an error.
func (g *guard) safeParse(raw []byte) (msg sip.Message, err error) {
	defer func() {
		if r := recover(); r != nil {
			g.u.panicked("parser", "", r)
			msg, err = nil, fmt.Errorf("unparsable message (parser panic)")
		}
	}()
	msg, err = g.parse(raw)
	if err == nil && msg == nil {
		err = errors.New("no message")
	}
	return msg, err
}

// headerError names the mandatory header a message lacks or has unusable.
type headerError struct {
	header  string
	missing bool
}

func (e *headerError) Error() string {
	if e.missing {
		return "missing " + e.header + " header"
	}
	return "bad " + e.header + " header"
}

// checkMessage enforces RFC 3261 §8.1.1: Via, From, To, Call-ID and CSeq
// on every message, Max-Forwards on requests, and a CSeq method matching
// the request's.
func checkMessage(msg sip.Message) error {
	miss := func(h string) error { return &headerError{header: h, missing: true} }
	if msg.Via() == nil {
		return miss("Via")
	}
	if msg.From() == nil {
		return miss("From")
	}
	if msg.To() == nil {
		return miss("To")
	}
	if msg.CallID() == nil || msg.CallID().Value() == "" {
		return miss("Call-ID")
	}
	if msg.CSeq() == nil {
		return miss("CSeq")
	}
	if req, ok := msg.(*sip.Request); ok {
		if req.MaxForwards() == nil {
			return miss("Max-Forwards")
		}
		if req.CSeq().MethodName != req.Method {
			return &headerError{header: "CSeq"}
		}
	}
	return nil
}

func badReason(err error) string {
	var he *headerError
	if errors.As(err, &he) {
		if he.missing {
			return "Missing " + he.header + " Header"
		}
		return "Bad " + he.header + " Header"
	}
	return "Bad Request"
}

// rawRefusal answers a request whose stream cannot be framed.
func (g *guard) rawRefusal(buf []byte, err error) []byte {
	if bytes.HasPrefix(buf, []byte("SIP/")) || bytes.HasPrefix(buf, []byte("ACK ")) {
		return nil
	}
	if bytes.Index(buf, []byte("\r\n\r\n")) < 0 {
		return nil // not even a header section to answer
	}
	switch {
	case errors.Is(err, errTooLarge):
		g.u.metrics.Refused.WithLabelValues("too_large").Inc()
		return g.rawReply(buf, 513, "Message Too Large", err.Error())
	default:
		return g.rawReply(buf, 400, "Bad Request", err.Error())
	}
}

// rawReply builds a stateless response from the request's raw Via, From,
// To, Call-ID and CSeq lines (RFC 3261 §8.2.6.2), so that even a request
// sipgo cannot parse gets a clear answer. The Warning carries the reason.
func (g *guard) rawReply(raw []byte, code int, reason, warning string) []byte {
	head, _, _ := bytes.Cut(raw, []byte("\r\n\r\n"))
	lines := bytes.Split(head, []byte("\r\n"))
	var b strings.Builder
	fmt.Fprintf(&b, "SIP/2.0 %d %s\r\n", code, reason)
	for _, line := range lines[1:] {
		name, val, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			continue
		}
		switch n := strings.ToLower(string(bytes.TrimSpace(name))); n {
		case "via", "v", "from", "f", "call-id", "i", "cseq":
		case "to", "t":
			if !bytes.Contains(bytes.ToLower(val), []byte("tag=")) {
				line = append(bytes.Clone(line), ";tag="+sip.GenerateTagN(16)...)
			}
		default:
			continue
		}
		// A line sipgo cannot read would make the whole answer unreadable:
		// leave it out (the peer then matches what it can).
		if headerParses(line) {
			b.Write(line)
			b.WriteString("\r\n")
		}
	}
	fmt.Fprintf(&b, "Server: %s\r\n", g.u.cfg.UserAgent)
	fmt.Fprintf(&b, "Warning: 399 %s \"%s\"\r\n", g.u.host, printable(warning, 120))
	b.WriteString("Content-Length: 0\r\n\r\n")
	return []byte(b.String())
}

func headerParses(line []byte) bool {
	_, err := sip.ParseMessage([]byte("SIP/2.0 400 X\r\n" + string(line) + "\r\nContent-Length: 0\r\n\r\n"))
	return err == nil
}

// looksLikeRequest accepts a start line "METHOD URI SIP/2.0" in shape.
func looksLikeRequest(first []byte) bool {
	f := bytes.Fields(first)
	return len(f) == 3 && bytes.Equal(f[2], []byte("SIP/2.0")) && bytes.IndexFunc(f[0], func(r rune) bool { return r < 'A' || r > 'Z' }) < 0
}

// printable keeps a message-derived text safe inside a quoted header value.
func printable(s string, max int) string {
	var b strings.Builder
	for _, r := range s {
		if b.Len() >= max {
			break
		}
		if r < 0x20 || r > 0x7e || r == '"' || r == '\\' {
			r = '?'
		}
		b.WriteRune(r)
	}
	return b.String()
}

func (g *guard) writeUDP(local, remote net.Addr, reply []byte) {
	g.mu.Lock()
	conn := g.udp[local.String()]
	g.mu.Unlock()
	if conn == nil || len(reply) > sip.UDPMTUSize-200 {
		return
	}
	if _, err := conn.WriteTo(reply, remote); err != nil {
		g.u.log.Debug("stateless reply not sent", "to", remote, "error", err)
	}
}

// writeStream writes on the connection the message came from, which
// sipgo keeps in its pool by remote address.
func (g *guard) writeStream(p sip.TransportReadProps, reply []byte) {
	c, err := g.u.ua.TransportLayer().GetConnection(p.Transport, p.RemoteAddr.String())
	if err != nil {
		return
	}
	if w, ok := c.(interface{ Write([]byte) (int, error) }); ok {
		if _, err := w.Write(reply); err != nil {
			g.u.log.Debug("stateless reply not sent", "to", p.RemoteAddr, "error", err)
		}
	}
}

func addrPortOf(a net.Addr) netip.AddrPort {
	switch a := a.(type) {
	case *net.UDPAddr:
		return a.AddrPort()
	case *net.TCPAddr:
		return a.AddrPort()
	case nil:
		return netip.AddrPort{}
	}
	ap, _ := netip.ParseAddrPort(a.String())
	return ap
}

// panicked logs and counts a recovered panic.
func (u *UA) panicked(where, callID string, r any) {
	u.metrics.Panics.WithLabelValues(where).Inc()
	u.log.Error("panic recovered in SIP user agent", "where", where, "call_id", callID, "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
}

// handler wraps a request handler: it checks the mandatory headers again
// (the guard is the first line; this one holds even if a message reaches
// a handler another way) and turns a panic into a logged, counted 500.
func (u *UA) handler(h func(*sip.Request, sip.ServerTransaction)) func(*sip.Request, sip.ServerTransaction) {
	return func(req *sip.Request, tx sip.ServerTransaction) {
		callID := ""
		if c := req.CallID(); c != nil {
			callID = c.Value()
		}
		defer func() {
			if r := recover(); r != nil {
				u.panicked(string(req.Method), callID, r)
				if !req.IsAck() {
					u.safeRespond(tx, req, 500, "Server Internal Error")
				}
			}
		}()
		if err := checkMessage(req); err != nil {
			u.metrics.Malformed.WithLabelValues("request").Inc()
			u.log.Warn("SIP request refused with 400", "source", req.Source(), "call_id", callID, "error", err)
			if !req.IsAck() {
				u.safeRespond(tx, req, 400, badReason(err))
			}
			return
		}
		h(req, tx)
	}
}

// safeRespond answers without letting a second panic out.
func (u *UA) safeRespond(tx sip.ServerTransaction, req *sip.Request, code int, reason string) {
	defer func() { _ = recover() }()
	u.respond(tx, req, code, reason, nil)
}

// goSafe runs f on a goroutine the UA waits for at Close; a panic in it is
// logged with the Call-ID and counted, and onPanic (if set) cleans up.
func (u *UA) goSafe(where, callID string, f func(), onPanic func()) {
	u.wg.Add(1)
	go func() {
		defer u.wg.Done()
		defer func() {
			if r := recover(); r != nil {
				u.panicked(where, callID, r)
				if onPanic != nil {
					func() {
						defer func() { _ = recover() }()
						onPanic()
					}()
				}
			}
		}()
		f()
	}()
}
