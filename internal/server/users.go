package server

import (
	"context"

	"github.com/faxd/faxd/internal/users"
)

// sessionPurgeLockKey: one node at a time deletes expired sessions.
const sessionPurgeLockKey = 0x66617864_73657373 // "faxdsess"

// openUsers opens people's accounts (users.*): the store the API and the
// console share, and the purge of sessions nobody presented again after
// they expired (those presented expired are deleted on the spot).
func (s *Server) openUsers() {
	s.Users = users.New(s.DB.Queue, s.cfg.Users.Options())
	s.Sessions = users.NewHTTP(s.Users, s.cfg.Users.AlwaysSecure())
	s.tasks = append(s.tasks, s.newTask("user_sessions_purged", s.DB.Queue, sessionPurgeLockKey, s.cfg.Users.IdleTimeout,
		"Expired console sessions deleted.",
		func(ctx context.Context) (int64, error) { return s.Users.PurgeSessions(ctx) }))
}
