package render

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/faxd/faxd/t38/t4"
)

// textPS is a PostScript program of n A4 pages of dense Courier text, the
// typical business fax.
func textPS(n int) []byte {
	var b strings.Builder
	b.WriteString("%!PS-Adobe-3.0\n<< /PageSize [595 842] >> setpagedevice\n/Courier findfont 10 scalefont setfont\n")
	for p := 1; p <= n; p++ {
		for l := 0; l < 64; l++ {
			fmt.Fprintf(&b, "50 %d moveto (Page %02d line %02d: The quick brown fox jumps over the lazy dog 0123456789.) show\n", 790-l*11, p, l)
		}
		b.WriteString("showpage\n")
	}
	return []byte(b.String())
}

// BenchmarkPDFRender renders a 10-page text PDF end to end with
// render.Bytes (sandboxed Ghostscript to PBM and our page assembly) and,
// in the same loop, with bare Ghostscript to tiffg4 at the same geometry.
// It reports both rates and the overhead of ours over bare Ghostscript,
// for rendering alone and for rendering plus T.6 coding of every page
// (which is the work tiffg4 includes).
func BenchmarkPDFRender(b *testing.B) {
	needGhostscript(b)
	const pages = 10
	pdf := pdfFrom(b, textPS(pages))
	dir := b.TempDir()
	in := filepath.Join(dir, "doc.pdf")
	if err := os.WriteFile(in, pdf, 0o600); err != nil {
		b.Fatal(err)
	}
	lines := PageLines(A4, Fine)
	gsArgs := []string{"-q", "-dSAFER", "-dBATCH", "-dNOPAUSE", "-sDEVICE=tiffg4", "-r204x196",
		fmt.Sprintf("-g%dx%d", PageWidth, lines), "-dFIXEDMEDIA", "-dPDFFitPage",
		"-sOutputFile=" + filepath.Join(dir, "out.tif"), in}
	opt := Options{Resolution: Fine}

	// Wall time suffers from whatever else runs on the machine, so CPU time
	// (ours plus the waited-for children) is reported as well.
	var ours, bare time.Duration
	var oursCPU, bareCPU time.Duration
	var oursMMR, oursMMRCPU time.Duration
	b.ResetTimer()
	for b.Loop() {
		self0, kids0 := cpuTimes()
		t0 := time.Now()
		got, err := Bytes(context.Background(), pdf, "application/pdf", opt)
		if err != nil {
			b.Fatal(err)
		}
		if len(got) != pages {
			b.Fatalf("%d pages", len(got))
		}
		tr := time.Now()
		selfR, kidsR := cpuTimes()
		// What tiffg4 also does: code every page as T.6.
		for _, pg := range got {
			if _, err := t4.Encode(pg, t4.EncodeOptions{Coding: t4.MMR}); err != nil {
				b.Fatal(err)
			}
		}
		t1 := time.Now()
		self1, kids1 := cpuTimes()
		if out, err := exec.Command("gs", gsArgs...).CombinedOutput(); err != nil {
			b.Fatalf("gs tiffg4: %v %s", err, out)
		}
		ours += tr.Sub(t0)
		oursMMR += t1.Sub(t0)
		bare += time.Since(t1)
		self2, kids2 := cpuTimes()
		oursCPU += selfR - self0 + kidsR - kids0
		oursMMRCPU += self1 - self0 + kids1 - kids0
		bareCPU += self2 - self1 + kids2 - kids1
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N*pages)/ours.Seconds(), "faxd-pages/s")
	b.ReportMetric(float64(b.N*pages)/bare.Seconds(), "gs-tiffg4-pages/s")
	b.ReportMetric(100*(ours.Seconds()/bare.Seconds()-1), "overhead-%")
	b.ReportMetric(float64(b.N*pages)/oursCPU.Seconds(), "faxd-pages/cpu-s")
	b.ReportMetric(float64(b.N*pages)/bareCPU.Seconds(), "gs-tiffg4-pages/cpu-s")
	b.ReportMetric(100*(oursCPU.Seconds()/bareCPU.Seconds()-1), "cpu-overhead-%")
	b.ReportMetric(float64(b.N*pages)/oursMMRCPU.Seconds(), "faxd+mmr-pages/cpu-s")
	b.ReportMetric(100*(oursMMRCPU.Seconds()/bareCPU.Seconds()-1), "mmr-cpu-overhead-%")
	b.ReportMetric(100*(oursMMR.Seconds()/bare.Seconds()-1), "mmr-overhead-%")
}

// cpuTimes returns the user+system CPU time of this process and of its
// waited-for children so far.
func cpuTimes() (self, children time.Duration) {
	var s, c syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &s)
	syscall.Getrusage(syscall.RUSAGE_CHILDREN, &c)
	tv := func(r *syscall.Rusage) time.Duration {
		return time.Duration(r.Utime.Nano() + r.Stime.Nano())
	}
	return tv(&s), tv(&c)
}

// BenchmarkText renders 10 pages of plain text with the bundled font.
func BenchmarkText(b *testing.B) {
	var s strings.Builder
	for i := 0; i < 600; i++ {
		fmt.Fprintf(&s, "%04d The quick brown fox jumps over the lazy dog.\tTabbed 0123456789\n", i)
	}
	data := []byte(s.String())
	n := 0
	for b.Loop() {
		pages, err := Bytes(context.Background(), data, "text/plain", Options{Resolution: Fine})
		if err != nil {
			b.Fatal(err)
		}
		n += len(pages)
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "pages/s")
}

// BenchmarkPhoto renders a 1600x1200 photograph-like JPEG (dithered).
func BenchmarkPhoto(b *testing.B) {
	data := encodeAs(b, KindJPEG, gradient(1600, 1200))
	for b.Loop() {
		if _, err := Bytes(context.Background(), data, "image/jpeg", Options{Resolution: Fine}); err != nil {
			b.Fatal(err)
		}
	}
}
