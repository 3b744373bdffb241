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
