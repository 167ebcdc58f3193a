package dsptest

import (
	"syscall"
	"time"
)

// CPUTime is the CPU time (user+system) this process has used so far: on a
// shared machine it measures a benchmark's cost where wall time would
// measure the neighbours.
func CPUTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
