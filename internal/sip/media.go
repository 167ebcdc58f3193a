package sip

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"

	"github.com/faxd/faxd/internal/sip/rtpaudio"
	"github.com/faxd/faxd/t38/sdp"
)

// Media is the negotiated media of a call, ready for t38/session (T38) or
// for the audio phase. Conn is bound from the port pool and owned by the
// call: it is closed when the call ends.
type Media struct {
	T38 bool
	// Audio: the fax runs over G.711 on Conn with Codec (no T.38 will
	// come; see MediaMode). False with T38 false only during the audio
	// phase, inside the UA.
	Audio  bool
	Conn   *net.UDPConn
	Local  netip.AddrPort
	Remote netip.AddrPort
	Params sdp.T38Params  // when T38: the far end's parameters as agreed
	Codec  rtpaudio.Codec // when audio
}

// offerDesc is what we act on in a peer's SDP.
type offerDesc struct {
	sess     *sdp.Session
	image    *sdp.T38Params // first usable m=image udptl t38, Addr filled in
	imageIdx int
	hasAudio bool
	audioIdx int
	audio    netip.AddrPort
	audioPTs []uint8 // PCMU/PCMA payload types offered, in order
	audioVBD []uint8 // those the offer marks voice-band data (V.152 gpmd vbd=yes)
}

func codecByName(name string) (rtpaudio.Codec, bool) {
	switch strings.ToUpper(name) {
	case "PCMU":
		return rtpaudio.PCMU, true
	case "PCMA":
		return rtpaudio.PCMA, true
	}
	return rtpaudio.Codec{}, false
}

// T38Profile overrides the UA's T.38 parameters for one call (a gateway's
// media profile). Zero fields keep the UA's configuration; Version is a
// pointer because 0 is a version.
type T38Profile struct {
	Version         *int
	MaxBitRate      int
	MaxDatagram     int
	ErrorCorrection string // redundancy, fec or none
}

// Validate names every bad field.
func (p T38Profile) Validate() error {
	var errs []error
	if p.Version != nil && (*p.Version < 0 || *p.Version > sdp.MaxT38Version) {
		errs = append(errs, fmt.Errorf("t38_version %d: must be from 0 to %d", *p.Version, sdp.MaxT38Version))
	}
	switch p.MaxBitRate {
	case 0, 2400, 4800, 7200, 9600, 12000, 14400:
	default:
		errs = append(errs, fmt.Errorf("max_bit_rate %d: must be 2400, 4800, 7200, 9600, 12000 or 14400", p.MaxBitRate))
	}
	if p.MaxDatagram != 0 && (p.MaxDatagram < 100 || p.MaxDatagram > 65000) {
		errs = append(errs, fmt.Errorf("t38_max_datagram %d: must be from 100 to 65000 (0 keeps sip.t38_max_datagram)", p.MaxDatagram))
	}
	switch p.ErrorCorrection {
	case "", "redundancy", "fec", "none":
	default:
		errs = append(errs, fmt.Errorf("t38_error_correction %q: must be redundancy, fec or none", p.ErrorCorrection))
	}
	return errors.Join(errs...)
}

// localT38 is what we offer, and our limits when answering, for a call
// whose dialog may carry a gateway's profile.
func (u *UA) localT38(d *dialog, port int) sdp.T38Params {
	p := d.t38
	version, rate, dgram, ec := u.cfg.T38Version, u.cfg.T38MaxBitRate, u.cfg.T38MaxDatagram, u.cfg.T38ErrorCorrection
	if p.Version != nil {
		version = *p.Version
	}
	if p.MaxBitRate != 0 {
		rate = min(rate, p.MaxBitRate)
	}
	if p.MaxDatagram != 0 {
		dgram = p.MaxDatagram
	}
	if p.ErrorCorrection != "" {
		ec = p.ErrorCorrection
	}
	return sdp.T38Params{Version: version, MaxBitRate: rate, RateManagement: sdp.TransferredTCF,
		MaxBuffer: u.cfg.T38MaxBuffer, MaxDatagram: dgram, UDPEC: ecNames[ec], Port: port}
}

var ecNames = map[string]string{"redundancy": sdp.ECRedundancy, "fec": sdp.ECFEC, "none": sdp.ECNone}

func (u *UA) session(d *dialog, media ...sdp.Media) []byte {
	return d.describe(u.host, media)
}

// t38Body writes an m=image description with p (Addr comes from the session c=).
func (u *UA) t38Body(d *dialog, p sdp.T38Params) []byte {
	p.Addr = ""
	return u.session(d, p.Media())
}

