package server

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/faxd/faxd/internal/sdnotify"
)

// systemdParts tell systemd (Type=notify) when faxd is ready, that it is
// alive, and that it is stopping. Without $NOTIFY_SOCKET they do nothing.
type systemdParts struct {
	n        *sdnotify.Notifier
	watchdog time.Duration // 0: WatchdogSec= not set
	ready    atomic.Bool   // READY=1 sent
	serving  atomic.Bool   // the HTTP server has not failed
	checks   atomic.Int64  // watchdog checks done (tests count them)
	// readyPoll is how often readiness is checked until it first holds.
	readyPoll time.Duration
}

// openSystemd reads $NOTIFY_SOCKET and $WATCHDOG_USEC; a malformed value
// stops the start with an error naming the variable.
func (s *Server) openSystemd() error {
	n, err := sdnotify.New(os.Getenv)
	if err != nil {
		return err
	}
	wd, err := sdnotify.WatchdogInterval(os.Getenv, os.Getpid())
	if err != nil {
		return err
	}
	s.systemd = &systemdParts{n: n, watchdog: wd, readyPoll: time.Second}
	s.systemd.serving.Store(true)
	return nil
}

// send logs a failed notification: systemd then acts on its own timeouts,
// which is all it could do anyway.
func (s *Server) sdSend(states ...string) {
	if err := s.systemd.n.Send(states...); err != nil {
		s.log.Warn("systemd notification not sent", "err", err)
	}
}

// runSystemd sends READY=1 the first time the readiness checks behind
// /readyz all pass (not before ctx, the run context, ends), then WATCHDOG=1
// every half of WatchdogSec while this node's lease is held and the HTTP
// server runs: a node that lost its lease or hung gets no pings, and
// systemd restarts it. It runs until bg ends, so pings go on while calls
// drain at shutdown.
func (s *Server) runSystemd(ctx, bg context.Context) {
	p := s.systemd
	if !p.n.Enabled() {
		return
	}
	t := time.NewTicker(p.readyPoll)
	defer t.Stop()
	lastStatus := ""
	for !p.ready.Load() {
		var down []string
		for _, c := range s.checkComponents(ctx) {
			if c.err != nil {
				down = append(down, c.name)
			}
		}
		if ctx.Err() != nil {
			return
		}
		if len(down) == 0 {
			p.ready.Store(true)
			s.sdSend(sdnotify.Ready, sdnotify.Status(fmt.Sprintf("serving: role %s, http %s", s.cfg.Node.Role, s.HTTPAddr())))
			s.log.Info("systemd notified: ready")
			break
		}
		if st := "waiting for " + strings.Join(down, ", "); st != lastStatus {
			lastStatus = st
			s.sdSend(sdnotify.Status(st))
		}
		select {
		case <-ctx.Done():
			return
		case <-bg.Done():
			return
		case <-t.C:
		}
	}
	if p.watchdog <= 0 {
		return
	}
	t.Reset(p.watchdog)
	healthy := true
	for {
		var why string
		if err := s.Node.Lease().Err(); err != nil {
			why = "node lease not held: " + err.Error()
		} else if !p.serving.Load() {
			why = "HTTP server stopped"
		}
		p.checks.Add(1)
		switch {
		case why == "" && healthy:
			s.sdSend(sdnotify.Watchdog)
		case why == "":
			healthy = true
			s.log.Info("systemd watchdog fed again")
			s.sdSend(sdnotify.Status("serving again"), sdnotify.Watchdog)
		case healthy:
			healthy = false
			s.log.Warn("systemd watchdog not fed", "reason", why)
			s.sdSend(sdnotify.Status(why))
		}
		select {
		case <-bg.Done():
			return
		case <-t.C:
		}
	}
}

// sdStopping tells systemd the stop has begun (calls drain for up to
// channel.drain_timeout; TimeoutStopSec must be longer).
func (s *Server) sdStopping() {
	if s.systemd != nil && s.systemd.n.Enabled() {
		s.sdSend(sdnotify.Stopping, sdnotify.Status("stopping: draining calls"))
	}
}
