// Package interop runs spandsp as an independent T.38 terminal so tests can
// prove faxd's T.38 stack against it over real UDP.
//
// The peer is t38peer, a small C program (testdata/t38peer.c, embedded here)
// linked against Debian's libspandsp 0.0.6 and libtiff. spandsp 0.0.6 has no
// UDPTL, so t38peer carries its own: redundancy and parity FEC on send, gap
// filling, FEC repair and duplicate removal on receive, plus deterministic loss
// injection. BuildPeer compiles it once per test binary; StartPeer runs one
// terminal; Wait returns what spandsp reported at phase E.
//
// Only tests import this package: it imports testing and shells out to gcc.
package interop

import (
	"bufio"
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/faxd/faxd/t38/interop/logtail"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

//go:embed testdata/t38peer.c
var peerSource []byte

// Compression is a T.4/T.6 coding as t38peer names it.
type Compression string

// The codings a peer can offer or accept.
const (
	MH  Compression = "mh"
	MR  Compression = "mr"
	MMR Compression = "mmr"
)

// Encoding values spandsp reports in Result.Encoding (T4_COMPRESSION_ITU_*).
const (
	EncodingMH  = 1
	EncodingMR  = 2
	EncodingMMR = 3
)

// Repeat says what the peer does when spandsp asks for a packet to be sent
// more than once (indicators and sig-ends come with count 3).
type Repeat string

const (
	// RepeatSame sends the identical datagram count times, as freeswitch does:
	// a surviving copy fills a loss, a late copy is a duplicate the far UDPTL
	// drops. The default.
	RepeatSame Repeat = "same"
	// RepeatNew gives every copy a new sequence number, so the far end sees
	// the IFP repeated and must tolerate repeated indicators and sig-ends.
	RepeatNew Repeat = "new"
	// RepeatOnce ignores count, as asterisk does.
	RepeatOnce Repeat = "once"
)

// PeerOptions configure one t38peer terminal. Zero values are the defaults
// noted on each field.
type PeerOptions struct {
	Send    string // TIFF to transmit; exactly one of Send and Receive
	Receive string // TIFF to write the received pages to
	Caller  bool   // originate (CNG first) rather than answer

	Local  string // listen address, default "127.0.0.1:0" (kernel picks the port)
	Remote string // far end; empty for an answerer that learns it from the first datagram

	Version     int           // T.38 version 0..3
	ECM         bool          // offer/accept error correction mode
	Redundancy  int           // UDPTL secondary IFPs per datagram, 0..4 (FEC entries with FEC)
	FEC         bool          // send parity FEC instead of redundancy
	FECSpan     int           // FEC span, default 3
	Loss        int           // percent of outgoing datagrams dropped
	RxLoss      int           // percent of incoming datagrams dropped before UDPTL
	Seed        uint64        // seed of the loss pattern, default 1
	MaxDatagram int           // far end's T38FaxMaxDatagram, default 400
	Ident       string        // TSI/CSI, default "T38PEER"
	Compress    []Compression // codings offered/accepted, default all three
	Repeat      Repeat        // default RepeatSame
	Timeout     time.Duration // whole-call limit, default 3 minutes
	Log         bool          // spandsp protocol log on stderr

	// Stderr receives the peer's stderr as it runs. The last 8 KiB are also
	// kept and quoted in errors.
	Stderr io.Writer
}

// Args returns the t38peer command line for o.
func (o PeerOptions) Args() ([]string, error) {
	if (o.Send == "") == (o.Receive == "") {
		return nil, errors.New("interop: exactly one of Send and Receive")
	}
	if o.Version < 0 || o.Version > 3 {
		return nil, fmt.Errorf("interop: T.38 version %d not in 0..3", o.Version)
	}
	if o.Redundancy < 0 || o.Redundancy > 4 {
		return nil, fmt.Errorf("interop: redundancy %d not in 0..4", o.Redundancy)
	}
	if o.Caller && o.Remote == "" {
		return nil, errors.New("interop: a caller needs Remote")
	}
	var a []string
	if o.Send != "" {
		a = append(a, "--send", o.Send)
	} else {
		a = append(a, "--receive", o.Receive)
	}
	if o.Caller {
		a = append(a, "--caller")
	} else {
		a = append(a, "--answerer")
	}
	local := o.Local
	if local == "" {
		local = "127.0.0.1:0"
	}
	a = append(a, "--local", local)
	if o.Remote != "" {
		a = append(a, "--remote", o.Remote)
	}
	a = append(a, "--version", strconv.Itoa(o.Version), "--ecm", b01(o.ECM),
		"--redundancy", strconv.Itoa(o.Redundancy))
	if o.FEC {
		a = append(a, "--fec")
		if o.FECSpan > 0 {
			a = append(a, "--fec-span", strconv.Itoa(o.FECSpan))
		}
	}
	if o.Loss > 0 {
		a = append(a, "--loss", strconv.Itoa(o.Loss))
	}
	if o.RxLoss > 0 {
		a = append(a, "--rx-loss", strconv.Itoa(o.RxLoss))
	}
	if o.Seed != 0 {
		a = append(a, "--seed", strconv.FormatUint(o.Seed, 10))
	}
	if o.MaxDatagram > 0 {
		a = append(a, "--max-datagram", strconv.Itoa(o.MaxDatagram))
	}
	if o.Ident != "" {
		a = append(a, "--ident", o.Ident)
	}
	if len(o.Compress) > 0 {
		s := make([]string, len(o.Compress))
		for i, c := range o.Compress {
			s[i] = string(c)
		}
		a = append(a, "--compressions", strings.Join(s, ","))
	}
	if o.Repeat != "" {
		a = append(a, "--repeat", string(o.Repeat))
	}
	if o.Timeout > 0 {
		a = append(a, "--timeout", strconv.Itoa(int((o.Timeout+time.Second-1)/time.Second)))
	}
	if o.Log {
		a = append(a, "--log")
	}
	return a, nil
}

func b01(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

// UDPTLStats are the peer's own UDPTL counters.
type UDPTLStats struct {
	TxIFPs      int `json:"tx_ifps"`      // IFPs spandsp handed over
	TxDatagrams int `json:"tx_datagrams"` // datagrams sent (repeats included)
	TxDropped   int `json:"tx_dropped"`   // datagrams discarded by Loss
	TxUnsent    int `json:"tx_unsent"`    // datagrams built before the remote was known
	TxTrimmed   int `json:"tx_trimmed"`   // datagrams whose error recovery was cut to fit MaxDatagram
	RxDatagrams int `json:"rx_datagrams"`
	RxDropped   int `json:"rx_dropped"`   // discarded by RxLoss
	RxBad       int `json:"rx_bad"`       // did not parse as UDPTL
	RxDup       int `json:"rx_dup"`       // duplicates and late arrivals
	RxRecovered int `json:"rx_recovered"` // IFPs taken from secondaries
	RxRepaired  int `json:"rx_repaired"`  // IFPs rebuilt from parity FEC
	RxLost      int `json:"rx_lost"`      // sequence numbers never recovered
	RxDelivered int `json:"rx_delivered"` // IFPs handed to spandsp
}

// Result is what the peer reported at the end of the call.
type Result struct {
	Result      string     `json:"result"` // OK, FAILED or TIMEOUT
	Code        int        `json:"code"`   // spandsp T30_ERR_* completion code, -1 if phase E never came
	Text        string     `json:"text"`   // t30_completion_code_to_str
	Pages       int        `json:"pages"`  // pages sent or received
	BitRate     int        `json:"bit_rate"`
	ECM         bool       `json:"ecm"`
	Encoding    int        `json:"encoding"` // EncodingMH, EncodingMR or EncodingMMR
	RemoteIdent string     `json:"remote_ident"`
	CallMS      int64      `json:"call_ms"` // start to phase E; -1 if phase E never came
	CPUUserMS   int64      `json:"cpu_user_ms"`
	CPUSysMS    int64      `json:"cpu_sys_ms"`
	WallMS      int64      `json:"wall_ms"`
	UDPTL       UDPTLStats `json:"udptl"`
}

// OK reports whether T.30 completed with T30_ERR_OK.
func (r Result) OK() bool { return r.Result == "OK" && r.Code == 0 }

// CPU is the peer's user plus system CPU time.
func (r Result) CPU() time.Duration {
	return time.Duration(r.CPUUserMS+r.CPUSysMS) * time.Millisecond
}

// CallTime is the time from the peer's start to phase E: the wire time of
// the call.
func (r Result) CallTime() time.Duration { return time.Duration(r.CallMS) * time.Millisecond }

// Wall is the peer's wall-clock time from start to exit.
func (r Result) Wall() time.Duration { return time.Duration(r.WallMS) * time.Millisecond }

// ErrFaxFailed is wrapped by Wait when the peer ran to the end but T.30 did
// not complete with T30_ERR_OK.
var ErrFaxFailed = errors.New("interop: spandsp fax failed")

// Peer is one running t38peer process.
type Peer struct {
	cmd    *exec.Cmd
	addr   netip.AddrPort
	lines  chan string
	stderr *logtail.Buffer
	waited bool
	res    Result
	err    error
}

// StartPeer starts t38peer at path (from BuildPeer) and returns once its
// socket is bound. Cancelling ctx kills the process.
func StartPeer(ctx context.Context, path string, o PeerOptions) (*Peer, error) {
	args, err := o.Args()
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, path, args...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	p := &Peer{cmd: cmd, lines: make(chan string, 4), stderr: logtail.New(8 << 10)}
	cmd.Stderr = p.stderr
	if o.Stderr != nil {
		cmd.Stderr = io.MultiWriter(p.stderr, o.Stderr)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("interop: start t38peer: %w", err)
	}
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			p.lines <- sc.Text()
		}
		close(p.lines)
	}()
	var first string
	select {
	case l, ok := <-p.lines:
		if !ok {
			err := cmd.Wait()
			go drain(p.lines)
			return nil, fmt.Errorf("interop: t38peer exited before binding (%v): %s", err, p.stderr)
		}
		first = l
	case <-ctx.Done():
		go drain(p.lines)
		_ = cmd.Wait()
		return nil, ctx.Err()
	}
	var hello struct {
		Port int `json:"port"`
	}
	if err := json.Unmarshal([]byte(first), &hello); err != nil || hello.Port == 0 {
		go drain(p.lines)
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		return nil, fmt.Errorf("interop: t38peer first line %q: want {\"port\":N}", first)
	}
	host := "127.0.0.1"
	if o.Local != "" {
		if h, _, err := splitHostPort(o.Local); err == nil && h != "" {
			host = h
		}
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		go drain(p.lines)
		return nil, fmt.Errorf("interop: local host %q: %w", host, err)
	}
	p.addr = netip.AddrPortFrom(ip, uint16(hello.Port))
	return p, nil
}

