package rtpaudio

import (
	"context"
	"net"
	"os"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/faxd/faxd/t38/audio"
	"github.com/faxd/faxd/t38/t30"
)

// processCPU is the CPU time (user + system) of the whole test process.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkConcurrentChannels runs N audio fax calls at once, ours to
// ours, each over its own pair of loopback RTP sockets in real time (one
// page, V.17 14400, default jitter buffer), and reports how many completed
// with the page received and the process CPU per call (both terminals,
// their RTP loops and the runtime). N is RTPAUDIO_CHANNELS (default 200).
//
//	RTPAUDIO_CHANNELS=200 go test -run '^$' -bench ConcurrentChannels -benchtime 1x ./t38/rtpaudio/
func BenchmarkConcurrentChannels(b *testing.B) {
	n := 200
	if v := os.Getenv("RTPAUDIO_CHANNELS"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 1 {
			b.Fatalf("RTPAUDIO_CHANNELS=%q", v)
		}
	}
	pages := testPages(1, 120)
	for range b.N {
		type call struct {
			tx, rx   *audio.Terminal
			got      *ourTerm
			ctx, crx *net.UDPConn
		}
		calls := make([]*call, n)
		for i := range calls {
			tx, err := audio.New(audio.Config{T30: t30.Config{Calling: true, Transmit: true, Pages: t30.ImagePages(pages)}})
			if err != nil {
				b.Fatal(err)
			}
			rx, err := audio.New(audio.Config{T30: t30.Config{Decoder: t30.T4Decoder{}}})
			if err != nil {
				b.Fatal(err)
			}
			a, c := udpPair(b)
			calls[i] = &call{tx: tx, rx: rx, got: &ourTerm{Terminal: rx}, ctx: a, crx: c}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		var wg sync.WaitGroup
		var mu sync.Mutex
		var audioTime time.Duration
		var late, concealed int64
		cpu0 := processCPU()
		start := time.Now()
		for _, c := range calls {
			wg.Add(2)
			go func() {
				defer wg.Done()
				st, _ := Run(ctx, c.ctx, c.crx.LocalAddr().(*net.UDPAddr), c.tx, Config{})
				mu.Lock()
				audioTime += c.tx.Now()
				late += st.Late
				concealed += st.ConcealedSamples + st.UnderrunSamples
				mu.Unlock()
			}()
			go func() {
				defer wg.Done()
				st, _ := Run(ctx, c.crx, c.ctx.LocalAddr().(*net.UDPAddr), c.got, Config{})
				mu.Lock()
				audioTime += c.rx.Now()
				late += st.Late
				mu.Unlock()
			}()
		}
		wg.Wait()
		cancel()
		wall := time.Since(start)
		cpu := processCPU() - cpu0
		ok := 0
		for _, c := range calls {
			if r := c.tx.Result(); r != nil && r.OK() && len(c.got.got) == 1 && c.got.got[0].Image != nil && c.got.got[0].Image.Equal(pages[0]) {
				ok++
			}
		}
		b.ReportMetric(float64(ok), "completed")
		b.ReportMetric(float64(n), "calls")
		b.ReportMetric(float64(cpu.Milliseconds())/float64(n), "cpu-ms/call")
		b.ReportMetric(float64(cpu.Milliseconds())/(audioTime.Minutes()/2), "cpu-ms/audio-min/call")
		b.Logf("%d of %d calls completed in %v wall; process CPU %v (%.2f cores); late packets %d, samples concealed %d", ok, n, wall.Round(time.Millisecond), cpu.Round(time.Millisecond), cpu.Seconds()/wall.Seconds(), late, concealed)
	}
}
