package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	rpmutils "github.com/sassoftware/go-rpmutils"
)

const root = "../../.."

// pkgs are the .deb and .rpm built once from freshly built faxd and
// faxctl (CGO_ENABLED=0, as `make package` builds them).
var pkgs struct {
	bin, deb, rpm string
	err           error
}

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "pkgbuild-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	pkgs.err = buildPackages(dir)
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func buildPackages(dir string) error {
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	pkgs.bin = filepath.Join(dir, "bin")
	cmd := exec.Command(goBin, "build", "-trimpath", "-ldflags", "-s -w -X github.com/faxd/faxd/internal/buildinfo.Version=v9.8.7",
		"-o", pkgs.bin+"/", "./cmd/faxd", "./cmd/faxctl")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build: %v\n%s", err, out)
	}
	paths, err := Build(Options{Root: root, BinDir: pkgs.bin, Version: "v9.8.7", Arch: runtime.GOARCH,
		OutDir: filepath.Join(dir, "dist"), Formats: []string{"deb", "rpm"}})
	if err != nil {
		return err
	}
	for _, p := range paths {
		switch filepath.Ext(p) {
		case ".deb":
			pkgs.deb = p
		case ".rpm":
			pkgs.rpm = p
		}
	}
	if pkgs.deb == "" || pkgs.rpm == "" {
		return fmt.Errorf("packages written: %v", paths)
	}
	return nil
}

func needPackages(t *testing.T) {
	t.Helper()
	if pkgs.err != nil {
		t.Fatal(pkgs.err)
	}
}

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

func dpkgDeb(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("dpkg-deb")
	if err != nil {
		t.Skip("dpkg-deb (Debian package dpkg) is not installed")
	}
	return p
}

// The .deb as dpkg sees it: its control fields, every file with its mode
// and owner, the configuration files marked so that an upgrade keeps the
// administrator's edits, and binaries that run once unpacked.
func TestDebContents(t *testing.T) {
	t.Parallel()
	needPackages(t)
	dd := dpkgDeb(t)
	fields := run(t, dd, "-f", pkgs.deb, "Package", "Version", "Architecture", "Depends")
	for _, want := range []string{"Package: faxd", "Version: 9.8.7-1", "Depends: ghostscript",
		"Architecture: " + map[string]string{"amd64": "amd64", "arm64": "arm64"}[runtime.GOARCH]} {
		if !strings.Contains(fields, want) {
			t.Errorf("control has no %q:\n%s", want, fields)
		}
	}

	listing := map[string]string{} // path -> "mode owner/group"
	for _, line := range strings.Split(strings.TrimSpace(run(t, dd, "-c", pkgs.deb)), "\n") {
		f := strings.Fields(line)
		if len(f) < 6 {
			t.Fatalf("listing line %q", line)
		}
		listing[strings.TrimPrefix(f[5], ".")] = f[0] + " " + f[1]
	}
	for path, want := range map[string]string{
		"/usr/bin/faxd":                         "-rwxr-xr-x root/root",
		"/usr/bin/faxctl":                       "-rwxr-xr-x root/root",
		"/usr/lib/systemd/system/faxd.service":  "-rw-r--r-- root/root",
		"/usr/lib/sysusers.d/faxd.conf":         "-rw-r--r-- root/root",
		"/etc/faxd/":                            "drwxr-x--- root/root",
		"/etc/faxd/faxd.yaml":                   "-rw-r----- root/root",
		"/etc/faxd/faxd.env":                    "-rw-r----- root/root", // secrets: never world-readable
		"/usr/share/doc/faxd/deploy.md":         "-rw-r--r-- root/root",
		"/usr/share/doc/faxd/faxd.example.yaml": "-rw-r--r-- root/root",
	} {
		if got := listing[path]; got != want {
			t.Errorf("%s: %q, want %q", path, got, want)
		}
	}

	x := t.TempDir()
	run(t, dd, "-x", pkgs.deb, x)
	ctl := t.TempDir()
	run(t, dd, "-e", pkgs.deb, ctl)
	conffiles, err := os.ReadFile(filepath.Join(ctl, "conffiles"))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Fields(string(conffiles)); !slices.Equal(got, []string{"/etc/faxd/faxd.env", "/etc/faxd/faxd.yaml"}) &&
		!slices.Equal(got, []string{"/etc/faxd/faxd.yaml", "/etc/faxd/faxd.env"}) {
		t.Errorf("conffiles = %q", got)
	}
	for _, s := range []string{"postinst", "prerm", "postrm"} {
		want, _ := os.ReadFile(filepath.Join(root, "deploy/package", s+".sh"))
		got, err := os.ReadFile(filepath.Join(ctl, s))
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s differs from deploy/package/%s.sh (%v)", s, s, err)
		}
	}

	faxd := filepath.Join(x, "usr/bin/faxd")
	if out := run(t, faxd, "version"); !strings.Contains(out, "v9.8.7") {
		t.Errorf("faxd version: %q", out)
	}
	run(t, faxd, "-config", filepath.Join(x, "etc/faxd/faxd.yaml"), "check")
	if out := run(t, filepath.Join(x, "usr/bin/faxctl"), "-h"); !strings.Contains(strings.ToLower(out), "usage") {
		t.Errorf("faxctl -h: %q", out)
	}
	verifyUnit(t, filepath.Join(x, "usr/lib/systemd/system/faxd.service"), faxd)
}

