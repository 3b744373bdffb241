//go:build !linux

package jpegdec

import "time"

// threadCPUTime is not available here: the cpu-ns/op metric reads 0.
func threadCPUTime() time.Duration { return 0 }

// processCPUTime is not available here: the proc-cpu-ns/op metric reads 0.
func processCPUTime() time.Duration { return 0 }
