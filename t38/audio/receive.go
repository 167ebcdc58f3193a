package audio

import (
	"time"

	"github.com/faxd/faxd/t38/modem/hdlc"
	"github.com/faxd/faxd/t38/modem/tone"
	"github.com/faxd/faxd/t38/modem/v21"
	"github.com/faxd/faxd/t38/t30"
)

// receive runs every receiver on the block: the tone detector, V.21 (so
// frames are caught even while a page is expected) and, once DCS has named
// it, the high-speed modem.
func (t *Terminal) receive(in []int16) {
	t.detEvs = t.det.Process(in, t.detEvs[:0])
	for _, ev := range t.detEvs {
		if t.debug {
			t.log.Debug("audio: tone detector", "event", ev.Kind, "tone", ev.Tone, "block", t.n)
		}
		t.toneEvent(ev)
	}
	// While a high-speed signal we trained on goes on, the far end sends
	// nothing else (T.30 is half duplex and puts 75 ms of silence before
	// its next V.21 frame, which drops our high-speed carrier): V.21 rests,
	// which is about a quarter of the receiving cost.
	//
	// V.21 rests too while the detector hears CNG or CED (reported after
	// 0.4 or 0.5 s of it): no frame comes during a tone, and CED's energy
	// would keep its carrier up for seconds. It starts afresh after the
	// tone; a frame's preamble of flags lasts a second.
	// And while the high-speed receiver is training on a signal it has
	// recognised as its own (V.17's alternations), not V.21.
	if t.det.Tone() != tone.ToneNone {
		t.v21Rest = true
	} else if !t.hsUp && !t.hsTraining() {
		if t.v21Rest {
			t.v21Rest = false
			t.v21.Reset()
		}
		t.v21Evs = t.v21.Process(in, t.v21Evs[:0])
		for _, ev := range t.v21Evs {
			if t.debug {
				t.log.Debug("audio: V.21 receiver", "event", ev.Kind, "fcs_ok", ev.FCSOK, "block", t.n)
			}
			t.v21Event(ev)
		}
	}
	if t.v21DownAt >= 0 && t.n+int64(len(in))-t.v21DownAt >= int64(samplesOf(v21Bridge)) {
		t.v21Down()
	}
	if t.hs != nil && !t.hsRest {
		t.hsEvs = t.hs.Process(in, t.hsEvs[:0])
		for _, ev := range t.hsEvs {
			if ev.Kind != RxBits && t.debug {
				t.log.Debug("audio: high-speed receiver", "event", ev.Kind, "block", t.n, "modem", t.hsModem)
			}
			t.hsEvent(ev)
		}
		t.flush()
	}
}

// hsTraining reports whether the high-speed receiver is training on a
// signal it knows for its own.
func (t *Terminal) hsTraining() bool {
	tr, ok := t.hs.(trainingNow)
	return ok && tr.training()
}

// silenceDelay is how long the tone detector takes to report silence.
const silenceDelay = 50 * time.Millisecond

// foreignAfter is how long after the V.21 carrier drops a signal must go on
// to be something else: the detector's silence delay, a block of up to
// 125 ms, and margin; a TCF lasts 1.5 s.
const foreignAfter = 300 * time.Millisecond

// foreignAfterFinal is how long after a burst's final frame a signal must
// go on to be something else when the V.21 carrier did not drop either: a
// line whose noise sits near the off level can hide the 75 ms before a
// TCF from both the V.21 receiver and the tone detector. Longer than the
// flags that may close a burst, shorter than a TCF.
const foreignAfterFinal = time.Second

func (t *Terminal) toneEvent(ev tone.Event) {
	switch ev.Kind {
	case tone.EventToneOn:
		// The engine needs nothing from tones (DIS, not CED, starts the
		// exchange); they are kept for the call record.
		switch ev.Tone {
		case tone.ToneCNG:
			t.stats.CNGHeard = true
		case tone.ToneCED:
			t.stats.CEDHeard = true
		}
	case tone.EventSignal:
		t.silent = false
		if t.noModem {
			t.foreign = true
		}
	case tone.EventSilence:
		t.silent = true
		// Silence long enough for the detector is no lost packet: a V.21
		// drop held back is the burst's real end, and comes first.
		t.settleV21()
		// The detector is 50 ms late: the rest of the 75 ms gap follows.
		t.hold = max(t.hold, samplesOf(Gap-silenceDelay))
		// The detector may hear no silence in the 75 ms between the DCS
		// and the TCF that follows it; then a signal that goes on well
		// after the V.21 carrier dropped, or well after the final frame
		// if the carrier did not drop either, is the TCF.
		if t.noModem && !t.foreign && (t.v21End >= 0 && t.n-t.v21End > int64(samplesOf(foreignAfter)) ||
			t.finalAt >= 0 && t.n-t.finalAt > int64(samplesOf(foreignAfterFinal))) {
			t.foreign = true
		}
		t.v21End, t.finalAt = -1, -1
		if t.noModem && t.foreign {
			// DCS asked for a modem we do not have and a signal came and
			// went: to T.30 that is a training that failed.
			t.foreign = false
			t.stats.TrainingsFailed++
			t.settleV21()
			t.eng.RxCarrierUp(t.hsModem)
			t.eng.RxCarrierDown()
		}
	}
}

