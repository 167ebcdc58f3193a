package cluster

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/faxd/faxd/internal/pgtest"
	"github.com/faxd/faxd/queue"
)

// The helper primary process of BenchmarkStandbyPromotion.
const (
	helperPrimaryDSN   = "FAXD_CLUSTER_HELPER_DSN"        // set: run as the helper
	helperPrimaryID    = "FAXD_CLUSTER_HELPER_NODE"       // its node id
	helperPrimaryLease = "FAXD_CLUSTER_HELPER_LEASE_ONLY" // "1": no liveness session
)

// helperPrimaryTTL is the helper primary's lease: the heartbeat-only path
// waits it out (up to queue.lease_ttl, 10 s by default, in production).
const helperPrimaryTTL = 2 * time.Second

// TestHelperPrimaryProcess is not a test: it is the primary node process
// that BenchmarkStandbyPromotion kills. It registers in the queue
// database, heartbeats, prints READY and waits to be killed. TestMain
// runs it only under helperPrimaryDSN.
func TestHelperPrimaryProcess(t *testing.T) {
	ctx := context.Background()
	q, err := queue.New(pgtest.Pool(t, os.Getenv(helperPrimaryDSN)), queue.Config{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	n, err := q.Register(ctx, queue.NodeInfo{ID: os.Getenv(helperPrimaryID), Capacity: 1}, queue.NodeConfig{
		TTL: helperPrimaryTTL, Interval: helperPrimaryTTL / 10, LeaseOnly: os.Getenv(helperPrimaryLease) == "1"})
	if err != nil {
		t.Fatal(err)
	}
	go n.Run(ctx)
	fmt.Println("READY")
	time.Sleep(time.Hour)
}

// promotions records when the controller promoted.
type promotions chan time.Time

func (p promotions) Promote(context.Context) error  { p <- time.Now(); return nil }
func (p promotions) StepDown(context.Context) error { return nil }
func startPrimary(b *testing.B, dsn, id string, leaseOnly bool) *exec.Cmd {
	b.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperPrimaryProcess$", "-test.v")
	cmd.Env = append(os.Environ(), helperPrimaryDSN+"="+dsn, helperPrimaryID+"="+id)
	if leaseOnly {
		cmd.Env = append(cmd.Env, helperPrimaryLease+"=1")
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if sc.Text() == "READY" {
			go func() {
				for sc.Scan() {
				}
			}()
			return cmd
		}
	}
	b.Fatal("helper primary process ended before READY")
	return nil
}

// BenchmarkStandbyPromotion measures a standby's promotion time: from the
// SIGKILL of its primary's process to the controller's Promote. Each op
// is one kill of a fresh helper primary process (2 s lease renewed every
// 200 ms) watched by a fresh controller over the shared queue database
// (LeaseProbe; standby heartbeat_interval 1 s, recheck_interval 250 ms,
// consecutive_failures 3). Variants, in the same run:
//   - liveness: the primary holds a liveness session and the standby
//     watches it every 250 ms (the default queue.probe_interval), as faxd
//     does; the promotion's reason must be the process being gone.
//   - heartbeat-only: the primary is lease only and nothing is watched:
//     the lease must expire and then three checks fail.
//
// ns/op is the mean; p50-ms and p99-ms the percentiles; gone/op the
// share of promotions whose reason was the ended liveness session.
//
//	go test -run '^$' -bench StandbyPromotion -benchtime 50x ./internal/cluster
func BenchmarkStandbyPromotion(b *testing.B) {
	for _, c := range []struct {
		name     string
		liveness bool
	}{
		{"liveness", true},
		{"heartbeat-only", false},
	} {
		b.Run(c.name, func(b *testing.B) {
			dsn := pgtest.NewDSN(b)
			q, err := queue.New(pgtest.Pool(b, dsn), queue.Config{Logger: quiet})
			if err != nil {
				b.Fatal(err)
			}
			var lat []time.Duration
			gone := 0
			b.ResetTimer()
			for i := range b.N {
				b.StopTimer()
				id := fmt.Sprintf("primary-%d", i)
				primary := startPrimary(b, dsn, id, !c.liveness)
				cfg := DefaultStandbyConfig()
				cfg.PrimaryID = id
				cfg.HeartbeatInterval = time.Second
				cfg.RecheckInterval = 250 * time.Millisecond
				cfg.ConsecutiveFailures = 3
				probe := LeaseProbe{Nodes: q, Primary: id}
				promoted := make(promotions, 1)
				d := StandbyDeps{Self: "standby", Probe: probe, Actions: promoted, Log: quiet}
				if c.liveness {
					d.Watch = probe
				}
				ctl := NewController(cfg, d)
				ctx, cancel := context.WithCancel(context.Background())
				go ctl.Run(ctx)
				for ctl.Status().LastOK.IsZero() {
					time.Sleep(5 * time.Millisecond) // the first good heartbeat
				}
				// A process dies at any point of the standby's cycle, not
				// right after a check.
				time.Sleep(time.Duration(rand.Int64N(int64(cfg.HeartbeatInterval))))
				b.StartTimer()
				t0 := time.Now()
				if err := primary.Process.Kill(); err != nil {
					b.Fatal(err)
				}
				at := <-promoted
				b.StopTimer()
				lat = append(lat, at.Sub(t0))
				for ctl.Role() != RolePrimary {
					time.Sleep(time.Millisecond) // the reason is set after Promote returns
				}
				cancel()
				_ = primary.Wait()
				if r := ctl.Status().Reason; strings.Contains(r, "process is gone") {
					gone++
				} else if c.liveness {
					// The helper's lease lapsed before the kill (a loaded
					// machine): the heartbeats had already failed.
					b.Logf("promotion %d not by the liveness session: %s", i, r)
				}
			}
			b.StopTimer()
			slices.Sort(lat)
			pct := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))].Microseconds()) / 1000 }
			b.ReportMetric(pct(0.50), "p50-ms")
			b.ReportMetric(pct(0.99), "p99-ms")
			b.ReportMetric(float64(gone)/float64(b.N), "gone/op")
		})
	}
}
