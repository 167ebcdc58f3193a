package sip

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/faxd/faxd/internal/sip/rtpaudio"
)

// INTERIM: t38/sdp (T38Params, the SDP parser/writer and Answer) is being
// written by another engineer. Until it lands this file holds the smallest
// SDP reading and writing the UA needs, with T38Params shaped exactly like
// sdp.T38Params so the switch is a type alias and four function bodies.
// Nothing outside this file touches SDP text.

// T38Params are the T.38 session attributes (T.38 Annex D).
type T38Params struct {
	Version         int
	MaxBitRate      int
	FillBitRemoval  bool
	TranscodingMMR  bool
	TranscodingJBIG bool
	RateManagement  string // "transferredTCF" (UDP) or "localTCF"
	MaxBuffer       int
	MaxDatagram     int
	UDPEC           string // "t38UDPRedundancy", "t38UDPFEC" or "t38UDPNoEC"
	Port            int
	Addr            netip.Addr
}

// Media is the negotiated media of a call, ready for t38/session (T38) or
// for the audio phase. Conn is bound from the port pool and owned by the
// call: it is closed when the call is hung up.
type Media struct {
	T38    bool
	Conn   *net.UDPConn
	Local  netip.AddrPort
	Remote netip.AddrPort
	Params T38Params      // when T38
	Codec  rtpaudio.Codec // when audio
}

// offerDesc is what we read from a peer's SDP.
type offerDesc struct {
	image      *T38Params // nil when no usable m=image udptl t38
	audioAddr  netip.AddrPort
	audioPTs   []uint8
	hasAudio   bool
	sessAddr   netip.Addr
	imageAddr  netip.Addr
	audioAddrC netip.Addr
}

var sdpVersion atomic.Uint64

func codecByName(name string) (rtpaudio.Codec, bool) {
	switch strings.ToUpper(name) {
	case "PCMU":
		return rtpaudio.PCMU, true
	case "PCMA":
		return rtpaudio.PCMA, true
	}
	return rtpaudio.Codec{}, false
}

func (u *UA) localT38(port int) T38Params {
	ec := map[string]string{"redundancy": "t38UDPRedundancy", "fec": "t38UDPFEC", "none": "t38UDPNoEC"}[u.cfg.T38ErrorCorrection]
	addr, _ := netip.ParseAddr(u.host)
	return T38Params{Version: 0, MaxBitRate: u.cfg.T38MaxBitRate, RateManagement: "transferredTCF",
		MaxBuffer: u.cfg.T38MaxBuffer, MaxDatagram: u.cfg.T38MaxDatagram, UDPEC: ec, Port: port, Addr: addr}
}

func (u *UA) sdpHeader(b *bytes.Buffer) {
	v := sdpVersion.Add(1)
	fmt.Fprintf(b, "v=0\r\no=faxd %d %d IN IP4 %s\r\ns=faxd\r\nc=IN IP4 %s\r\nt=0 0\r\n", v, v, u.host, u.host)
}

// t38Body writes an m=image description with p.
func (u *UA) t38Body(p T38Params) []byte {
	var b bytes.Buffer
	u.sdpHeader(&b)
	fmt.Fprintf(&b, "m=image %d udptl t38\r\n", p.Port)
	fmt.Fprintf(&b, "a=T38FaxVersion:%d\r\na=T38MaxBitRate:%d\r\n", p.Version, p.MaxBitRate)
	if p.FillBitRemoval {
		b.WriteString("a=T38FaxFillBitRemoval\r\n")
	}
	if p.TranscodingMMR {
		b.WriteString("a=T38FaxTranscodingMMR\r\n")
	}
	if p.TranscodingJBIG {
		b.WriteString("a=T38FaxTranscodingJBIG\r\n")
	}
	fmt.Fprintf(&b, "a=T38FaxRateManagement:%s\r\na=T38FaxMaxBuffer:%d\r\na=T38FaxMaxDatagram:%d\r\na=T38FaxUdpEC:%s\r\n",
		p.RateManagement, p.MaxBuffer, p.MaxDatagram, p.UDPEC)
	return b.Bytes()
}

// audioBody writes an m=audio description listing codecs in order.
func (u *UA) audioBody(port int, codecs []rtpaudio.Codec) []byte {
	var b bytes.Buffer
	u.sdpHeader(&b)
	fmt.Fprintf(&b, "m=audio %d RTP/AVP", port)
	for _, c := range codecs {
		fmt.Fprintf(&b, " %d", c.PayloadType)
	}
	b.WriteString("\r\n")
	for _, c := range codecs {
		fmt.Fprintf(&b, "a=rtpmap:%d %s/8000\r\n", c.PayloadType, c.Name)
	}
	b.WriteString("a=ptime:20\r\na=sendrecv\r\n")
	return b.Bytes()
}

func (u *UA) codecs() []rtpaudio.Codec {
	var out []rtpaudio.Codec
	for _, n := range u.cfg.Codecs {
		if c, ok := codecByName(n); ok {
			out = append(out, c)
		}
	}
	return out
}

var errBadSDP = errors.New("malformed SDP")

