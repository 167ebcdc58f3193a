// Package sdp parses and writes the SDP bodies of fax calls: a session with
// an m=audio G.711 line, an m=image udptl t38 line, or both. General SDP
// libraries (pion/sdp) refuse m=image, so this small one exists. It keeps
// lines it does not interpret and writes them back.
package sdp

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
)

// ErrSyntax is wrapped by every parse error.
var ErrSyntax = errors.New("sdp: syntax error")

// Line is an SDP line kept as is: Type is the letter before '='.
type Line struct {
	Type  byte
	Value string
}

// Attr is one a= line: "a=name" (no value) or "a=name:value".
type Attr struct {
	Name     string
	Value    string
	HasValue bool
}

func (a Attr) String() string {
	if a.HasValue {
		return a.Name + ":" + a.Value
	}
	return a.Name
}

// Origin is the o= line.
type Origin struct {
	Username       string
	SessionID      string
	SessionVersion uint64
	Addr           string // unicast address; IP4/IP6 follows from it
}

// Session is a parsed SDP body.
type Session struct {
	Origin Origin
	Name   string // s=; "-" when empty
	Addr   string // session-level c= address, "" if none
	Time   string // t= value; "0 0" when empty
	Attrs  []Attr
	Other  []Line // session-level lines not interpreted (i=, b=, ...)
	Media  []Media
}

// Media is one m= section.
type Media struct {
	Type    string   // "audio", "image", ...
	Port    int      // 0 = rejected / disabled
	Proto   string   // "RTP/AVP", "udptl", ...
	Formats []string // payload types, or "t38"
	Addr    string   // media-level c= address, "" to use the session's
	Attrs   []Attr
	Other   []Line
}

// Parse reads an SDP body. Lines may end in CRLF or LF.
func Parse(body []byte) (*Session, error) {
	s := &Session{}
	var m *Media
	sawV := false
	for n, raw := range strings.Split(string(body), "\n") {
		ln := strings.TrimRight(raw, "\r \t")
		if ln == "" {
			continue
		}
		if len(ln) < 2 || ln[1] != '=' {
			return nil, fmt.Errorf("%w: line %d %q", ErrSyntax, n+1, ln)
		}
		typ, val := ln[0], ln[2:]
		if !sawV {
			if typ != 'v' || strings.TrimSpace(val) != "0" {
				return nil, fmt.Errorf("%w: first line must be v=0, got %q", ErrSyntax, ln)
			}
			sawV = true
			continue
		}
		var err error
		switch {
		case typ == 'm':
			s.Media = append(s.Media, Media{})
			m = &s.Media[len(s.Media)-1]
			err = m.parseM(val)
		case typ == 'a' && m != nil:
			m.Attrs = append(m.Attrs, parseAttr(val))
		case typ == 'a':
			s.Attrs = append(s.Attrs, parseAttr(val))
		case typ == 'c' && m != nil:
			m.Addr, err = parseConn(val)
		case typ == 'c':
			s.Addr, err = parseConn(val)
		case typ == 'o' && m == nil:
			err = s.Origin.parse(val)
		case typ == 's' && m == nil:
			s.Name = val
		case typ == 't' && m == nil:
			s.Time = val
		case typ == 'v':
			err = errors.New("second v= line")
		case typ < 'a' || typ > 'z':
			err = fmt.Errorf("bad line type %q", typ)
		case m != nil:
			m.Other = append(m.Other, Line{typ, val})
		default:
			s.Other = append(s.Other, Line{typ, val})
		}
		if err != nil {
			return nil, fmt.Errorf("%w: line %d %q: %v", ErrSyntax, n+1, ln, err)
		}
	}
	if !sawV {
		return nil, fmt.Errorf("%w: empty body", ErrSyntax)
	}
	// Pointers into s.Media were only used while parsing; nothing kept.
	return s, nil
}

func parseAttr(v string) Attr {
	name, val, ok := strings.Cut(v, ":")
	return Attr{Name: strings.TrimSpace(name), Value: strings.TrimSpace(val), HasValue: ok}
}

// parseConn reads "IN IP4 192.0.2.1" (a TTL or count suffix is dropped).
func parseConn(v string) (string, error) {
	f := strings.Fields(v)
	if len(f) != 3 || !strings.EqualFold(f[0], "IN") {
		return "", errors.New("want c=IN IP4|IP6 <address>")
	}
	addr, _, _ := strings.Cut(f[2], "/")
	return addr, nil
}

func (o *Origin) parse(v string) error {
	f := strings.Fields(v)
	if len(f) != 6 {
		return errors.New("o= needs 6 fields")
	}
	ver, err := strconv.ParseUint(f[2], 10, 64)
	if err != nil {
		return fmt.Errorf("o= version: %w", err)
	}
	*o = Origin{Username: f[0], SessionID: f[1], SessionVersion: ver, Addr: f[5]}
	return nil
}

