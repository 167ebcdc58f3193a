package session

import (
	"time"

	"github.com/faxd/faxd/t38/ifp"
	"github.com/faxd/faxd/t38/t30"
)

// gap is the silence between two signals (T.30: 75 ms ± 20).
const gap = 75 * time.Millisecond

// ifpOverhead is what an IFP data packet with one field adds to its data:
// type, field count, field type and a two-octet length.
const ifpOverhead = 6

func dataType(m t30.Modem) ifp.DataType {
	switch m {
	case t30.V27ter2400:
		return ifp.V27_2400
	case t30.V27ter4800:
		return ifp.V27_4800
	case t30.V29_7200:
		return ifp.V29_7200
	case t30.V29_9600:
		return ifp.V29_9600
	case t30.V17_7200:
		return ifp.V17_7200
	case t30.V17_9600:
		return ifp.V17_9600
	case t30.V17_12000:
		return ifp.V17_12000
	case t30.V17_14400:
		return ifp.V17_14400
	}
	return ifp.V21
}

func modemOf(d ifp.DataType) t30.Modem {
	switch d {
	case ifp.V21:
		return t30.V21
	case ifp.V27_2400:
		return t30.V27ter2400
	case ifp.V27_4800:
		return t30.V27ter4800
	case ifp.V29_7200:
		return t30.V29_7200
	case ifp.V29_9600:
		return t30.V29_9600
	case ifp.V17_7200:
		return t30.V17_7200
	case ifp.V17_9600:
		return t30.V17_9600
	case ifp.V17_12000:
		return t30.V17_12000
	case ifp.V17_14400:
		return t30.V17_14400
	}
	return t30.ModemNone
}

func training(m t30.Modem, long bool) ifp.Indicator {
	l := func(short, lng ifp.Indicator) ifp.Indicator {
		if long {
			return lng
		}
		return short
	}
	switch m {
	case t30.V27ter2400:
		return ifp.V27_2400Training
	case t30.V27ter4800:
		return ifp.V27_4800Training
	case t30.V29_7200:
		return ifp.V29_7200Training
	case t30.V29_9600:
		return ifp.V29_9600Training
	case t30.V17_7200:
		return l(ifp.V17_7200ShortTraining, ifp.V17_7200LongTraining)
	case t30.V17_9600:
		return l(ifp.V17_9600ShortTraining, ifp.V17_9600LongTraining)
	case t30.V17_12000:
		return l(ifp.V17_12000ShortTraining, ifp.V17_12000LongTraining)
	case t30.V17_14400:
		return l(ifp.V17_14400ShortTraining, ifp.V17_14400LongTraining)
	}
	return ifp.NoSignal
}

func trainedModem(i ifp.Indicator) t30.Modem {
	switch i {
	case ifp.V27_2400Training:
		return t30.V27ter2400
	case ifp.V27_4800Training:
		return t30.V27ter4800
	case ifp.V29_7200Training:
		return t30.V29_7200
	case ifp.V29_9600Training:
		return t30.V29_9600
	case ifp.V17_7200ShortTraining, ifp.V17_7200LongTraining:
		return t30.V17_7200
	case ifp.V17_9600ShortTraining, ifp.V17_9600LongTraining:
		return t30.V17_9600
	case ifp.V17_12000ShortTraining, ifp.V17_12000LongTraining:
		return t30.V17_12000
	case ifp.V17_14400ShortTraining, ifp.V17_14400LongTraining:
		return t30.V17_14400
	}
	return t30.ModemNone
}

// lineTime is how long n octets take at rate bit/s.
func lineTime(n, rate int) time.Duration {
	return time.Duration(n) * 8 * time.Second / time.Duration(rate)
}

// chunkSize is how many data octets go in one packet at modem m: a chunk of
// line time, never more than the far end's IFP size or half its buffer.
func (s *Session) chunkSize(m t30.Modem) int {
	n := int(int64(m.BitRate()) * int64(s.cfg.Chunk) / int64(8*time.Second))
	n = min(n, s.cfg.MaxIFP-ifpOverhead, s.cfg.MaxBuffer/2)
	return max(n, 1)
}