func drain(c <-chan string) {
	for range c {
	}
}

func splitHostPort(s string) (string, string, error) {
	i := strings.LastIndexByte(s, ':')
	if i < 0 {
		return "", "", fmt.Errorf("no port in %q", s)
	}
	return s[:i], s[i+1:], nil
}

// Addr is the UDP address the peer listens on.
func (p *Peer) Addr() netip.AddrPort { return p.addr }

// Wait waits for the peer to exit and returns its report. The error wraps
// ErrFaxFailed when the report says the fax failed; any other error means the
// peer did not report at all (crash, kill, bad output).
func (p *Peer) Wait() (Result, error) {
	if p.waited {
		return p.res, p.err
	}
	p.waited = true
	var last string
	for l := range p.lines {
		last = l
	}
	werr := p.cmd.Wait()
	if err := json.Unmarshal([]byte(last), &p.res); err != nil || p.res.Result == "" {
		p.err = fmt.Errorf("interop: t38peer gave no result (exit: %v); stderr: %s", werr, p.stderr)
		return p.res, p.err
	}
	if !p.res.OK() {
		p.err = fmt.Errorf("%w: %s code %d (%s)", ErrFaxFailed, p.res.Result, p.res.Code, p.res.Text)
	} else if werr != nil {
		p.err = fmt.Errorf("interop: t38peer reported OK but exited with %v", werr)
	}
	return p.res, p.err
}

