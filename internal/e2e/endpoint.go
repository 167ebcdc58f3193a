// Package e2e proves faxd end to end against an independent fax terminal:
// a SIP endpoint whose signalling is sipp (Debian package sip-tester) and
// whose media is spandsp's T.38 terminal (t38peer from t38/interop), over
// real sockets on loopback. No faxd SIP code is on the endpoint's side.
//
// sipp runs a scenario rendered from testdata/*.xml.tmpl. Whenever the
// scenario reaches a step the harness must know about it appends a line to
// an event file with <exec>: the INVITE, the negotiated T.38 media (far
// address, T38FaxVersion, T38FaxUdpEC, T38FaxMaxDatagram), and the end of the
// call with who hung up. On the media line the harness starts t38peer with
// --local on the port the endpoint's SDP announced and --remote at the
// address faxd's SDP gave. When t38peer has finished and faxd has not hung
// up, the harness sends sipp an in-dialog MESSAGE that makes the scenario
// send BYE itself, as a gateway does when its side of the fax is over.
//
// Only tests import this package. See docs/e2e.md.
package e2e

import (
	"bufio"
	"context"
	"embed"
	"errors"
	"fmt"
	"github.com/faxd/faxd/t38/interop/logtail"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"text/template"
	"time"

	"github.com/faxd/faxd/t38/interop"
)

// Flow is how the endpoint gets to T.38.
type Flow string

// The call flows of R6/R7.
const (
	// FlowT38 offers (or answers) image/t38 in the INVITE.
	FlowT38 Flow = "t38"
	// FlowPeerReinvite starts with audio; the endpoint re-INVITEs to T.38.
	FlowPeerReinvite Flow = "peer-reinvite"
	// FlowFaxdReinvite starts with audio; the endpoint waits for faxd's
	// re-INVITE to T.38.
	FlowFaxdReinvite Flow = "faxd-reinvite"
)

// T38FaxUdpEC values the endpoint offers.
const (
	ECRedundancy = "t38UDPRedundancy"
	ECFEC        = "t38UDPFEC"
	ECNone       = "t38UDPNoEC"
)

// Options configure an endpoint. Zero values are the defaults noted.
type Options struct {
	Flow Flow // default FlowT38

	// Answering endpoint (Listen) failure modes: at most one is set.
	Reject     int    // answer the INVITE with this final status (403, 404, 486, 503, ...)
	Reason     string // its reason phrase; default from the status
	RetryAfter int    // seconds, sent with Reject when > 0
	NoAnswer   bool   // 180 Ringing, then wait for CANCEL (487)
	Silent     bool   // never send any response

	Ring     time.Duration // answering: ringing before the 200; default 100 ms
	Reinvite time.Duration // FlowPeerReinvite: audio phase before our re-INVITE; default 1 s

	Calls int // calls the endpoint serves or places; default 1

	// Calling endpoint (Call): the dialled number and our number.
	DID      string // default "4930100"
	CallerID string // default "4930999"

	// Fax: Send is the TIFF the endpoint transmits; empty: it receives,
	// each call into its own TIFF under Dir.
	Send       string
	Version    int    // T38FaxVersion we offer (an answer echoes faxd's offer)
	EC         string // T38FaxUdpEC we offer; default ECRedundancy
	Redundancy int    // secondaries (or FEC entries) t38peer sends; default 2
	ECM        bool
	Ident      string        // TSI/CSI; default "SPANDSP E2E"
	Timeout    time.Duration // t38peer's whole-call limit; default 3 min

	// HangupGrace is how long after t38peer has finished the endpoint waits
	// for faxd's BYE before hanging up itself; default 3 s.
	HangupGrace time.Duration

	Dir  string // working directory; default t.TempDir()
	Peer string // t38peer binary; default interop.BuildPeer
	Log  bool   // sipp message trace and spandsp protocol log into Dir
}

