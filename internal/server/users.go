package server

import (
	"context"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/faxd/faxd/internal/users"
)

// sessionPurgeLockKey: one node at a time deletes expired sessions.
const sessionPurgeLockKey = 0x66617864_73657373 // "faxdsess"

// openUsers opens people's accounts (users.*): the store the API and the
// console share, the login counter, and the purge of sessions nobody
// presented again after they expired (those presented expired are
// deleted on the spot).
func (s *Server) openUsers() {
	logins := prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "faxd", Name: "user_logins_total",
		Help: "Console and API logins by result: ok, failed (wrong name or password, disabled account) or throttled."}, []string{"result"})
	for _, r := range []string{"ok", "failed", "throttled"} {
		logins.WithLabelValues(r) // present at 0, so rate() works from the start
	}
	s.Metrics.Registry.MustRegister(logins)
	opts := s.cfg.Users.Options()
	opts.OnLogin = func(result string) { logins.WithLabelValues(result).Inc() }
	s.Users = users.New(s.DB.Queue, opts)
	s.Sessions = users.NewHTTP(s.Users, s.cfg.Users.AlwaysSecure())
	s.tasks = append(s.tasks, s.newTask("user_sessions_purged", s.DB.Queue, sessionPurgeLockKey, s.cfg.Users.IdleTimeout,
		"Expired console sessions deleted.",
		func(ctx context.Context) (int64, error) { return s.Users.PurgeSessions(ctx) }))
}
