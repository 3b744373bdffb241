//go:build !linux

package jpegdec

import "time"

// threadCPUTime is not available here: the cpu-ns/op metric reads 0.
func threadCPUTime() time.Duration { return 0 }