func (o *Options) defaults(t testing.TB) {
	if o.Flow == "" {
		o.Flow = FlowT38
	}
	if o.Ring == 0 {
		o.Ring = 100 * time.Millisecond
	}
	if o.Reinvite == 0 {
		o.Reinvite = time.Second
	}
	if o.Calls == 0 {
		o.Calls = 1
	}
	if o.DID == "" {
		o.DID = "4930100"
	}
	if o.CallerID == "" {
		o.CallerID = "4930999"
	}
	if o.EC == "" {
		o.EC = ECRedundancy
	}
	if o.Redundancy == 0 {
		o.Redundancy = 2
	}
	if o.Ident == "" {
		o.Ident = "SPANDSP E2E"
	}
	if o.Timeout == 0 {
		o.Timeout = 3 * time.Minute
	}
	if o.HangupGrace == 0 {
		o.HangupGrace = 3 * time.Second
	}
	if o.Reject != 0 && o.Reason == "" {
		o.Reason = reasons[o.Reject]
		if o.Reason == "" {
			o.Reason = "Failure"
		}
	}
	if o.Dir == "" {
		o.Dir = t.TempDir()
	}
	if o.Peer == "" {
		o.Peer = interop.BuildPeer(t)
	}
}

var reasons = map[int]string{
	403: "Forbidden", 404: "Not Found", 480: "Temporarily Unavailable",
	486: "Busy Here", 488: "Not Acceptable Here", 500: "Server Internal Error",
	503: "Service Unavailable", 603: "Decline",
}

// Negotiated is the T.38 media the endpoint agreed with faxd.
type Negotiated struct {
	Remote      netip.AddrPort // faxd's UDPTL address from its SDP
	LocalPort   int            // the port t38peer bound (our SDP's m=image port)
	Version     int            // T38FaxVersion agreed
	EC          string         // T38FaxUdpEC faxd's SDP carried
	MaxDatagram int            // faxd's T38FaxMaxDatagram
}

// CallResult is one finished call as the endpoint saw it.
type CallResult struct {
	Number int    // sipp's call number, from 1
	CallID string // SIP Call-ID
	// End says how the call ended: "far" (faxd sent BYE), "us" (the endpoint
	// did, after t38peer finished), "rejected" (our final non-2xx),
	// "cancelled" (faxd CANCELled the ringing call), "" (it did not end).
	End   string
	Media *Negotiated // nil when T.38 was never negotiated

	Fax      interop.Result // spandsp's report; zero without media
	FaxErr   error          // from Peer.Wait (wraps interop.ErrFaxFailed)
	Received string         // TIFF the endpoint received into, when receiving
	// AudioPackets counts RTP datagrams faxd sent to our audio port before
	// T.38 (its CNG or CED); FlowT38 never offers that port.
	AudioPackets int64
}

// Endpoint is one sipp process with the t38peers of its calls.
type Endpoint struct {
	t       testing.TB
	o       Options
	calling bool
	sipAddr netip.AddrPort
	evfile  string

	ctx    context.Context
	cancel context.CancelFunc
	cmd    *exec.Cmd
	sippCh chan struct{} // closed when sipp exited
	sippEr error
	out    *logtail.Buffer
	trig   *net.UDPConn // sends the hang-up MESSAGEs

	mu     sync.Mutex
	ports  map[int]*reserved // by UDPTL port (field0)
	calls  map[int]*callState
	wg     sync.WaitGroup
	result chan CallResult
}

// reserved holds a call's media ports from the moment they are written into
// the -inf file: the UDPTL socket until t38peer binds that port, the audio
// socket (drained and counted) for the whole call.
type reserved struct {
	t38   *net.UDPConn
	audio *net.UDPConn
	pkts  atomic.Int64
}

type callState struct {
	n      int
	id     string
	ended  chan struct{}
	end    string
	media  bool
	result CallResult
}

//go:embed testdata/uas.xml.tmpl testdata/uac.xml.tmpl
var scenarioFS embed.FS

var scenarios = template.Must(template.New("").Funcs(template.FuncMap{
	"image":   imageLines,
	"capture": captureAction,
	"media":   mediaStep,
}).ParseFS(scenarioFS, "testdata/*.tmpl"))

// imageLines is the m=image section the endpoint puts in its SDP: t38peer
// takes up to T.38 version 3, 400-octet datagrams and every error correction.
func imageLines(ver, ec string) string {
	return "      m=image [field0] udptl t38\n" +
		"      a=T38FaxVersion:" + ver + "\n" +
		"      a=T38MaxBitRate:14400\n" +
		"      a=T38FaxRateManagement:transferredTCF\n" +
		"      a=T38FaxMaxBuffer:2000\n" +
		"      a=T38FaxMaxDatagram:400\n" +
		"      a=T38FaxUdpEC:" + ec
}

