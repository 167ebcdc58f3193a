package render

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/faxd/faxd/t38/bilevel"
)

// ErrForbidden: the document tried something the sandbox refuses (reading
// or writing files, running programs).
var ErrForbidden = errors.New("document tried to access files or programs")

// ghostscript interprets a PDF or PostScript document in a sandboxed
// Ghostscript and reads its pages back as raw PBM from stdout. PBM is the
// bilevel layout byte for byte (1 = black, MSB first, rows byte-aligned),
// so reading it costs a copy and no decoding.
//
// The sandbox: -dSAFER (no file access beyond the input, no %pipe), no
// shell, a private working and temporary directory, an empty environment,
// an address-space and CPU-time limit set by util-linux prlimit before it
// execs gs (the portable way to set rlimits on a child without cgo), its
// own process group killed as a whole when the time limit expires, and a
// page limit both in Ghostscript (-dLastPage) and on what we read.
func ghostscript(ctx context.Context, data []byte, kind Kind, opt Options) (pages []*bilevel.Image, err error) {
	gsPath, err := exec.LookPath(opt.GhostscriptBin)
	if err != nil {
		return nil, wrapError(kind, ErrRenderer, err, "Ghostscript (%s) is not installed", opt.GhostscriptBin)
	}
	prPath, err := exec.LookPath(opt.PrlimitBin)
	if err != nil {
		return nil, wrapError(kind, ErrRenderer, err, "prlimit (util-linux) is needed to sandbox Ghostscript")
	}
	dir, err := os.MkdirTemp("", "faxd-render-*")
	if err != nil {
		return nil, fmt.Errorf("render: temporary directory: %w", err)
	}
	defer os.RemoveAll(dir)
	in := filepath.Join(dir, "input")
	if err := os.WriteFile(in, data, 0o600); err != nil {
		return nil, fmt.Errorf("render: writing input: %w", err)
	}

	runCtx, cancel := context.WithTimeout(ctx, opt.Timeout)
	defer cancel()

	lines := opt.pageLines()
	cpu := int64(opt.Timeout/time.Second) + 2
	args := []string{
		"--as=" + strconv.FormatInt(opt.MemoryLimit, 10),
		"--cpu=" + strconv.FormatInt(cpu, 10),
		"--core=0",
		// Files it may write land in its private TMPDIR; cap their size.
		"--fsize=" + strconv.FormatInt(256<<20, 10),
		"--",
		gsPath,
		"-q", "-dSAFER", "-dBATCH", "-dNOPAUSE", "-dNOPROMPT",
		"-sDEVICE=pbmraw",
		fmt.Sprintf("-r%dx%d", bilevel.XDPI, opt.Resolution.YDPI()),
		// A fixed 1728-pixel media with the document scaled to fit it:
		// A4 (8.27 in) and Letter (8.5 in) both land on the 8.47 in fax line.
		fmt.Sprintf("-g%dx%d", PageWidth, lines),
		"-dFIXEDMEDIA", "-dFitPage", "-dPDFFitPage",
		"-dFirstPage=1",
		// One page past the limit so "too many" is seen, not truncated.
		"-dLastPage=" + strconv.Itoa(opt.MaxPages+1),
		// PostScript may print; keep stdout for the raster only.
		"-sstdout=%stderr",
		"-sOutputFile=-",
		"-f", in,
	}
	cmd := exec.CommandContext(runCtx, prPath, args...)
	cmd.Dir = dir
	cmd.Env = []string{"PATH=/usr/bin:/bin", "HOME=" + dir, "TMPDIR=" + dir, "LC_ALL=C"}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		// The whole group: prlimit execs gs, and gs may have children.
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
	cmd.WaitDelay = 2 * time.Second
	var stderr limitedBuffer
	stderr.max = 16 << 10
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("render: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return nil, wrapError(kind, ErrRenderer, err, "starting Ghostscript")
	}

	br := bufio.NewReaderSize(stdout, 64<<10)
	var readErr error
	for {
		p, err := readPBM(br, int64(PageWidth)*int64(lines)*2)
		if err == io.EOF {
			break
		}
		if err != nil {
			readErr = err
			break
		}
		if len(pages) == opt.MaxPages {
			readErr = newError(kind, ErrTooManyPages, "the %s has more than %d pages; %s is %d", kind, opt.MaxPages, opt.Names.MaxPages, opt.MaxPages)
			break
		}
		p.XDPI, p.YDPI = bilevel.XDPI, opt.Resolution.YDPI()
		pages = append(pages, fitPage(p, opt))
	}
	if readErr != nil {
		cancel() // stop the interpreter; its remaining output is unwanted
		io.Copy(io.Discard, br)
	}
	waitErr := cmd.Wait()

	switch {
	case ctx.Err() != nil: // the caller gave up: not the document's fault
		return nil, fmt.Errorf("render: %w", ctx.Err())
	case errors.Is(runCtx.Err(), context.DeadlineExceeded):
		return nil, newError(kind, ErrTimeout, "interpretation did not finish within %s", opt.Timeout)
	}
	var re *Error
	if errors.As(readErr, &re) {
		return nil, re
	}
	msg := gsMessage(stderr.String())
	if waitErr != nil || readErr != nil {
		return nil, classifyGS(kind, waitErr, readErr, msg, stderr.String())
	}
	if len(pages) == 0 {
		if msg != "" {
			return nil, newError(kind, ErrCorrupt, "no pages could be rendered (%s)", msg)
		}
		return nil, newError(kind, ErrEmpty, "the document has no pages")
	}
	return pages, nil
}

