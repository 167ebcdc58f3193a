package interop

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"runtime/pprof"
	"sync"
	"syscall"
	"time"

	"github.com/faxd/faxd/t38/bilevel"
	"github.com/faxd/faxd/t38/session"
)

// Our side of the CPU benchmark runs in a child process, this test binary
// re-executed with helperEnv set, so that its rusage holds our terminals
// and nothing of the harness (peer plumbing, PBM and TIFF conversions),
// the way each spandsp peer's rusage holds one terminal. TestMain hands
// control to runHelper before any test runs.

// helperEnv, set in the environment, makes the test binary the helper.
const helperEnv = "FAXD_T38_OURS_HELPER"

// helperCall is one call for the helper.
type helperCall struct {
	Remote string     `json:"remote,omitempty"` // the spandsp answerer we call; empty: we answer
	Pages  []string   `json:"pages,omitempty"`  // PBM pages to send; empty: we receive
	Out    string     `json:"out,omitempty"`    // received page i goes to Out-%03d.pbm
	Opts   ourOptions `json:"opts"`
}

// helperJob is what the parent writes to the helper's stdin.
type helperJob struct {
	Calls []helperCall `json:"calls"`
	// CPUProfile, when set, is where the helper writes its CPU profile.
	CPUProfile string `json:"cpu_profile,omitempty"`
}

// helperResult is one call's outcome as the helper reports it.
type helperResult struct {
	OK       bool          `json:"ok"`
	Result   string        `json:"result"`
	Err      string        `json:"err,omitempty"`
	Pages    int           `json:"pages"`
	Received int           `json:"received"` // page files written
	Call     time.Duration `json:"call"`
	Wire     session.Stats `json:"wire"`
}

// helperReport is the helper's last stdout line.
type helperReport struct {
	Calls []helperResult `json:"calls"`
	CPU   time.Duration  `json:"cpu"` // the helper's own user+system time, start-up included
	Wall  time.Duration  `json:"wall"`
}

// helperRemotes is the parent's second message: the far ends of the
// answering calls (by call index), known once their callers have started,
// as SDP would give them.
type helperRemotes struct {
	Remotes map[int]string `json:"remotes"`
}