// captureAction reads faxd's T.38 media from the SDP of the message received.
func captureAction() string {
	return `    <action>
      <ereg regexp="c=IN IP4 ([0-9.]+)" search_in="body" check_it="true" assign_to="m0,rip"/>
      <ereg regexp="m=image ([0-9]+) udptl" search_in="body" check_it="true" assign_to="m1,rport"/>
      <ereg regexp="T38FaxVersion:([0-9]+)" search_in="body" assign_to="m2,ver"/>
      <ereg regexp="T38FaxUdpEC:([0-9A-Za-z]+)" search_in="body" assign_to="m3,ec"/>
      <ereg regexp="T38FaxMaxDatagram:([0-9]+)" search_in="body" assign_to="m4,dg"/>
    </action>`
}

// mediaStep tells the harness T.38 is agreed: it starts t38peer.
func mediaStep() string {
	return `  <nop>
    <action>
      <exec command="echo media [call_number] callid=[call_id] rip=[$rip] rport=[$rport] ver=[$ver] ec=[$ec] dg=[$dg] lport=[field0] >> [$evfile]"/>
    </action>
  </nop>`
}

// Listen starts an answering endpoint: faxd dials Target. It fails t on
// error and stops at t's cleanup; it skips t when sipp or the spandsp
// toolchain is missing.
func Listen(t testing.TB, o Options) *Endpoint {
	t.Helper()
	return start(t, o, false, netip.AddrPort{})
}

// Call starts a calling endpoint: sipp places o.Calls calls to faxd at
// target, one at a time.
func Call(t testing.TB, target netip.AddrPort, o Options) *Endpoint {
	t.Helper()
	return start(t, o, true, target)
}

func start(t testing.TB, o Options, calling bool, target netip.AddrPort) *Endpoint {
	t.Helper()
	interop.NeedTool(t, "sipp", "sip-tester")
	o.defaults(t)
	ctx, cancel := context.WithCancel(context.Background())
	e := &Endpoint{
		t: t, o: o, calling: calling, ctx: ctx, cancel: cancel,
		evfile: filepath.Join(o.Dir, "events"), sippCh: make(chan struct{}),
		out: logtail.New(16 << 10), ports: map[int]*reserved{},
		calls: map[int]*callState{}, result: make(chan CallResult, o.Calls+16),
	}
	t.Cleanup(e.Close)
	if err := e.run(target); err != nil {
		t.Fatalf("e2e endpoint: %v", err)
	}
	return e
}

func (e *Endpoint) run(target netip.AddrPort) error {
	o := e.o
	name := "uas.xml.tmpl"
	if e.calling {
		name = "uac.xml.tmpl"
	}
	var sb strings.Builder
	if err := scenarios.ExecuteTemplate(&sb, name, struct {
		Options
		RingMS, ReinviteMS int64
	}{o, o.Ring.Milliseconds(), o.Reinvite.Milliseconds()}); err != nil {
		return err
	}
	scen := filepath.Join(o.Dir, strings.TrimSuffix(name, ".tmpl"))
	if err := os.WriteFile(scen, []byte(sb.String()), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(e.evfile, nil, 0o644); err != nil {
		return err
	}
	// One line of media ports per call, held open until used. sipp takes a
	// line for every call it creates, faxd's OPTIONS probes included, so
	// there are spare lines.
	inf := []string{"SEQUENTIAL"}
	lines := o.Calls
	if !e.calling {
		lines += 8
	}
	for range lines {
		r := &reserved{}
		var err error
		if r.t38, err = listenLoopback(0); err != nil {
			return err
		}
		if r.audio, err = listenLoopback(0); err != nil {
			r.t38.Close()
			return err
		}
		tp := r.t38.LocalAddr().(*net.UDPAddr).Port
		ap := r.audio.LocalAddr().(*net.UDPAddr).Port
		e.ports[tp] = r
		e.wg.Add(1)
		go e.drainAudio(r)
		inf = append(inf, fmt.Sprintf("%d;%d;", tp, ap))
	}
	infFile := filepath.Join(o.Dir, "ports.csv")
	if err := os.WriteFile(infFile, []byte(strings.Join(inf, "\n")+"\n"), 0o644); err != nil {
		return err
	}
	trig, err := listenLoopback(0)
	if err != nil {
		return err
	}
	e.trig = trig
	// Another test process can bind the port freePort found before sipp
	// does; sipp then exits with "Address already in use" and another
	// port is tried.
	for attempt := 1; ; attempt++ {
		err := e.startSipp(target, scen, infFile)
		if err == nil {
			break
		}
		if !errors.Is(err, errPortTaken) || attempt == 5 {
			return err
		}
	}
	e.wg.Add(1)
	go e.follow()
	return nil
}

// errPortTaken: sipp could not bind the SIP port it was given.
var errPortTaken = errors.New("sipp's SIP port was taken")

// startSipp starts sipp on a free port and waits until it holds its SIP
// socket, so faxd's first INVITE is not lost to a port nobody listens on
// yet (and a calling sipp is known to have started).
func (e *Endpoint) startSipp(target netip.AddrPort, scen, infFile string) error {
	o := e.o
	port, err := freePort()
	if err != nil {
		return err
	}
	e.sipAddr = netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(port))
	args := []string{"-sf", scen, "-inf", infFile, "-set", "evfile", e.evfile,
		"-i", "127.0.0.1", "-p", strconv.Itoa(port),
		"-nd", "-trace_err", "-error_file", filepath.Join(o.Dir, "sipp-errors.log"),
		"-max_retrans", "7"}
	if e.calling {
		// All calls at once: -m calls in all, -l the concurrency cap, -r
		// the rate per second. sipp exits after the last.
		args = append(args, "-m", strconv.Itoa(o.Calls), "-l", strconv.Itoa(o.Calls), "-r", strconv.Itoa(min(o.Calls, 50)))
	}
	if o.Log {
		args = append(args, "-trace_msg", "-message_file", filepath.Join(o.Dir, "sipp-messages.log"))
	}
	if e.calling {
		args = append(args, target.String())
	}
	e.out = logtail.New(16 << 10)
	e.sippCh = make(chan struct{})
	e.cmd = exec.CommandContext(e.ctx, "sipp", args...)
	e.cmd.Dir = o.Dir
	e.cmd.Stdout = e.out
	e.cmd.Stderr = e.out
	if err := e.cmd.Start(); err != nil {
		return fmt.Errorf("sipp: %w", err)
	}
	cmd, done := e.cmd, e.sippCh
	go func() {
		e.sippEr = cmd.Wait()
		close(done)
	}()
	return e.awaitListening()
}

