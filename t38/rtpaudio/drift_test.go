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
// be traced back to the sent ones.
var driftCodes, driftIndex = func() ([]byte, map[int16]int) {
	var codes []byte
	idx := map[int16]int{}
	for c := range 256 {
		v := g711.ULawDecode(byte(c))
		if _, dup := idx[v]; dup || v == 0 {
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
// four in any second, and an exact clock needs none.
func TestDrift(t *testing.T) {
	const dur = 10 * time.Minute
	// Jitter beyond the 20 ms packet interval also reorders packets.
	const jitter = 30 * time.Millisecond
	for _, ppm := range []float64{200, -200, 0} {
		t.Run(map[float64]string{200: "fast", -200: "slow", 0: "exact"}[ppm], func(t *testing.T) {
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
					if s == 0 && prev < 0 {
						continue // the delay before the first packet
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
							t.Fatalf("pull %d: sample %d follows %d", j, i, prev)
						}
					}
					prev = i
				}
			}
			st := jb.Stats()
			if st.UnderrunSamples != 0 || st.ConcealedSamples != 0 || st.Late != 0 || st.Resyncs != 0 || st.Lost != 0 || st.Reordered == 0 {
				t.Fatalf("stats %+v", st)
			}
			if int64(drops+inserts) != st.DriftCorrections {
				t.Errorf("%d drops and %d inserts seen, %d corrections counted", drops, inserts, st.DriftCorrections)
			}
			want := int(ppm * 1e-6 * SampleRate * dur.Seconds()) // samples to drop (+) or insert (-)
			got := drops - inserts
			t.Logf("ppm %v: %d dropped, %d inserted (drift %d samples); %+v", ppm, drops, inserts, want, st)
			if ppm == 0 && st.DriftCorrections != 0 {
				t.Errorf("%d corrections with exact clocks", st.DriftCorrections)
			}
			// The buffer's fill may end up to a window's drift plus the
			// threshold away from where it started.
			if d := got - want; d > 30 || d < -30 {
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