// audioBody writes an m=audio description listing codecs in order; vbd
// marks each as voice-band data (V.152) so a gateway that honours it keeps
// silence suppression and transcoding off the modem signal.
func (u *UA) audioBody(d *dialog, port int, codecs []rtpaudio.Codec, vbd bool) []byte {
	var maps []sdp.RTPMap
	for _, c := range codecs {
		maps = append(maps, sdp.RTPMap{PT: int(c.PayloadType), Encoding: c.Name, ClockRate: rtpaudio.SampleRate, VBD: vbd})
	}
	return u.session(d, sdp.AudioMedia(port, "", 20, maps...))
}

// answerBody answers offer with chosen in place of the m= line at idx and
// every other m= line rejected, as RFC 3264 §6 wants one answer line per
// offered line.
func (u *UA) answerBody(d *dialog, offer *offerDesc, idx int, chosen sdp.Media) []byte {
	media := make([]sdp.Media, len(offer.sess.Media))
	for i, m := range offer.sess.Media {
		if i == idx {
			media[i] = chosen
		} else {
			// One format is enough on a refused line and keeps the answer small.
			r := sdp.Rejected(m)
			if len(r.Formats) > 1 {
				r.Formats = r.Formats[:1]
			}
			media[i] = r
		}
	}
	return u.session(d, media...)
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

// maxMediaLines bounds the m= lines of an SDP we answer: our answer
// repeats every one (RFC 3264 §6), and a fax gateway offers one or two.
const maxMediaLines = 8

var errTooManyMedia = fmt.Errorf("%w: more than %d m= lines", sdp.ErrSyntax, maxMediaLines)

// parseSDP reads the parts of an SDP body the UA acts on.
func parseSDP(body []byte) (*offerDesc, error) {
	// Count before parsing: an absurd offer costs no more than a scan.
	if n := bytes.Count(body, []byte("\nm=")) + boolInt(bytes.HasPrefix(body, []byte("m="))); n > maxMediaLines {
		return nil, errTooManyMedia
	}
	s, err := sdp.Parse(body)
	if err != nil {
		return nil, err
	}
	if len(s.Media) > maxMediaLines {
		return nil, errTooManyMedia
	}
	d := &offerDesc{sess: s, imageIdx: -1, audioIdx: -1}
	for i := range s.Media {
		m := &s.Media[i]
		if m.Port == 0 {
			continue
		}
		switch {
		case m.IsT38() && d.image == nil:
			p := sdp.ParseT38(m)
			p.Addr = s.ConnAddr(m)
			if _, err := netip.ParseAddr(p.Addr); err != nil {
				return nil, fmt.Errorf("%w: m=image address %q", sdp.ErrSyntax, p.Addr)
			}
			d.image, d.imageIdx = &p, i
		case m.Type == "audio" && strings.EqualFold(m.Proto, "RTP/AVP") && !d.hasAudio:
			a, err := netip.ParseAddr(s.ConnAddr(m))
			if err != nil {
				return nil, fmt.Errorf("%w: m=audio address %q", sdp.ErrSyntax, s.ConnAddr(m))
			}
			d.hasAudio, d.audioIdx = true, i
			d.audio = netip.AddrPortFrom(a, uint16(m.Port))
			for _, r := range m.RTPMaps() {
				if c, ok := codecByName(r.Encoding); ok && r.ClockRate == rtpaudio.SampleRate {
					d.audioPTs = append(d.audioPTs, uint8(r.PT))
					if r.VBD {
						d.audioVBD = append(d.audioVBD, uint8(r.PT))
					}
					_ = c
				}
			}
		}
	}
	return d, nil
}

// remoteOf is where T.38 datagrams go for the far end's parameters p.
func remoteOf(p sdp.T38Params) netip.AddrPort {
	a, _ := netip.ParseAddr(p.Addr)
	return netip.AddrPortFrom(a, uint16(p.Port))
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

// answerT38 applies t38/sdp's offer/answer rules: ours goes in our answer,
// session is what the T.38 session needs, the agreed values with the far
// end's address and receive limits (what we may send it).
func (u *UA) answerT38(d *dialog, offer sdp.T38Params, port int) (ours, session sdp.T38Params, err error) {
	ours, err = sdp.Answer(offer, u.localT38(d, port))
	if err != nil {
		return ours, session, err
	}
	session = ours
	session.Addr, session.Port = offer.Addr, offer.Port
	session.MaxDatagram, session.MaxBuffer = offer.MaxDatagram, offer.MaxBuffer
	return ours, session, nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// vbd reports whether the offer marks payload type pt as voice-band data;
// the answer echoes the mark for the codec it picks.
func (d *offerDesc) vbd(pt uint8) bool {
	return slices.Contains(d.audioVBD, pt)
}