// awaitListening waits until sipp's own process holds the SIP socket.
func (e *Endpoint) awaitListening() error {
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		// Read the kernel's socket table rather than try to bind the port
		// ourselves: a probe bind held at the moment sipp binds made sipp
		// fail with "Address already in use". The socket must be sipp's:
		// another process may hold the port, and sipp then exits.
		if bound, err := udpBoundBy(e.cmd.Process.Pid, e.sipAddr.Port()); err != nil {
			return err
		} else if bound {
			return nil
		}
		select {
		case <-e.sippCh:
			if strings.Contains(e.out.String(), "Address already in use") {
				return fmt.Errorf("%w: %s", errPortTaken, e.sipAddr)
			}
			return fmt.Errorf("sipp exited at start: %v\n%s", e.sippEr, e.out)
		case <-time.After(20 * time.Millisecond):
		}
	}
	return fmt.Errorf("sipp did not bind %s", e.sipAddr)
}

// Addr is the endpoint's SIP address (sipp's UDP socket).
func (e *Endpoint) Addr() netip.AddrPort { return e.sipAddr }

// Target is a SIP URI that reaches the answering endpoint with number did.
func (e *Endpoint) Target(did string) string {
	return "sip:" + did + "@" + e.sipAddr.String()
}

// Next returns the next finished call.
func (e *Endpoint) Next(ctx context.Context) (CallResult, error) {
	select {
	case r := <-e.result:
		return r, nil
	case <-ctx.Done():
		return CallResult{}, fmt.Errorf("e2e endpoint: no finished call: %w\nsipp: %s", ctx.Err(), e.out)
	}
}

// Wait ends sipp and reports its verdict: nil when sipp counted every call
// successful (every expected message came, in order), else the error with
// sipp's output and error log. A calling endpoint exits after its last
// call; an answering one is told to finish its calls and exit (SIGUSR1).
func (e *Endpoint) Wait(ctx context.Context) error {
	if !e.calling {
		_ = e.cmd.Process.Signal(syscall.SIGUSR1)
	}
	select {
	case <-e.sippCh:
	case <-ctx.Done():
		return fmt.Errorf("e2e endpoint: sipp still running: %w", ctx.Err())
	}
	if e.sippEr != nil {
		log, _ := os.ReadFile(filepath.Join(e.o.Dir, "sipp-errors.log"))
		return fmt.Errorf("e2e endpoint: sipp: %w\n%s\n%s", e.sippEr, e.out, tail(log, 4000))
	}
	return nil
}