// parseSDP reads the parts of an SDP body the UA acts on.
func parseSDP(body []byte) (*offerDesc, error) {
	d := &offerDesc{}
	var cur string // "", "image", "audio", "other"
	var img T38Params
	imgPort, imgOK := 0, false
	sawV := false
	for _, line := range strings.Split(strings.ReplaceAll(string(body), "\r\n", "\n"), "\n") {
		line = strings.TrimSpace(line)
		if len(line) < 2 || line[1] != '=' {
			continue
		}
		val := line[2:]
		switch line[0] {
		case 'v':
			sawV = true
		case 'c':
			f := strings.Fields(val)
			if len(f) < 3 {
				return nil, fmt.Errorf("%w: c=%s", errBadSDP, val)
			}
			a, err := netip.ParseAddr(strings.SplitN(f[2], "/", 2)[0])
			if err != nil {
				return nil, fmt.Errorf("%w: c=%s", errBadSDP, val)
			}
			switch cur {
			case "":
				d.sessAddr = a
			case "image":
				d.imageAddr = a
			case "audio":
				d.audioAddrC = a
			}
		case 'm':
			f := strings.Fields(val)
			if len(f) < 4 {
				return nil, fmt.Errorf("%w: m=%s", errBadSDP, val)
			}
			port, err := strconv.Atoi(f[1])
			if err != nil || port < 0 || port > 65535 {
				return nil, fmt.Errorf("%w: m=%s", errBadSDP, val)
			}
			switch {
			case f[0] == "image" && strings.EqualFold(f[2], "udptl") && f[3] == "t38" && port != 0:
				cur, imgPort, imgOK = "image", port, true
				img = T38Params{RateManagement: "transferredTCF", UDPEC: "t38UDPRedundancy"}
			case f[0] == "audio" && f[2] == "RTP/AVP" && port != 0:
				cur, d.hasAudio = "audio", true
				d.audioAddr = netip.AddrPortFrom(netip.Addr{}, uint16(port))
				for _, pt := range f[3:] {
					if n, err := strconv.Atoi(pt); err == nil && n >= 0 && n < 128 {
						d.audioPTs = append(d.audioPTs, uint8(n))
					}
				}
			default:
				cur = "other"
			}
		case 'a':
			if cur != "image" {
				continue
			}
			name, arg, _ := strings.Cut(val, ":")
			n, _ := strconv.Atoi(strings.TrimSpace(arg))
			switch strings.ToLower(name) {
			case "t38faxversion":
				img.Version = n
			case "t38maxbitrate":
				img.MaxBitRate = n
			case "t38faxfillbitremoval":
				img.FillBitRemoval = arg == "" || arg == "1"
			case "t38faxtranscodingmmr":
				img.TranscodingMMR = arg == "" || arg == "1"
			case "t38faxtranscodingjbig":
				img.TranscodingJBIG = arg == "" || arg == "1"
			case "t38faxratemanagement":
				img.RateManagement = arg
			case "t38faxmaxbuffer":
				img.MaxBuffer = n
			case "t38faxmaxdatagram":
				img.MaxDatagram = n
			case "t38faxudpec":
				img.UDPEC = arg
			}
		}
	}
	if !sawV {
		return nil, fmt.Errorf("%w: no v= line", errBadSDP)
	}
	pick := func(a netip.Addr) netip.Addr {
		if a.IsValid() {
			return a
		}
		return d.sessAddr
	}
	if imgOK {
		img.Port = imgPort
		img.Addr = pick(d.imageAddr)
		if !img.Addr.IsValid() {
			return nil, fmt.Errorf("%w: m=image without c=", errBadSDP)
		}
		d.image = &img
	}
	if d.hasAudio {
		a := pick(d.audioAddrC)
		if !a.IsValid() {
			return nil, fmt.Errorf("%w: m=audio without c=", errBadSDP)
		}
		d.audioAddr = netip.AddrPortFrom(a, d.audioAddr.Port())
	}
	return d, nil
}

// answerT38 applies the T.38 offer/answer rules: the answer never exceeds
// the offer (version, bit rate, datagram and buffer take the minimum,
// transcoding options only if offered), the rate management and error
// correction follow the offer when we support them.
func answerT38(offer, local T38Params) T38Params {
	a := local
	a.Version = min(offer.Version, local.Version)
	if offer.MaxBitRate > 0 {
		a.MaxBitRate = min(offer.MaxBitRate, local.MaxBitRate)
	}
	a.FillBitRemoval = offer.FillBitRemoval && local.FillBitRemoval
	a.TranscodingMMR = offer.TranscodingMMR && local.TranscodingMMR
	a.TranscodingJBIG = offer.TranscodingJBIG && local.TranscodingJBIG
	if offer.RateManagement != "" {
		a.RateManagement = offer.RateManagement
	}
	switch offer.UDPEC {
	case "t38UDPRedundancy", "t38UDPFEC", "t38UDPNoEC":
		if local.UDPEC == "t38UDPNoEC" {
			a.UDPEC = "t38UDPNoEC"
		} else {
			a.UDPEC = offer.UDPEC
		}
	}
	return a
}

// pickCodec is the first of our codecs the offer lists.
func (u *UA) pickCodec(pts []uint8) (rtpaudio.Codec, bool) {
	for _, c := range u.codecs() {
		for _, pt := range pts {
			if pt == c.PayloadType {
				return c, true
			}
		}
	}
	return rtpaudio.Codec{}, false
}
