package rtpaudio

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"net"
	"sync"
	"time"

	"github.com/pion/rtp"
)

// Stream sends a tone as G.711 RTP to the far end and listens to what the
// far end sends, until Stop. It does not own the socket.
type Stream struct {
	conn   *net.UDPConn
	remote *net.UDPAddr
	codec  Codec

	stop     chan struct{}
	stopOnce sync.Once
	wg       sync.WaitGroup

	mu        sync.Mutex
	detectors []*Detector
	received  int
	sent      int
	panicked  any
}

// Start begins sending t (a zero Tone sends silence) every 20 ms and
// listening for the frequencies in listen.
func Start(conn *net.UDPConn, remote *net.UDPAddr, codec Codec, t Tone, listen ...float64) *Stream {
	s := &Stream{conn: conn, remote: remote, codec: codec, stop: make(chan struct{})}
	for _, f := range listen {
		s.detectors = append(s.detectors, &Detector{Freq: f})
	}
	s.wg.Add(2)
	go s.guarded(func() { s.send(t) })
	go s.guarded(s.receive)
	return s
}

// guarded runs one direction; a panic (a packet nobody foresaw) ends that
// direction only and is kept for Panicked, so the call's owner can log it.
func (s *Stream) guarded(f func()) {
	defer s.wg.Done()
	defer func() {
		if r := recover(); r != nil {
			s.mu.Lock()
			if s.panicked == nil {
				s.panicked = r
			}
			s.mu.Unlock()
		}
	}()
	f()
}

// Panicked is the value of a panic that ended a direction early, or nil.
func (s *Stream) Panicked() any {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.panicked
}

// Stop ends both directions and waits for them. Safe to call twice.
func (s *Stream) Stop() {
	s.stopOnce.Do(func() {
		close(s.stop)
		// Unblock the reader; the socket stays open for its owner.
		_ = s.conn.SetReadDeadline(time.Now())
	})
	s.wg.Wait()
	_ = s.conn.SetReadDeadline(time.Time{})
}

// Heard reports whether freq (one of those passed to Start) was received.
func (s *Stream) Heard(freq float64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, d := range s.detectors {
		if d.Freq == freq {
			return d.Heard()
		}
	}
	return false
}

// Counts returns the packets sent and received so far.
func (s *Stream) Counts() (sent, received int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sent, s.received
}

func (s *Stream) send(t Tone) {
	var seed [10]byte
	_, _ = rand.Read(seed[:])
	pkt := rtp.Packet{Header: rtp.Header{
		Version:        2,
		PayloadType:    s.codec.PayloadType,
		SequenceNumber: binary.BigEndian.Uint16(seed[0:]),
		Timestamp:      binary.BigEndian.Uint32(seed[2:]),
		SSRC:           binary.BigEndian.Uint32(seed[6:]),
		Marker:         true, // first packet of the talkspurt
	}}
	gen := NewGenerator(t)
	pcm := make([]int16, FrameSamples)
	payload := make([]byte, 0, FrameSamples)
	buf := make([]byte, 0, 12+FrameSamples)
	tick := time.NewTicker(FrameDuration)
	defer tick.Stop()
	for {
		gen.Frame(pcm)
		pkt.Payload = s.codec.Encode(payload[:0], pcm)
		out, err := pkt.MarshalTo(buf[:cap(buf)])
		if err == nil {
			if _, err := s.conn.WriteToUDP(buf[:out], s.remote); err == nil {
				s.mu.Lock()
				s.sent++
				s.mu.Unlock()
			}
		}
		pkt.Marker = false
		pkt.SequenceNumber++
		pkt.Timestamp += FrameSamples
		select {
		case <-s.stop:
			return
		case <-tick.C:
		}
	}
}

func (s *Stream) receive() {
	buf := make([]byte, 1500)
	var pkt rtp.Packet
	var pcm []int16
	for {
		n, _, err := s.conn.ReadFromUDP(buf)
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				select {
				case <-s.stop:
					return
				default:
					continue
				}
			}
			return // socket closed
		}
		if pkt.Unmarshal(buf[:n]) != nil {
			continue
		}
		codec, ok := CodecByPayloadType(pkt.PayloadType)
		if !ok {
			continue // comfort noise, telephone-event, ...: not ours to decode
		}
		pcm = codec.Decode(pcm[:0], pkt.Payload)
		s.mu.Lock()
		s.received++
		for _, d := range s.detectors {
			d.Feed(pcm)
		}
		s.mu.Unlock()
	}
}
