package twosite_test

import (
	"strings"
	"testing"

	twosite "github.com/faxd/faxd/deploy/two-site"
)

// TestDSNNeedsBothDatabaseSites: a topology built by hand without site B,
// or with a B that runs no PostgreSQL, gets an error from DSN and from
// Files naming the site, not a crash.
func TestDSNNeedsBothDatabaseSites(t *testing.T) {
	t.Parallel()
	ref := twosite.Reference("10.0.1.10", "10.0.2.10", "10.0.3.10")
	dsn, err := ref.DSN("faxd_queue")
	if err != nil {
		t.Fatalf("reference DSN: %v", err)
	}
	if want := "postgres://faxd@10.0.1.10:5432,10.0.2.10:5432/faxd_queue?"; !strings.HasPrefix(dsn, want) {
		t.Errorf("reference DSN %q, want prefix %q", dsn, want)
	}

	noB := twosite.Reference("10.0.1.10", "10.0.2.10", "10.0.3.10")
	noB.Hosts = []twosite.Host{noB.Hosts[0], noB.Hosts[2]} // A and W
	noPG := twosite.Reference("10.0.1.10", "10.0.2.10", "10.0.3.10")
	noPG.Hosts[1].PGPort = 0
	for name, c := range map[string]struct {
		topo *twosite.Topology
		want string
	}{
		"site B missing":     {noB, `no site "B"`},
		"B runs no database": {noPG, "site B runs no PostgreSQL"},
	} {
		if dsn, err := c.topo.DSN("faxd_archive"); err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "faxd_archive") {
			t.Errorf("%s: DSN = %q, %v; want an error naming faxd_archive and %q", name, dsn, err, c.want)
		}
		if files, err := c.topo.Files(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: Files = %d files, %v; want an error with %q", name, len(files), err, c.want)
		}
		if _, err := c.topo.Write(t.TempDir()); err == nil {
			t.Errorf("%s: Write succeeded", name)
		}
	}
}

// TestStandbyNodeRenders: a node with role standby gets the standby
// section naming its primary; active nodes get none.
func TestStandbyNodeRenders(t *testing.T) {
	t.Parallel()
	topo := twosite.Reference("10.0.1.10", "10.0.2.10", "10.0.3.10")
	topo.Faxd[2].Role, topo.Faxd[2].StandbyOf = "standby", "fax-a1"
	files, err := topo.Files()
	if err != nil {
		t.Fatal(err)
	}
	by := map[string]string{}
	for _, f := range files {
		by[f.Path] = f.Body
	}
	b1 := by["b/faxd-fax-b1.yaml"]
	for _, want := range []string{"role: standby\n", "standby:\n  primary_id: fax-a1\n"} {
		if !strings.Contains(b1, want) {
			t.Errorf("b/faxd-fax-b1.yaml lacks %q:\n%s", want, b1)
		}
	}
	if a1 := by["a/faxd-fax-a1.yaml"]; strings.Contains(a1, "primary_id") || !strings.Contains(a1, "role: active\n") {
		t.Errorf("a/faxd-fax-a1.yaml is not a plain active node:\n%s", a1)
	}
}
