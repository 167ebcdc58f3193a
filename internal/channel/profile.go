package channel

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/faxd/faxd/internal/sip"
	"github.com/faxd/faxd/t38/t30"
)

// Profile is a gateway's media profile and health probing as
// administrators set them through the API (stored as JSON with the
// gateway); the configuration file has the same keys on each gateway.
// Unset fields keep the sip: and channel-wide settings.
type Profile struct {
	// AudioFirst offers G.711 first and switches to T.38 by re-INVITE;
	// ReinviteWait is how long to wait for the far end's re-INVITE before
	// sending ours ("3s"; "" keeps sip.reinvite_after).
	AudioFirst bool `json:"audio_first,omitempty"`
	// Media is t38 ("" too), audio or auto: T.38 only, G.711 audio only,
	// or G.711 first with T.38 when the far end agrees and audio when not.
	Media        string `json:"media,omitempty"`
	ReinviteWait string `json:"reinvite_wait,omitempty"`
	// VBD marks our G.711 offer as voice-band data (V.152 a=gpmd vbd=yes),
	// asking the gateway to keep silence suppression and transcoding off it.
	VBD bool `json:"vbd,omitempty"`
	// T.38: the highest version offered (0-3), our largest datagram,
	// and error correction (redundancy, fec, none).
	T38Version         *int   `json:"t38_version,omitempty"`
	T38MaxDatagram     int    `json:"t38_max_datagram,omitempty"`
	T38ErrorCorrection string `json:"t38_error_correction,omitempty"`
	// T.30: ECM on or off, the highest bit rate (2400-14400), V.17 on or off.
	ECM        *bool `json:"ecm,omitempty"`
	MaxBitRate int   `json:"max_bit_rate,omitempty"`
	V17        *bool `json:"v17,omitempty"`
	// RetryLadder (default on): after a training or page-data failure
	// the next attempt steps down (ECM off, then 9600, then 4800 bit/s).
	RetryLadder *bool `json:"retry_ladder,omitempty"`
	// Probing: options or off, and its interval and counts.
	Probe             string `json:"probe,omitempty"`
	ProbeInterval     string `json:"probe_interval,omitempty"`
	ProbeFailAfter    int    `json:"probe_fail_after,omitempty"`
	ProbeReadmitAfter int    `json:"probe_readmit_after,omitempty"`
}

// Apply sets the profile's fields on g; an unreadable duration is an
// error naming its field.
func (p Profile) Apply(g *Gateway) error {
	var errs []error
	dur := func(field, v string) time.Duration {
		if v == "" {
			return 0
		}
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			errs = append(errs, fmt.Errorf("%s %q: want a duration such as 3s or 1m", field, v))
		}
		return d
	}
	g.AudioFirst, g.ReinviteWait, g.VBD = p.AudioFirst, dur("reinvite_wait", p.ReinviteWait), p.VBD
	g.Media = p.Media
	g.T38Version, g.T38MaxDatagram, g.T38ErrorCorrection = p.T38Version, p.T38MaxDatagram, p.T38ErrorCorrection
	g.ECM, g.MaxBitRate, g.V17, g.RetryLadder = p.ECM, p.MaxBitRate, p.V17, p.RetryLadder
	g.Probe, g.ProbeInterval = p.Probe, dur("probe_interval", p.ProbeInterval)
	g.ProbeFailAfter, g.ProbeReadmitAfter = p.ProbeFailAfter, p.ProbeReadmitAfter
	return errors.Join(errs...)
}

// Validate names every bad field of the profile.
func (p Profile) Validate() error {
	var g Gateway
	return errors.Join(p.Apply(&g), g.validateMedia(), g.ProbePolicy().Validate())
}

func (g Gateway) t38Profile() sip.T38Profile {
	return sip.T38Profile{Version: g.T38Version, MaxBitRate: g.MaxBitRate, MaxDatagram: g.T38MaxDatagram,
		ErrorCorrection: strings.ToLower(g.T38ErrorCorrection)}
}

