package rtpaudio

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"time"

	"github.com/faxd/faxd/t38/g711"
	"github.com/pion/rtp"
)

// Terminal is the audio side Run drives; *audio.Terminal is one.
type Terminal interface {
	// Process takes the samples received and fills out with as many to
	// send.
	Process(in, out []int16)
	// Done says the call has ended on the terminal's side.
	Done() bool
}

// tailFrames is the silence sent after the terminal is done (200 ms), so
// the far end hears the last signal end rather than the stream stop.
const tailFrames = 10

// stallReset is how far behind its schedule Run may fall (a stalled
// process) before it gives the lost time up instead of sending a burst
// the far end would only drop as late.
const stallReset = time.Second

// Run carries term over conn to remote in real time until term is Done
// (then a short tail of silence is sent) or ctx ends. Every 20 ms it takes
// one frame from the jitter buffer, hands it to term.Process and sends
// what term produced as one RTP packet; between frames it reads the far
// end's packets into the buffer. Only datagrams from remote count; others
// are dropped and counted in Stats.Foreign.
//
// Run is one goroutine and owns conn's read deadline while it runs; it
// does not close conn. The error is ctx's when it ended the call, or the
// socket's when it was closed; a failed send is counted, not fatal (a
// far end not yet listening makes loopback sends fail at first).
func Run(ctx context.Context, conn *net.UDPConn, remote *net.UDPAddr, term Terminal, cfg Config) (Stats, error) {
	if conn == nil || remote == nil || term == nil {
		return Stats{}, errors.New("rtpaudio: Run needs a socket, a remote address and a terminal")
	}
	cfg, err := cfg.withDefaults()
	if err != nil {
		return Stats{}, err
	}
	jb, err := NewJitterBuffer(cfg)
	if err != nil {
		return Stats{}, err
	}
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	law := g711.ULaw
	if cfg.PayloadType == 8 {
		law = g711.ALaw
	}
	ssrc := cfg.SSRC
	if ssrc == 0 {
		ssrc = rand.Uint32() | 1
	}
	// Random first sequence number and timestamp (RFC 3550 5.1).
	pkt := rtp.Packet{Header: rtp.Header{
		Version:        2,
		PayloadType:    cfg.PayloadType,
		SequenceNumber: uint16(rand.Uint32()),
		Timestamp:      rand.Uint32(),
		SSRC:           ssrc,
		Marker:         true,
	}}
	remoteAP := canon(remote.AddrPort())

	var sent, foreign, sendErrs int64
	stats := func() Stats {
		s := jb.Stats()
		s.Sent, s.Foreign, s.SendErrors = sent, foreign, sendErrs
		return s
	}

	// Cancellation wakes a blocked read by moving its deadline into the
	// past; the loop checks ctx after every deadline it sets, so the two
	// cannot undo each other.
	stopWake := context.AfterFunc(ctx, func() { _ = conn.SetReadDeadline(time.Unix(1, 0)) })
	defer func() {
		stopWake()
		_ = conn.SetReadDeadline(time.Time{})
	}()

	in := make([]int16, FrameSamples)
	out := make([]int16, FrameSamples)
	payload := make([]byte, 0, FrameSamples)
	wire := make([]byte, 1500)
	rbuf := make([]byte, 1500)
	start := time.Now()
	next := start
	tail := -1 // frames of silence still to send once term is done
	log.Debug("rtp audio started", "remote", remoteAP, "ssrc", ssrc, "pt", cfg.PayloadType)
	for {
		if err := ctx.Err(); err != nil {
			log.Debug("rtp audio cancelled", "stats", stats())
			return stats(), err
		}
		now := time.Now()
		if now.Sub(next) > stallReset {
			log.Warn("rtp audio fell behind its schedule; skipping the lost time", "behind", now.Sub(next))
			// The timestamp moves on with the time skipped, so the far
			// end hears a gap (concealed) rather than every later packet
			// arriving late.
			skipped := now.Sub(next) / FrameDuration
			pkt.Timestamp += uint32(skipped) * FrameSamples
			next = next.Add(skipped * FrameDuration)
		}
		for !now.Before(next) {
			// The nominal tick time, not the moment of the call: the
			// playout clock must not jitter with our scheduling.
			jb.Pull(in, next.Sub(start))
			if tail < 0 {
				term.Process(in, out)
				if term.Done() {
					tail = tailFrames
				}
			} else {
				clear(out)
				tail--
			}
			pkt.Payload = law.Encode(payload[:0], out)
			if n, err := pkt.MarshalTo(wire); err == nil {
				if _, err := conn.WriteToUDPAddrPort(wire[:n], remoteAP); err != nil {
					if sendErrs == 0 {
						log.Warn("rtp audio send failed", "remote", remoteAP, "err", err)
					}
					sendErrs++
				} else {
					sent++
				}
			}
			pkt.Marker = false
			pkt.SequenceNumber++
			pkt.Timestamp += FrameSamples
			next = next.Add(FrameDuration)
			if tail == 0 {
				log.Debug("rtp audio done", "stats", stats())
				return stats(), nil
			}
		}
		if err := conn.SetReadDeadline(next); err != nil {
			return stats(), fmt.Errorf("rtpaudio: read deadline: %w", err)
		}
		if err := ctx.Err(); err != nil {
			return stats(), err
		}
		n, ap, err := conn.ReadFromUDPAddrPort(rbuf)
		if err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				continue
			}
			if errors.Is(err, net.ErrClosed) {
				return stats(), fmt.Errorf("rtpaudio: socket closed: %w", err)
			}
			// A transient error (an ICMP error reported on the socket):
			// wait for the next frame rather than spin on it.
			log.Debug("rtp audio read failed", "err", err)
			time.Sleep(time.Until(next))
			continue
		}
		if canon(ap) != remoteAP {
			foreign++
			continue
		}
		jb.Push(rbuf[:n], time.Since(start))
	}
}

// canon makes v4-mapped IPv6 addresses (a dual-stack socket's view of an
// IPv4 peer) compare equal to the IPv4 ones.
func canon(ap netip.AddrPort) netip.AddrPort {
	return netip.AddrPortFrom(ap.Addr().Unmap().WithZone(""), ap.Port())
}
