package main

import (
	"archive/tar"
	"bytes"
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Options says what goes in the image and where it is written.
type Options struct {
	BinDir   string
	Version  string
	Revision string
	OutDir   string
}

// The non-root user the image runs as (the Kubernetes manifests and the
// compose file use the same numbers).
const (
	uid = 10001
	gid = 10001
)

// Debian packages whose files (documentation aside) go in as they are:
// Ghostscript's binary, init files and resources, and its fonts.
var packages = []string{"ghostscript", "libgs10-common", "libgs-common", "fonts-urw-base35", "tzdata"}

// Binaries whose shared libraries are resolved with ldd.
var dynamic = []string{"/usr/bin/gs", "/usr/bin/prlimit"}

// HealthCheck is what an orchestrator should run (OCI images have no
// HEALTHCHECK): faxctl's readiness probe of /readyz.
const HealthCheck = "FAXD_SERVERS=http://127.0.0.1:8080 /usr/bin/faxctl health"

// Build writes the OCI layout and the loadable archive.
func Build(o Options) error {
	for _, b := range []string{"faxd", "faxctl"} {
		if err := checkStatic(filepath.Join(o.BinDir, b)); err != nil {
			return err
		}
	}
	layerTar, err := rootfs(o)
	if err != nil {
		return err
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(layerTar)), nil
	}, tarball.WithMediaType(types.OCILayer))
	if err != nil {
		return err
	}
	img, err := mutate.AppendLayers(mutate.MediaType(empty.Image, types.OCIManifestSchema1), layer)
	if err != nil {
		return err
	}
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	cf, err := img.ConfigFile()
	if err != nil {
		return err
	}
	cf = cf.DeepCopy()
	cf.Architecture, cf.OS = "amd64", "linux"
	if a := goarch(filepath.Join(o.BinDir, "faxd")); a != "" {
		cf.Architecture = a
	}
	cf.Created = v1.Time{Time: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)} // reproducible
	cf.Config = v1.Config{
		User:       fmt.Sprintf("%d:%d", uid, gid),
		Entrypoint: []string{"/usr/bin/faxd"},
		Cmd:        []string{"-config", "/etc/faxd/faxd.yaml"},
		Env:        []string{"PATH=/usr/bin:/bin", "TZ=UTC"},
		WorkingDir: "/var/lib/faxd",
		ExposedPorts: map[string]struct{}{
			"8080/tcp": {}, "5060/udp": {}, "5060/tcp": {}, "6222/tcp": {},
		},
		Volumes:    map[string]struct{}{"/var/lib/faxd": {}},
		StopSignal: "SIGTERM",
		Labels: map[string]string{
			"org.opencontainers.image.title":       "faxd",
			"org.opencontainers.image.description": "Fax server: HTTP API, SIP and T.38, shared archive",
			"org.opencontainers.image.version":     o.Version,
			"org.opencontainers.image.revision":    o.Revision,
			"org.opencontainers.image.source":      "https://github.com/faxd/faxd",
			"org.opencontainers.image.url":         "https://github.com/faxd/faxd/blob/main/docs/deploy.md",
			"org.opencontainers.image.base.name":   "debian (files of the build machine's packages)",
			// OCI has no HEALTHCHECK; this says what to run instead.
			"io.faxd.healthcheck": HealthCheck,
		},
	}
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		return err
	}

	if err := os.MkdirAll(o.OutDir, 0o755); err != nil {
		return err
	}
	lp := filepath.Join(o.OutDir, "oci")
	if err := os.RemoveAll(lp); err != nil {
		return err
	}
	p, err := layout.Write(lp, empty.Index)
	if err != nil {
		return err
	}
	if err := p.AppendImage(img, layout.WithAnnotations(map[string]string{
		"org.opencontainers.image.ref.name": tag(o.Version),
	})); err != nil {
		return err
	}
	ref, err := name.NewTag("localhost/faxd:" + tag(o.Version))
	if err != nil {
		return err
	}
	latest, _ := name.NewTag("localhost/faxd:latest")
	return tarball.MultiRefWriteToFile(filepath.Join(o.OutDir, "faxd.tar"), map[name.Reference]v1.Image{ref: img, latest: img})
}

var tagChars = regexp.MustCompile(`[^A-Za-z0-9_.-]`)

func tag(v string) string {
	t := tagChars.ReplaceAllString(v, "_")
	if t == "" {
		return "dev"
	}
	return t
}

// entry is one file of the layer.
type entry struct {
	hdr  tar.Header
	data []byte
}