func (m *Media) parseM(v string) error {
	f := strings.Fields(v)
	if len(f) < 4 {
		return errors.New("m= needs media, port, proto and formats")
	}
	portStr, _, _ := strings.Cut(f[1], "/")
	port, err := strconv.Atoi(portStr)
	if err != nil || port < 0 || port > 65535 {
		return fmt.Errorf("m= port %q", f[1])
	}
	m.Type, m.Port, m.Proto, m.Formats = strings.ToLower(f[0]), port, f[2], f[3:]
	return nil
}

// order is RFC 4566's line order inside a session and inside a media section.
const (
	sessionOrder = "vosiuepcbtrzkam"
	mediaOrder   = "micbka"
)

func sortLines(ls []Line, order string) []Line {
	ls = slices.Clone(ls)
	slices.SortStableFunc(ls, func(a, b Line) int {
		return strings.IndexByte(order, a.Type) - strings.IndexByte(order, b.Type)
	})
	return ls
}

func netType(addr string) string {
	if a, err := netip.ParseAddr(addr); err == nil && a.Is6() && !a.Is4In6() {
		return "IP6"
	}
	return "IP4"
}

// Marshal writes s with CRLF line ends.
func (s *Session) Marshal() []byte {
	var b strings.Builder
	line := func(t byte, v string) {
		b.WriteByte(t)
		b.WriteByte('=')
		b.WriteString(v)
		b.WriteString("\r\n")
	}
	line('v', "0")
	o := s.Origin
	if o.Username == "" {
		o.Username = "-"
	}
	if o.SessionID == "" {
		o.SessionID = "0"
	}
	oaddr := o.Addr
	if oaddr == "" {
		oaddr = s.Addr
	}
	if oaddr == "" {
		oaddr = "0.0.0.0"
	}
	line('o', fmt.Sprintf("%s %s %d IN %s %s", o.Username, o.SessionID, o.SessionVersion, netType(oaddr), oaddr))
	name := s.Name
	if name == "" {
		name = "-"
	}
	line('s', name)
	other := sortLines(s.Other, sessionOrder)
	emit := func(upTo byte) {
		for len(other) > 0 && strings.IndexByte(sessionOrder, other[0].Type) < strings.IndexByte(sessionOrder, upTo) {
			line(other[0].Type, other[0].Value)
			other = other[1:]
		}
	}
	emit('c')
	if s.Addr != "" {
		line('c', "IN "+netType(s.Addr)+" "+s.Addr)
	}
	emit('t')
	t := s.Time
	if t == "" {
		t = "0 0"
	}
	line('t', t)
	emit('a')
	for _, l := range other {
		line(l.Type, l.Value)
	}
	for _, a := range s.Attrs {
		line('a', a.String())
	}
	for i := range s.Media {
		m := &s.Media[i]
		line('m', fmt.Sprintf("%s %d %s %s", m.Type, m.Port, m.Proto, strings.Join(m.Formats, " ")))
		mo := sortLines(m.Other, mediaOrder)
		for len(mo) > 0 && strings.IndexByte(mediaOrder, mo[0].Type) < strings.IndexByte(mediaOrder, 'c') {
			line(mo[0].Type, mo[0].Value)
			mo = mo[1:]
		}
		if m.Addr != "" {
			line('c', "IN "+netType(m.Addr)+" "+m.Addr)
		}
		for _, l := range mo {
			line(l.Type, l.Value)
		}
		for _, a := range m.Attrs {
			line('a', a.String())
		}
	}
	return []byte(b.String())
}

// Attr returns the first attribute named name (case-insensitive).
func (m *Media) Attr(name string) (Attr, bool) {
	for _, a := range m.Attrs {
		if strings.EqualFold(a.Name, name) {
			return a, true
		}
	}
	return Attr{}, false
}

// IsT38 reports whether m is an m=image udptl t38 line.
func (m *Media) IsT38() bool {
	return m.Type == "image" && strings.EqualFold(m.Proto, "udptl") &&
		slices.ContainsFunc(m.Formats, func(f string) bool { return strings.EqualFold(f, "t38") })
}

// ConnAddr is the address media m is sent to: its own c=, else the session's.
func (s *Session) ConnAddr(m *Media) string {
	if m.Addr != "" {
		return m.Addr
	}
	return s.Addr
}

// FindMedia returns the index of the first m= line of the given type
// ("audio", "image"), or -1.
func (s *Session) FindMedia(typ string) int {
	for i := range s.Media {
		if s.Media[i].Type == typ {
			return i
		}
	}
	return -1
}