func (t *Terminal) v21Event(ev v21.FrameEvent) {
	switch ev.Kind {
	case v21.FramePreamble:
		t.v21Flags = true
		// The carrier is reported on flags, not on energy: a V.21 power
		// detector also rises on a high-speed signal, and the engine takes
		// a V.21 carrier during a page as its end. A high-speed signal
		// can even look like two flags now and then, so while one is being
		// received only a whole frame counts.
		if !t.hsUp {
			t.v21Carrier()
		}
	case v21.FrameReceived:
		// A frame whose FCS fails is no sign of V.21 on a signal that may
		// be high-speed (one we trained on, one whose training failed, or
		// anything after a DCS naming a modem we lack) unless V.21 flags
		// announced it: the V.21 receiver turns any signal into bits, and
		// in the seconds of a TCF a run of them between two flags comes
		// out as a frame now and then. Taken for V.21, it would hide the
		// TCF from the terminal (and make the engine owe a CRP), so the
		// TCF would go unanswered.
		if !ev.FCSOK && (t.hsUp || !t.v21Flags && (t.hsFailed || t.noModem)) {
			return
		}
		t.v21Carrier()
		t.foreign = false // this burst is V.21, not a modem we lack
		if ev.FCSOK {
			// CNG and CED come before the first frame and are only kept
			// for the call record: from here on the detector need only
			// tell signal from silence.
			t.det.SetTones(false)
			t.watchFrame(ev.Frame)
		}
		// The final frame (poll/final bit) ends the burst.
		t.v21Final = ev.FCSOK && len(ev.Frame) > 1 && ev.Frame[1]&0x10 != 0
		if t.v21Final {
			t.v21Flags = false
			t.finalAt = t.n
		}
		t.eng.RxFrame(ev.Frame, ev.FCSOK)
	case v21.FrameCarrierUp:
		// The carrier is back before the drop was reported, and the burst
		// had not sent its final frame: a lost packet, the burst goes on.
		// After the final frame a carrier is the next signal (TCF follows
		// DCS 75 ms later), so then the drop stands.
		if t.v21DownAt >= 0 && !t.v21Final {
			t.v21DownAt = -1
		}
	case v21.FrameCarrierDown:
		if t.v21Up && t.v21DownAt < 0 {
			t.v21DownAt = t.n
			if t.v21Final {
				t.v21Down()
			}
		}
	}
}

// v21Bridge is how long a V.21 carrier must stay away before the engine
// hears it drop. A lost RTP packet (20 ms, silence) drops the receiver's
// carrier in the middle of a burst; reported at once, the engine would
// take the burst as over (and answer, or restart its timers) while the
// far end is still sending the frames that follow.
const v21Bridge = 100 * time.Millisecond

// v21Down reports the end of a V.21 burst to the engine, dated when the
// carrier dropped.
func (t *Terminal) v21Down() {
	at := t.v21DownAt
	t.v21DownAt, t.v21Final = -1, false
	if t.v21Up {
		t.v21Up = false
		t.v21End = at
		t.eng.RxCarrierDown()
	}
}

// settleV21 reports a V.21 drop still held back, before the engine hears
// of anything that follows the burst.
func (t *Terminal) settleV21() {
	if t.v21DownAt >= 0 {
		t.v21Down()
	}
}

func (t *Terminal) v21Carrier() {
	t.v21Heard = true
	t.v21DownAt = -1
	if t.v21Up {
		return
	}
	t.v21Up = true
	t.cng = nil // the far end answers: stop calling
	t.eng.RxCarrierUp(t30.V21)
}

