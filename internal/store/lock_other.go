//go:build !(darwin || dragonfly || freebsd || linux || netbsd || openbsd)

package store

import "os"

// lockFile does nothing on systems without flock(2) (Windows, Plan 9, Solaris, AIX, …):
// there, as before, only one Disk may use a directory at a time, and nothing enforces it.
func lockFile(*os.File) error { return nil }
