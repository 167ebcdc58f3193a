package interop

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/faxd/faxd/t38/t30"
)

// referenceDoc is the document the wire-time benchmark sends: 3 fine pages
// of mixed content (text, graphics, a form), seed 1.
var referenceDoc = TIFFOptions{Pages: 3, Seed: 1}

// BenchmarkWireTime measures the wire time (start to the end of the call at
// the sender) of the reference 3-page document received by spandsp, sent
// once by spandsp and once by our stack, both calls at the same time, in
// real time over loopback UDP (T.38 v0, redundancy 3). ours/spandsp is the
// ratio; the target is at most 1.0.
func BenchmarkWireTime(b *testing.B) {
	bin := BuildPeer(b)
	ctx := context.Background()
	in := filepath.Join(b.TempDir(), "ref.tif")
	if err := MakeTestTIFF(ctx, bin, in, referenceDoc); err != nil {
		b.Fatal(err)
	}
	for _, ecm := range []bool{true, false} {
		b.Run(map[bool]string{true: "ECM", false: "nonECM"}[ecm], func(b *testing.B) {
			var sp, us time.Duration
			n := 0
			for b.Loop() {
				dir := b.TempDir()
				var (
					wg         sync.WaitGroup
					rs         Result
					or         ourResult
					errS, errU error
				)
				wg.Add(2)
				go func() {
					defer wg.Done()
					base := PeerOptions{ECM: ecm, Redundancy: 3, Timeout: 3 * time.Minute}
					snd, rcv := base, base
					snd.Send, snd.Caller = in, true
					rcv.Receive = filepath.Join(dir, "sp.tif")
					rs, _, errS = RunPair(ctx, bin, snd, rcv)
				}()
				go func() {
					defer wg.Done()
					or, _, errU = callOurs(ctx, bin, usToSpandsp, in, filepath.Join(dir, "us.tif"),
						PeerOptions{ECM: ecm, Redundancy: 3, Timeout: 3 * time.Minute},
						ourOptions{ECM: ecm, Redundancy: 3, Ident: "FAXD"})
					if errU == nil && !or.Result.OK() {
						errU = or.Result
					}
				}()
				wg.Wait()
				if err := errors.Join(errS, errU); err != nil {
					b.Fatal(err)
				}
				sp += rs.CallTime()
				us += or.Call
				n++
			}
			b.ReportMetric(sp.Seconds()/float64(n), "spandsp-wire-s")
			b.ReportMetric(us.Seconds()/float64(n), "ours-wire-s")
			b.ReportMetric(us.Seconds()/sp.Seconds(), "ours/spandsp")
		})
	}
}

// BenchmarkCPUPerFaxMinute runs 2N concurrent real-time calls between our
// stack and spandsp, N in each direction (1-page document, ECM, redundancy
// 3), so each side hosts N senders and N receivers. It reports the CPU each
// side used per minute of call time of one terminal: for spandsp from the
// peers' rusage, for ours from this process's rusage over the run (an upper
// bound: it includes the test harness and the peers' exec plumbing).
func BenchmarkCPUPerFaxMinute(b *testing.B) {
	bin := BuildPeer(b)
	ctx := context.Background()
	in := filepath.Join(b.TempDir(), "one.tif")
	if err := MakeTestTIFF(ctx, bin, in, TIFFOptions{Pages: 1, Seed: 1}); err != nil {
		b.Fatal(err)
	}
	for _, n := range []int{1, 4} {
		b.Run(fmt.Sprintf("calls=%d", 2*n), func(b *testing.B) {
			var spCPU, spCall, usCPU, usCall time.Duration
			for b.Loop() {
				dir := b.TempDir()
				var (
					mu   sync.Mutex
					wg   sync.WaitGroup
					errs []error
				)
				cpu0 := processCPU()
				for i := range 2 * n {
					wg.Add(1)
					go func() {
						defer wg.Done()
						d := direction(i % 2)
						or, pr, err := callOurs(ctx, bin, d, in, filepath.Join(dir, fmt.Sprintf("out%d.tif", i)),
							PeerOptions{ECM: true, Redundancy: 3, Timeout: 3 * time.Minute},
							ourOptions{ECM: true, Redundancy: 3, Codings: t30.AllCodings, Ident: "FAXD"})
						if err == nil && !or.Result.OK() {
							err = or.Result
						}
						mu.Lock()
						defer mu.Unlock()
						if err != nil {
							errs = append(errs, err)
							return
						}
						spCPU += pr.CPU()
						spCall += pr.CallTime()
						usCall += or.Call
					}()
				}
				wg.Wait()
				usCPU += processCPU() - cpu0
				if len(errs) > 0 {
					b.Fatal(errs[0])
				}
			}
			sp := spCPU.Seconds() / spCall.Minutes()
			us := usCPU.Seconds() / usCall.Minutes()
			b.ReportMetric(sp, "spandsp-cpu-s/fax-min")
			b.ReportMetric(us, "ours-cpu-s/fax-min")
			b.ReportMetric(us/sp, "ours/spandsp")
		})
	}
}
