package e2e

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/faxd/faxd/internal/channel"
	"github.com/faxd/faxd/internal/config"
	"github.com/faxd/faxd/queue"
	"github.com/faxd/faxd/t38/interop"
)

// BenchmarkChannels measures how many simultaneous real-time faxes one faxd
// node carries with every one completing: N one-page standard-resolution
// faxes are queued at once on a node with N outbound (and N inbound)
// channels, and every job must end sent with its page confirmed.
//
//   - self/N: the node faxes itself (gateway "self"): each fax is an
//     outbound and an inbound channel of the same process, 2N channels.
//   - spandsp/N: the node sends to one spandsp endpoint (sipp with N
//     t38peer processes); spandsp's CPU per call is reported beside ours.
//
// Reported per level: cpu-ms/call (this process's user+system CPU over the
// level, divided by the faxes: for self both ends of each fax), peer-cpu-ms/call
// (t38peer's own), heap-KB/channel and rss-KB/channel (peak over the level
// minus the idle node, divided by the channels), peak-busy (most outbound
// channels busy at once) and s/fax-wall (the level's wall time).
func BenchmarkChannels(b *testing.B) {
	levels := []int{50, 100, 200, 500}
	if s := os.Getenv("FAXD_BENCH_CHANNELS"); s != "" { // e.g. "50,100" for a quick look
		levels = nil
		for _, f := range strings.Split(s, ",") {
			if n, err := strconv.Atoi(strings.TrimSpace(f)); err == nil {
				levels = append(levels, n)
			}
		}
	}
	for _, mode := range []string{"self", "spandsp"} {
		for _, n := range levels {
			b.Run(fmt.Sprintf("%s/%d", mode, n), func(b *testing.B) {
				for range b.N {
					benchLevel(b, mode, n)
				}
			})
		}
	}
}

func benchLevel(b *testing.B, mode string, n int) {
	interop.NeedTool(b, "sipp", "sip-tester")
	peer := interop.BuildPeer(b)
	doc := benchDocument(b, peer)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var ep *Endpoint
	var gws []gw
	if mode == "spandsp" {
		ep = Listen(b, Options{Calls: n, Timeout: 4 * time.Minute, HangupGrace: 10 * time.Second})
		gws = []gw{{name: "spandsp", addr: ep.Addr()}}
	}
	ports := 4*n + 40
	base := int(mediaPorts.Add(int32(ports))) - ports
	f := startFaxd(b, gws, func(c *config.Config) {
		c.Channels.Count = n
		c.Channel.InboundCount = n
		c.SIP.MediaPortMin, c.SIP.MediaPortMax = base, base+ports-1
		c.SIP.InviteTimeout, c.SIP.RingTimeout = 32*time.Second, 60*time.Second
		c.Database.MaxConns = 50
		c.Channel.MaxCallsPerNumber = 0 // every fax of the level goes to the same number
		if mode == "self" {
			c.Channel.Gateways = []channel.Gateway{{Name: "self", Address: channel.SelfAddress}}
			c.Channel.Routes = []channel.Route{{Prefix: "", Gateway: "self"}}
		}
	})
	// One submission through the API renders and stores the document; the
	// other jobs reuse its prepared pages, so queueing N takes a moment.
	first := f.submit(b, "4930100", doc)
	j, err := f.s.Queue.Get(ctx, first)
	if err != nil {
		b.Fatal(err)
	}
	runtime.GC()
	idle := sampleMem()
	cpu0 := processCPU()
	start := time.Now()
	ids := []int64{first}
	for range n - 1 {
		job, _, err := f.s.Queue.Enqueue(ctx, queue.Request{Destination: "4930100", Document: j.Document, PagesTotal: j.PagesTotal, MaxAttempts: 1})
		if err != nil {
			b.Fatal(err)
		}
		ids = append(ids, job.ID)
	}
	var peak memSample
	var busyPeak atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(500 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
			}
			m := sampleMem()
			peak.heap = max(peak.heap, m.heap)
			peak.rss = max(peak.rss, m.rss)
			var busy int64
			if err := f.s.DB.Queue.QueryRow(ctx, "SELECT count(*) FROM jobs WHERE state = 'sending'").Scan(&busy); err == nil {
				busyPeak.Store(max(busyPeak.Load(), busy))
			}
		}
	}()
	var failed []string
	for _, id := range ids {
		j := f.waitJob(ctx, b, id, "finished", finished)
		if j.State != queue.Sent || j.PagesConfirmed != j.PagesTotal {
			failed = append(failed, fmt.Sprintf("job %d %s %s: %s", id, j.State, j.LastClass, j.LastReason))
		}
	}
	wall := time.Since(start)
	cpu := processCPU() - cpu0
	close(stop)
	wg.Wait()
	var peerCPU time.Duration
	if ep != nil {
		for range n {
			cr, err := ep.Next(ctx)
			if err != nil {
				b.Fatal(err)
			}
			if !cr.Fax.OK() {
				failed = append(failed, fmt.Sprintf("spandsp call %d: %+v %v", cr.Number, cr.Fax, cr.FaxErr))
			}
			peerCPU += cr.Fax.CPU()
		}
	}
	if len(failed) > 0 {
		b.Fatalf("%d of %d faxes did not complete: %s", len(failed), n, strings.Join(failed[:min(len(failed), 10)], "; "))
	}
	channels := n
	if mode == "self" {
		channels = 2 * n
	}
	b.ReportMetric(float64(cpu.Milliseconds())/float64(n), "cpu-ms/call")
	if ep != nil {
		b.ReportMetric(float64(peerCPU.Milliseconds())/float64(n), "peer-cpu-ms/call")
	}
	b.ReportMetric(float64(peak.heap-min(peak.heap, idle.heap))/1024/float64(channels), "heap-KB/channel")
	b.ReportMetric(float64(peak.rss-min(peak.rss, idle.rss))/1024/float64(channels), "rss-KB/channel")
	b.ReportMetric(float64(busyPeak.Load()), "peak-busy")
	b.ReportMetric(wall.Seconds(), "s-wall")
	b.ReportMetric(0, "ns/op") // the wall time is reported as s-wall
}

type memSample struct{ heap, rss uint64 }

// sampleMem reads the Go heap in use and the process's resident set.
func sampleMem() memSample {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	m := memSample{heap: ms.HeapInuse + ms.StackInuse}
	if b, err := os.ReadFile("/proc/self/statm"); err == nil {
		if f := strings.Fields(string(b)); len(f) > 1 {
			pages, _ := strconv.ParseUint(f[1], 10, 64)
			m.rss = pages * uint64(os.Getpagesize())
		}
	}
	return m
}

// processCPU is this process's user+system CPU time.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

var (
	benchDocOnce sync.Once
	benchDocPath string
	benchDocErr  error
)

// benchDocument is a one-page standard-resolution TIFF.
func benchDocument(b testing.TB, peer string) string {
	benchDocOnce.Do(func() {
		dir, err := os.MkdirTemp("", "faxd-e2e-bench-")
		if err != nil {
			benchDocErr = err
			return
		}
		benchDocPath = dir + "/page.tif"
		benchDocErr = interop.MakeTestTIFF(context.Background(), peer, benchDocPath, interop.TIFFOptions{Pages: 1, Standard: true, Seed: 9})
	})
	if benchDocErr != nil {
		b.Fatal(benchDocErr)
	}
	return benchDocPath
}
