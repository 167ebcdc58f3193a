// Command pkgbuild makes the faxd .deb and .rpm with nfpm used as a
// library (`make package`). It lives apart from cmd/ so that nfpm and its
// dependencies never reach the faxd binary.
//
//	go run ./internal/tools/pkgbuild -bin bin -version 1.2.3 -out dist
package main

import (
	"flag"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"strings"
)

func main() {
	var o Options
	formats := flag.String("formats", "deb,rpm", "package formats, comma-separated")
	flag.StringVar(&o.Root, "root", ".", "the faxd source tree (deploy/, docs/)")
	flag.StringVar(&o.BinDir, "bin", "bin", "directory holding the static faxd and faxctl")
	flag.StringVar(&o.Version, "version", "", "package version (a git describe output is turned into a valid one)")
	flag.StringVar(&o.Arch, "arch", runtime.GOARCH, "GOARCH of the binaries")
	flag.StringVar(&o.OutDir, "out", "dist", "output directory")
	flag.Parse()
	o.Formats = strings.Split(*formats, ",")
	paths, err := Build(o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "pkgbuild:", err)
		os.Exit(1)
	}
	for _, p := range paths {
		slog.Info("package written", "path", p)
	}
}
