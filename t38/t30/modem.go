package t30

import "time"

// Modem is a high-speed modulation at one bit rate. The engine works in
// these terms (not in T.38 indicators) so that the same engine can later sit
// on an audio soft modem.
type Modem uint8

// The image modems T.30 negotiates. V21 is the 300 bit/s control channel.
const (
	ModemNone Modem = iota
	V21
	V27ter2400
	V27ter4800
	V29_7200
	V29_9600
	V17_7200
	V17_9600
	V17_12000
	V17_14400
)

var modemNames = [...]string{"none", "V.21", "V.27ter/2400", "V.27ter/4800", "V.29/7200", "V.29/9600",
	"V.17/7200", "V.17/9600", "V.17/12000", "V.17/14400"}

func (m Modem) String() string {
	if int(m) < len(modemNames) {
		return modemNames[m]
	}
	return "modem?"
}

// BitRate is the modem's line rate in bit/s.
func (m Modem) BitRate() int {
	switch m {
	case V21:
		return 300
	case V27ter2400:
		return 2400
	case V27ter4800:
		return 4800
	case V29_7200, V17_7200:
		return 7200
	case V29_9600, V17_9600:
		return 9600
	case V17_12000:
		return 12000
	case V17_14400:
		return 14400
	}
	return 0
}

// Family is the modem recommendation a Modem belongs to.
func (m Modem) Family() ModemFamily {
	switch m {
	case V27ter2400, V27ter4800:
		return FamilyV27ter
	case V29_7200, V29_9600:
		return FamilyV29
	case V17_7200, V17_9600, V17_12000, V17_14400:
		return FamilyV17
	}
	return 0
}

// TrainingTime is roughly how long the modem's training sequence lasts; the
// T.38 session uses it to space the training indicator from the data, the
// way a gateway would see it on the line.
func (m Modem) TrainingTime(long bool) time.Duration {
	switch m.Family() {
	case FamilyV27ter:
		if m == V27ter2400 {
			return 943 * time.Millisecond
		}
		return 708 * time.Millisecond
	case FamilyV29:
		return 253 * time.Millisecond
	case FamilyV17:
		if long {
			return 1393 * time.Millisecond
		}
		return 346 * time.Millisecond
	}
	return 0
}

// ModemFamily is a set of modem recommendations (bit flags).
type ModemFamily uint8

const (
	FamilyV27ter ModemFamily = 1 << iota
	FamilyV29
	FamilyV17
	// AllModems is what faxd supports.
	AllModems = FamilyV27ter | FamilyV29 | FamilyV17
)

// fallback is the order in which a transmitter steps down after FTT, RTN or
// CTC (the same order spandsp uses).
var fallback = []Modem{V17_14400, V17_12000, V17_9600, V29_9600, V17_7200, V29_7200, V27ter4800, V27ter2400}

// bestModem returns the first modem of the fallback sequence at or below
// start that both sides support; start == ModemNone means the top.
func bestModem(families ModemFamily, start Modem) Modem {
	seen := start == ModemNone
	for _, m := range fallback {
		if m == start {
			seen = true
		}
		if seen && families&m.Family() != 0 {
			return m
		}
	}
	return ModemNone
}

// topModem is the first modem of the fallback sequence at or below rate
// bit/s (ModemNone when rate is below every modem).
func topModem(rate int) Modem {
	for _, m := range fallback {
		if m.BitRate() <= rate {
			return m
		}
	}
	return ModemNone
}

// stepDown returns the next lower modem in the fallback sequence within
// families, or ModemNone when there is none.
func stepDown(families ModemFamily, cur Modem) Modem {
	for i, m := range fallback {
		if m == cur {
			for _, n := range fallback[i+1:] {
				if families&n.Family() != 0 {
					return n
				}
			}
		}
	}
	return ModemNone
}
