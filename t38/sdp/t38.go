package sdp

import (
	"errors"
	"strconv"
	"strings"
)

// T38FaxRateManagement values.
const (
	TransferredTCF = "transferredTCF"
	LocalTCF       = "localTCF"
)

// T38FaxUdpEC values. An absent attribute means ECNone.
const (
	ECRedundancy = "t38UDPRedundancy"
	ECFEC        = "t38UDPFEC"
	ECNone       = "t38UDPNoEC"
)

// MaxT38Version is the highest T38FaxVersion we implement.
const MaxT38Version = 3

// Errors from Answer and T38Media.
var (
	ErrNotT38   = errors.New("sdp: not an m=image udptl t38 section")
	ErrRejected = errors.New("sdp: T.38 media rejected (port 0)")
)

// T38Params are the T.38 settings of one m=image section. MaxDatagram and
// MaxBuffer describe what the side that wrote the SDP can receive. Zero
// MaxBitRate, MaxBuffer or MaxDatagram means the attribute was absent.
type T38Params struct {
	Version         int
	MaxBitRate      int
	FillBitRemoval  bool
	TranscodingMMR  bool
	TranscodingJBIG bool
	RateManagement  string // TransferredTCF or LocalTCF
	MaxBuffer       int
	MaxDatagram     int
	UDPEC           string // ECRedundancy, ECFEC or ECNone
	Port            int
	Addr            string
}

// T38 reads the T.38 parameters of the first m=image udptl t38 section,
// returning its index. Attribute names are matched case-insensitively and
// with the aliases gateways use (T38FaxMaxRate, T38MaxDatagram); boolean
// attributes are true when present without a value or with any value but
// 0/false. Values that do not parse leave the default.
func (s *Session) T38() (T38Params, int, error) {
	for i := range s.Media {
		if s.Media[i].IsT38() {
			p := ParseT38(&s.Media[i])
			if p.Addr == "" {
				p.Addr = s.Addr
			}
			return p, i, nil
		}
	}
	return T38Params{}, -1, ErrNotT38
}

// ParseT38 reads the T.38 attributes of m (Addr is m's own c= only). A
// missing T38FaxRateManagement reads as transferredTCF, the UDP method; a
// missing T38FaxVersion as 0, as T.38 Annex D says.
func ParseT38(m *Media) T38Params {
	p := T38Params{RateManagement: TransferredTCF, UDPEC: ECNone, Port: m.Port, Addr: m.Addr}
	for _, a := range m.Attrs {
		v := a.Value
		num := func(dst *int) {
			if n, err := strconv.Atoi(v); err == nil && n >= 0 {
				*dst = n
			}
		}
		switch strings.ToLower(a.Name) {
		case "t38faxversion":
			num(&p.Version)
		case "t38maxbitrate", "t38faxmaxrate":
			num(&p.MaxBitRate)
		case "t38faxfillbitremoval":
			p.FillBitRemoval = boolAttr(a)
		case "t38faxtranscodingmmr":
			p.TranscodingMMR = boolAttr(a)
		case "t38faxtranscodingjbig":
			p.TranscodingJBIG = boolAttr(a)
		case "t38faxratemanagement":
			switch {
			case strings.EqualFold(v, TransferredTCF):
				p.RateManagement = TransferredTCF
			case strings.EqualFold(v, LocalTCF):
				p.RateManagement = LocalTCF
			}
		case "t38faxmaxbuffer":
			num(&p.MaxBuffer)
		case "t38faxmaxdatagram", "t38maxdatagram":
			num(&p.MaxDatagram)
		case "t38faxudpec":
			switch {
			case strings.EqualFold(v, ECRedundancy):
				p.UDPEC = ECRedundancy
			case strings.EqualFold(v, ECFEC):
				p.UDPEC = ECFEC
			default:
				p.UDPEC = ECNone
			}
		}
	}
	return p
}

func boolAttr(a Attr) bool {
	if !a.HasValue {
		return true
	}
	v := strings.ToLower(a.Value)
	return v != "0" && v != "false" && v != "no"
}

