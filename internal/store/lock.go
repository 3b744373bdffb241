package store

import (
	"errors"
	"fmt"
	"os"
)

// ErrLocked reports that another Disk (in this process or another) holds the directory.
var ErrLocked = errors.New("store: directory in use by another store")

// lockName is the lock file in the store directory. Its content is irrelevant; the lock
// is the advisory lock on the open file, which the kernel drops when the file is closed
// or the process dies, so a crash never leaves a stale lock.
const lockName = "lock"

// lockDir takes the exclusive, non-blocking lock on root's lock file, creating the file
// if needed. It fails at once with ErrLocked while another Disk holds it.
func lockDir(root *os.Root) (*os.File, error) {
	f, err := root.OpenFile(lockName, os.O_RDWR|os.O_CREATE, filePerm)
	if err != nil {
		return nil, fmt.Errorf("store: open: lock file: %w", cause(err))
	}
	if err := lockFile(f); err != nil {
		_ = f.Close()
		return nil, err
	}
	return f, nil
}