// classifyGS turns a failed run into an error a person can act on.
func classifyGS(kind Kind, waitErr, readErr error, msg, all string) error {
	var ee *exec.ExitError
	if errors.As(waitErr, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			switch ws.Signal() {
			case syscall.SIGXCPU, syscall.SIGKILL:
				return newError(kind, ErrTimeout, "the interpreter ran out of CPU time")
			case syscall.SIGSEGV, syscall.SIGBUS, syscall.SIGABRT:
				// Allocation failures under RLIMIT_AS often end this way.
				return newError(kind, ErrResources, "the interpreter crashed (%s), probably out of memory", ws.Signal())
			}
		}
	}
	switch {
	case strings.Contains(all, "error while loading shared libraries"):
		// The limit is too small for Ghostscript even to start: our fault.
		return wrapError(kind, ErrRenderer, waitErr, "Ghostscript cannot start within the memory limit")
	case strings.Contains(all, "invalidfileaccess"), strings.Contains(all, "invalidaccess"),
		strings.Contains(all, "/ioerror in --deletefile--"), strings.Contains(all, "/ioerror in --renamefile--"):
		return newError(kind, ErrForbidden, "%s", firstNonEmpty(msg, "access denied by the sandbox"))
	case strings.Contains(all, "VMerror"), strings.Contains(all, "Cannot allocate"),
		strings.Contains(all, "limitcheck"):
		return newError(kind, ErrResources, "%s", firstNonEmpty(msg, "out of memory"))
	}
	cause := waitErr
	if cause == nil {
		cause = readErr
	}
	return wrapError(kind, ErrCorrupt, cause, "%s", firstNonEmpty(msg, "Ghostscript could not interpret it"))
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

// gsMessage picks the most telling line of Ghostscript's diagnostics,
// without our temporary path, for the person who sent the document.
func gsMessage(s string) string {
	var best string
	for _, line := range strings.Split(s, "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		if strings.HasPrefix(line, "Error:") || strings.Contains(line, "**** Error") {
			best = line
			break
		}
		if best == "" && !strings.HasPrefix(line, "GPL Ghostscript") {
			best = line
		}
	}
	best = strings.TrimLeft(best, "* ")
	if i := strings.Index(best, "/tmp/"); i >= 0 {
		best = best[:i] + "<input>"
	}
	if len(best) > 200 {
		best = best[:200] + "..."
	}
	return best
}

// limitedBuffer keeps the first max bytes written and drops the rest, so a
// PostScript program printing forever cannot exhaust our memory.
type limitedBuffer struct {
	bytes.Buffer
	max int
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	if room := b.max - b.Len(); room > 0 {
		b.Buffer.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

// readPBM reads one raw PBM (P4) image. maxPixels bounds the allocation a
// malformed header could ask for.
func readPBM(r *bufio.Reader, maxPixels int64) (*bilevel.Image, error) {
	var magic [2]byte
	if _, err := io.ReadFull(r, magic[:]); err != nil {
		if err == io.ErrUnexpectedEOF {
			return nil, fmt.Errorf("pbm: truncated magic")
		}
		return nil, err // io.EOF: clean end of stream
	}
	if magic != [2]byte{'P', '4'} {
		return nil, fmt.Errorf("pbm: bad magic %q", magic[:])
	}
	w, err := pbmInt(r)
	if err != nil {
		return nil, err
	}
	h, err := pbmInt(r)
	if err != nil {
		return nil, err
	}
	if w <= 0 || h <= 0 || int64(w)*int64(h) > maxPixels {
		return nil, fmt.Errorf("pbm: bad size %dx%d", w, h)
	}
	m := bilevel.New(w, h)
	if _, err := io.ReadFull(r, m.Pix); err != nil {
		return nil, fmt.Errorf("pbm: raster: %w", err)
	}
	if w%8 != 0 { // PBM pad bits are unspecified; bilevel wants them zero
		mask := byte(0xff) << (8 - w%8)
		for y := 0; y < h; y++ {
			m.Pix[y*m.Stride+m.Stride-1] &= mask
		}
	}
	return m, nil
}

// pbmInt reads a decimal header field, skipping whitespace and comments,
// and consumes the single whitespace byte after it.
func pbmInt(r *bufio.Reader) (int, error) {
	n, digits := 0, 0
	for {
		c, err := r.ReadByte()
		if err != nil {
			return 0, fmt.Errorf("pbm: header: %w", io.ErrUnexpectedEOF)
		}
		switch {
		case c >= '0' && c <= '9':
			if digits++; digits > 7 {
				return 0, fmt.Errorf("pbm: header number too long")
			}
			n = n*10 + int(c-'0')
		case c == '#' && digits == 0:
			if _, err := r.ReadString('\n'); err != nil {
				return 0, fmt.Errorf("pbm: header: %w", io.ErrUnexpectedEOF)
			}
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			if digits > 0 {
				return n, nil
			}
		default:
			return 0, fmt.Errorf("pbm: bad header byte %q", c)
		}
	}
}