// runHelper is the helper's main: it reads a helperJob from stdin, opens
// one socket per call and prints {"ports":[...]}, reads helperRemotes, runs
// every call at once and prints a helperReport.
func runHelper() int {
	start := time.Now()
	var job helperJob
	dec := json.NewDecoder(os.Stdin)
	if err := dec.Decode(&job); err != nil {
		fmt.Fprintln(os.Stderr, "helper: job:", err)
		return 2
	}
	if job.CPUProfile != "" {
		f, err := os.Create(job.CPUProfile)
		if err != nil {
			fmt.Fprintln(os.Stderr, "helper:", err)
			return 2
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintln(os.Stderr, "helper:", err)
			return 2
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	type prepared struct {
		remote netip.AddrPort
		opts   ourOptions
	}
	preps := make([]prepared, len(job.Calls))
	ports := make([]int, len(job.Calls))
	conns := make([]*net.UDPConn, len(job.Calls))
	for i, c := range job.Calls {
		p := prepared{opts: c.Opts}
		if c.Remote != "" {
			ap, err := netip.ParseAddrPort(c.Remote)
			if err != nil {
				fmt.Fprintln(os.Stderr, "helper:", err)
				return 2
			}
			p.remote = ap
		}
		for _, name := range c.Pages {
			m, err := readPBMFile(name)
			if err != nil {
				fmt.Fprintln(os.Stderr, "helper:", err)
				return 2
			}
			p.opts.Pages = append(p.opts.Pages, m)
		}
		p.opts.Calling = c.Remote != ""
		conn, err := listenUDP()
		if err != nil {
			fmt.Fprintln(os.Stderr, "helper:", err)
			return 2
		}
		conns[i] = conn
		ports[i] = conn.LocalAddr().(*net.UDPAddr).Port
		preps[i] = p
	}
	if err := json.NewEncoder(os.Stdout).Encode(map[string][]int{"ports": ports}); err != nil {
		return 2
	}
	var rem helperRemotes
	if err := dec.Decode(&rem); err != nil {
		fmt.Fprintln(os.Stderr, "helper: remotes:", err)
		return 2
	}
	for i, r := range rem.Remotes {
		ap, err := netip.ParseAddrPort(r)
		if err != nil || i < 0 || i >= len(preps) {
			fmt.Fprintln(os.Stderr, "helper: remote", i, r, err)
			return 2
		}
		preps[i].remote = ap
	}
	results := make([]helperResult, len(job.Calls))
	var wg sync.WaitGroup
	for i := range job.Calls {
		wg.Add(1)
		go func() {
			defer wg.Done()
			or, err := runOurs(ctx, conns[i], preps[i].remote, preps[i].opts)
			r := helperResult{Call: or.Call, Wire: or.Wire}
			if err != nil {
				r.Err = err.Error()
			}
			if or.Result != nil {
				r.OK, r.Result, r.Pages = or.Result.OK(), or.Result.Error(), or.Result.Pages
			}
			for k, rp := range or.Received {
				if rp.Image == nil {
					r.Err = fmt.Sprintf("received page %d has no image", k)
					break
				}
				if err := writePBMFile(fmt.Sprintf("%s-%03d.pbm", job.Calls[i].Out, k), rp.Image); err != nil {
					r.Err = err.Error()
					break
				}
				r.Received++
			}
			results[i] = r
		}()
	}
	wg.Wait()
	if job.CPUProfile != "" {
		pprof.StopCPUProfile()
	}
	rep := helperReport{Calls: results, CPU: processCPU(), Wall: time.Since(start)}
	if err := json.NewEncoder(os.Stdout).Encode(rep); err != nil {
		return 2
	}
	return 0
}

func readPBMFile(name string) (*bilevel.Image, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return ReadPBM(f)
}

func writePBMFile(name string, m *bilevel.Image) error {
	f, err := os.Create(name)
	if err != nil {
		return err
	}
	if err := WritePBM(f, m); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// oursProc is a running helper.
type oursProc struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	out    *bufio.Scanner
	stderr bytes.Buffer
	Ports  []int
}

// startOurs starts the helper on job and returns once its sockets are
// open; Ports[i] is call i's local port. The calls start with Begin.
func startOurs(ctx context.Context, job helperJob) (*oursProc, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	in, err := json.Marshal(job)
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, self)
	cmd.Env = append(os.Environ(), helperEnv+"=1")
	p := &oursProc{cmd: cmd}
	cmd.Stderr = &p.stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if p.stdin, err = cmd.StdinPipe(); err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("interop: start helper: %w", err)
	}
	if _, err := p.stdin.Write(append(in, '\n')); err != nil {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		return nil, fmt.Errorf("interop: helper job: %w", err)
	}
	p.out = bufio.NewScanner(stdout)
	p.out.Buffer(nil, 1<<20)
	var hello struct{ Ports []int }
	if !p.out.Scan() || json.Unmarshal(p.out.Bytes(), &hello) != nil || len(hello.Ports) != len(job.Calls) {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		return nil, fmt.Errorf("interop: helper gave no ports: %s", p.stderr.String())
	}
	p.Ports = hello.Ports
	return p, nil
}

// Begin starts the calls; remotes are the far ends of the answering calls
// by call index.
func (p *oursProc) Begin(remotes map[int]netip.AddrPort) error {
	m := helperRemotes{Remotes: map[int]string{}}
	for i, r := range remotes {
		m.Remotes[i] = r.String()
	}
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	_, err = p.stdin.Write(b)
	return errors.Join(err, p.stdin.Close())
}

// Wait returns the helper's report once it exits.
func (p *oursProc) Wait() (helperReport, error) {
	var rep helperReport
	var last []byte
	for p.out.Scan() {
		last = append(last[:0], p.out.Bytes()...)
	}
	werr := p.cmd.Wait()
	if err := json.Unmarshal(last, &rep); err != nil {
		return rep, errors.Join(fmt.Errorf("interop: helper report %q: %w; stderr: %s", last, err, p.stderr.String()), werr)
	}
	return rep, werr
}

// processCPU is this process's user+system CPU time.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