// Stderr returns the last few KiB the peer wrote to stderr.
func (p *Peer) Stderr() string { return p.stderr.String() }

// RunPair runs two peers against each other: whichever of a and b answers is
// started first and the caller is pointed at it. Both results are returned
// even when one side fails.
func RunPair(ctx context.Context, path string, a, b PeerOptions) (ra, rb Result, err error) {
	if a.Caller == b.Caller {
		return ra, rb, errors.New("interop: RunPair needs one caller and one answerer")
	}
	ans, call := &a, &b
	if a.Caller {
		ans, call = &b, &a
	}
	pa, err := StartPeer(ctx, path, *ans)
	if err != nil {
		return ra, rb, err
	}
	call.Remote = pa.Addr().String()
	pc, err := StartPeer(ctx, path, *call)
	if err != nil {
		_ = pa.cmd.Process.Kill()
		_, _ = pa.Wait()
		return ra, rb, err
	}
	rc, errc := pc.Wait()
	rans, erra := pa.Wait()
	if a.Caller {
		ra, rb = rc, rans
	} else {
		ra, rb = rans, rc
	}
	return ra, rb, errors.Join(errc, erra)
}

// TIFFOptions shape a generated test document.
type TIFFOptions struct {
	Pages       int         // default 3
	Rows        int         // rows per page, default 800
	Seed        uint64      // content seed, default 1
	Compression Compression // storage coding of the file, default MMR ("" or "none" for raw)
	Standard    bool        // 98 lpi instead of 196 lpi (fine)
}

