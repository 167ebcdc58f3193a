package rtpaudio

import (
	"net"
	"testing"
	"time"
)

func TestGeneratorCadenceAndDetector(t *testing.T) {
	g := NewGenerator(CNG)
	on, off := &Detector{Freq: 1100}, &Detector{Freq: 2100}
	pcm := make([]int16, FrameSamples)
	nonSilent := 0
	for i := 0; i < 175; i++ { // 3.5 s: one full cycle
		g.Frame(pcm)
		if pcm[41] != 0 || pcm[83] != 0 {
			nonSilent++
		}
		on.Feed(pcm)
		off.Feed(pcm)
	}
	if nonSilent != 25 {
		t.Fatalf("CNG sounded for %d frames per 3.5 s cycle, want 25 (0.5 s)", nonSilent)
	}
	if !on.Heard() || on.Frames() != 25 {
		t.Fatalf("1100 Hz detector: heard=%v frames=%d, want 25 frames", on.Heard(), on.Frames())
	}
	if off.Heard() || off.Frames() != 0 {
		t.Fatalf("2100 Hz detector fired on CNG (%d frames)", off.Frames())
	}
}

func TestCEDPlaysOnce(t *testing.T) {
	g := NewGenerator(CED)
	d := &Detector{Freq: 2100}
	pcm := make([]int16, FrameSamples)
	for i := 0; i < 400; i++ { // 8 s
		g.Frame(pcm)
		d.Feed(pcm)
	}
	if d.Frames() != 150 {
		t.Fatalf("CED lasted %d frames, want 150 (3 s)", d.Frames())
	}
}

func TestStreamOverLoopback(t *testing.T) {
	t.Parallel()
	a, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	for _, c := range []Codec{PCMU, PCMA} {
		caller := Start(a, b.LocalAddr().(*net.UDPAddr), c, CNG, 2100)
		answerer := Start(b, a.LocalAddr().(*net.UDPAddr), c, CED, 1100)
		deadline := time.Now().Add(5 * time.Second)
		for !(answerer.Heard(1100) && caller.Heard(2100)) && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		caller.Stop()
		answerer.Stop()
		caller.Stop()
		if !answerer.Heard(1100) {
			t.Errorf("%s: answerer did not hear CNG", c.Name)
		}
		if !caller.Heard(2100) {
			t.Errorf("%s: caller did not hear CED", c.Name)
		}
		if answerer.Heard(2100) {
			t.Errorf("%s: answerer reports a frequency it was not listening for", c.Name)
		}
		sent, _ := caller.Counts()
		_, recv := answerer.Counts()
		if sent == 0 || recv == 0 {
			t.Errorf("%s: sent %d received %d", c.Name, sent, recv)
		}
	}
}

func BenchmarkEncodeFrame(b *testing.B) {
	g := NewGenerator(CNG)
	pcm := make([]int16, FrameSamples)
	g.Frame(pcm)
	out := make([]byte, 0, FrameSamples)
	b.ReportAllocs()
	for b.Loop() {
		out = PCMU.Encode(out[:0], pcm)
	}
}
