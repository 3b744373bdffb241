//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package store

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// lockFile takes flock(2) LOCK_EX|LOCK_NB on f: per open file, so a second Disk on the
// same directory is refused within one process too.
func lockFile(f *os.File) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return fmt.Errorf("store: open: lock: %w", err)
	}
	var lerr error
	if err := rc.Control(func(fd uintptr) {
		for {
			lerr = unix.Flock(int(fd), unix.LOCK_EX|unix.LOCK_NB) // #nosec G115 -- a file descriptor fits an int
			if !errors.Is(lerr, unix.EINTR) {
				return
			}
		}
	}); err != nil {
		return fmt.Errorf("store: open: lock: %w", err)
	}
	switch {
	case lerr == nil:
		return nil
	case errors.Is(lerr, unix.EWOULDBLOCK):
		return fmt.Errorf("store: open: %w", ErrLocked)
	}
	return fmt.Errorf("store: open: lock: %w", lerr)
}
