package twosite_test

import (
	"context"
	"errors"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	twosite "github.com/faxd/faxd/deploy/two-site"
)

// TestShortDrill runs the short drill on loopback: etcd, Patroni with
// PostgreSQL, a NATS cluster and three faxd nodes, site A killed
// mid-transmission, then the fail-back. It fails on any fax lost or
// received twice, a sent fax missing from the archive, or a step that
// does not happen.
func TestShortDrill(t *testing.T) {
	runDrill(t, twosite.Short())
}

// TestShortStandbyDrill is the same drill with faxd on B as fax-a1's
// standby: it must claim nothing before the kill, promote itself after
// it, lose and duplicate nothing, and step down once A is back.
func TestShortStandbyDrill(t *testing.T) {
	rep := runDrill(t, twosite.StandbyShort())
	if rep == nil {
		return
	}
	if !rep.Standby || rep.Promoted <= 0 || rep.SteppedDown <= 0 || rep.StandbyCallsEarly != 0 {
		t.Errorf("a standby step was not observed: %+v", rep)
	}
}

func runDrill(t *testing.T, o twosite.Options) *twosite.Report {
	t.Helper()
	if _, err := twosite.Requirements(); errors.Is(err, twosite.ErrMissing) {
		t.Skipf("two-site drill: %v", err)
	}
	t.Parallel()
	bin := filepath.Join(t.TempDir(), "faxd")
	// Built with the test run's own settings (CGO_ENABLED as make test
	// sets it), so the packages come from the build cache the suite has
	// just filled; faxd has no cgo code either way.
	build := exec.Command("go", "build", "-o", bin, "github.com/faxd/faxd/cmd/faxd")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building faxd: %v\n%s", err, out)
	}
	nats, err := twosite.BuildNATSServer(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	o.Faxd, o.NATS = bin, nats
	o.Log = testWriter{t}
	// End before go test's own timeout would: its panic skips the drill's
	// cleanup, and Patroni's PostgreSQL (a session of its own) would
	// outlive the test until the next drill sweeps it.
	deadline := time.Now().Add(10 * time.Minute)
	if d, ok := t.Deadline(); ok && d.Add(-30*time.Second).Before(deadline) {
		deadline = d.Add(-30 * time.Second)
	}
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	rep, err := twosite.Run(ctx, o)
	if rep != nil {
		t.Logf("two-site drill (%s):\n%s", runtime.Version(), rep.Table())
	}
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() {
		t.Fatalf("drill problems:\n%s", strings.Join(rep.Problems, "\n"))
	}
	if rep.Sent != rep.Submitted || rep.Submitted != o.Faxes {
		t.Errorf("%d of %d faxes submitted, %d sent", rep.Submitted, o.Faxes, rep.Sent)
	}
	if rep.DBWritable <= 0 || rep.FirstCallFromB <= 0 || !rep.FailBackSent {
		t.Errorf("a failover step was not observed: %+v", rep)
	}
	return rep
}

// TestReferenceRenders checks the files for real hosts: every process of
// each site gets its file, addresses and tuning land where they belong.
func TestReferenceRenders(t *testing.T) {
	t.Parallel()
	files, err := twosite.Reference("10.0.1.10", "10.0.2.10", "10.0.3.10").Write(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	by := map[string]string{}
	for _, f := range files {
		by[f.Path] = f.Body
	}
	for _, want := range []string{"a/etcd.yaml", "b/etcd.yaml", "w/etcd.yaml", "a/nats.conf", "b/nats.conf", "w/nats.conf",
		"a/patroni.yml", "b/patroni.yml", "a/faxd-fax-a1.yaml", "a/faxd-fax-a2.yaml", "b/faxd-fax-b1.yaml"} {
		if by[want] == "" {
			t.Errorf("%s not rendered", want)
		}
	}
	if _, ok := by["w/patroni.yml"]; ok {
		t.Error("the witness runs no database")
	}
	checks := map[string][]string{
		"a/faxd-fax-a1.yaml": {"10.0.1.10:5432,10.0.2.10:5432/faxd_queue?target_session_attrs=read-write", "/faxd_archive?", "nats://10.0.1.10:4222,nats://10.0.2.10:4222,nats://10.0.3.10:4222", "stream_replicas: 3"},
		"a/patroni.yml":      {"ttl: 10", "loop_wait: 1", "retry_timeout: 4", "synchronous_mode: true", "use_pg_rewind: true", "10.0.1.10:2379,10.0.2.10:2379,10.0.3.10:2379"},
		"w/nats.conf":        {"nats-route://10.0.1.10:6222", "nats-route://10.0.2.10:6222", "jetstream"},
		"b/etcd.yaml":        {"etcd-w=http://10.0.3.10:2380", "listen-client-urls: http://10.0.2.10:2379"},
	}
	for path, subs := range checks {
		for _, s := range subs {
			if !strings.Contains(by[path], s) {
				t.Errorf("%s lacks %q:\n%s", path, s, by[path])
			}
		}
	}
	if strings.Contains(by["w/nats.conf"], "nats-route://10.0.3.10") {
		t.Error("the witness routes to itself")
	}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