// Close stops sipp and every t38peer and releases the ports. Idempotent.
func (e *Endpoint) Close() {
	e.cancel()
	if e.sippCh != nil && e.cmd != nil && e.cmd.Process != nil {
		<-e.sippCh
	}
	e.mu.Lock()
	for _, r := range e.ports {
		r.close()
	}
	e.mu.Unlock()
	if e.trig != nil {
		e.trig.Close()
	}
	e.wg.Wait()
}

func (r *reserved) close() {
	if r.t38 != nil {
		r.t38.Close()
	}
	r.audio.Close()
}

func (e *Endpoint) drainAudio(r *reserved) {
	defer e.wg.Done()
	buf := make([]byte, 2048)
	for {
		if _, _, err := r.audio.ReadFromUDP(buf); err != nil {
			return
		}
		r.pkts.Add(1)
	}
}

// follow tails the event file sipp appends to.
func (e *Endpoint) follow() {
	defer e.wg.Done()
	f, err := os.Open(e.evfile)
	if err != nil {
		e.t.Errorf("e2e endpoint: %v", err)
		return
	}
	defer f.Close()
	rd := bufio.NewReader(f)
	var partial string
	for {
		line, err := rd.ReadString('\n')
		if err == nil {
			e.event(partial + strings.TrimSpace(line))
			partial = ""
			continue
		}
		partial += line
		if !errors.Is(err, io.EOF) {
			e.t.Errorf("e2e endpoint: %v", err)
			return
		}
		select {
		case <-e.ctx.Done():
			return
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// event handles one line: "<kind> <call number> key=value...".
func (e *Endpoint) event(line string) {
	f := strings.Fields(line)
	if len(f) < 2 {
		return
	}
	n, _ := strconv.Atoi(f[1])
	kv := map[string]string{}
	for _, p := range f[2:] {
		k, v, _ := strings.Cut(p, "=")
		kv[k] = v
	}
	e.mu.Lock()
	c := e.calls[n]
	if c == nil {
		c = &callState{n: n, id: kv["callid"], ended: make(chan struct{})}
		e.calls[n] = c
	}
	e.mu.Unlock()
	switch f[0] {
	case "media":
		neg, err := parseMedia(kv)
		if err != nil {
			e.t.Errorf("e2e endpoint: call %d: %v (%q)", n, err, line)
			return
		}
		c.media = true
		e.wg.Add(1)
		go e.runPeer(c, neg)
	case "end":
		if c.end != "" {
			return
		}
		c.end = kv["by"]
		close(c.ended)
		if !c.media {
			e.deliver(CallResult{Number: n, CallID: c.id, End: c.end})
		}
	}
}

func parseMedia(kv map[string]string) (*Negotiated, error) {
	ip, err := netip.ParseAddr(kv["rip"])
	if err != nil {
		return nil, fmt.Errorf("far address: %w", err)
	}
	rport, err := strconv.Atoi(kv["rport"])
	if err != nil {
		return nil, fmt.Errorf("far port: %w", err)
	}
	lport, err := strconv.Atoi(kv["lport"])
	if err != nil {
		return nil, fmt.Errorf("local port: %w", err)
	}
	n := &Negotiated{Remote: netip.AddrPortFrom(ip, uint16(rport)), LocalPort: lport, EC: kv["ec"]}
	if v := kv["ver"]; v != "" {
		if n.Version, err = strconv.Atoi(v); err != nil {
			return nil, fmt.Errorf("version: %w", err)
		}
	}
	if v := kv["dg"]; v != "" {
		if n.MaxDatagram, err = strconv.Atoi(v); err != nil {
			return nil, fmt.Errorf("max datagram: %w", err)
		}
	}
	return n, nil
}

// runPeer runs t38peer for a call with what the SDP exchange agreed, then
// makes sure the call ends.
func (e *Endpoint) runPeer(c *callState, neg *Negotiated) {
	defer e.wg.Done()
	o := e.o
	res := CallResult{Number: c.n, CallID: c.id, Media: neg}
	po := interop.PeerOptions{
		Caller:      e.calling,
		Local:       netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(neg.LocalPort)).String(),
		Remote:      neg.Remote.String(),
		Version:     neg.Version,
		ECM:         o.ECM,
		MaxDatagram: neg.MaxDatagram,
		Ident:       o.Ident,
		Timeout:     o.Timeout,
		Log:         o.Log,
	}
	switch neg.EC {
	case ECRedundancy:
		po.Redundancy = o.Redundancy
	case ECFEC:
		po.FEC, po.Redundancy = true, o.Redundancy
	}
	if o.Send != "" {
		po.Send = o.Send
	} else {
		res.Received = filepath.Join(o.Dir, fmt.Sprintf("received-%d.tif", c.n))
		po.Receive = res.Received
	}
	if o.Log {
		if f, err := os.Create(filepath.Join(o.Dir, fmt.Sprintf("t38peer-%d.log", c.n))); err == nil {
			defer f.Close()
			po.Stderr = f
		}
	}
	e.mu.Lock()
	r := e.ports[neg.LocalPort]
	e.mu.Unlock()
	if r != nil && r.t38 != nil {
		r.t38.Close() // t38peer binds this port now
		r.t38 = nil
	}
	p, err := interop.StartPeer(e.ctx, o.Peer, po)
	if err == nil {
		res.Fax, res.FaxErr = p.Wait()
	} else {
		res.FaxErr = err
	}
	// Give faxd the chance to hang up first, then hang up ourselves.
	select {
	case <-c.ended:
	case <-time.After(o.HangupGrace):
		e.hangup(c)
		select {
		case <-c.ended:
		case <-time.After(10 * time.Second):
		case <-e.ctx.Done():
		}
	case <-e.ctx.Done():
	}
	select {
	case <-c.ended:
		res.End = c.end
	default:
	}
	if r != nil {
		res.AudioPackets = r.pkts.Load()
	}
	e.deliver(res)
}

// deliver hands a finished call to Next, unless the endpoint is closing.
func (e *Endpoint) deliver(r CallResult) {
	select {
	case e.result <- r:
	case <-e.ctx.Done():
	}
}

// hangup sends sipp the in-dialog MESSAGE its scenario waits for in place
// of faxd's BYE; sipp answers it by sending BYE to faxd.
func (e *Endpoint) hangup(c *callState) {
	la := e.trig.LocalAddr().String()
	msg := "MESSAGE sip:e2e@" + e.sipAddr.String() + " SIP/2.0\r\n" +
		"Via: SIP/2.0/UDP " + la + ";branch=z9hG4bK-e2e-hangup-" + strconv.Itoa(c.n) + "\r\n" +
		"From: <sip:harness@" + la + ">;tag=harness\r\n" +
		"To: <sip:e2e@" + e.sipAddr.String() + ">\r\n" +
		"Call-ID: " + c.id + "\r\n" +
		"CSeq: 1 MESSAGE\r\n" +
		"Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
	if _, err := e.trig.WriteToUDPAddrPort([]byte(msg), e.sipAddr); err != nil {
		e.t.Errorf("e2e endpoint: hang-up trigger: %v", err)
	}
}

func listenLoopback(port int) (*net.UDPConn, error) {
	return net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port})
}

