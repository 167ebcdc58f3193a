// Command imagebuild makes faxd's OCI image without a container daemon
// or registry (`make image`), with go-containerregistry. No base image can
// be pulled here, so the one layer is built from this Debian machine's own
// packages: the static faxd and faxctl, Ghostscript with its resources and
// the shared libraries its binary needs (resolved with ldd), prlimit
// (faxd runs Ghostscript under it), CA certificates, tzdata, and an
// /etc/passwd with the non-root user faxd (10001). It lives apart from
// cmd/ so its dependencies never reach the faxd binary.
//
//	go run ./internal/tools/imagebuild -bin bin -version v1.2.3 -out var/image
//
// writes var/image/oci (an OCI image layout) and var/image/faxd.tar (an
// archive `docker load` and `podman load` read).
package main

import (
	"flag"
	"fmt"
	"log/slog"
	"os"
)

func main() {
	var o Options
	flag.StringVar(&o.BinDir, "bin", "bin", "directory holding the static faxd and faxctl")
	flag.StringVar(&o.Version, "version", "dev", "image version label and tag")
	flag.StringVar(&o.OutDir, "out", "var/image", "output directory")
	flag.StringVar(&o.Revision, "revision", "", "source revision label")
	flag.Parse()
	if err := Build(o); err != nil {
		fmt.Fprintln(os.Stderr, "imagebuild:", err)
		os.Exit(1)
	}
	slog.Info("image written", "layout", o.OutDir+"/oci", "archive", o.OutDir+"/faxd.tar")
}
