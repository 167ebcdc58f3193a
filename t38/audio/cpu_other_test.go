//go:build !linux

package audio

import "time"

// threadCPU is not measured outside Linux; the benchmarks then report 0.
func threadCPU() time.Duration { return 0 }