// rootfs builds the layer's tar.
func rootfs(o Options) ([]byte, error) {
	files := map[string]*entry{}
	mtime := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var addDir func(p string, mode int64, owner int)
	addDir = func(p string, mode int64, owner int) {
		p = path.Clean(p)
		if p == "/" || p == "." {
			return
		}
		addDir(path.Dir(p), 0o755, 0)
		if e, ok := files[p]; ok && e.hdr.Typeflag == tar.TypeDir {
			return
		}
		files[p] = &entry{hdr: tar.Header{Typeflag: tar.TypeDir, Name: p[1:] + "/", Mode: mode, Uid: owner, Gid: owner, ModTime: mtime}}
	}
	addFile := func(p string, data []byte, mode int64) {
		p = path.Clean(p)
		addDir(path.Dir(p), 0o755, 0)
		files[p] = &entry{hdr: tar.Header{Typeflag: tar.TypeReg, Name: p[1:], Mode: mode, Size: int64(len(data)), ModTime: mtime}, data: data}
	}
	addLink := func(p, target string) {
		p = path.Clean(p)
		addDir(path.Dir(p), 0o755, 0)
		files[p] = &entry{hdr: tar.Header{Typeflag: tar.TypeSymlink, Name: p[1:], Linkname: target, Mode: 0o777, ModTime: mtime}}
	}
	// copyHost adds a host file (following a symlink to its content when
	// deref, else keeping the link) at the same path, /lib and /bin
	// written under /usr as on a merged-/usr Debian.
	copyHost := func(p string, deref bool) error {
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		dst := usrMerged(p)
		switch {
		case fi.IsDir():
			addDir(dst, 0o755, 0)
		case fi.Mode()&os.ModeSymlink != 0 && !deref:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			addLink(dst, target)
		default:
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			st, err := os.Stat(p)
			if err != nil {
				return err
			}
			addFile(dst, data, int64(st.Mode().Perm()))
		}
		return nil
	}

	// Merged /usr, as Debian: the loader path /lib64/ld-linux... works.
	for _, l := range []string{"bin", "lib", "lib64", "sbin"} {
		addLink("/"+l, "usr/"+l)
	}
	for _, b := range []string{"faxd", "faxctl"} {
		data, err := os.ReadFile(filepath.Join(o.BinDir, b))
		if err != nil {
			return nil, err
		}
		addFile("/usr/bin/"+b, data, 0o755)
	}
	for _, pkg := range packages {
		out, err := exec.Command("dpkg", "-L", pkg).Output()
		if err != nil {
			return nil, fmt.Errorf("dpkg -L %s: %w (install it: apt-get install %s)", pkg, err, pkg)
		}
		for _, p := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			if p == "/." || strings.HasPrefix(p, "/usr/share/doc") || strings.HasPrefix(p, "/usr/share/man") ||
				strings.HasPrefix(p, "/usr/share/lintian") || strings.HasPrefix(p, "/usr/share/bug") || strings.HasPrefix(p, "/usr/share/debconf") {
				continue
			}
			if _, err := os.Lstat(p); errors.Is(err, os.ErrNotExist) {
				continue // a diversion or a file removed on this machine
			}
			if err := copyHost(p, false); err != nil {
				return nil, err
			}
		}
	}
	libs, err := sharedLibraries(dynamic)
	if err != nil {
		return nil, err
	}
	for _, p := range append(dynamic, libs...) {
		if err := copyHost(p, true); err != nil {
			return nil, err
		}
	}
	// Certificates and files generated at install time (not in dpkg -L).
	for _, p := range []string{"/etc/ssl/certs/ca-certificates.crt", "/etc/localtime"} {
		if err := copyHost(p, true); err != nil {
			return nil, err
		}
	}
	addFile("/etc/passwd", []byte(fmt.Sprintf("root:x:0:0:root:/root:/usr/sbin/nologin\nfaxd:x:%d:%d:faxd fax server:/var/lib/faxd:/usr/sbin/nologin\n", uid, gid)), 0o644)
	addFile("/etc/group", []byte(fmt.Sprintf("root:x:0:\nfaxd:x:%d:\n", gid)), 0o644)
	addFile("/etc/nsswitch.conf", []byte("passwd: files\ngroup: files\nhosts: files dns\n"), 0o644)
	addDir("/etc/faxd", 0o755, 0)
	addDir("/var/lib/faxd", 0o750, uid)
	files["/tmp"] = nil
	delete(files, "/tmp")
	addDir("/tmp", 0o1777, 0)

	names := make([]string, 0, len(files))
	for p := range files {
		names = append(names, p)
	}
	sort.Strings(names) // parents first, and a reproducible layer
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, p := range names {
		e := files[p]
		e.hdr.Format = tar.FormatPAX
		if e.hdr.Typeflag == tar.TypeDir && p == "/var/lib/faxd" {
			e.hdr.Uid, e.hdr.Gid = uid, gid
		}
		if err := tw.WriteHeader(&e.hdr); err != nil {
			return nil, err
		}
		if _, err := tw.Write(e.data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// usrMerged maps /lib/x, /bin/x, /sbin/x, /lib64/x to /usr/....
func usrMerged(p string) string {
	for _, d := range []string{"/lib/", "/lib64/", "/bin/", "/sbin/"} {
		if strings.HasPrefix(p, d) {
			return "/usr" + p
		}
	}
	return p
}

var lddLine = regexp.MustCompile(`(?m)^\s*(?:\S+ => )?(/\S+) \(0x`)

// sharedLibraries lists what ldd resolves for the binaries, loader
// included.
func sharedLibraries(bins []string) ([]string, error) {
	seen := map[string]bool{}
	var out []string
	for _, b := range bins {
		text, err := exec.Command("ldd", b).Output()
		if err != nil {
			return nil, fmt.Errorf("ldd %s: %w", b, err)
		}
		for _, m := range lddLine.FindAllStringSubmatch(string(text), -1) {
			if !seen[m[1]] {
				seen[m[1]] = true
				out = append(out, m[1])
			}
		}
	}
	if len(out) == 0 {
		return nil, errors.New("ldd found no shared libraries")
	}
	return out, nil
}

// checkStatic refuses a faxd built with cgo: the image holds only the
// libraries Ghostscript needs.
func checkStatic(p string) error {
	f, err := elf.Open(p)
	if err != nil {
		return fmt.Errorf("%s: %w (build it first: make build)", p, err)
	}
	defer f.Close()
	for _, prog := range f.Progs {
		if prog.Type == elf.PT_INTERP {
			return errors.New(p + ": dynamically linked; build with CGO_ENABLED=0")
		}
	}
	return nil
}

func goarch(p string) string {
	f, err := elf.Open(p)
	if err != nil {
		return ""
	}
	defer f.Close()
	return map[elf.Machine]string{elf.EM_X86_64: "amd64", elf.EM_AARCH64: "arm64"}[f.Machine]
}
