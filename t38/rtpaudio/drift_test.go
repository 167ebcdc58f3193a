package rtpaudio

import (
	"math/rand/v2"
	"sort"
	"testing"
	"time"

	"github.com/faxd/faxd/t38/g711"
	"github.com/pion/rtp"
)

// driftCodes are mu-law codes with distinct sample values; sample k of the
// simulated stream carries driftCodes[k%len], so the samples played can
// be traced back to the sent ones. Values a quiet frame could hold are
// left out: the stream is a signal, or (in pauses) silence.
var driftCodes, driftIndex = func() ([]byte, map[int16]int) {
	var codes []byte
	idx := map[int16]int{}
	for c := range 256 {
		v := g711.ULawDecode(byte(c))
		if _, dup := idx[v]; dup || (v <= quietPeak && v >= -quietPeak) {
			continue
		}
		idx[v] = len(codes)
		codes = append(codes, byte(c))
	}
	return codes, idx
}()

// TestDrift plays 10 minutes of a far end whose clock runs 200 ppm fast or
// slow (or exact), with packets delayed by up to 30 ms at random (so they
// also arrive out of order), on a fake clock. The buffer must never run
// dry nor drop a late packet nor re-anchor, every sample played must be
// the one after the last, skipping or repeating single samples only, the
// corrections must follow the drift (about 1.6 samples a second) at most
// four in any second, and an exact clock needs none. With a pause of
// 100 ms every 3 s (as between T.30 signals) every correction falls in a
// pause, none inside the signal.
func TestDrift(t *testing.T) {
	const dur = 10 * time.Minute
	// Jitter beyond the 20 ms packet interval also reorders packets.
	const jitter = 30 * time.Millisecond
	for _, tc := range []struct {
		name   string
		ppm    float64
		pauses bool // 100 ms of silence every 3 s
	}{{"fast", 200, false}, {"slow", -200, false}, {"exact", 0, false}, {"fast-pauses", 200, true}, {"slow-pauses", -200, true}} {
		ppm := tc.ppm
		t.Run(tc.name, func(t *testing.T) {
			jb, err := NewJitterBuffer(Config{})
			if err != nil {
				t.Fatal(err)
			}
			rng := rand.New(rand.NewPCG(uint64(ppm+1000), 3))
			type arrival struct {
				at time.Duration
				k  int
			}
			var arr []arrival
			period := float64(FrameDuration) / (1 + ppm*1e-6)
			for k := 0; ; k++ {
				sent := time.Duration(float64(k) * period)
				if sent > dur+time.Second {
					break
				}
				arr = append(arr, arrival{sent + time.Duration(rng.Int64N(int64(jitter))), k})
			}
			sort.Slice(arr, func(i, j int) bool { return arr[i].at < arr[j].at })
			mk := func(k int) []byte {
				payload := make([]byte, FrameSamples)
				for i := range payload {
					payload[i] = driftCodes[(k*FrameSamples+i)%len(driftCodes)]
					if tc.pauses && k%150 >= 145 {
						payload[i] = 0xFF // mu-law zero
					}
				}
				b, _ := (&rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: uint16(60000 + k),
					Timestamp: uint32(4_294_000_000 + k*FrameSamples), SSRC: 9}, Payload: payload}).Marshal()
				return b
			}
			frame := make([]int16, FrameSamples)
			prev := -1
			var drops, inserts int
			var corrAt []time.Duration
			ai := 0
			for j := 0; time.Duration(j)*FrameDuration < dur; j++ {
				now := time.Duration(j) * FrameDuration
				for ai < len(arr) && arr[ai].at <= now {
					jb.Push(mk(arr[ai].k), arr[ai].at)
					ai++
				}
				before := jb.Stats().DriftCorrections
				jb.Pull(frame, now)
				if jb.Stats().DriftCorrections != before {
					corrAt = append(corrAt, now)
				}
				for _, s := range frame {
					if s == 0 {
						prev = -1 // the delay before the first packet, or a pause
						continue
					}
					i, ok := driftIndex[s]
					if !ok {
						t.Fatalf("pull %d: sample %d is not from the stream", j, s)
					}
					if prev >= 0 {
						switch (i - prev + len(driftCodes)) % len(driftCodes) {
						case 1:
						case 2:
							drops++
						case 0:
							inserts++
						default:
							t.Fatalf("pull %d: sample %d follows %d (frame %v, stats %+v)", j, i, prev, frame, jb.Stats())
						}
					}
					prev = i
				}
			}
			st := jb.Stats()
			if st.UnderrunSamples != 0 || st.ConcealedSamples != 0 || st.Late != 0 || st.Resyncs != 0 || st.Lost != 0 || st.Reordered == 0 {
				t.Fatalf("stats %+v", st)
			}
			if tc.pauses {
				// Every correction fell in a pause, none inside a signal.
				if drops+inserts != 0 {
					t.Errorf("%d drops and %d inserts inside the signal", drops, inserts)
				}
				drops, inserts = int(st.DriftCorrections), 0
				if ppm < 0 {
					drops, inserts = 0, int(st.DriftCorrections)
				}
			} else if int64(drops+inserts) != st.DriftCorrections {
				t.Errorf("%d drops and %d inserts seen, %d corrections counted", drops, inserts, st.DriftCorrections)
			}
			want := int(ppm * 1e-6 * SampleRate * dur.Seconds()) // samples to drop (+) or insert (-)
			got := drops - inserts
			t.Logf("ppm %v: %d dropped, %d inserted (drift %d samples); %+v", ppm, drops, inserts, want, st)
			if ppm == 0 && st.DriftCorrections != 0 {
				t.Errorf("%d corrections with exact clocks", st.DriftCorrections)
			}
			// Inside a signal the buffer's fill may move up to 10 ms (80
			// samples) plus a window's drift before it is corrected.
			if d := got - want; d > 100 || d < -100 {
				t.Errorf("net correction %d samples, drift %d", got, want)
			}
			for i := range corrAt {
				if i+4 < len(corrAt) && corrAt[i+4]-corrAt[i] < time.Second {
					t.Fatalf("five corrections within %v at %v", corrAt[i+4]-corrAt[i], corrAt[i])
				}
			}
		})
	}
}