// watchFrame reads the DCS (or CTC) the far end sends: it names the modem
// and whether ECM is on, which decides what the high-speed receiver
// listens for.
func (t *Terminal) watchFrame(b []byte) {
	f, err := t30.ParseFrame(b)
	if err != nil {
		return
	}
	switch f.FCF {
	case t30.FCFDCS:
		p, err := t30.DecodeParams(f.FIF)
		if err != nil {
			return
		}
		t.hsECM = p.ECM
		t.tcfNext = true // TCF is plain zeros, ECM or not
		t.hsRest = false // a (repeated) DCS: TCF follows
		t.listen(p.Modem)
		t.expectLong()
	case t30.FCFCTC:
		p, err := t30.DecodeParams(f.FIF)
		if err != nil {
			return
		}
		t.hsRest = false
		t.listen(p.Modem)
		t.expectLong()
	}
}

// expectLong tells a receiver that cares (V.17) that a long training comes
// next: TCF follows DCS, and the first block after CTC trains long too.
func (t *Terminal) expectLong() {
	if h, ok := t.hs.(trainingHint); ok {
		h.expectLong(true)
	}
}

// listen switches the high-speed receiver to modem m.
func (t *Terminal) listen(m t30.Modem) {
	if m == t.hsModem && (t.hs != nil || t.noModem) {
		return
	}
	t.hsCarrierDown()
	t.hsModem, t.hs, t.noModem, t.foreign, t.hsRest = m, nil, false, false, false
	h, ok := t.mods[m]
	if ok {
		rx, err := h.NewRx(m)
		if err == nil {
			t.hs = rx
			return
		}
		t.log.Error("audio: high-speed receiver", "modem", m, "err", err)
	}
	t.noModem = true
}

func (t *Terminal) hsEvent(ev RxEvent) {
	switch ev.Kind {
	case RxCarrierUp:
		t.v21Heard = false
	case RxTrained:
		t.stats.Trainings++
		t.hsUp, t.hsFailed, t.hsRaw = true, false, t.tcfNext || !t.hsECM
		t.tcfNext = false
		t.hdlc.Reset()
		t.acc, t.nb, t.rxBuf = 0, 0, t.rxBuf[:0]
		t.settleV21()
		t.eng.RxCarrierUp(t.hsModem)
	case RxTrainingFailed:
		// A signal we could not train on. It may be V.21 (the receivers
		// of V.29 and V.17 give up on one quickly), so the engine hears of
		// it only once it has ended without V.21 flags: then as TCF or
		// page data that never came (FTT, or a page to be re-sent).
		// Answering before it ends would talk over the sender.
		t.hsFailed = true
		t.acc, t.nb, t.rxBuf = 0, 0, t.rxBuf[:0]
	case RxBits:
		if !t.hsUp {
			return
		}
		if !t.hsRaw {
			for _, bit := range ev.Bits {
				if hev, ok := t.hdlc.PutBit(bit); ok && hev.Kind == hdlc.EventFrame {
					t.eng.RxFrame(hev.Frame, hev.FCSOK)
				}
			}
			return
		}
		acc, nb := t.acc, t.nb
		for _, bit := range ev.Bits {
			acc = acc<<1 | bit&1
			if nb++; nb == 8 {
				t.rxBuf = append(t.rxBuf, acc)
				acc, nb = 0, 0
			}
		}
		t.acc, t.nb = acc, nb
	case RxCarrierDown:
		if t.hsFailed && !t.hsUp {
			t.hsFailed = false
			if !t.v21Heard {
				t.stats.TrainingsFailed++
				t.tcfNext = false
				t.settleV21()
				t.eng.RxCarrierUp(t.hsModem)
				t.eng.RxCarrierDown()
			}
			return
		}
		t.hsCarrierDown()
	}
}

// flush hands the engine the octets packed so far.
func (t *Terminal) flush() {
	if len(t.rxBuf) > 0 {
		t.eng.RxData(t.rxBuf)
		t.rxBuf = t.rxBuf[:0]
	}
}

func (t *Terminal) hsCarrierDown() {
	if !t.hsUp {
		return
	}
	t.flush()
	t.hsUp = false
	t.eng.RxCarrierDown()
	// T.30: after a page, a TCF or an ECM block the far end sends V.21
	// (or nothing) until we have answered or it repeats DCS or sends CTC;
	// the high-speed receiver rests till then instead of trying to train
	// on those frames.
	t.hsRest = true
}