// verifyUnit runs systemd-analyze verify on the unit as packaged, its
// ExecStart pointed at the unpacked binary (verify needs it to exist).
func verifyUnit(t *testing.T, unit, faxd string) {
	t.Helper()
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze (Debian package systemd) is not installed")
	}
	data, err := os.ReadFile(unit)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(data, []byte("ExecStart=/usr/bin/faxd ")) {
		t.Fatalf("packaged unit does not start /usr/bin/faxd")
	}
	p := filepath.Join(t.TempDir(), "faxd.service")
	if err := os.WriteFile(p, bytes.ReplaceAll(data, []byte("/usr/bin/faxd"), []byte(faxd)), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(analyze, "verify", p).CombinedOutput(); err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
	}
}

// The post-install script's logic, run against fake user-management
// commands (they log their arguments and add faxd to the root's passwd and
// group files) and a scratch root (DPKG_ROOT): the faxd user is made from
// the packaged sysusers.d file when systemd-sysusers exists, with useradd
// otherwise, and not at all when the root has it; the state directory and
// /etc/faxd get their owners, by the numbers in the root's own files (this
// machine's user database may not know them), and their modes.
func TestPostinstUserAndDirectories(t *testing.T) {
	t.Parallel()
	needPackages(t)
	dd := dpkgDeb(t)
	ctl := t.TempDir()
	run(t, dd, "-e", pkgs.deb, ctl)

	for _, tc := range []struct {
		name       string
		userExists bool
		sysusers   bool
		want       []string // the logged calls, in order
	}{
		{"sysusers", false, true, []string{
			"systemd-sysusers --root ROOT - u faxd - \"faxd fax server\" /var/lib/faxd /usr/sbin/nologin",
			"chown 991:992 ROOT/var/lib/faxd",
			"chgrp 992 ROOT/etc/faxd", "chgrp 992 ROOT/etc/faxd/faxd.yaml", "chgrp 992 ROOT/etc/faxd/faxd.env"}},
		{"useradd", false, false, []string{
			"useradd --root ROOT --system --user-group --home-dir /var/lib/faxd --no-create-home --shell /usr/sbin/nologin --comment faxd fax server faxd",
			"chown 991:992 ROOT/var/lib/faxd",
			"chgrp 992 ROOT/etc/faxd", "chgrp 992 ROOT/etc/faxd/faxd.yaml", "chgrp 992 ROOT/etc/faxd/faxd.env"}},
		{"user exists", true, true, []string{
			"chown 991:992 ROOT/var/lib/faxd",
			"chgrp 992 ROOT/etc/faxd", "chgrp 992 ROOT/etc/faxd/faxd.yaml", "chgrp 992 ROOT/etc/faxd/faxd.env"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			scratch := t.TempDir()
			// What dpkg unpacked, modes as in the package.
			os.MkdirAll(filepath.Join(scratch, "etc/faxd"), 0o750)
			for _, f := range []string{"etc/faxd/faxd.yaml", "etc/faxd/faxd.env"} {
				os.WriteFile(filepath.Join(scratch, f), []byte("x"), 0o644) // wrong on purpose: postinst fixes it
			}
			// What dpkg unpacked for systemd-sysusers to read.
			os.MkdirAll(filepath.Join(scratch, "usr/lib/sysusers.d"), 0o755)
			sysusers, _ := os.ReadFile(filepath.Join(root, "deploy/systemd/faxd.sysusers"))
			os.WriteFile(filepath.Join(scratch, "usr/lib/sysusers.d/faxd.conf"), sysusers, 0o644)
			if tc.userExists {
				os.MkdirAll(filepath.Join(scratch, "etc"), 0o755)
				os.WriteFile(filepath.Join(scratch, "etc/passwd"), []byte(fakePasswd), 0o644)
				os.WriteFile(filepath.Join(scratch, "etc/group"), []byte(fakeGroup), 0o644)
			}
			logf := filepath.Join(t.TempDir(), "calls")
			bin := fakeTools(t, logf, tc.sysusers)
			cmd := exec.Command("/bin/sh", filepath.Join(ctl, "postinst"), "configure", "")
			cmd.Env = []string{"PATH=" + bin, "DPKG_ROOT=" + scratch}
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("postinst: %v\n%s", err, out)
			}
			logged, _ := os.ReadFile(logf)
			got := strings.Split(strings.TrimSpace(strings.ReplaceAll(string(logged), scratch, "ROOT")), "\n")
			if !slices.Equal(got, tc.want) {
				t.Errorf("calls:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
			for path, want := range map[string]os.FileMode{"var/lib/faxd": 0o750 | os.ModeDir, "etc/faxd": 0o750 | os.ModeDir,
				"etc/faxd/faxd.yaml": 0o640, "etc/faxd/faxd.env": 0o640} {
				fi, err := os.Stat(filepath.Join(scratch, path))
				if err != nil || fi.Mode() != want {
					t.Errorf("%s: %v %v, want %v", path, fi.Mode(), err, want)
				}
			}
		})
	}
}

// The faxd entries the fake user commands write: uid and gid differ, so
// a mix-up shows.
const (
	fakePasswd = "root:x:0:0:root:/root:/bin/sh\nfaxd:x:991:992:faxd fax server:/var/lib/faxd:/usr/sbin/nologin\n"
	fakeGroup  = "root:x:0:\nfaxd:x:992:\n"
)

// fakeTools makes a PATH directory with logging fakes of the user and
// ownership commands (the user commands, given --root ROOT, write the
// faxd entries into ROOT's files; systemd-sysusers logs what it read on
// its standard input) and the real mkdir, chmod, grep and awk.
func fakeTools(t *testing.T, logf string, sysusers bool) string {
	t.Helper()
	bin := t.TempDir()
	fake := func(name, body string) {
		s := "#!/bin/sh\n" + body + "\n"
		if err := os.WriteFile(filepath.Join(bin, name), []byte(s), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	logCall := `echo "$(basename "$0") $*" >>` + logf
	addUser := `mkdir -p "$2/etc" && printf '` + strings.ReplaceAll(fakePasswd, "\n", `\n`) + `' >"$2/etc/passwd" && printf '` +
		strings.ReplaceAll(fakeGroup, "\n", `\n`) + `' >"$2/etc/group"`
	fake("getent", "echo getent must not be asked about another root >&2; exit 3")
	fake("useradd", logCall+"\n"+addUser)
	fake("chown", logCall)
	fake("chgrp", logCall)
	fake("systemctl", logCall)
	if sysusers {
		fake("systemd-sysusers", `echo "$(basename "$0") $* $(grep -v '^#' | tr -s '\n' ' ')" | sed 's/ *$//' >>`+logf+"\n"+addUser)
	}
	for _, real := range []string{"mkdir", "chmod", "basename", "grep", "awk", "tr", "sed"} {
		p, err := exec.LookPath(real)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(p, filepath.Join(bin, real)); err != nil {
			t.Fatal(err)
		}
	}
	return bin
}

// The .rpm read with an RPM library (no rpm tool on Debian): name and
// version, the ghostscript dependency, file modes, the configuration
// files marked %config(noreplace), the same maintainer scripts, and the
// binary in the payload byte for byte.
func TestRPMContents(t *testing.T) {
	t.Parallel()
	needPackages(t)
	f, err := os.Open(pkgs.rpm)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := rpmutils.ReadRpm(f)
	if err != nil {
		t.Fatal(err)
	}
	nevra, err := r.Header.GetNEVRA()
	if err != nil {
		t.Fatal(err)
	}
	if nevra.Name != "faxd" || nevra.Version != "9.8.7" || nevra.Release != "1" {
		t.Errorf("NEVRA %+v", nevra)
	}
	requires, _ := r.Header.GetStrings(rpmutils.REQUIRENAME)
	if !slices.Contains(requires, "ghostscript") {
		t.Errorf("requires %q, want ghostscript", requires)
	}
	postin, _ := r.Header.GetString(rpmutils.POSTIN)
	want, _ := os.ReadFile(filepath.Join(root, "deploy/package/postinst.sh"))
	if strings.TrimSpace(postin) != strings.TrimSpace(string(want)) {
		t.Errorf("%%post differs from deploy/package/postinst.sh:\n%s", postin)
	}
	files, err := r.Header.GetFiles()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]rpmutils.FileInfo{}
	for _, fi := range files {
		got[fi.Name()] = fi
	}
	const noreplace = rpmutils.RPMFILE_CONFIG | rpmutils.RPMFILE_NOREPLACE
	for path, w := range map[string]struct {
		mode  int
		flags int
	}{
		"/usr/bin/faxd":                        {0o100755, 0},
		"/usr/bin/faxctl":                      {0o100755, 0},
		"/usr/lib/systemd/system/faxd.service": {0o100644, 0},
		"/usr/lib/sysusers.d/faxd.conf":        {0o100644, 0},
		"/etc/faxd/faxd.yaml":                  {0o100640, noreplace},
		"/etc/faxd/faxd.env":                   {0o100640, noreplace},
	} {
		fi, ok := got[path]
		if !ok {
			t.Errorf("%s missing", path)
			continue
		}
		if fi.Mode() != w.mode || fi.Flags()&noreplace != w.flags || fi.UserName() != "root" {
			t.Errorf("%s: mode %o flags %#x user %s, want mode %o flags %#x root", path, fi.Mode(), fi.Flags(), fi.UserName(), w.mode, w.flags)
		}
	}

	pr, err := r.PayloadReaderExtended()
	if err != nil {
		t.Fatal(err)
	}
	built, err := os.ReadFile(filepath.Join(pkgs.bin, "faxd"))
	if err != nil {
		t.Fatal(err)
	}
	for {
		fi, err := pr.Next()
		if err == io.EOF {
			t.Fatal("no /usr/bin/faxd in the payload")
		}
		if err != nil {
			t.Fatal(err)
		}
		if fi.Name() != "/usr/bin/faxd" {
			continue
		}
		data, err := io.ReadAll(pr)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(data, built) {
			t.Fatalf("payload faxd: %d bytes, built %d, not the same", len(data), len(built))
		}
		break
	}
}

// A binary built with cgo would need libraries the package does not
// declare: it is refused, naming the file.
func TestRefusesDynamicBinary(t *testing.T) {
	t.Parallel()
	sh, err := os.ReadFile("/bin/sh") // dynamically linked on Debian
	if err != nil {
		t.Skip("no /bin/sh")
	}
	bin := t.TempDir()
	for _, n := range []string{"faxd", "faxctl"} {
		os.WriteFile(filepath.Join(bin, n), sh, 0o755)
	}
	_, err = Build(Options{Root: root, BinDir: bin, Version: "v1.0.0", Arch: runtime.GOARCH, OutDir: t.TempDir(), Formats: []string{"deb"}})
	if err == nil || !strings.Contains(err.Error(), "CGO_ENABLED=0") || !strings.Contains(err.Error(), "faxd") {
		t.Fatalf("dynamic binary: %v", err)
	}
}

func TestPackageVersion(t *testing.T) {
	for in, want := range map[string]string{
		"v1.2.3":               "1.2.3",
		"1.2.3":                "1.2.3",
		"v1.2.3-4-gabc1234":    "1.2.3+git4.gabc1234",
		"v1.2.3-dirty":         "1.2.3+gitdirty",
		"e679d46":              "0.0.0+gite679d46",
		"e679d46-dirty":        "0.0.0+gite679d46.dirty",
		"dev":                  "0.0.0+gitdev",
		"v2.0.0-rc1/../../etc": "2.0.0+gitrc1....etc",
		"":                     "0.0.0",
	} {
		if got := PackageVersion(in); got != want {
			t.Errorf("PackageVersion(%q) = %q, want %q", in, got, want)
		}
	}
}
