package interop

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/faxd/faxd/t38/bilevel"
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
// side used per minute of call time of one terminal, measured the same way
// for both: spandsp's from each peer process's rusage, ours from the rusage
// of a helper process (this test binary re-executed) that runs our 2N
// terminals and nothing else. Both include process start-up and document
// I/O; neither includes the harness. Set FAXD_T38_OURS_CPUPROFILE=path for
// the helper's CPU profile (path.calls=N).
func BenchmarkCPUPerFaxMinute(b *testing.B) {
	bin := BuildPeer(b)
	NeedTool(b, "tiffcmp", "libtiff-tools")
	ctx := context.Background()
	src := b.TempDir()
	in := filepath.Join(src, "one.tif")
	if err := MakeTestTIFF(ctx, bin, in, TIFFOptions{Pages: 1, Seed: 1}); err != nil {
		b.Fatal(err)
	}
	pages, err := TIFFToPages(ctx, bin, in)
	if err != nil {
		b.Fatal(err)
	}
	var pbms []string
	for i, m := range pages {
		name := filepath.Join(src, fmt.Sprintf("one-%03d.pbm", i))
		if err := writePBMFile(name, m); err != nil {
			b.Fatal(err)
		}
		pbms = append(pbms, name)
	}
	profile := os.Getenv("FAXD_T38_OURS_CPUPROFILE")
	for _, n := range []int{1, 4} {
		b.Run(fmt.Sprintf("calls=%d", 2*n), func(b *testing.B) {
			var tot cpuTotals
			prof := ""
			if profile != "" {
				prof = fmt.Sprintf("%s.calls=%d", profile, 2*n)
			}
			for b.Loop() {
				t, err := cpuCalls(ctx, bin, b.TempDir(), in, pbms, pages, n, prof)
				if err != nil {
					b.Fatal(err)
				}
				tot.add(t)
			}
			sp := tot.spCPU.Seconds() / tot.spCall.Minutes()
			us := tot.usCPU.Seconds() / tot.usCall.Minutes()
			b.ReportMetric(sp, "spandsp-cpu-s/fax-min")
			b.ReportMetric(us, "ours-cpu-s/fax-min")
			b.ReportMetric(us/sp, "ours/spandsp")
		})
	}
}

// cpuTotals sums CPU and call time per side.
type cpuTotals struct{ spCPU, spCall, usCPU, usCall time.Duration }

func (t *cpuTotals) add(u cpuTotals) {
	t.spCPU += u.spCPU
	t.spCall += u.spCall
	t.usCPU += u.usCPU
	t.usCall += u.usCall
}

// cpuCalls runs one round of BenchmarkCPUPerFaxMinute: n calls each way
// between one helper process (our terminals) and 2n spandsp peers. Every
// call must succeed on both ends with the pages intact.
func cpuCalls(ctx context.Context, bin, dir, in string, pbms []string, pages []*bilevel.Image, n int, prof string) (cpuTotals, error) {
	var tot cpuTotals
	ctx, cancel := context.WithTimeout(ctx, 4*time.Minute)
	defer cancel() // kills whatever is left on an early return
	peerOpts := PeerOptions{ECM: true, Redundancy: 3, Timeout: 3 * time.Minute}
	ours := ourOptions{ECM: true, Redundancy: 3, Codings: t30.AllCodings, Ident: "FAXD"}
	peers := make([]*Peer, 2*n)
	job := helperJob{CPUProfile: prof}
	// Even calls: we send to a spandsp answerer, started first so we know
	// its address. Odd calls: spandsp calls our answering socket.
	for i := range 2 * n {
		c := helperCall{Opts: ours}
		if i%2 == 0 {
			po := peerOpts
			po.Receive = filepath.Join(dir, fmt.Sprintf("sp%d.tif", i))
			p, err := StartPeer(ctx, bin, po)
			if err != nil {
				return tot, err
			}
			peers[i] = p
			c.Remote, c.Pages = p.Addr().String(), pbms
		} else {
			c.Out = filepath.Join(dir, fmt.Sprintf("us%d", i))
		}
		job.Calls = append(job.Calls, c)
	}
	h, err := startOurs(ctx, job)
	if err != nil {
		return tot, err
	}
	remotes := map[int]netip.AddrPort{}
	for i := 1; i < 2*n; i += 2 {
		po := peerOpts
		po.Send, po.Caller, po.Remote = in, true, fmt.Sprintf("127.0.0.1:%d", h.Ports[i])
		if peers[i], err = StartPeer(ctx, bin, po); err != nil {
			return tot, err
		}
		remotes[i] = peers[i].Addr()
	}
	if err := h.Begin(remotes); err != nil {
		return tot, err
	}
	rep, err := h.Wait()
	errs := []error{err}
	for i, p := range peers {
		pr, err := p.Wait()
		if err != nil {
			errs = append(errs, fmt.Errorf("call %d: spandsp: %w", i, err))
			continue
		}
		tot.spCPU += pr.CPU()
		tot.spCall += pr.CallTime()
	}
	tot.usCPU = rep.CPU
	for i, r := range rep.Calls {
		if i%2 == 1 && r.Received != len(pages) {
			r.Err += fmt.Sprintf(" received %d pages, want %d", r.Received, len(pages))
		}
		if !r.OK || r.Err != "" {
			errs = append(errs, fmt.Errorf("call %d: ours: %s %s", i, r.Result, r.Err))
		}
		tot.usCall += r.Call
	}
	if err := errors.Join(errs...); err != nil {
		return tot, err
	}
	// The pages arrived intact both ways (after the measurement: the helper
	// has exited and the peers are done).
	for i := range 2 * n {
		if i%2 == 0 {
			errs = append(errs, CompareTIFF(ctx, in, filepath.Join(dir, fmt.Sprintf("sp%d.tif", i))))
			continue
		}
		for k, want := range pages {
			got, err := readPBMFile(fmt.Sprintf("%s-%03d.pbm", job.Calls[i].Out, k))
			if err == nil && !got.Equal(want) {
				err = fmt.Errorf("call %d: page %d differs", i, k)
			}
			errs = append(errs, err)
		}
	}
	return tot, errors.Join(errs...)
}
