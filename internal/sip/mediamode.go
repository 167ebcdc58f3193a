package sip

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// MediaMode is which media a gateway's calls may use.
type MediaMode string

const (
	// MediaT38 (the default, "" too) is T.38 only: a call that cannot
	// switch to T.38 fails.
	MediaT38 MediaMode = "t38"
	// MediaAudio is G.711 only: T.38 is never offered and a re-INVITE to
	// T.38 gets 488; the fax runs over the audio modems.
	MediaAudio MediaMode = "audio"
	// MediaAuto starts in audio and switches to T.38 when both sides
	// agree; when the switch is refused, never comes or the far end
	// answers audio only, the fax runs over audio instead of failing.
	MediaAuto MediaMode = "auto"
)

// ParseMediaMode reads a media mode ("" is t38), case-insensitively.
func ParseMediaMode(s string) (MediaMode, error) {
	switch m := MediaMode(strings.ToLower(strings.TrimSpace(s))); m {
	case "", MediaT38:
		return MediaT38, nil
	case MediaAudio, MediaAuto:
		return m, nil
	}
	return "", fmt.Errorf("media %q: must be t38, audio or auto", s)
}

// autoReinviteTimeout is the least time our own re-INVITE to T.38 gets
// under MediaAuto before the call falls back to audio: a gateway that
// does not answer it within that is taken as not doing T.38, where the
// plain T.38 mode waits the full transaction timeout (32 s).
const autoReinviteTimeout = 4 * time.Second

// takeAudio commits the call to an audio fax: the tone player stops (the
// channel's audio terminal takes the socket) and from now on a re-INVITE
// to T.38 gets 488. It reports false when T.38 got there first.
func (c *Call) takeAudio(why string) bool {
	c.mu.Lock()
	if c.media.T38 {
		c.mu.Unlock()
		return false
	}
	c.audioFax = true
	c.media.Audio = true
	c.mu.Unlock()
	c.stopAudio()
	c.emit(EventAudioFax, 0, why)
	return true
}

// fallBack decides what a failed switch to T.38 (err from audioPhase)
// means under mode: under MediaAuto every failure but the end of the call
// or of ctx leaves the call in audio (nil); otherwise err stands.
func (c *Call) fallBack(ctx context.Context, mode MediaMode, err error) error {
	if err == nil || mode != MediaAuto || ctx.Err() != nil || c.Err() != nil {
		return err
	}
	why := err.Error()
	var o *Outcome
	if errors.As(err, &o) {
		why = o.Reason
		if o.Status != 0 {
			why = fmt.Sprintf("%s (%d)", o.Reason, o.Status)
		}
	}
	c.log.Info("T.38 not agreed: faxing over audio", "why", why, "codec", c.Media().Codec.Name)
	if !c.takeAudio("T.38 not agreed: " + why) {
		return nil // the far end's re-INVITE won meanwhile: T.38 it is
	}
	return nil
}
