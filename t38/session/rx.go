package session

import (
	"bytes"

	"github.com/faxd/faxd/t38/ifp"
	"github.com/faxd/faxd/t38/t30"
)

// Receive takes one IFP packet (already out of UDPTL, which has dropped
// duplicates and filled what it could from redundancy) with its sequence
// number.
func (s *Session) Receive(seq uint16, b []byte) {
	now := s.clock.Now()
	s.eng.Tick(now)
	s.stats.PacketsIn++
	if s.expect != 0 {
		switch d := int16(seq - uint16(s.expect-1)); {
		case d < 0:
			// Older than what was already used: too late to place.
			s.stats.Late++
			return
		case d > 0:
			s.stats.Gaps += int(d)
			// Something in between is lost for good: a frame being
			// assembled (or about to be) can no longer be trusted.
			s.hdlcBad = true
			s.gapPending = true
		}
	}
	s.expect = uint32(seq) + 2
	var p ifp.Packet
	if err := p.Unmarshal(b, s.cfg.Version); err != nil {
		s.stats.Malformed++
		s.hdlcBad = true
		return
	}
	if !p.IsData {
		s.indicator(p.Indicator)
	} else {
		s.data(&p, b)
	}
	if !s.carrier {
		s.gapPending = false
	}
	s.pump()
}

func (s *Session) carrierUp(m t30.Modem) {
	if s.carrier {
		// A signal starts without the end of the last one: packets were
		// lost, so whatever gap was seen still taints the next frame.
		bad := s.hdlcBad
		s.carrierDown()
		s.hdlcBad = bad
	}
	s.carrier, s.rxMod = true, m
	s.hdlc = s.hdlc[:0]
	s.eng.RxCarrierUp(m)
}

func (s *Session) carrierDown() {
	if !s.carrier {
		return
	}
	s.carrier = false
	s.hdlc = s.hdlc[:0]
	s.hdlcBad = false
	s.eng.RxCarrierDown()
}

func (s *Session) indicator(i ifp.Indicator) {
	switch i {
	case ifp.NoSignal:
		s.carrierDown()
	case ifp.V21Preamble:
		s.carrierUp(t30.V21)
		s.hdlcBad = false // whatever was lost came before this new signal
	case ifp.CNG, ifp.CED:
		// Tones only open the call; T.30 needs nothing from them.
	default:
		if m := trainedModem(i); m != t30.ModemNone {
			s.carrierUp(m)
			s.hdlcBad = false
		}
	}
}

func (s *Session) data(p *ifp.Packet, raw []byte) {
	m := modemOf(p.DataType)
	if m == t30.ModemNone {
		return // V.34/V.33/V.8: not offered, so not expected
	}
	if !s.carrier || s.rxMod != m {
		if !s.carrier && (onlyEnds(p) || bytes.Equal(raw, s.lastSigEnd)) {
			// A repeated sig-end after the signal has ended (spandsp
			// repeats them): nothing new.
			return
		}
		s.carrierUp(m)
	}
	for _, f := range p.Fields {
		switch f.Type {
		case ifp.HDLCData:
			s.hdlc = append(s.hdlc, f.Data...)
		case ifp.HDLCFCSOK, ifp.HDLCFCSBad, ifp.HDLCFCSOKSigEnd, ifp.HDLCFCSBadSigEnd:
			s.hdlc = append(s.hdlc, f.Data...)
			if len(s.hdlc) > 0 {
				ok := (f.Type == ifp.HDLCFCSOK || f.Type == ifp.HDLCFCSOKSigEnd) && !s.hdlcBad
				s.eng.RxFrame(t30.ReverseBits(s.hdlc), ok)
			}
			s.hdlc, s.hdlcBad = s.hdlc[:0], false
			if f.Type == ifp.HDLCFCSOKSigEnd || f.Type == ifp.HDLCFCSBadSigEnd {
				s.carrierDown()
			}
		case ifp.HDLCSigEnd:
			s.carrierDown()
		case ifp.T4NonECMData:
			s.reportGap()
			if len(f.Data) > 0 {
				s.eng.RxData(f.Data)
			}
		case ifp.T4NonECMSigEnd:
			s.reportGap()
			if len(f.Data) > 0 {
				s.eng.RxData(f.Data)
			}
			s.lastSigEnd = append(s.lastSigEnd[:0], raw...)
			s.carrierDown()
		}
	}
}

// reportGap tells the engine that image data went missing before this
// packet.
func (s *Session) reportGap() {
	if s.gapPending {
		s.gapPending = false
		s.eng.RxDataGap()
	}
}

// onlyEnds reports whether a data packet holds nothing but end markers
// without data.
func onlyEnds(p *ifp.Packet) bool {
	for _, f := range p.Fields {
		switch f.Type {
		case ifp.HDLCFCSOKSigEnd, ifp.HDLCFCSBadSigEnd, ifp.HDLCSigEnd, ifp.T4NonECMSigEnd, ifp.HDLCFCSOK, ifp.HDLCFCSBad:
			if len(f.Data) > 0 {
				return false
			}
		default:
			return false
		}
	}
	return true
}
