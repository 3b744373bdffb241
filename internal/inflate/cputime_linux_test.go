package inflate

import (
	"syscall"
	"time"
)

// processCPUTime is the CPU time of the whole test process (GC included):
// the benchmarks report it per op, which other processes on a loaded
// machine disturb much less than wall time.
func processCPUTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
