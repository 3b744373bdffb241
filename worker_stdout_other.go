//go:build !linux

package fastimagecache

import "os"

// protocolOut is fd 1 itself where workers do not run (isolation is Linux only).
func protocolOut() (*os.File, error) { return os.Stdout, nil }
