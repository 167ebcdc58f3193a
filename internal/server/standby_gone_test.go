package server

import (
	"testing"
	"time"

	"github.com/faxd/faxd/internal/cluster"
	"github.com/faxd/faxd/internal/config"
	"github.com/faxd/faxd/internal/pgtest"
)

// A standby promotes itself as soon as its primary's process is gone,
// without waiting for consecutive failed heartbeats: with heartbeats and
// re-checks an hour apart, only the watch of the primary's liveness
// session can promote it within the test.
func TestStandbyPromotesWhenPrimaryProcessGone(t *testing.T) {
	dsn := pgtest.NewDSN(t)
	_, stopPrimary := startNode(t, dsn, func(c *config.Config) {
		c.Node.ID = "fax-a"
		c.Queue.LeaseTTL = config.Duration(time.Minute)
		c.Queue.HeartbeatInterval = config.Duration(time.Second)
	})
	standby, _ := startNode(t, dsn, func(c *config.Config) {
		c.Node.ID = "fax-b"
		c.Node.Role = "standby"
		c.Standby.PrimaryID = "fax-a"
		c.Standby.HeartbeatInterval = time.Hour
		c.Standby.RecheckInterval = time.Hour
		c.Standby.ConsecutiveFailures = 3
		c.Queue.LeaseTTL = config.Duration(time.Minute)
		c.Queue.HeartbeatInterval = config.Duration(time.Second)
	})
	ctl := standby.standby.ctl
	waitFor(t, 30*time.Second, "the standby's first check", func() bool { return !ctl.Status().LastCheck.IsZero() })
	if st := ctl.Status(); st.Role != cluster.RoleStandby || st.ConsecutiveFailures != 0 {
		t.Fatalf("standby before the primary stops: %+v", st)
	}
	stopPrimary() // its process ends: the liveness session goes with it
	waitFor(t, 30*time.Second, "promotion", func() bool { return ctl.Role() == cluster.RolePrimary })
	if st := ctl.Status(); st.ConsecutiveFailures != 1 || st.ChangedBy != cluster.ActorAutomatic {
		t.Fatalf("promoted %+v; want it at the first failed check", st)
	}
}
