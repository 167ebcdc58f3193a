package channel

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"

	"github.com/faxd/faxd/internal/sip"
	"github.com/faxd/faxd/t38/audio"
	"github.com/faxd/faxd/t38/rtpaudio"
	"github.com/faxd/faxd/t38/session"
	"github.com/faxd/faxd/t38/t30"
)

// errMediaSetup: the terminal for the call's media could not be built.
var errMediaSetup = errors.New("media setup")

// mediaName says which media a call runs on, for the call trace, the
// job's result and the metrics: "t38", "audio PCMU" or "audio PCMA".
func mediaName(m sip.Media) string {
	if m.Audio {
		return "audio " + m.Codec.Name
	}
	return "t38"
}

// mediaLabel is mediaName as a metric label value (no space).
func mediaLabel(m sip.Media) string {
	if m.Audio {
		return "audio_" + m.Codec.Name
	}
	return "t38"
}

// runFax runs the T.30 engine configured by cfg over the call's media to
// its end: T.38 through t38/session, an audio fax through t38/audio's
// modems over t38/rtpaudio on the call's RTP socket. onEvent gets every
// engine event (pages confirmed or received, the result) on the calling
// goroutine. A terminal that cannot be built gives errMediaSetup and no
// result; otherwise the result is never nil.
func runFax(ctx context.Context, m sip.Media, cfg t30.Config, onEvent func(t30.Output), log *slog.Logger) (*t30.Result, error) {
	if !m.Audio {
		s, rc, err := Terminal(m, cfg)
		if err != nil {
			return nil, fmt.Errorf("%w: T.38 session: %w", errMediaSetup, err)
		}
		rc.OnEvent = onEvent
		res, err := session.Run(ctx, m.Conn, s, rc)
		if res == nil {
			res = &t30.Result{Reason: t30.ReasonCallDropped, Detail: fmt.Sprint(err)}
		}
		return res, err
	}
	term, err := audio.New(audio.Config{T30: cfg, Log: log})
	if err != nil {
		return nil, fmt.Errorf("%w: audio terminal: %w", errMediaSetup, err)
	}
	at := &audioFax{t: term, on: onEvent}
	st, err := rtpaudio.Run(ctx, m.Conn, net.UDPAddrFromAddrPort(m.Remote), at,
		rtpaudio.Config{PayloadType: m.Codec.PayloadType, Log: log})
	if !term.Done() {
		// Cancelled, or the far end hung up (the call closed the socket).
		term.Hangup()
		at.flush()
	}
	log.Info("audio fax over", "codec", m.Codec.Name, "rtp_sent", st.Sent, "rtp_received", st.Received,
		"rtp_lost", st.Lost, "rtp_late", st.Late, "err", err)
	res := term.Result()
	if res == nil {
		res = &t30.Result{Reason: t30.ReasonCallDropped, Detail: fmt.Sprint(err)}
	}
	return res, err
}

// audioFax hands the audio terminal's engine events to the channel as the
// real-time loop runs it.
type audioFax struct {
	t  *audio.Terminal
	on func(t30.Output)
}

func (a *audioFax) Process(in, out []int16) {
	a.t.Process(in, out)
	a.flush()
}

func (a *audioFax) Done() bool { return a.t.Done() }

func (a *audioFax) flush() {
	for _, e := range a.t.Events() {
		if a.on != nil {
			a.on(e)
		}
	}
}