// Media builds the m=image section for p. Booleans are written as bare
// attributes, T38FaxUdpEC only when there is error correction, and the
// optional numbers only when set, as asterisk and freeswitch write them.
func (p T38Params) Media() Media {
	m := Media{Type: "image", Port: p.Port, Proto: "udptl", Formats: []string{"t38"}, Addr: p.Addr}
	if p.Port == 0 {
		return m
	}
	add := func(name string, v int) {
		m.Attrs = append(m.Attrs, Attr{Name: name, Value: strconv.Itoa(v), HasValue: true})
	}
	flag := func(name string, on bool) {
		if on {
			m.Attrs = append(m.Attrs, Attr{Name: name})
		}
	}
	add("T38FaxVersion", p.Version)
	if p.MaxBitRate > 0 {
		add("T38MaxBitRate", p.MaxBitRate)
	}
	flag("T38FaxFillBitRemoval", p.FillBitRemoval)
	flag("T38FaxTranscodingMMR", p.TranscodingMMR)
	flag("T38FaxTranscodingJBIG", p.TranscodingJBIG)
	rm := p.RateManagement
	if rm == "" {
		rm = TransferredTCF
	}
	m.Attrs = append(m.Attrs, Attr{Name: "T38FaxRateManagement", Value: rm, HasValue: true})
	if p.MaxBuffer > 0 {
		add("T38FaxMaxBuffer", p.MaxBuffer)
	}
	if p.MaxDatagram > 0 {
		add("T38FaxMaxDatagram", p.MaxDatagram)
	}
	if p.UDPEC == ECRedundancy || p.UDPEC == ECFEC {
		m.Attrs = append(m.Attrs, Attr{Name: "T38FaxUdpEC", Value: p.UDPEC, HasValue: true})
	}
	return m
}

// ecRank orders EC schemes by what a side that allows it also accepts:
// allowing FEC implies accepting redundancy.
func ecRank(ec string) int {
	switch ec {
	case ECFEC:
		return 2
	case ECRedundancy:
		return 1
	}
	return 0
}

// Answer computes our answer to a T.38 offer. local holds our capabilities
// and receive limits: Version is the highest we speak, UDPEC the most we
// allow (ECFEC allows FEC and redundancy), Port 0 declines.
//
// Rules (T.38 Annex D): version and bit rate are the lower of the two;
// boolean options only if both sides have them; FEC only if offered and
// allowed, else redundancy if both take it, else none; MaxDatagram,
// MaxBuffer, Port and Addr are ours; rate management is transferredTCF,
// the method T.38 specifies for UDP (and the only one our engine does).
// An offer with port 0 yields ErrRejected, and so does local.Port 0: the
// answer is then a port-0 line (Rejected).
func Answer(offer, local T38Params) (T38Params, error) {
	if offer.Port == 0 || local.Port == 0 {
		return T38Params{Port: 0}, ErrRejected
	}
	a := T38Params{
		Version:         min(offer.Version, local.Version, MaxT38Version),
		MaxBitRate:      minSet(offer.MaxBitRate, local.MaxBitRate),
		FillBitRemoval:  offer.FillBitRemoval && local.FillBitRemoval,
		TranscodingMMR:  offer.TranscodingMMR && local.TranscodingMMR,
		TranscodingJBIG: offer.TranscodingJBIG && local.TranscodingJBIG,
		RateManagement:  TransferredTCF,
		MaxBuffer:       local.MaxBuffer,
		MaxDatagram:     local.MaxDatagram,
		Port:            local.Port,
		Addr:            local.Addr,
	}
	switch min(ecRank(offer.UDPEC), ecRank(local.UDPEC)) {
	case 2:
		a.UDPEC = ECFEC
	case 1:
		a.UDPEC = ECRedundancy
	default:
		a.UDPEC = ECNone
	}
	if a.Version < 0 {
		a.Version = 0
	}
	return a, nil
}

// minSet is the smaller of two values where 0 means "not stated".
func minSet(a, b int) int {
	switch {
	case a == 0:
		return b
	case b == 0:
		return a
	}
	return min(a, b)
}
