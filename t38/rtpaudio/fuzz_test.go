package rtpaudio

import (
	"encoding/binary"
	"testing"
	"time"
)

// FuzzPacket pushes one arbitrary datagram between two pulls: no panic,
// and it is counted exactly once, as audio or as one of the kinds dropped.
func FuzzPacket(f *testing.F) {
	f.Add(pk{seq: 1, frame: 1, id: 1}.bytes(0))
	f.Add(pk{seq: 1, pt: 101}.bytes(0))
	f.Add([]byte{0x80})
	f.Add([]byte{0xA0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 9, 9, 9, 2})
	f.Fuzz(func(t *testing.T, b []byte) {
		jb, err := NewJitterBuffer(Config{})
		if err != nil {
			t.Fatal(err)
		}
		out := make([]int16, FrameSamples)
		jb.Pull(out, 0)
		jb.Push(b, time.Millisecond)
		jb.Pull(out, FrameDuration)
		s := jb.Stats()
		if n := s.Received + s.Events + s.ComfortNoise + s.UnknownPayload + s.Malformed; n != 1 {
			t.Fatalf("one datagram counted %d times: %+v", n, s)
		}
	})
}

// FuzzJitterBuffer drives a buffer with a script of datagrams (real
// headers with fuzzed sequence numbers, timestamps, SSRCs, payload types
// and lengths) and pulls at fuzzed times: no panic, every pull fills its
// frame, and the counters stay consistent.
func FuzzJitterBuffer(f *testing.F) {
	f.Add([]byte{0, 1, 0, 0, 0, 160, 0, 1, 0, 0, 0, 2, 0, 1, 2, 3})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, script []byte) {
		jb, err := NewJitterBuffer(Config{JitterDelay: 40 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		out := make([]int16, FrameSamples)
		var now time.Duration
		pushed := int64(0)
		for len(script) >= 9 {
			op := script[0]
			seq := binary.BigEndian.Uint16(script[1:])
			ts := binary.BigEndian.Uint32(script[3:]) * 40 // mostly whole frames apart
			n := int(script[7]) * 8
			var pt uint8
			switch script[8] % 4 {
			case 1:
				pt = 101
			case 2:
				pt = 13
			case 3:
				pt = script[8] & 0x7f
			}
			script = script[9:]
			now += time.Duration(op&0x1f) * time.Millisecond
			if op&0x80 != 0 {
				jb.Pull(out[:int(op&0x60)+2], now)
				continue
			}
			pkt := pk{seq: seq, pt: pt, ssrc: uint32(op&3) + 1}.bytes(ts)
			// Resize the payload to n bytes (pk makes a whole frame).
			hdr := pkt[:12]
			payload := make([]byte, n)
			copy(payload, script)
			jb.Push(append(append([]byte(nil), hdr...), payload...), now)
			pushed++
			if op&0x40 != 0 {
				jb.Pull(out, now)
			}
		}
		s := jb.Stats()
		if n := s.Received + s.Events + s.ComfortNoise + s.UnknownPayload + s.Malformed; n != pushed {
			t.Fatalf("%d datagrams pushed, %d counted: %+v", pushed, n, s)
		}
		// Lost is clamped in Stats; the count itself must not go below
		// zero (a packet is taken off the lost only once).
		if jb.st.Lost < 0 || s.Duplicates > pushed {
			t.Fatalf("stats %+v", s)
		}
	})
}
