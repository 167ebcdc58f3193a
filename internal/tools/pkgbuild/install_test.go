package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// dpkgRoot runs dpkg and other commands against a scratch root directory:
// dpkg --root with the maintainer scripts run from outside it
// (DPKG_ROOT, as the scripts expect), so nothing outside the root is
// written. Not root, it runs them under fakeroot with a saved state.
type dpkgRoot struct {
	t      *testing.T
	root   string
	prefix []string // fakeroot and its state file, when not root
}

func newDpkgRoot(t *testing.T) *dpkgRoot {
	t.Helper()
	if _, err := exec.LookPath("dpkg"); err != nil {
		t.Skip("dpkg (Debian package dpkg) is not installed")
	}
	if _, err := exec.LookPath("systemd-sysusers"); err != nil {
		t.Skip("systemd-sysusers (Debian package systemd) is not installed")
	}
	d := &dpkgRoot{t: t, root: t.TempDir()}
	if os.Geteuid() != 0 {
		fr, err := exec.LookPath("fakeroot")
		if err != nil {
			t.Skip("not root, and fakeroot (Debian package fakeroot) is not installed")
		}
		state := filepath.Join(t.TempDir(), "fakeroot.state")
		if out, err := exec.Command(fr, "-s", state, "true").CombinedOutput(); err != nil {
			t.Fatalf("fakeroot: %v\n%s", err, out)
		}
		d.prefix = []string{fr, "-i", state, "-s", state}
	}
	for _, dir := range []string{"var/lib/dpkg/info", "var/lib/dpkg/updates", "var/log"} {
		if err := os.MkdirAll(filepath.Join(d.root, dir), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// The package depends on Ghostscript: a stand-in entry satisfies it
	// without installing it into the scratch root.
	status := "Package: ghostscript\nStatus: install ok installed\nPriority: optional\nSection: text\n" +
		"Maintainer: faxd tests <tests@invalid>\nArchitecture: " + runtime.GOARCH + "\nVersion: 10.0.0\n" +
		"Description: stand-in for the scratch root\n\n"
	for name, body := range map[string]string{"var/lib/dpkg/status": status, "var/lib/dpkg/info/ghostscript.list": ""} {
		if err := os.WriteFile(filepath.Join(d.root, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return d
}

func (d *dpkgRoot) cmd(name string, args ...string) ([]byte, error) {
	argv := append(append(append([]string(nil), d.prefix...), name), args...)
	c := exec.Command(argv[0], argv[1:]...)
	c.Stdin = nil // a conffile question would read EOF and fail, not wait
	return c.CombinedOutput()
}

// dpkg runs dpkg on the scratch root and fails the test on an error.
func (d *dpkgRoot) dpkg(args ...string) string {
	d.t.Helper()
	all := append([]string{"--root=" + d.root, "--log=" + filepath.Join(d.root, "var/log/dpkg.log"),
		"--force-script-chrootless"}, args...)
	out, err := d.cmd("dpkg", all...)
	if err != nil {
		d.t.Fatalf("dpkg %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// status is dpkg's Status and Version of faxd in the scratch root, "" when
// dpkg knows nothing of it.
func (d *dpkgRoot) status() string {
	d.t.Helper()
	out, err := d.cmd("dpkg-query", "--admindir="+filepath.Join(d.root, "var/lib/dpkg"), "-W", "-f", "${Status} ${Version}", "faxd")
	if err != nil {
		return ""
	}
	return string(out)
}

// stat is "mode uid gid" of a path in the scratch root (through fakeroot
// when not root, which keeps the owners dpkg set), "" when it is absent.
func (d *dpkgRoot) stat(path string) string {
	d.t.Helper()
	p := filepath.Join(d.root, path)
	if _, err := os.Lstat(p); err != nil {
		return ""
	}
	out, err := d.cmd("stat", "-c", "%a %u %g", p)
	if err != nil {
		d.t.Fatalf("stat %s: %v\n%s", path, err, out)
	}
	return strings.TrimSpace(string(out))
}

func (d *dpkgRoot) read(path string) string {
	d.t.Helper()
	b, err := os.ReadFile(filepath.Join(d.root, path))
	if err != nil {
		d.t.Fatal(err)
	}
	return string(b)
}

// userLine returns the faxd entry of the scratch root's passwd or group
// file, split at the colons.
func (d *dpkgRoot) userLine(file string) []string {
	d.t.Helper()
	for _, line := range strings.Split(d.read(file), "\n") {
		if f := strings.Split(line, ":"); f[0] == "faxd" {
			return f
		}
	}
	d.t.Fatalf("no faxd in %s:\n%s", file, d.read(file))
	return nil
}

// The .deb installed for real with dpkg into a scratch root: version 1,
// an edit of both configuration files, version 2 over it (the edits are
// kept, without a question), removal (the configuration stays) and purge
// (it goes; the state directory with the faxes stays). This machine's own
// user database is not touched.
func TestDebInstallUpgradeRemovePurge(t *testing.T) {
	t.Parallel()
	needPackages(t)
	hostPasswd, _ := os.ReadFile("/etc/passwd")
	d := newDpkgRoot(t)
	out := t.TempDir()
	var debs []string
	for _, v := range []string{"v1.0.0", "v2.0.0"} {
		paths, err := Build(Options{Root: root, BinDir: pkgs.bin, Version: v, Arch: runtime.GOARCH,
			OutDir: filepath.Join(out, v), Formats: []string{"deb"}})
		if err != nil || len(paths) != 1 {
			t.Fatalf("building %s: %v %v", v, paths, err)
		}
		debs = append(debs, paths[0])
	}

	d.dpkg("--install", debs[0])
	if got := d.status(); got != "install ok installed 1.0.0-1" {
		t.Fatalf("after installing v1: %q", got)
	}
	pw, gr := d.userLine("etc/passwd"), d.userLine("etc/group")
	if len(pw) != 7 || pw[5] != "/var/lib/faxd" || pw[6] != "/usr/sbin/nologin" || pw[2] == "0" || pw[3] != gr[2] {
		t.Errorf("faxd user %q, group %q: want a system user with home /var/lib/faxd, no shell, its own group", pw, gr)
	}
	uid, gid := pw[2], gr[2]
	for path, want := range map[string]string{
		"usr/bin/faxd":                        "755 0 0",
		"usr/bin/faxctl":                      "755 0 0",
		"usr/lib/systemd/system/faxd.service": "644 0 0",
		"usr/lib/sysusers.d/faxd.conf":        "644 0 0",
		"etc/faxd":                            "750 0 " + gid,
		"etc/faxd/faxd.yaml":                  "640 0 " + gid,
		"etc/faxd/faxd.env":                   "640 0 " + gid,
		"var/lib/faxd":                        "750 " + uid + " " + gid,
	} {
		if got := d.stat(path); got != want {
			t.Errorf("installed %s: %q, want %q", path, got, want)
		}
	}
	built, err := os.ReadFile(filepath.Join(pkgs.bin, "faxd"))
	if err != nil {
		t.Fatal(err)
	}
	if got := d.read("usr/bin/faxd"); !bytes.Equal([]byte(got), built) {
		t.Error("installed /usr/bin/faxd is not the binary built")
	}

	// The administrator's edits.
	edits := map[string]string{"etc/faxd/faxd.yaml": "\n# edited by the administrator\n", "etc/faxd/faxd.env": "\nFAXD_TEST_EDIT=1\n"}
	for path, add := range edits {
		f, err := os.OpenFile(filepath.Join(d.root, path), os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.WriteString(add); err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
	d.dpkg("--install", debs[1])
	if got := d.status(); got != "install ok installed 2.0.0-1" {
		t.Fatalf("after upgrading to v2: %q", got)
	}
	for path, add := range edits {
		if !strings.HasSuffix(d.read(path), add) {
			t.Errorf("upgrade lost the edit of %s", path)
		}
		if got := d.stat(path); got != "640 0 "+gid {
			t.Errorf("%s after the upgrade: %q", path, got)
		}
	}
	if got := d.userLine("etc/passwd"); got[2] != uid {
		t.Errorf("upgrade changed faxd's uid from %s to %s", uid, got[2])
	}

	// Removal keeps the configuration; purge removes it. The state
	// directory holds the faxes and is kept either way.
	if err := os.WriteFile(filepath.Join(d.root, "var/lib/faxd/secrets.key"), []byte("k"), 0o600); err != nil {
		t.Fatal(err)
	}
	d.dpkg("--remove", "faxd")
	if got := d.status(); got != "deinstall ok config-files 2.0.0-1" {
		t.Errorf("after removal: %q", got)
	}
	for _, gone := range []string{"usr/bin/faxd", "usr/bin/faxctl", "usr/lib/systemd/system/faxd.service", "usr/lib/sysusers.d/faxd.conf"} {
		if d.stat(gone) != "" {
			t.Errorf("%s still there after removal", gone)
		}
	}
	for path, add := range edits {
		if !strings.HasSuffix(d.read(path), add) {
			t.Errorf("removal changed %s", path)
		}
	}
	d.dpkg("--purge", "faxd")
	if got := d.status(); got != "" {
		t.Errorf("after purge dpkg still knows faxd: %q", got)
	}
	for _, gone := range []string{"etc/faxd/faxd.yaml", "etc/faxd/faxd.env", "etc/faxd"} {
		if d.stat(gone) != "" {
			t.Errorf("%s still there after purge", gone)
		}
	}
	if d.stat("var/lib/faxd/secrets.key") == "" {
		t.Error("purge removed the state directory's contents")
	}

	if now, _ := os.ReadFile("/etc/passwd"); bytes.Contains(now, []byte("\nfaxd:")) != bytes.Contains(hostPasswd, []byte("\nfaxd:")) {
		t.Error("this machine's /etc/passwd gained or lost a faxd user")
	}
}
