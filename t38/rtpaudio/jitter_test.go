package rtpaudio

import (
	"testing"
	"time"

	"github.com/faxd/faxd/t38/g711"
	"github.com/pion/rtp"
)

// pk is a test packet: a whole 20 ms frame at timestamp frame·160 from
// base, filled with one mu-law code chosen by id.
type pk struct {
	seq   uint16
	frame uint32
	id    int
	ssrc  uint32 // 0: 1111
	pt    uint8
	raw   []byte // sent as is when set
}

func code(id int) byte { return byte(0x10 + id) }

func (p pk) bytes(tsBase uint32) []byte {
	if p.raw != nil {
		return p.raw
	}
	ssrc := p.ssrc
	if ssrc == 0 {
		ssrc = 1111
	}
	payload := make([]byte, FrameSamples)
	for i := range payload {
		payload[i] = code(p.id)
	}
	b, err := (&rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: p.pt, SequenceNumber: p.seq,
		Timestamp: tsBase + p.frame*FrameSamples, SSRC: ssrc}, Payload: payload}).Marshal()
	if err != nil {
		panic(err)
	}
	return b
}

// frameID says which packet's code fills f: -1 for silence, -2 for a mix.
func frameID(f []int16) int {
	if f[0] == 0 {
		for _, s := range f {
			if s != 0 {
				return -2
			}
		}
		return -1
	}
	for id := range 64 {
		v := g711.ULawDecode(code(id))
		if f[0] != v {
			continue
		}
		for _, s := range f {
			if s != v {
				return -2
			}
		}
		return id
	}
	return -2
}

func TestJitterBufferCases(t *testing.T) {
	seq := func(base uint16, n int) []uint16 {
		var s []uint16
		for i := range n {
			s = append(s, base+uint16(i))
		}
		return s
	}
	s := seq(100, 8)
	in := func(i int) pk { return pk{seq: s[i], frame: uint32(i), id: i} }
	w := seq(65533, 8) // wraps after two
	wrap := func(i int) pk { return pk{seq: w[i], frame: uint32(i), id: i} }
	b := func(i int) pk { return pk{seq: 7000 + uint16(i), frame: 5000 + uint32(i), id: 20 + i, ssrc: 2222} }
	for _, tc := range []struct {
		name   string
		tsBase uint32
		steps  [][]pk // pushed before each pull
		want   []int  // per pull: the packet id heard, -1 silence
		check  func(Stats) bool
	}{
		{"in-order", 1000, [][]pk{{in(0)}, {in(1)}, {in(2)}, {in(3)}, {in(4)}, {}, {}, {}, {}},
			[]int{-1, -1, -1, 0, 1, 2, 3, 4, -1},
			func(s Stats) bool {
				return s.Received == 5 && s.Lost == 0 && s.ConcealedSamples == 0 && s.UnderrunSamples == FrameSamples && s.Late == 0
			}},
		{"reordered", 1000, [][]pk{{in(0)}, {in(2)}, {in(1)}, {in(4), in(3)}, {}, {}, {}, {}},
			[]int{-1, -1, -1, 0, 1, 2, 3, 4},
			func(s Stats) bool { return s.Reordered == 2 && s.Lost == 0 && s.ConcealedSamples == 0 }},
		{"lost", 1000, [][]pk{{in(0)}, {in(1)}, {}, {in(3)}, {in(4)}, {}, {}, {}},
			[]int{-1, -1, -1, 0, 1, -1, 3, 4},
			func(s Stats) bool { return s.Lost == 1 && s.ConcealedSamples == FrameSamples && s.Received == 4 }},
		{"duplicates", 1000, [][]pk{{in(0)}, {in(1), in(1)}, {in(2), in(0)}, {in(3)}, {}, {}, {}},
			[]int{-1, -1, -1, 0, 1, 2, 3},
			func(s Stats) bool { return s.Duplicates == 2 && s.Lost == 0 && s.Received == 6 }},
		{"late", 1000, [][]pk{{in(0)}, {in(1)}, {}, {in(3)}, {}, {}, {in(2)}, {}},
			[]int{-1, -1, -1, 0, 1, -1, 3, -1},
			func(s Stats) bool { return s.Late == 1 && s.Lost == 0 && s.ConcealedSamples == FrameSamples }},
		{"wrap", 0xFFFFFFFF - 2*FrameSamples + 5, [][]pk{{wrap(0)}, {wrap(1)}, {wrap(2)}, {wrap(4)}, {wrap(3)}, {}, {}, {}},
			[]int{-1, -1, -1, 0, 1, 2, 3, 4},
			func(s Stats) bool {
				return s.Lost == 0 && s.Reordered == 1 && s.Resyncs == 0 && s.ConcealedSamples == 0
			}},
		// A new SSRC restarts playout on the new stream, with its own delay.
		{"ssrc-change", 1000, [][]pk{{in(0)}, {in(1)}, {b(0)}, {b(1)}, {b(2)}, {}, {}, {}},
			[]int{-1, -1, -1, -1, -1, 20, 21, 22},
			func(s Stats) bool { return s.SSRCChanges == 1 && s.Lost == 0 && s.Resyncs == 0 }},
		// Events and comfort noise use sequence numbers without being
		// audio: no loss; other payload types and junk are dropped.
		{"events", 1000, [][]pk{{in(0)}, {{seq: 101, frame: 1, pt: 101}}, {in(2), {seq: 103, frame: 3, pt: PayloadComfortNoise}}, {{seq: 104, frame: 4, pt: 96, id: 9}, {raw: []byte{0x80, 1, 2}}, {raw: []byte{0x40, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}}}, {}, {}, {}},
			[]int{-1, -1, -1, 0, -1, 2, -1},
			func(s Stats) bool {
				return s.Events == 1 && s.ComfortNoise == 1 && s.UnknownPayload == 1 && s.Malformed == 2 && s.Lost == 0 && s.Received == 2
			}},
		// The far end's timestamps jump (same SSRC): the buffer re-anchors.
		{"ts-jump", 1000, [][]pk{{in(0)}, {in(1)}, {{seq: 102, frame: 90000, id: 5}}, {{seq: 103, frame: 90001, id: 6}}, {}, {}, {}, {}},
			[]int{-1, -1, -1, -1, -1, 5, 6, -1},
			func(s Stats) bool { return s.Resyncs == 1 && s.Lost == 0 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			jb, err := NewJitterBuffer(Config{})
			if err != nil {
				t.Fatal(err)
			}
			frame := make([]int16, FrameSamples)
			for i, step := range tc.steps {
				at := time.Duration(i) * FrameDuration
				for _, p := range step {
					jb.Push(p.bytes(tc.tsBase), at)
				}
				jb.Pull(frame, at+FrameDuration-time.Millisecond)
				if got := frameID(frame); got != tc.want[i] {
					t.Errorf("pull %d: heard %d, want %d", i, got, tc.want[i])
				}
			}
			if st := jb.Stats(); !tc.check(st) {
				t.Errorf("stats %+v", st)
			}
		})
	}
}

func TestConfig(t *testing.T) {
	for _, c := range []Config{
		{PayloadType: 9},
		{JitterDelay: -time.Millisecond},
		{JitterDelay: 100 * time.Millisecond, MaxJitterDelay: 120 * time.Millisecond},
		{EventPayloadType: 8, PayloadType: 8},
	} {
		if _, err := NewJitterBuffer(c); err == nil {
			t.Errorf("%+v accepted", c)
		}
	}
	if _, err := NewJitterBuffer(Config{PayloadType: 8, JitterDelay: 40 * time.Millisecond}); err != nil {
		t.Error(err)
	}
}