// MakeTestTIFF writes a multi-page bilevel fax TIFF (1728 pels wide,
// MINISWHITE) with mixed content: text-like glyph rows, rules and frames,
// diagonals, a table and ordered-dither gradients, different on every page
// and seed.
func MakeTestTIFF(ctx context.Context, path, out string, o TIFFOptions) error {
	args := []string{"--make-test-tiff", out}
	if o.Pages > 0 {
		args = append(args, "--pages", strconv.Itoa(o.Pages))
	}
	if o.Rows > 0 {
		args = append(args, "--rows", strconv.Itoa(o.Rows))
	}
	if o.Seed != 0 {
		args = append(args, "--seed", strconv.FormatUint(o.Seed, 10))
	}
	if o.Compression != "" {
		args = append(args, "--tiff-compression", string(o.Compression))
	}
	if o.Standard {
		args = append(args, "--standard")
	}
	b, err := exec.CommandContext(ctx, path, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("interop: make test tiff: %w: %s", err, b)
	}
	return nil
}

// ErrPagesDiffer is wrapped by CompareTIFF when the page images differ.
var ErrPagesDiffer = errors.New("interop: pages differ")

// CompareTIFF runs `tiffcmp -t want got`: every page must have the same
// pixels (tags such as compression may differ) and both files the same
// number of pages. A missing tiffcmp is reported as exec.ErrNotFound.
func CompareTIFF(ctx context.Context, want, got string) error {
	tc, err := exec.LookPath("tiffcmp")
	if err != nil {
		return fmt.Errorf("interop: tiffcmp (libtiff-tools): %w", err)
	}
	b, err := exec.CommandContext(ctx, tc, "-t", want, got).CombinedOutput()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return fmt.Errorf("%w: tiffcmp -t %s %s: %s", ErrPagesDiffer, want, got, pixelLines(b))
		}
		return fmt.Errorf("interop: tiffcmp: %w", err)
	}
	return nil
}

