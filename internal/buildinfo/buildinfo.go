// Package buildinfo holds the version stamped into the binaries at link time.
package buildinfo

import "runtime/debug"

// Version is set by the Makefile with -ldflags -X.
var Version = "dev"

// String returns the version with the Go toolchain that built it.
func String() string {
	v := Version
	if bi, ok := debug.ReadBuildInfo(); ok {
		v += " " + bi.GoVersion
	}
	return v
}