// mediaMode is the gateway's validated media mode (t38 when unset).
func (g Gateway) mediaMode() sip.MediaMode {
	m, err := sip.ParseMediaMode(g.Media)
	if err != nil {
		return sip.MediaT38 // refused by validateMedia before any call
	}
	return m
}

func (g Gateway) validateMedia() error {
	var errs []error
	if err := g.t38Profile().Validate(); err != nil {
		errs = append(errs, err)
	}
	if _, err := sip.ParseMediaMode(g.Media); err != nil {
		errs = append(errs, err)
	}
	if g.ReinviteWait < 0 || g.ReinviteWait > 5*time.Minute {
		errs = append(errs, fmt.Errorf("reinvite_wait %v: must be from 0 to 5m", g.ReinviteWait))
	}
	if g.V17 != nil && !*g.V17 && g.MaxBitRate > 9600 {
		errs = append(errs, fmt.Errorf("max_bit_rate %d with v17 off: without V.17 the top rate is 9600", g.MaxBitRate))
	}
	return errors.Join(errs...)
}

// The retry ladder: each step is what an attempt uses after that many
// training or page-data failures of the same fax in a row.
const maxLadderStep = 3

// ladderTrigger reports whether a T.30 failure is one a gentler profile
// may cure: the far end could not train, kept rejecting pages, or choked
// on ECM.
func ladderTrigger(r t30.Reason) bool {
	switch r {
	case t30.ReasonCannotTrain, t30.ReasonRetriesExhausted, t30.ReasonT5Expired, t30.ReasonProtocolError:
		return true
	}
	return false
}

// callProfile is what one attempt uses on one gateway.
type callProfile struct {
	ECM        bool
	MaxBitRate int // 0: 14400
	V17        bool
	Step       int
}

// profileFor is gateway g's profile at ladder step on a pool whose
// channel-wide ECM is ecm: step 1 turns ECM off (or, with ECM already
// off, caps the rate at 9600), step 2 caps at 9600 with ECM off, step 3
// at 4800.
func profileFor(g Gateway, ecm bool, step int) callProfile {
	cp := callProfile{ECM: ecm, MaxBitRate: g.MaxBitRate, V17: true, Step: step}
	if g.ECM != nil {
		cp.ECM = *g.ECM
	}
	if g.V17 != nil {
		cp.V17 = *g.V17
	}
	if g.RetryLadder != nil && !*g.RetryLadder {
		cp.Step = 0
		return cp
	}
	capAt := func(r int) {
		if cp.MaxBitRate == 0 || cp.MaxBitRate > r {
			cp.MaxBitRate = r
		}
	}
	switch {
	case step >= 3:
		cp.ECM = false
		capAt(4800)
	case step == 2:
		cp.ECM = false
		capAt(9600)
	case step == 1:
		if cp.ECM {
			cp.ECM = false
		} else {
			capAt(9600)
		}
	}
	return cp
}

// apply sets the profile on a sender's T.30 configuration.
func (cp callProfile) apply(cfg *t30.Config) {
	cfg.ECM, cfg.MaxBitRate = cp.ECM, cp.MaxBitRate
	if !cp.V17 {
		cfg.Modems = t30.FamilyV27ter | t30.FamilyV29
	}
}

// String is the profile as the job's history shows it.
func (cp callProfile) String() string {
	var b strings.Builder
	if cp.ECM {
		b.WriteString("ECM on")
	} else {
		b.WriteString("ECM off")
	}
	rate := cp.MaxBitRate
	if rate == 0 {
		rate = 14400
	}
	if !cp.V17 {
		rate = min(rate, 9600)
		b.WriteString(", V.17 off")
	}
	fmt.Fprintf(&b, ", up to %d bit/s", rate)
	if cp.Step > 0 {
		fmt.Fprintf(&b, ", retry step %d", cp.Step)
	}
	return b.String()
}