// pixelLines keeps tiffcmp's verdict lines and drops its tag-difference chatter.
func pixelLines(b []byte) string {
	var keep []string
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "Scanline") || strings.HasPrefix(l, "No more") || strings.Contains(l, "rror") {
			keep = append(keep, l)
		}
	}
	if len(keep) == 0 {
		return strings.TrimSpace(string(b))
	}
	return strings.Join(keep, "; ")
}

// NeedTool skips t when the named system binary is missing, naming the
// Debian package that provides it.
func NeedTool(t testing.TB, name, pkg string) {
	t.Helper()
	if _, err := exec.LookPath(name); err != nil {
		t.Skipf("%s not found (install %s)", name, pkg)
	}
}

var build struct {
	once sync.Once
	dir  string
	path string
	skip string
	err  error
}

// BuildPeer compiles t38peer once per test binary and returns its path. It
// skips t only when gcc or the spandsp/libtiff headers are missing, naming
// what is missing; any other build failure fails t.
func BuildPeer(t testing.TB) string {
	t.Helper()
	build.once.Do(func() { build.path, build.skip, build.err = compilePeer() })
	if build.skip != "" {
		t.Skip(build.skip)
	}
	if build.err != nil {
		t.Fatal(build.err)
	}
	return build.path
}

// Cleanup removes the directory BuildPeer compiled into. Call it from
// TestMain after m.Run; without it the directory stays in the temp dir.
func Cleanup() {
	if build.dir != "" {
		_ = os.RemoveAll(build.dir)
	}
}

func compilePeer() (path, skip string, err error) {
	gcc, err := exec.LookPath("gcc")
	if err != nil {
		return "", "gcc not found (install gcc)", nil
	}
	for _, h := range []struct{ hdr, pkg string }{{"tiffio.h", "libtiff-dev"}, {"spandsp.h", "libspandsp-dev"}} {
		cmd := exec.Command(gcc, "-E", "-x", "c", "-o", os.DevNull, "-")
		cmd.Stdin = strings.NewReader("#include <" + h.hdr + ">\n")
		if out, err := cmd.CombinedOutput(); err != nil {
			if bytes.Contains(out, []byte(h.hdr)) && bytes.Contains(out, []byte("No such file")) {
				return "", fmt.Sprintf("%s not found (install %s)", h.hdr, h.pkg), nil
			}
			return "", "", fmt.Errorf("interop: gcc -E <%s>: %v: %s", h.hdr, err, out)
		}
	}
	dir, err := os.MkdirTemp("", "t38peer-")
	if err != nil {
		return "", "", err
	}
	build.dir = dir
	src := filepath.Join(dir, "t38peer.c")
	if err := os.WriteFile(src, peerSource, 0o644); err != nil {
		return "", "", err
	}
	bin := filepath.Join(dir, "t38peer")
	out, err := exec.Command(gcc, "-O2", "-Wall", "-o", bin, src, "-lspandsp", "-ltiff", "-lm").CombinedOutput()
	if err != nil {
		return "", "", fmt.Errorf("interop: building t38peer: %v\n%s", err, out)
	}
	return bin, "", nil
}

// Concurrent runs f for every case as a subtest, all at once. Real-time
// fax calls spend their time waiting, so they are not held to go test's
// -parallel limit (GOMAXPROCS, 2 in CI), which t.Parallel would impose.
func Concurrent[C any](t *testing.T, cases []C, name func(C) string, f func(*testing.T, C)) {
	t.Helper()
	var wg sync.WaitGroup
	for _, c := range cases {
		wg.Add(1)
		go func() {
			defer wg.Done()
			t.Run(name(c), func(t *testing.T) { f(t, c) })
		}()
	}
	wg.Wait()
}
