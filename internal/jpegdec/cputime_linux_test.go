package jpegdec

import (
	"syscall"
	"time"
)

// threadCPUTime returns the CPU time the calling OS thread has used; the
// benchmarks lock the goroutine to its thread and report it per op, which
// other processes on the machine disturb much less than wall time.
func threadCPUTime() time.Duration {
	var ru syscall.Rusage
	const rusageThread = 1 // RUSAGE_THREAD
	if err := syscall.Getrusage(rusageThread, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// processCPUTime returns the CPU time the process has used, all threads: the
// benchmarks of decodes with Workers report it too, as the thread's misses
// the second goroutine's.
func processCPUTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
