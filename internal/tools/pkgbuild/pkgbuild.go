package main

import (
	"debug/elf"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/goreleaser/nfpm/v2"
	_ "github.com/goreleaser/nfpm/v2/deb" // registers the packager
	"github.com/goreleaser/nfpm/v2/files"
	_ "github.com/goreleaser/nfpm/v2/rpm" // registers the packager
)

// Options says what to package and where.
type Options struct {
	Root    string   // source tree
	BinDir  string   // faxd and faxctl, built with CGO_ENABLED=0
	Version string   // anything git describe prints
	Arch    string   // GOARCH
	OutDir  string   // packages go here
	Formats []string // deb, rpm
}

// Where each file goes in the package. Paths on the left are relative to
// the source tree, except the binaries (relative to BinDir).
type entry struct {
	src, dst, typ string
	mode          os.FileMode
}

var binaries = []entry{
	{"faxd", "/usr/bin/faxd", "", 0o755},
	{"faxctl", "/usr/bin/faxctl", "", 0o755},
}

var tree = []entry{
	{"deploy/systemd/faxd.service", "/usr/lib/systemd/system/faxd.service", "", 0o644},
	{"deploy/systemd/faxd.sysusers", "/usr/lib/sysusers.d/faxd.conf", "", 0o644},
	// noreplace: an upgrade keeps the administrator's files (dpkg asks,
	// rpm writes the new one beside them as .rpmnew).
	{"deploy/systemd/faxd.yaml", "/etc/faxd/faxd.yaml", files.TypeConfigNoReplace, 0o640},
	{"deploy/systemd/faxd.env.example", "/etc/faxd/faxd.env", files.TypeConfigNoReplace, 0o640},
	{"README.md", "/usr/share/doc/faxd/README.md", "", 0o644},
	{"docs/deploy.md", "/usr/share/doc/faxd/deploy.md", "", 0o644},
	{"docs/operations.md", "/usr/share/doc/faxd/operations.md", "", 0o644},
	{"docs/dr.md", "/usr/share/doc/faxd/dr.md", "", 0o644},
	{"docs/security.md", "/usr/share/doc/faxd/security.md", "", 0o644},
	{"deploy/faxd.example.yaml", "/usr/share/doc/faxd/faxd.example.yaml", "", 0o644},
}

// Build writes one package per format and returns their paths.
func Build(o Options) ([]string, error) {
	for _, b := range binaries {
		if err := checkStatic(filepath.Join(o.BinDir, b.src)); err != nil {
			return nil, err
		}
	}
	if err := os.MkdirAll(o.OutDir, 0o755); err != nil {
		return nil, err
	}
	var out []string
	for _, format := range o.Formats {
		p, err := buildOne(o, strings.TrimSpace(format))
		if err != nil {
			return out, fmt.Errorf("%s: %w", format, err)
		}
		out = append(out, p)
	}
	return out, nil
}

func buildOne(o Options, format string) (string, error) {
	pkgr, err := nfpm.Get(format)
	if err != nil {
		return "", err
	}
	var contents files.Contents
	add := func(src string, e entry) {
		contents = append(contents, &files.Content{Source: src, Destination: e.dst, Type: e.typ,
			FileInfo: &files.ContentFileInfo{Mode: e.mode, Owner: "root", Group: "root"}})
	}
	for _, b := range binaries {
		add(filepath.Join(o.BinDir, b.src), b)
	}
	for _, e := range tree {
		add(filepath.Join(o.Root, e.src), e)
	}
	// Group faxd gets read access in postinst: the user does not exist
	// yet when the files are unpacked.
	contents = append(contents, &files.Content{Destination: "/etc/faxd", Type: files.TypeDir,
		FileInfo: &files.ContentFileInfo{Mode: 0o750, Owner: "root", Group: "root"}})
	script := func(name string) string { return filepath.Join(o.Root, "deploy/package", name) }
	info := &nfpm.Info{
		Name:          "faxd",
		Arch:          o.Arch,
		Platform:      "linux",
		Version:       PackageVersion(o.Version),
		VersionSchema: "none", // PackageVersion already made it valid for both formats
		Release:       "1",
		Section:       "comm",
		Priority:      "optional",
		Maintainer:    "faxd maintainers <faxd@localhost>",
		Description: "Fax server: HTTP API, SIP and T.38, shared archive\n" +
			"faxd sends and receives faxes over SIP and T.38 with its own T.30 engine,\n" +
			"queues them in PostgreSQL and archives results through NATS JetStream.",
		Vendor:   "faxd",
		Homepage: "https://github.com/faxd/faxd",
		License:  "Proprietary",
		// Reproducible: the same inputs give the same package bytes.
		MTime: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
		Overridables: nfpm.Overridables{
			Contents: contents,
			// Ghostscript renders PDF and PostScript uploads. PostgreSQL
			// is only needed for the embedded single-server default.
			Depends: []string{"ghostscript"},
			Scripts: nfpm.Scripts{
				PostInstall: script("postinst.sh"),
				PreRemove:   script("prerm.sh"),
				PostRemove:  script("postrm.sh"),
			},
		},
	}
	if format == "deb" {
		info.Recommends = []string{"postgresql", "systemd"}
	}
	if err := nfpm.PrepareForPackager(info, format); err != nil {
		return "", err
	}
	info = nfpm.WithDefaults(info)
	target := filepath.Join(o.OutDir, pkgr.ConventionalFileName(info))
	f, err := os.Create(target)
	if err != nil {
		return "", err
	}
	info.Target = target
	if err := pkgr.Package(info, f); err != nil {
		f.Close()
		os.Remove(target)
		return "", err
	}
	return target, f.Close()
}

var releaseVersion = regexp.MustCompile(`^v?([0-9]+\.[0-9]+\.[0-9]+)$`)

// PackageVersion turns what `git describe --always --dirty` prints into a
// version both dpkg and rpm order sensibly: "v1.2.3" is 1.2.3;
// "v1.2.3-4-gabc" is 1.2.3+git4.gabc; a bare commit "abc123-dirty" is
// 0.0.0+gitabc123.dirty, lower than any release. Characters neither
// format allows are dropped.
func PackageVersion(v string) string {
	if m := releaseVersion.FindStringSubmatch(v); m != nil {
		return m[1]
	}
	clean := func(s string) string {
		return strings.Map(func(r rune) rune {
			switch {
			case r >= '0' && r <= '9', r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r == '.':
				return r
			case r == '-' || r == '_' || r == '+' || r == '~':
				return '.'
			}
			return -1
		}, s)
	}
	base, rest := "0.0.0", v
	if parts := strings.SplitN(strings.TrimPrefix(v, "v"), "-", 2); len(parts) == 2 && releaseVersion.MatchString(parts[0]) {
		base, rest = parts[0], parts[1]
	}
	rest = strings.Trim(clean(rest), ".")
	if rest == "" {
		return base
	}
	return base + "+git" + rest
}

// checkStatic refuses a binary built with cgo: the package promises no
// run-time dependency but Ghostscript.
func checkStatic(path string) error {
	f, err := elf.Open(path)
	if err != nil {
		return fmt.Errorf("%s: %w (build it first: make build)", path, err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return errors.New(path + ": dynamically linked; build with CGO_ENABLED=0")
		}
	}
	return nil
}