// udpBoundBy reports whether process pid holds a UDP socket bound to
// 127.0.0.1:port: /proc/net/udp gives the socket's inode by local address
// (hex, "0100007F:13C4"), and the process's descriptors link to
// "socket:[inode]".
func udpBoundBy(pid int, port uint16) (bool, error) {
	b, err := os.ReadFile("/proc/net/udp")
	if err != nil {
		return false, fmt.Errorf("reading the UDP socket table: %w", err)
	}
	want := fmt.Sprintf("0100007F:%04X", port)
	inodes := map[string]bool{}
	for _, line := range strings.Split(string(b), "\n")[1:] {
		if f := strings.Fields(line); len(f) > 9 && f[1] == want {
			inodes["socket:["+f[9]+"]"] = true
		}
	}
	if len(inodes) == 0 {
		return false, nil
	}
	dir := fmt.Sprintf("/proc/%d/fd", pid)
	fds, err := os.ReadDir(dir)
	if err != nil {
		return false, nil // exited; the caller sees it
	}
	for _, fd := range fds {
		if l, err := os.Readlink(filepath.Join(dir, fd.Name())); err == nil && inodes[l] {
			return true, nil
		}
	}
	return false, nil
}

// freePort finds a UDP port on loopback nobody holds; sipp binds it next.
func freePort() (int, error) {
	c, err := listenLoopback(0)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port, nil
}

func tail(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}