// RTPMap is a payload type mapping (a=rtpmap).
type RTPMap struct {
	PT        int
	Encoding  string
	ClockRate int
	Fmtp      string // a=fmtp value after the payload type, "" if none
	// VBD marks the payload as voice-band data (V.152 a=gpmd:<pt> vbd=yes):
	// the far end should keep it free of silence suppression and
	// compressing codecs, which a modem signal does not survive.
	VBD bool
}

// Audio payloads a fax call uses.
var (
	PCMU           = RTPMap{PT: 0, Encoding: "PCMU", ClockRate: 8000}
	PCMA           = RTPMap{PT: 8, Encoding: "PCMA", ClockRate: 8000}
	TelephoneEvent = RTPMap{PT: 101, Encoding: "telephone-event", ClockRate: 8000, Fmtp: "0-16"}
)

// RTPMaps lists m's payload types in m= order, filling in the static
// PCMU (0) and PCMA (8) when no rtpmap names them. Unknown types without
// an rtpmap are skipped.
func (m *Media) RTPMaps() []RTPMap {
	maps := map[int]*RTPMap{}
	var fmtps, gpmds []Attr
	for _, a := range m.Attrs {
		switch strings.ToLower(a.Name) {
		case "rtpmap":
			f := strings.Fields(a.Value)
			if len(f) != 2 {
				continue
			}
			pt, err := strconv.Atoi(f[0])
			if err != nil {
				continue
			}
			enc, rate, _ := strings.Cut(f[1], "/")
			cr, _ := strconv.Atoi(strings.SplitN(rate, "/", 2)[0])
			maps[pt] = &RTPMap{PT: pt, Encoding: enc, ClockRate: cr}
		case "fmtp":
			fmtps = append(fmtps, a)
		case "gpmd":
			gpmds = append(gpmds, a)
		}
	}
	for _, a := range fmtps {
		pts, v, _ := strings.Cut(a.Value, " ")
		if pt, err := strconv.Atoi(pts); err == nil && maps[pt] != nil {
			maps[pt].Fmtp = strings.TrimSpace(v)
		}
	}
	vbd := map[int]bool{}
	for _, a := range gpmds {
		pts, v, _ := strings.Cut(a.Value, " ")
		if pt, err := strconv.Atoi(pts); err == nil && gpmdVBD(v) {
			vbd[pt] = true
		}
	}
	var out []RTPMap
	for _, f := range m.Formats {
		pt, err := strconv.Atoi(f)
		if err != nil {
			continue
		}
		var r RTPMap
		switch {
		case maps[pt] != nil:
			r = *maps[pt]
		case pt == PCMU.PT:
			r = PCMU
		case pt == PCMA.PT:
			r = PCMA
		default:
			continue
		}
		r.VBD = vbd[pt]
		out = append(out, r)
	}
	return out
}

// gpmdVBD reports whether a gpmd parameter list ("vbd=yes;..." after the
// payload type) says vbd=yes.
func gpmdVBD(params string) bool {
	for _, p := range strings.FieldsFunc(params, func(r rune) bool { return r == ';' || r == ' ' }) {
		k, v, _ := strings.Cut(p, "=")
		if strings.EqualFold(strings.TrimSpace(k), "vbd") && strings.EqualFold(strings.TrimSpace(v), "yes") {
			return true
		}
	}
	return false
}

// AudioMedia builds an m=audio RTP/AVP section for the given payloads.
// ptime 0 leaves a=ptime out.
func AudioMedia(port int, addr string, ptime int, maps ...RTPMap) Media {
	m := Media{Type: "audio", Port: port, Proto: "RTP/AVP", Addr: addr}
	for _, r := range maps {
		m.Formats = append(m.Formats, strconv.Itoa(r.PT))
	}
	for _, r := range maps {
		m.Attrs = append(m.Attrs, Attr{Name: "rtpmap", Value: fmt.Sprintf("%d %s/%d", r.PT, r.Encoding, r.ClockRate), HasValue: true})
		if r.Fmtp != "" {
			m.Attrs = append(m.Attrs, Attr{Name: "fmtp", Value: fmt.Sprintf("%d %s", r.PT, r.Fmtp), HasValue: true})
		}
		if r.VBD {
			m.Attrs = append(m.Attrs, Attr{Name: "gpmd", Value: fmt.Sprintf("%d vbd=yes", r.PT), HasValue: true})
		}
	}
	if ptime > 0 {
		m.Attrs = append(m.Attrs, Attr{Name: "ptime", Value: strconv.Itoa(ptime), HasValue: true})
	}
	m.Attrs = append(m.Attrs, Attr{Name: "sendrecv"})
	return m
}

// Rejected returns m as an answer declining it: port 0, same formats.
func Rejected(m Media) Media {
	return Media{Type: m.Type, Port: 0, Proto: m.Proto, Formats: slices.Clone(m.Formats)}
}
