package main

import (
	"archive/tar"
	"debug/elf"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
)

// The image is built from freshly built static binaries, read back from
// its OCI layout with the same library, and unpacked; what is unpacked
// must run: faxd's version and check, and Ghostscript with only the
// image's own libraries.
func TestImageRuns(t *testing.T) {
	for _, tool := range []string{"dpkg", "ldd"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s (Debian) is not installed", tool)
		}
	}
	if _, err := os.Stat("/usr/bin/gs"); err != nil {
		t.Skip("ghostscript (Debian package ghostscript) is not installed")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "bin")
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	cmd := exec.Command(goBin, "build", "-trimpath", "-ldflags", "-s -w -X github.com/faxd/faxd/internal/buildinfo.Version=v9.8.7",
		"-o", bin+"/", "./cmd/faxd", "./cmd/faxctl")
	cmd.Dir = "../../.."
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	out := filepath.Join(dir, "image")
	if err := Build(Options{BinDir: bin, Version: "v9.8.7", Revision: "abc", OutDir: out}); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(filepath.Join(out, "faxd.tar")); err != nil || fi.Size() < 1<<20 {
		t.Fatalf("faxd.tar: %v", err)
	}

	p, err := layout.FromPath(filepath.Join(out, "oci"))
	if err != nil {
		t.Fatal(err)
	}
	idx, err := p.ImageIndex()
	if err != nil {
		t.Fatal(err)
	}
	im, err := idx.IndexManifest()
	if err != nil || len(im.Manifests) != 1 {
		t.Fatalf("index: %v %v", im, err)
	}
	img, err := idx.Image(im.Manifests[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	c := cf.Config
	if c.User != "10001:10001" || len(c.Entrypoint) != 1 || c.Entrypoint[0] != "/usr/bin/faxd" {
		t.Errorf("user %q entrypoint %q", c.User, c.Entrypoint)
	}
	for k, want := range map[string]string{"org.opencontainers.image.version": "v9.8.7", "org.opencontainers.image.revision": "abc",
		"org.opencontainers.image.title": "faxd", "io.faxd.healthcheck": HealthCheck} {
		if c.Labels[k] != want {
			t.Errorf("label %s = %q, want %q", k, c.Labels[k], want)
		}
	}

	root := filepath.Join(dir, "root")
	if err := extract(mutate.Extract(img), root); err != nil {
		t.Fatal(err)
	}
	faxd := filepath.Join(root, "usr/bin/faxd")
	if o, err := exec.Command(faxd, "version").CombinedOutput(); err != nil || !strings.Contains(string(o), "v9.8.7") {
		t.Fatalf("unpacked faxd version: %v %s", err, o)
	}
	if o, err := exec.Command(faxd, "-config", "../../../deploy/systemd/faxd.yaml", "check").CombinedOutput(); err != nil {
		t.Fatalf("unpacked faxd check: %v %s", err, o)
	}
	if o, err := exec.Command(faxd, "-config", "../../../deploy/faxd.example.yaml", "-no-such-flag", "check").CombinedOutput(); err == nil {
		t.Fatalf("unpacked faxd accepted a bad flag: %s", o)
	}
	passwd, _ := os.ReadFile(filepath.Join(root, "etc/passwd"))
	if !strings.Contains(string(passwd), "faxd:x:10001:10001:") {
		t.Errorf("/etc/passwd: %q", passwd)
	}

	// Ghostscript: every library any ELF file of the image needs is in
	// the image, and gs runs with the image's loader and libraries only.
	libDirs := []string{"usr/lib/x86_64-linux-gnu", "usr/lib/aarch64-linux-gnu", "usr/lib", "usr/lib64"}
	checked := 0
	for _, rel := range []string{"usr/bin/gs", "usr/bin/prlimit"} {
		missing, n := missingLibs(t, root, rel, libDirs, map[string]bool{})
		if len(missing) > 0 {
			t.Fatalf("%s: libraries missing from the image: %v", rel, missing)
		}
		checked += n
	}
	if checked < 10 {
		t.Fatalf("only %d libraries checked for gs and prlimit", checked)
	}
	loader := filepath.Join(root, "usr/lib64/ld-linux-x86-64.so.2")
	if runtime.GOARCH != "amd64" {
		t.Logf("the loader run is for amd64 only; %s checked by ELF dependencies", runtime.GOARCH)
		return
	}
	gs := exec.Command(loader, "--library-path", filepath.Join(root, "usr/lib/x86_64-linux-gnu"), filepath.Join(root, "usr/bin/gs"), "--version")
	o, err := gs.CombinedOutput()
	if err != nil || !strings.HasPrefix(strings.TrimSpace(string(o)), "10.") && !strings.HasPrefix(strings.TrimSpace(string(o)), "9.") {
		t.Fatalf("gs --version from the image: %v %q", err, o)
	}
}

// missingLibs walks DT_NEEDED from rel through the image's library
// directories and returns what is not there, and how many it found.
func missingLibs(t *testing.T, root, rel string, dirs []string, seen map[string]bool) ([]string, int) {
	t.Helper()
	f, err := elf.Open(filepath.Join(root, rel))
	if err != nil {
		t.Fatalf("%s: %v", rel, err)
	}
	needed, err := f.ImportedLibraries()
	f.Close()
	if err != nil {
		t.Fatalf("%s: %v", rel, err)
	}
	var missing []string
	n := 0
	for _, lib := range needed {
		if seen[lib] {
			continue
		}
		seen[lib] = true
		found := ""
		for _, d := range dirs {
			if _, err := os.Stat(filepath.Join(root, d, lib)); err == nil {
				found = filepath.Join(d, lib)
				break
			}
		}
		if found == "" {
			missing = append(missing, fmt.Sprintf("%s (needed by %s)", lib, rel))
			continue
		}
		n++
		m, k := missingLibs(t, root, found, dirs, seen)
		missing = append(missing, m...)
		n += k
	}
	return missing, n
}

// extract unpacks a flattened image filesystem; symlinks are kept as they
// are (relative or absolute targets are resolved inside root by the
// callers, who look up files under root).
func extract(r io.ReadCloser, root string) error {
	defer r.Close()
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		p := filepath.Join(root, filepath.Clean("/"+h.Name))
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(p, 0o755); err != nil {
				return err
			}
		case tar.TypeSymlink:
			target := h.Linkname
			if filepath.IsAbs(target) {
				target = filepath.Join(root, target) // keep it inside the unpacked root
			}
			os.MkdirAll(filepath.Dir(p), 0o755)
			if err := os.Symlink(target, p); err != nil {
				return err
			}
		case tar.TypeReg:
			os.MkdirAll(filepath.Dir(p), 0o755)
			f, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, os.FileMode(h.Mode).Perm()|0o200)
			if err != nil {
				return err
			}
			if _, err := io.Copy(f, tr); err != nil {
				f.Close()
				return err
			}
			if err := f.Close(); err != nil {
				return err
			}
		}
	}
}