// begin lays out one engine transmit output as timed IFP packets.
func (s *Session) begin(o t30.Output) {
	now := s.clock.Now()
	start := now
	if s.lastEnd > 0 {
		start = max(now, s.lastEnd+gap)
	}
	s.active = true
	s.steps, s.nextStep = s.steps[:0], 0
	ind := func(at time.Duration, i ifp.Indicator) {
		s.steps = append(s.steps, step{at: at, indicator: i, copies: s.cfg.IndicatorCopies})
	}
	t := start
	switch o.Kind {
	case t30.OutTone:
		tone := ifp.CNG
		if o.Tone == t30.ToneCED {
			tone = ifp.CED
		}
		ind(t, tone)
		t += o.Duration
		ind(t, ifp.NoSignal)
	case t30.OutFrames:
		ind(t, ifp.V21Preamble)
		t += s.cfg.Preamble
		t = s.hdlcSteps(t, ifp.V21, 300, o.Frames)
	case t30.OutTCF, t30.OutImage:
		data := o.Data
		if o.Kind == t30.OutTCF {
			data = make([]byte, int(int64(o.Duration)*int64(o.Modem.BitRate())/int64(8*time.Second)))
		}
		ind(t, training(o.Modem, o.LongTrain))
		t += o.Modem.TrainingTime(o.LongTrain)
		dt, rate, n := dataType(o.Modem), o.Modem.BitRate(), s.chunkSize(o.Modem)
		for off := 0; off < len(data) || off == 0; off += n {
			chunk := data[off:min(off+n, len(data))]
			t += lineTime(len(chunk), rate)
			ft, copies := ifp.T4NonECMData, 1
			if off+n >= len(data) {
				ft, copies = ifp.T4NonECMSigEnd, s.cfg.DataEndCopies
			}
			s.steps = append(s.steps, step{at: t, data: true, dataType: dt, fieldType: ft, chunk: chunk, copies: copies})
		}
		ind(t, ifp.NoSignal)
	case t30.OutECM:
		ind(t, training(o.Modem, o.LongTrain))
		t += o.Modem.TrainingTime(o.LongTrain)
		t = s.hdlcSteps(t, dataType(o.Modem), o.Modem.BitRate(), o.Frames)
	}
	s.endAt = t
	s.lastMod = o.Modem
}

// hdlcSteps sends frames (bit-reversed, as T.38 carries HDLC octets MSB
// first) in chunks paced at rate, each followed by its FCS status; the
// last one ends the signal.
func (s *Session) hdlcSteps(t time.Duration, dt ifp.DataType, rate int, frames [][]byte) time.Duration {
	n := s.chunkSize(modemOf(dt))
	if dt == ifp.V21 {
		n = s.cfg.MaxIFP - ifpOverhead
	}
	for i, f := range frames {
		r := t30.ReverseBits(f)
		// The last frame ends the transmission: its packets go out
		// DataEndCopies times, so its loss cannot leave the far end
		// waiting for the next transmission.
		copies := 1
		if i == len(frames)-1 {
			copies = s.cfg.DataEndCopies
		}
		for off := 0; off < len(r); off += n {
			chunk := r[off:min(off+n, len(r))]
			t += lineTime(len(chunk), rate)
			s.steps = append(s.steps, step{at: t, data: true, dataType: dt, fieldType: ifp.HDLCData, chunk: chunk, copies: copies})
		}
		t += lineTime(2, rate) // the FCS
		ft := ifp.HDLCFCSOK
		if i == len(frames)-1 {
			ft = ifp.HDLCFCSOKSigEnd
		}
		s.steps = append(s.steps, step{at: t, data: true, dataType: dt, fieldType: ft, copies: copies})
	}
	s.steps = append(s.steps, step{at: t, indicator: ifp.NoSignal, copies: s.cfg.IndicatorCopies})
	return t
}
