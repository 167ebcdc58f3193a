package interop

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// referenceDoc is the document the benchmarks send: 3 fine pages of mixed
// content (text, graphics, a form), seed 1.
var referenceDoc = TIFFOptions{Pages: 3, Seed: 1}

// BenchmarkWireTime measures the wire time (start to phase E at the sender)
// of the reference 3-page document, spandsp sending to spandsp in real time
// over loopback UDP, T.38 v0, redundancy 3.
func BenchmarkWireTime(b *testing.B) {
	bin := BuildPeer(b)
	ctx := context.Background()
	in := filepath.Join(b.TempDir(), "ref.tif")
	if err := MakeTestTIFF(ctx, bin, in, referenceDoc); err != nil {
		b.Fatal(err)
	}
	for _, ecm := range []bool{true, false} {
		name := map[bool]string{true: "ECM", false: "nonECM"}[ecm]
		b.Run("spandsp-to-spandsp/"+name, func(b *testing.B) {
			var wire time.Duration
			n := 0
			for b.Loop() {
				out := filepath.Join(b.TempDir(), "out.tif")
				base := PeerOptions{ECM: ecm, Redundancy: 3, Timeout: 3 * time.Minute}
				snd, rcv := base, base
				snd.Send, snd.Caller = in, true
				rcv.Receive = out
				rs, _, err := RunPair(ctx, bin, snd, rcv)
				if err != nil {
					b.Fatal(err)
				}
				wire += rs.CallTime()
				n++
			}
			b.ReportMetric(wire.Seconds()/float64(n), "wire-s/fax")
		})
	}
}

// BenchmarkCPUPerFaxMinute runs concurrent real-time spandsp-to-spandsp
// calls (1-page document, ECM, redundancy 3) and reports the CPU the peers
// used per minute of call time of one terminal.
func BenchmarkCPUPerFaxMinute(b *testing.B) {
	bin := BuildPeer(b)
	ctx := context.Background()
	in := filepath.Join(b.TempDir(), "one.tif")
	if err := MakeTestTIFF(ctx, bin, in, TIFFOptions{Pages: 1, Seed: 1}); err != nil {
		b.Fatal(err)
	}
	for _, calls := range []int{1, 8} {
		b.Run(fmt.Sprintf("spandsp/calls=%d", calls), func(b *testing.B) {
			var cpu, call time.Duration
			for b.Loop() {
				dir := b.TempDir()
				var (
					mu   sync.Mutex
					wg   sync.WaitGroup
					errs []error
				)
				for i := range calls {
					wg.Add(1)
					go func() {
						defer wg.Done()
						base := PeerOptions{ECM: true, Redundancy: 3, Timeout: 3 * time.Minute}
						snd, rcv := base, base
						snd.Send, snd.Caller = in, true
						rcv.Receive = filepath.Join(dir, fmt.Sprintf("out%d.tif", i))
						rs, rr, err := RunPair(ctx, bin, snd, rcv)
						mu.Lock()
						defer mu.Unlock()
						if err != nil {
							errs = append(errs, err)
							return
						}
						cpu += rs.CPU() + rr.CPU()
						call += rs.CallTime() + rr.CallTime()
					}()
				}
				wg.Wait()
				if len(errs) > 0 {
					b.Fatal(errs[0])
				}
			}
			b.ReportMetric(cpu.Seconds()/call.Minutes(), "cpu-s/fax-min")
		})
	}
}
